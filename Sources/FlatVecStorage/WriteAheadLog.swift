import FlatVecCore
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
        guard fd >= 0 else { throw FlatVecError.ioError("cannot open \(path)") }
        guard ftruncate(fd, off_t(validLength)) == 0, lseek(fd, off_t(validLength), SEEK_SET) >= 0, fsync(fd) == 0 else {
            close(fd)
            throw FlatVecError.ioError("cannot prepare \(path)")
        }
        state = Mutex(State(fd: fd, end: validLength, failed: nil))
        syncState.withLock { $0 = validLength }
    }

    deinit {
        _ = state.withLock { close($0.fd) }
    }

    /// Bytes in the log.
    var size: Int { state.withLock { $0.end } }

    /// Appends one record and waits until it is durable. The body is written as is (no copy): a small
    /// header, then the body's bytes.
    func append(_ body: [UInt8]) throws(FlatVecError) {
        var header = [UInt8]()
        header.reserveCapacity(8)
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { header.append(contentsOf: $0) }
        let crc = Checksum.crc32c(body)
        withUnsafeBytes(of: crc.littleEndian) { header.append(contentsOf: $0) }
        let (fd, myEnd) = try state.withLock { s throws(FlatVecError) -> (Int32, Int) in
            if let failed = s.failed { throw failed }
            let ok = header.withUnsafeBytes { Self.writeFully(s.fd, $0) } && body.withUnsafeBytes { Self.writeFully(s.fd, $0) }
            guard ok else {
                let error = FlatVecError.ioError("write to \(path) failed")
                // Cut the partial record off so the log stays a sequence of whole records.
                if ftruncate(s.fd, off_t(s.end)) != 0 || lseek(s.fd, off_t(s.end), SEEK_SET) < 0 {
                    s.failed = FlatVecError(.unavailable, "the log \(path) is damaged after a failed write; restart the server")
                }
                throw error
            }
            s.end += header.count + body.count
            return (s.fd, s.end)
        }
        // Group commit: whoever syncs covers every record written before the sync started.
        try syncState.withLock { synced throws(FlatVecError) in
            guard synced < myEnd else { return }
            let (target, poisoned) = state.withLock { ($0.end, $0.failed != nil) }
            guard !poisoned else {
                throw FlatVecError.outcomeUnknown("an earlier fdatasync of \(path) failed before this write was known durable")
            }
            guard fdatasync(fd) == 0 else {
                // After a failed fsync the kernel may have dropped the dirty pages and a retry can
                // "succeed" without them (PostgreSQL's fsyncgate): no later write may be acknowledged
                // from this file, and the written records may or may not survive a restart.
                let reason = String(cString: strerror(errno))
                state.withLock { $0.failed = FlatVecError(.unavailable, "the log \(path) cannot be trusted after a failed fdatasync (\(reason)); restart the server") }
                throw FlatVecError.outcomeUnknown("fdatasync of \(path) failed (\(reason))")
            }
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


    /// What reading a log found.
    struct Contents {
        /// The whole, checksummed records from the start of the file, in order.
        var records: [[UInt8]]
        /// The bytes those records take (where the next record goes).
        var validLength: Int
        /// The file's length.
        var fileLength: Int
        /// Where a whole record passing its checksum was found after the first bad one; nil if none
        /// was (the bad bytes are a torn tail: a crash in the middle of the last write).
        var validRecordAfterDamage: Int?

        /// Whether bytes after the valid records hold more valid records: corruption, not a torn tail.
        var isCorrupt: Bool { validRecordAfterDamage != nil }
    }

    /// Reads the whole records at the start of the file at `path`, up to the first record that is
    /// cut short or fails its checksum, and then looks for any valid record after it.
    ///
    /// Only a tail with no valid record in it may be cut silently (as PostgreSQL ends WAL replay at
    /// an incomplete last record): a bad record followed by good ones is damage in the middle of the
    /// log, and cutting there would discard acknowledged writes.
    static func readRecords(path: String) throws(FlatVecError) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return Contents(records: [], validLength: 0, fileLength: 0) }
            throw FlatVecError.ioError("cannot open \(path)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FlatVecError.ioError("cannot stat \(path)") }
        let size = Int(info.st_size)
        // Read into uninitialised memory: a log is up to a few hundred MiB, and zeroing it first
        // was a tenth of a restart's replay.
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var done = 0
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failed = true
                    break
                }
                done += n
            }
            count = done
        }
        guard !failed else { throw FlatVecError.ioError("cannot read \(path)") }
        return bytes.withUnsafeBytes { raw in
            var records: [[UInt8]] = []
            var offset = 0
            while let length = recordLength(in: raw, at: offset) {
                records.append(Array(raw[(offset + 8)..<(offset + 8 + length)]))
                offset += 8 + length
            }
            var resumed: Int?
            if offset < size {
                // Rare (only after a crash or damage), so a byte-by-byte search is affordable; a
                // record's first body byte is its type, which rules out most offsets before the checksum.
                var probe = offset + 1
                while probe + 8 < size {
                    if recordLength(in: raw, at: probe) != nil {
                        resumed = probe
                        break
                    }
                    probe += 1
                }
            }
            return Contents(records: records, validLength: offset, fileLength: size, validRecordAfterDamage: resumed)
        }
    }

    /// The body length of a whole record at `offset` that passes its checksum, or nil.
    private static func recordLength(in bytes: UnsafeRawBufferPointer, at offset: Int) -> Int? {
        guard offset + 9 <= bytes.count else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        let crc = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        guard length >= 1, length <= bytes.count - offset - 8, LogRecord.Kind(rawValue: bytes[offset + 8]) != nil else { return nil }
        return Checksum.crc32c(UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + 8 + length)])) == crc ? length : nil
    }
}
