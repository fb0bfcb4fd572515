#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX file access: whole-file reads into typed buffers and buffered writes.
enum BinaryFile {
    /// Reads the whole file.
    static func readAll(_ path: String) throws(VectorFileError) -> [UInt8] {
        let size = try readPrefix(path, limit: 0).fileSize
        return try readArray(path, of: UInt8.self, offset: 0, count: size)
    }

    /// Reads up to `limit` bytes from the start of the file, and the file's size.
    static func readPrefix(_ path: String, limit: Int) throws(VectorFileError) -> (bytes: [UInt8], fileSize: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError(path, "cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError(path, "cannot stat") }
        let size = Int(info.st_size)
        let wanted = min(size, limit)
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialized in
            initialized = max(0, pread(fd, buffer.baseAddress, wanted, 0))
        }
        return (bytes, size)
    }

    /// Reads `count` elements of `T` starting at byte `offset` straight into a new array (no staging copy).
    static func readArray<T>(_ path: String, of type: T.Type, offset: Int, count: Int) throws(VectorFileError) -> [T] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError(path, "cannot open") }
        defer { close(fd) }
        let bytes = count * MemoryLayout<T>.stride
        var failure: VectorFileError?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress)
            var done = 0
            while done < bytes {
                let n = pread(fd, raw! + done, bytes - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    failure = ioError(path, "read stopped after \(done) of \(bytes) bytes")
                    break
                }
                done += n
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return values
    }

    /// Writes `parts` one after another to `path`, replacing it.
    static func write(_ path: String, parts: [UnsafeRawBufferPointer]) throws(VectorFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError(path, "cannot create") }
        defer { close(fd) }
        for part in parts {
            var done = 0
            while done < part.count {
                let n = Glibc.write(fd, part.baseAddress! + done, part.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw ioError(path, "write failed") }
                done += n
            }
        }
    }

    /// Writes a header then the raw bytes of `body` to `path`.
    static func write<T>(_ path: String, _ header: [UInt8], _ body: [T]) throws(VectorFileError) {
        let result: Result<Void, VectorFileError> = header.withUnsafeBytes { h in
            body.withUnsafeBytes { b in
                Result { () throws(VectorFileError) in try write(path, parts: [h, b]) }
            }
        }
        try result.get()
    }

    static func ioError(_ path: String, _ what: String) -> VectorFileError {
        VectorFileError(.io, path: path, "\(what): \(String(cString: strerror(errno)))")
    }
}

extension Array where Element == UInt8 {
    /// Copies `count` little-endian elements starting at byte `offset` (caller checks bounds).
    func loadArray<T: FixedWidthInteger>(of type: T.Type, at offset: Int, count: Int) -> [T] {
        withUnsafeBytes { raw in
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * MemoryLayout<T>.size)])
                )
                initialized = count
            }.map { T(littleEndian: $0) }
        }
    }
}
