import FlatVecCore
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An append-only log of checksummed records with group commit.
///
/// Record: `u32 length, u32 crc32c(body), body` (little-endian). ``append(_:)`` returns only once the
/// record is on disk (`fdatasync`); concurrent appends share one sync when they arrive together.
/// A failed write is cut off again (`ftruncate`), so a later record never follows a torn one.
final class WriteAheadLog: Sendable {
    let path: String
    private struct State {
        var fd: Int32
        var end: Int
        var failed: FlatVecError?
    }
    private let state: Mutex<State>
    private let syncState = Mutex<Int>(0)  // bytes known durable

    /// Opens (creating if needed) the log, keeping the first `validLength` bytes.
    init(path: String, validLength: Int) throws(FlatVecError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.ioError("cannot open \(path)") }
        guard ftruncate(fd, off_t(validLength)) == 0, lseek(fd, off_t(validLength), SEEK_SET) >= 0, fsync(fd) == 0 else {
            close(fd)
            throw Self.ioError("cannot prepare \(path)")
        }
        state = Mutex(State(fd: fd, end: validLength, failed: nil))
        syncState.withLock { $0 = validLength }
    }

    deinit {
        state.withLock { close($0.fd) }
    }

    /// Bytes in the log.
    var size: Int { state.withLock { $0.end } }

    /// Appends one record and waits until it is durable. The body is written from the buffer as is
    /// (no copy): a small header, then the body's bytes.
    func append(_ body: ByteBuffer) throws(FlatVecError) {
        var header = [UInt8]()
        header.reserveCapacity(8)
        withUnsafeBytes(of: UInt32(body.readableBytes).littleEndian) { header.append(contentsOf: $0) }
        let crc = body.withUnsafeReadableBytes { Checksum.crc32c($0) }
        withUnsafeBytes(of: crc.littleEndian) { header.append(contentsOf: $0) }
        let (fd, myEnd) = try state.withLock { s throws(FlatVecError) -> (Int32, Int) in
            if let failed = s.failed { throw failed }
            let ok = header.withUnsafeBytes { Self.writeFully(s.fd, $0) } && body.withUnsafeReadableBytes { Self.writeFully(s.fd, $0) }
            guard ok else {
                let error = Self.ioError("write to \(path) failed")
                // Cut the partial record off so the log stays a sequence of whole records.
                if ftruncate(s.fd, off_t(s.end)) != 0 || lseek(s.fd, off_t(s.end), SEEK_SET) < 0 {
                    s.failed = FlatVecError(.unavailable, "the log \(path) is damaged after a failed write; restart the server")
                }
                throw error
            }
            s.end += header.count + body.readableBytes
            return (s.fd, s.end)
        }
        // Group commit: whoever syncs covers every record written before the sync started.
        try syncState.withLock { synced throws(FlatVecError) in
            guard synced < myEnd else { return }
            let target = state.withLock { $0.end }
            guard fdatasync(fd) == 0 else { throw Self.ioError("fdatasync of \(path) failed") }
            synced = target
        }
    }

    private static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    static func ioError(_ what: String) -> FlatVecError {
        FlatVecError(.unavailable, "\(what): \(String(cString: strerror(errno)))")
    }

    /// Reads the whole records at the start of the file at `path`; returns them and the valid length.
    /// Reading stops at the first record that is torn (shorter than its header says) or fails its checksum.
    static func readRecords(path: String) throws(FlatVecError) -> (records: [[UInt8]], validLength: Int, fileLength: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return ([], 0, 0) }
            throw ioError("cannot open \(path)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("cannot stat \(path)") }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ioError("cannot read \(path)") }
            done += n
        }
        var records: [[UInt8]] = []
        var offset = 0
        while offset + 8 <= size {
            let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
            let crc = UInt32(bytes[offset + 4]) | UInt32(bytes[offset + 5]) << 8 | UInt32(bytes[offset + 6]) << 16 | UInt32(bytes[offset + 7]) << 24
            guard offset + 8 + length <= size else { break }
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            guard Checksum.crc32c(body) == crc else { break }
            records.append(body)
            offset += 8 + length
        }
        return (records, offset, size)
    }
}
