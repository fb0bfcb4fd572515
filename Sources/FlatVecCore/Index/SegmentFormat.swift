import CFlatVecKernels

#if canImport(Glibc)
import Glibc
#endif

/// The segment file layout and the version 3 snapshot that names segments (proto-spec/SNAPSHOT.md).
///
/// A segment holds one chunk: a 4 KiB header page, the chunk's block of fixed sections exactly as
/// ``ChunkLayout`` places them (so it is mapped, not read), then a tail with payloads and attribute
/// values. Only the bytes of stored rows are written; the rest of the block is a hole (zeros).
enum SegmentFormat {
    static let magic: [UInt8] = Array("FVSEGMT\0".utf8)
    static let version: UInt32 = 1
    static let headerBytes = ChunkLayout.pageBytes
    /// Bytes of the header's fields (the rest of its page is zero).
    static let headerFields = 68
    static let snapshotVersion: UInt32 = 3
    static let codesFlag: UInt32 = 1

    /// The byte ranges of the block that hold `rows` rows, in the order the block CRC covers them:
    /// vectors, ids, labels, then with codes the 16-row blocks of codes holding them, the four figure
    /// columns of doubles and the four of floats. The codes row by row are not stored (a filtered
    /// scan builds them from the blocks, as for any chunk): their section is a hole.
    static func usedRanges(_ layout: ChunkLayout, rows: Int) -> [Range<Int>] {
        var ranges = [0..<(rows * layout.dimension * 4), layout.ids..<(layout.ids + rows * 8), layout.labels..<(layout.labels + rows * 8)]
        if layout.codes {
            ranges.append(layout.blockedCodes..<(layout.blockedCodes + fv_i8_code_bytes(rows, layout.dimension)))
            for c in 0..<4 { ranges.append((layout.codeMeta + c * layout.capacity * 8)..<(layout.codeMeta + c * layout.capacity * 8 + rows * 8)) }
            let floats = layout.codeMeta + 4 * layout.capacity * 8
            for c in 0..<4 { ranges.append((floats + c * layout.capacity * 4)..<(floats + c * layout.capacity * 4 + rows * 4)) }
        }
        return ranges.filter { !$0.isEmpty }
    }

    /// The CRC-32C of the used ranges of a block.
    static func blockCRC(_ block: UnsafeRawPointer, _ layout: ChunkLayout, rows: Int) -> UInt32 {
        usedRanges(layout, rows: rows).reduce(0) { crc, range in fv_crc32c(crc, block + range.lowerBound, range.count) }
    }

    struct Header {
        var dimension: Int
        var capacity: Int
        var rows: Int
        var codes: Bool
        var attributes: Int
        var blockBytes: Int
        var tailBytes: Int
        var payloadBytes: Int
        var blockCRC: UInt32
        var tailCRC: UInt32

        var fileBytes: Int { SegmentFormat.headerBytes + blockBytes + tailBytes }

        func encoded() -> [UInt8] {
            var h = SegmentFormat.magic
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { h.append(contentsOf: $0) } }
            put(SegmentFormat.version)
            put(UInt32(dimension))
            put(UInt32(capacity))
            put(UInt32(rows))
            put(codes ? SegmentFormat.codesFlag : 0)
            put(UInt32(attributes))
            put(UInt64(blockBytes))
            put(UInt64(tailBytes))
            put(UInt64(payloadBytes))
            put(blockCRC)
            put(tailCRC)
            put(h.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, $0.count) })
            h.append(contentsOf: repeatElement(0, count: SegmentFormat.headerBytes - h.count))
            return h
        }

        /// What is wrong with a header.
        struct Problem: Error {
            let why: String
        }

        /// Reads and checks a header.
        static func decode(_ raw: UnsafeRawBufferPointer) -> Result<Header, Problem> {
            guard raw.count >= SegmentFormat.headerBytes else {
                return .failure(Problem(why: "file is \(raw.count) bytes, shorter than the \(SegmentFormat.headerBytes)-byte header"))
            }
            guard Array(raw[0..<8]) == SegmentFormat.magic else { return .failure(Problem(why: "bad magic; not a FlatVec segment")) }
            func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
            func u64(_ o: Int) -> Int { Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))) }
            guard fv_crc32c(0, raw.baseAddress, 64) == u32(64) else { return .failure(Problem(why: "header checksum mismatch")) }
            guard raw[SegmentFormat.headerFields..<SegmentFormat.headerBytes].allSatisfy({ $0 == 0 }) else {
                return .failure(Problem(why: "the header page's padding is not zero"))
            }
            guard u32(8) == SegmentFormat.version else { return .failure(Problem(why: "segment version \(u32(8)); this build reads version 1")) }
            let header = Header(
                dimension: Int(u32(12)), capacity: Int(u32(16)), rows: Int(u32(20)), codes: u32(24) & SegmentFormat.codesFlag != 0,
                attributes: Int(u32(28)), blockBytes: u64(32), tailBytes: u64(40), payloadBytes: u64(48),
                blockCRC: u32(56), tailCRC: u32(60)
            )
            guard (1...FlatIndex.maximumDimension).contains(header.dimension) else {
                return .failure(Problem(why: "dimension \(header.dimension) out of range"))
            }
            guard header.capacity > 0, header.capacity % 16 == 0, header.capacity <= 1 << 20, header.rows <= header.capacity else {
                return .failure(Problem(why: "\(header.rows) rows for a capacity of \(header.capacity)"))
            }
            let layout = ChunkLayout(capacity: header.capacity, dimension: header.dimension, codes: header.codes)
            guard header.blockBytes == layout.bytes else {
                return .failure(Problem(why: "block of \(header.blockBytes) bytes, the layout needs \(layout.bytes)"))
            }
            guard header.tailBytes >= 0, header.tailBytes < 1 << 40, header.attributes <= AttributeDefinition.maximumCount else {
                return .failure(Problem(why: "tail length or attribute count out of range"))
            }
            guard header.fileBytes == raw.count else {
                return .failure(Problem(why: "file is \(raw.count) bytes, the header implies \(header.fileBytes) (truncated or padded)"))
            }
            return .success(header)
        }
    }

    /// The tail of a segment: each row's payload length (`0xFFFFFFFF` for none), the payloads, then
    /// for each attribute a presence byte and a 64-bit word per row.
    static func tail(_ chunk: VectorChunk, rows: Int) -> (bytes: [UInt8], payloadBytes: Int) {
        var tail: [UInt8] = []
        var payloadBytes = 0
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { tail.append(contentsOf: $0) } }
        for r in 0..<rows { put(chunk.payloads[r].map { UInt32($0.count) } ?? SnapshotFormat.noPayload) }
        for r in 0..<rows {
            if let payload = chunk.payloads[r] {
                tail.append(contentsOf: payload)
                payloadBytes += payload.count
            }
        }
        for column in chunk.attributes {
            tail.append(contentsOf: UnsafeBufferPointer(start: column.present, count: rows))
            for r in 0..<rows { put(column.words[r]) }
        }
        return (tail, payloadBytes)
    }

    /// Writes chunk `chunk`'s first `rows` rows to a new segment file at `path` and fsyncs it.
    ///
    /// The used bytes are copied out first and the checksum taken of the copy: a row appended to the
    /// chunk meanwhile changes the padding rows of the codes' last 16-row block, which the block's
    /// ranges include.
    static func write(_ chunk: VectorChunk, rows: Int, to path: String) throws(FlatVecError) -> SegmentFile {
        let layout = chunk.layout
        let (tail, payloadBytes) = tail(chunk, rows: rows)
        let ranges = usedRanges(layout, rows: rows)
        var used = [UInt8](repeating: 0, count: ranges.reduce(0) { $0 + $1.count })
        var blockCRC: UInt32 = 0
        used.withUnsafeMutableBytes { out in
            var at = 0
            for range in ranges {
                let to = out.baseAddress! + at
                if layout.codes && range.lowerBound >= layout.blockedCodes, let section = chunk.codeSection {
                    // Codes and figures: where the chunk keeps them (its block, or a piece of its own).
                    to.copyMemory(from: section + (range.lowerBound - layout.blockedCodes), byteCount: range.count)
                } else {
                    to.copyMemory(from: chunk.block.baseAddress! + range.lowerBound, byteCount: range.count)
                }
                blockCRC = fv_crc32c(blockCRC, to, range.count)
                at += range.count
            }
        }
        let header = Header(
            dimension: layout.dimension, capacity: layout.capacity, rows: rows, codes: layout.codes,
            attributes: chunk.attributes.count, blockBytes: layout.bytes, tailBytes: tail.count, payloadBytes: payloadBytes,
            blockCRC: blockCRC, tailCRC: tail.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, $0.count) }
        )
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FlatVecError.ioError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        func put(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(FlatVecError) {
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FlatVecError.ioError("write to \(path) failed: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
        guard ftruncate(fd, off_t(header.fileBytes)) == 0 else {
            throw FlatVecError.ioError("cannot size \(path): \(String(cString: strerror(errno)))")
        }
        let encoded = header.encoded()
        try encoded.withUnsafeBytes { raw in Result { () throws(FlatVecError) in try put(raw, at: 0) } }.get()
        var at = 0
        for range in ranges {
            try used.withUnsafeBytes { raw in
                Result { () throws(FlatVecError) in try put(UnsafeRawBufferPointer(rebasing: raw[at..<(at + range.count)]), at: headerBytes + range.lowerBound) }
            }.get()
            at += range.count
        }
        try tail.withUnsafeBytes { raw in Result { () throws(FlatVecError) in try put(raw, at: headerBytes + layout.bytes) } }.get()
        guard fsync(fd) == 0 else { throw FlatVecError.ioError("fsync of \(path) failed") }
        return SegmentFile(name: String(path.split(separator: "/").last ?? Substring(path)), bytes: header.fileBytes)
    }
}
