import CFlatVecKernels

#if canImport(Glibc)
import Glibc
#endif

/// The snapshot file layout (see proto-spec/SNAPSHOT.md).
enum SnapshotFormat {
    static let magic: [UInt8] = Array("FLATVEC\0".utf8)
    /// Version 1: no attributes. Version 2: an attributes section follows the vectors.
    static let version: UInt32 = 1
    static let versionWithAttributes: UInt32 = 2
    static let headerSize = 64
    static let noPayload: UInt32 = 0xFFFF_FFFF

    /// Bytes from the start of the file to the vectors section, which starts on a 64-byte boundary.
    static func vectorsOffset(count: Int, payloadBytes: Int) -> Int {
        let end = headerSize + count * 20 + payloadBytes
        return (end + 63) & ~63
    }

    static func header(
        version: UInt32, metric: Metric, dimension: Int, count: Int, payloadBytes: Int, bodyCRC: UInt32
    ) -> [UInt8] {
        var h = magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { h.append(contentsOf: $0) } }
        put(version)
        put(UInt32(metric.rawValue))
        put(UInt32(dimension))
        put(UInt32(0))
        put(UInt64(count))
        put(UInt64(payloadBytes))
        put(bodyCRC)
        let headerCRC = h.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, $0.count) }
        put(headerCRC)
        h.append(contentsOf: repeatElement(0, count: headerSize - h.count))
        return h
    }
}

extension FlatIndex {
    /// Saves every vector, id, label and payload to one file, atomically.
    ///
    /// Writes to `path.tmp`, fsyncs it, renames it over `path` and fsyncs the directory, so a crash
    /// leaves either the old snapshot or the new one. Adds and removes wait while rows are copied
    /// out (they see a consistent cut); the fsync happens after the lock is released.
    /// - Parameter path: The snapshot file.
    /// - Throws: ``FlatVecError/Code/ioError`` if writing fails; `corruptData` naming a segment
    ///   whose vectors do not match their checksum.
    public func writeSnapshot(to path: String) throws(FlatVecError) {
        let temporary = path + ".tmp"
        var writer = try SnapshotWriter(creating: temporary)
        let result: Result<(count: Int, payloadBytes: Int, version: UInt32), FlatVecError> = lock.withReaderLock {
            Result { () throws(FlatVecError) in try writeBody(into: &writer) }
        }
        let (count, payloadBytes, version) = try result.get()
        try writer.flush()
        let header = SnapshotFormat.header(
            version: version,
            metric: metric,
            dimension: dimension,
            count: count,
            payloadBytes: payloadBytes,
            bodyCRC: writer.crc
        )
        try writer.overwrite(header, at: 0)
        try writer.sync()
        _ = consume writer
        guard rename(temporary, path) == 0 else {
            throw FlatVecError.ioError("cannot rename \(temporary) to \(path)")
        }
        Self.syncDirectory(of: path)
    }

    /// Writes the body sections; the caller holds the reader lock.
    private func writeBody(
        into writer: inout SnapshotWriter
    ) throws(FlatVecError) -> (count: Int, payloadBytes: Int, version: UInt32) {
        let count = rows.count
        let payloadBytes = rows.payloadBytes
        // The header is patched in at the end; reserve its bytes now. They are not checksummed.
        try writer.reserveUnchecksummed(SnapshotFormat.headerSize)
        for r in 0..<count { let (c, o) = rows.location(of: r); try writer.append(c.ids[o]) }
        for r in 0..<count { let (c, o) = rows.location(of: r); try writer.append(c.labels[o]) }
        for r in 0..<count {
            let (c, o) = rows.location(of: r)
            try writer.append(c.payloads[o].map { UInt32($0.count) } ?? SnapshotFormat.noPayload)
        }
        for r in 0..<count {
            let (c, o) = rows.location(of: r)
            if let payload = c.payloads[o] {
                let result: Result<Void, FlatVecError> = payload.withUnsafeBytes { raw in
                    Result { () throws(FlatVecError) in try writer.append(bytes: raw) }
                }
                try result.get()
            }
        }
        let padding = SnapshotFormat.vectorsOffset(count: count, payloadBytes: payloadBytes)
            - (SnapshotFormat.headerSize + count * 20 + payloadBytes)
        for _ in 0..<padding { try writer.append(UInt8(0)) }
        var remaining = count
        for chunk in rows.chunks where remaining > 0 {
            let n = min(remaining, rows.rowsPerChunk)
            chunk.prepareVectors(0..<n)
            try vectorDamage.check()
            try writer.append(bytes: UnsafeRawBufferPointer(start: chunk.vectors, count: n * dimension * 4))
            remaining -= n
        }
        // Without attributes, version 1: the file older builds read.
        guard !rows.schema.isEmpty else { return (count, payloadBytes, SnapshotFormat.version) }
        try SnapshotAttributes.write(rows, into: &writer)
        return (count, payloadBytes, SnapshotFormat.versionWithAttributes)
    }

    /// Loads a snapshot written by ``writeSnapshot(to:)``.
    /// - Parameters:
    ///   - path: The snapshot file.
    ///   - configuration: Tuning knobs of the new index.
    /// - Returns: A new index holding the snapshot's rows.
    /// - Throws: ``FlatVecError/Code/ioError`` if the file cannot be read,
    ///   ``FlatVecError/Code/corruptData`` naming the failed check (magic, version, size, checksum,
    ///   duplicate id, non-finite value).
    public static func loadSnapshot(
        from path: String,
        configuration: Configuration = Configuration()
    ) throws(FlatVecError) -> FlatIndex {
        let bytes = try readWholeFile(path)
        let result: Result<FlatIndex, FlatVecError> = bytes.withUnsafeBytes { raw in
            Result { () throws(FlatVecError) in try decodeSnapshot(raw, path: path, configuration: configuration) }
        }
        return try result.get()
    }

    private static func decodeSnapshot(
        _ raw: UnsafeRawBufferPointer,
        path: String,
        configuration: Configuration
    ) throws(FlatVecError) -> FlatIndex {
        func corrupt(_ why: String) -> FlatVecError { FlatVecError(.corruptData, "snapshot \(path): \(why)") }
        guard raw.count >= SnapshotFormat.headerSize else {
            throw corrupt("file is \(raw.count) bytes, shorter than the \(SnapshotFormat.headerSize)-byte header")
        }
        guard Array(raw[0..<8]) == SnapshotFormat.magic else { throw corrupt("bad magic; not a FlatVec snapshot") }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        guard fv_crc32c(0, raw.baseAddress, 44) == u32(44) else { throw corrupt("header checksum mismatch") }
        let version = u32(8)
        guard version == SnapshotFormat.version || version == SnapshotFormat.versionWithAttributes
            || version == SegmentFormat.snapshotVersion
        else {
            throw corrupt("format version \(version); this build reads versions 1 to 3")
        }
        guard let metric = Metric(rawValue: UInt8(truncatingIfNeeded: u32(12))), u32(12) <= 255 else {
            throw corrupt("unknown metric \(u32(12))")
        }
        let dimension = Int(u32(16))
        guard (1...maximumDimension).contains(dimension) else { throw corrupt("dimension \(dimension) out of range") }
        guard u64(24) <= UInt64(Int32.max), u64(32) <= UInt64(Int.max / 2) else {
            throw corrupt("count or payload size out of range")
        }
        let count = Int(u64(24))
        let payloadBytes = Int(u64(32))
        if version == SegmentFormat.snapshotVersion {
            let body = UnsafeRawBufferPointer(rebasing: raw[SnapshotFormat.headerSize...])
            guard fv_crc32c(0, body.baseAddress, body.count) == u32(40) else { throw corrupt("body checksum mismatch") }
            return try decodeSegmented(
                raw, path: path, metric: metric, dimension: dimension, count: count, payloadBytes: payloadBytes,
                configuration: configuration
            )
        }
        let vectorsOffset = SnapshotFormat.vectorsOffset(count: count, payloadBytes: payloadBytes)
        let (vectorBytes, overflow) = count.multipliedReportingOverflow(by: dimension * 4)
        let attributesOffset = vectorsOffset &+ vectorBytes
        let sizeMatches = version == SnapshotFormat.version ? attributesOffset == raw.count : attributesOffset + 4 <= raw.count
        guard !overflow, sizeMatches else {
            throw corrupt("file is \(raw.count) bytes, the header implies \(attributesOffset)\(version == 1 ? "" : " and an attributes section") (truncated or padded)")
        }
        let body = UnsafeRawBufferPointer(rebasing: raw[SnapshotFormat.headerSize...])
        guard fv_crc32c(0, body.baseAddress, body.count) == u32(40) else { throw corrupt("body checksum mismatch") }

        let index = try FlatIndex(dimension: dimension, metric: metric, configuration: configuration)
        let idsOffset = SnapshotFormat.headerSize
        let labelsOffset = idsOffset + count * 8
        let lengthsOffset = labelsOffset + count * 8
        var payloadCursor = lengthsOffset + count * 4
        let payloadEnd = payloadCursor + payloadBytes
        let vectors = (raw.baseAddress! + vectorsOffset).assumingMemoryBound(to: Float.self)
        var failure: FlatVecError?
        index.lock.withWriterLock {
            index.rows.reserve(rows: count)
            for r in 0..<count {
                let id = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: idsOffset + r * 8, as: Int64.self))
                let label = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: labelsOffset + r * 8, as: Int64.self))
                let length = u32(lengthsOffset + r * 4)
                var payload: [UInt8]?
                if length != SnapshotFormat.noPayload {
                    let n = Int(length)
                    guard n <= maximumPayloadBytes, payloadCursor + n <= payloadEnd else {
                        failure = corrupt("payload of row \(r) overruns its section")
                        return
                    }
                    payload = Array(raw[payloadCursor..<(payloadCursor + n)])
                    payloadCursor += n
                }
                let row = vectors + r * dimension
                guard fv_sum_squares(row, dimension).isFinite else {
                    failure = corrupt("vector of row \(r) (id \(id)) has a non-finite component")
                    return
                }
                guard index.rows.row(of: id) == nil else {
                    failure = corrupt("id \(id) appears twice")
                    return
                }
                index.rows.upsert(id: id, label: label, vector: row, payload: payload)
            }
        }
        if let failure { throw failure }
        guard payloadCursor == payloadEnd else { throw corrupt("payload section length disagrees with the header") }
        if version == SnapshotFormat.versionWithAttributes {
            let section = UnsafeRawBufferPointer(rebasing: raw[attributesOffset...])
            try SnapshotAttributes.read(section, count: count, into: index, corrupt: corrupt)
        }
        return index
    }

    static func readWholeFile(_ path: String) throws(FlatVecError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FlatVecError.ioError("cannot open \(path)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FlatVecError.ioError("cannot stat \(path)") }
        let size = Int(info.st_size)
        var readError: FlatVecError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    readError = FlatVecError.ioError("read of \(path) stopped at \(done) of \(size) bytes")
                    break
                }
                done += n
            }
            initialized = done
        }
        if let readError { throw readError }
        return bytes
    }

    static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        syncDirectory(directory)
    }
}
