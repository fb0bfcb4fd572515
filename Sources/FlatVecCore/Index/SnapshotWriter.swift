import CFlatVecKernels

#if canImport(Glibc)
import Glibc
#endif

/// Buffered, checksumming writer for snapshot files (POSIX I/O, fsync, atomic rename).
struct SnapshotWriter: ~Copyable {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private(set) var crc: UInt32 = 0

    init(creating path: String) throws(FlatVecError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FlatVecError.ioError("cannot create \(path)") }
        buffer.reserveCapacity(1 << 20)
    }

    deinit { close(fd) }

    mutating func append<T: FixedWidthInteger>(_ value: T) throws(FlatVecError) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 20 { try flush() }
    }

    mutating func append(bytes: UnsafeRawBufferPointer) throws(FlatVecError) {
        if bytes.count >= 1 << 16 {
            try flush()
            crc = fv_crc32c(crc, bytes.baseAddress, bytes.count)
            try writeFully(bytes)
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes `count` zero bytes that are not part of the checksum (room for the header).
    mutating func reserveUnchecksummed(_ count: Int) throws(FlatVecError) {
        try flush()
        let zeros = [UInt8](repeating: 0, count: count)
        let result: Result<Void, FlatVecError> = zeros.withUnsafeBytes { raw in
            Result { () throws(FlatVecError) in try writeFully(raw) }
        }
        try result.get()
    }

    /// Writes buffered bytes (all checksummed).
    mutating func flush() throws(FlatVecError) {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        let result: Result<Void, FlatVecError> = pending.withUnsafeBytes { raw in
            crc = fv_crc32c(crc, raw.baseAddress, raw.count)
            return Result { () throws(FlatVecError) in try writeFully(raw) }
        }
        try result.get()
    }

    private mutating func writeFully(_ bytes: UnsafeRawBufferPointer) throws(FlatVecError) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FlatVecError.ioError("write to \(path) failed") }
            done += n
        }
    }

    /// Overwrites bytes at `offset` (the header, once the body checksum is known); not checksummed.
    func overwrite(_ bytes: [UInt8], at offset: Int) throws(FlatVecError) {
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw FlatVecError.ioError("write to \(path) failed") }
    }

    func sync() throws(FlatVecError) {
        guard fsync(fd) == 0 else { throw FlatVecError.ioError("fsync of \(path) failed") }
    }

}
