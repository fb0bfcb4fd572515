import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

/// What an online backup of a store copies: files (or their prefixes) that do not change while the
/// backup holds them, and the manifest that makes the copy a data directory, written last.
public struct BackupPlan: Sendable, Hashable {
    /// One file of the backup.
    public struct File: Sendable, Hashable {
        /// Its path inside the data directory (`snapshots/NAME.G.flatvec`, `wal.G.stage`, `wal.G.log`).
        public var name: String
        /// Its path on this machine.
        public var path: String
        /// The bytes the backup holds: for the log, every record acknowledged before the backup began.
        public var length: Int
    }

    /// The files, in the order they are sent.
    public var files: [File]
    /// The MANIFEST of the copy.
    public var manifest: [UInt8]
    /// The pin that keeps the files in place; give it back with ``DurableStore/endBackup(_:)``.
    public var pin: UInt64

    /// Reads up to `count` bytes of file `index` from `offset` (never past its planned length).
    /// - Throws: `io_error` if the file cannot be read.
    public func read(file index: Int, offset: Int, count: Int) throws(FlatVecError) -> [UInt8] {
        let file = files[index]
        let n = max(0, min(count, file.length - offset))
        guard n > 0 else { return [] }
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FlatVecError(.ioError, "cannot read \(file.name) for the backup: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: n)
        var done = 0
        while done < n {
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, n - done, off_t(offset + done)) }
            guard got > 0 else { throw FlatVecError(.ioError, "cannot read \(file.name) for the backup: it is shorter than planned") }
            done += got
        }
        return bytes
    }
}
