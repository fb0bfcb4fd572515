
/// Rules for collection names: 1 to 128 bytes of ASCII letters, digits, `_`, `-` and `.`.
public enum CollectionName {
    /// Longest name in bytes.
    public static let maximumLength = 128

    /// Checks a name.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming the problem.
    public static func validate(_ name: String) throws(FlatVecError) {
        guard !name.isEmpty, name.utf8.count <= maximumLength else {
            throw FlatVecError(.invalidArgument, "collection name must be 1 to \(maximumLength) bytes, got \(name.utf8.count)")
        }
        for byte in name.utf8 {
            let ok = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            guard ok else {
                throw FlatVecError(.invalidArgument, "collection name '\(name)' may hold only letters, digits, '_', '-' and '.'")
            }
        }
    }
}
