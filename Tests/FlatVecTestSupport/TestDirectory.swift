import Foundation

/// Paths for the files and directories of tests, all under one directory of this test process that
/// is removed when the process exits (tests that start servers, write stores or logs would otherwise
/// leave them behind in the system's temporary directory, run after run).
public enum TestDirectory {
    /// The directory of this process: `<tmp>/flatvec-tests-<pid>`.
    public static let root: String = {
        let root = NSTemporaryDirectory() + "flatvec-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestDirectory.root) }
        return root
    }()

    /// A fresh path under ``root`` named `<name>-<random>` (nothing is created there).
    public static func path(_ name: String) -> String {
        root + "/\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }
}
