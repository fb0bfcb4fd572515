#if canImport(Glibc)
import Glibc
#endif

/// Directory listings without Foundation.
enum DirectoryListing {
    /// The names in a directory other than `.` and `..`; nil if it cannot be opened (does not exist).
    static func names(in path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
