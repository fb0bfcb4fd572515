/// `--name value` options of the compare harness's small benchmark programs.
public enum CommandLineOptions {
    /// The value after `name`, or nil if the option is absent.
    public static func value(_ name: String) -> String? {
        let arguments = CommandLine.arguments
        guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }

    /// The value after `name`, or `fallback`.
    public static func value(_ name: String, default fallback: String) -> String {
        value(name) ?? fallback
    }
}
