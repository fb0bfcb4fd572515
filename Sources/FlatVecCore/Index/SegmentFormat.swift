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
    /// The version written: 2 checks the vectors apart, a group of rows at a time.
    static let version: UInt32 = 2
    static let headerBytes = ChunkLayout.pageBytes
    static let snapshotVersion: UInt32 = 3
    static let codesFlag: UInt32 = 1
    /// Most bytes of vectors one group's checksum covers (version 2).
    static let vectorGroupBytes = 16384

    /// Bytes of a header's fields (the rest of its page is zero): version 1 has no vector groups.
    static func headerFields(version: UInt32) -> Int { version == 1 ? 68 : 72 }

    /// Rows of a vector group at `dimension`: the largest power of two whose vectors take at most
    /// ``vectorGroupBytes`` (at least one row).
    static func vectorGroupRows(dimension: Int) -> Int {
        var rows = 1
        while rows * 2 * dimension * 4 <= vectorGroupBytes { rows *= 2 }
        return rows
    }

    /// The byte ranges of the block that hold `rows` rows, in the order the block CRC covers them:
    /// vectors (unless `vectors` is false), ids, labels, then with codes the 16-row blocks of codes
    /// holding them, the four figure columns of doubles and the four of floats. The codes row by row
    /// are not stored (a filtered scan builds them from the blocks, as for any chunk): their section
    /// is a hole.
    static func usedRanges(_ layout: ChunkLayout, rows: Int, vectors: Bool = true) -> [Range<Int>] {
        var ranges = [layout.ids..<(layout.ids + rows * 8), layout.labels..<(layout.labels + rows * 8)]
        if vectors { ranges.insert(0..<(rows * layout.dimension * 4), at: 0) }
        if layout.codes {
            ranges.append(layout.blockedCodes..<(layout.blockedCodes + fv_i8_code_bytes(rows, layout.dimension)))
            for c in 0..<4 { ranges.append((layout.codeMeta + c * layout.capacity * 8)..<(layout.codeMeta + c * layout.capacity * 8 + rows * 8)) }
            let floats = layout.codeMeta + 4 * layout.capacity * 8
            for c in 0..<4 { ranges.append((floats + c * layout.capacity * 4)..<(floats + c * layout.capacity * 4 + rows * 4)) }
        }
        return ranges.filter { !$0.isEmpty }
    }

    /// The CRC-32C of the ranges of a block that its header's block CRC covers: every used range in
    /// version 1, all but the vectors in version 2.
    static func blockCRC(_ block: UnsafeRawPointer, _ layout: ChunkLayout, rows: Int, version: UInt32) -> UInt32 {
        usedRanges(layout, rows: rows, vectors: version == 1).reduce(0) { crc, range in fv_crc32c(crc, block + range.lowerBound, range.count) }
    }

    struct Header {
        var version: UInt32 = SegmentFormat.version
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
        /// Rows of a vector group (version 2; 0 in version 1).
        var groupRows: Int = 0

        /// Vector groups, each with a checksum at the end of the tail (version 2; 0 in version 1).
        var vectorGroups: Int { version == 1 ? 0 : VectorChecks.groups(rows: rows, groupRows: groupRows) }

        var fileBytes: Int { SegmentFormat.headerBytes + blockBytes + tailBytes }

        func encoded() -> [UInt8] {
            var h = SegmentFormat.magic
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { h.append(contentsOf: $0) } }
            put(version)
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
            if version != 1 { put(UInt32(groupRows)) }
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
            let version = u32(8)
            guard version == 1 || version == 2 else {
                return .failure(Problem(why: "segment version \(version); this build reads versions 1 and 2"))
            }
            let fields = SegmentFormat.headerFields(version: version)
            guard fv_crc32c(0, raw.baseAddress, fields - 4) == u32(fields - 4) else { return .failure(Problem(why: "header checksum mismatch")) }
            guard raw[fields..<SegmentFormat.headerBytes].allSatisfy({ $0 == 0 }) else {
                return .failure(Problem(why: "the header page's padding is not zero"))
            }
            let header = Header(
                version: version, dimension: Int(u32(12)), capacity: Int(u32(16)), rows: Int(u32(20)),
                codes: u32(24) & SegmentFormat.codesFlag != 0, attributes: Int(u32(28)), blockBytes: u64(32), tailBytes: u64(40),
                payloadBytes: u64(48), blockCRC: u32(56), tailCRC: u32(60), groupRows: version == 1 ? 0 : Int(u32(64))
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
            guard header.version == 1 || (header.groupRows > 0 && header.groupRows <= 1 << 20 && header.groupRows & (header.groupRows - 1) == 0) else {
                return .failure(Problem(why: "vector groups of \(header.groupRows) rows (a power of two up to 2^20)"))
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
    /// for each attribute a presence byte and a 64-bit word per row (the vector groups' checksums
    /// follow, see ``write(_:rows:to:)``).
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

    /// Bytes a segment file is written in: each piece goes to the disk, and is waited for, before
    /// the next one is written (``fv_write_out``), so a compaction never has more than a piece queued
    /// at the disk ahead of a log's `fdatasync`. Written whole and then synced, a segment (5 MiB at
    /// d = 512) held the single ADDs' syncs of a load behind it. The file's `fsync` still makes it
    /// durable.
    ///
    /// Pieces end at multiples of 2 MiB of the file, so the page cache keeps a piece as one huge
    /// page, which a mapping of the segment maps at once: with pieces of 512 KiB, a search at 10M
    /// rescoring rows from the mapped segments faulted them in 4 KiB pages, its one-lane p50 14%
    /// slower.
    static let writeOutBytes = 2 << 20

    /// Writes chunk `chunk`'s first `rows` rows to a new segment file at `path` (version 2), a piece
    /// of ``writeOutBytes`` at a time, and fsyncs it.
    ///
    /// The used bytes are copied out first and the checksums taken of the copy: a row appended to
    /// the chunk meanwhile changes the padding rows of the codes' last 16-row block, which the
    /// block's ranges include. Vectors still unchecked in the chunk's own segment (a mapped chunk
    /// that took rows since) are checked first, so damage is never written under a new checksum.
    /// - Parameter scratch: Where the used bytes are copied (grown when too small; its contents do
    ///   not matter): one buffer reused for many segments faults its pages in once.
    /// - Throws: `corruptData` naming the damaged segment, ``FlatVecError/Code/ioError`` if the file
    ///   cannot be written.
    static func write(_ chunk: VectorChunk, rows: Int, to path: String, scratch: inout [UInt8]) throws(FlatVecError) -> SegmentFile {
        if !chunk.prepareVectors(0..<rows), let checks = chunk.vectorChecks {
            throw checks.damage.error ?? FlatVecError(.corruptData, "segment \(checks.segment): damaged vectors")
        }
        let layout = chunk.layout
        var (tail, payloadBytes) = tail(chunk, rows: rows)
        let ranges = usedRanges(layout, rows: rows)
        let usedBytes = ranges.reduce(0) { $0 + $1.count }
        if scratch.count < usedBytes { scratch = [UInt8](repeating: 0, count: usedBytes) }
        var blockCRC: UInt32 = 0
        scratch.withUnsafeMutableBytes { out in
            var at = 0
            for range in ranges {
                let to = out.baseAddress! + at
                if layout.codes && range.lowerBound >= layout.blockedCodes, let section = chunk.codeSection {
                    // Codes and figures: where the chunk keeps them (its block, or a piece of its own).
                    to.copyMemory(from: section + (range.lowerBound - layout.blockedCodes), byteCount: range.count)
                } else {
                    to.copyMemory(from: chunk.block.baseAddress! + range.lowerBound, byteCount: range.count)
                }
                // Every range but the vectors' (the only one at 0).
                if range.lowerBound != 0 { blockCRC = fv_crc32c(blockCRC, to, range.count) }
                at += range.count
            }
        }
        // The vectors come first in the copy; their groups' checksums end the tail.
        let groupRows = vectorGroupRows(dimension: layout.dimension)
        let checksums = scratch.withUnsafeBytes { VectorChecks.checksums(of: $0.baseAddress!, dimension: layout.dimension, rows: rows, groupRows: groupRows) }
        for crc in checksums { withUnsafeBytes(of: crc.littleEndian) { tail.append(contentsOf: $0) } }
        let header = Header(
            dimension: layout.dimension, capacity: layout.capacity, rows: rows, codes: layout.codes,
            attributes: chunk.attributes.count, blockBytes: layout.bytes, tailBytes: tail.count, payloadBytes: payloadBytes,
            blockCRC: blockCRC, tailCRC: tail.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, $0.count) }, groupRows: groupRows
        )
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FlatVecError.ioError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        func put(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(FlatVecError) {
            var done = 0
            while done < bytes.count {
                let piece = min(bytes.count - done, writeOutBytes - (offset + done) % writeOutBytes)
                let n = pwrite(fd, bytes.baseAddress! + done, piece, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FlatVecError.ioError("write to \(path) failed: \(String(cString: strerror(errno)))") }
                // An error here is the write's: reported once, it would not be reported by the fsync.
                let failed = fv_write_out(fd, Int64(offset + done), Int64(n))
                guard failed == 0 else { throw FlatVecError.ioError("write to \(path) failed: \(String(cString: strerror(failed)))") }
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
            try scratch.withUnsafeBytes { raw in
                Result { () throws(FlatVecError) in try put(UnsafeRawBufferPointer(rebasing: raw[at..<(at + range.count)]), at: headerBytes + range.lowerBound) }
            }.get()
            at += range.count
        }
        try tail.withUnsafeBytes { raw in Result { () throws(FlatVecError) in try put(raw, at: headerBytes + layout.bytes) } }.get()
        guard fsync(fd) == 0 else { throw FlatVecError.ioError("fsync of \(path) failed") }
        return SegmentFile(name: String(path.split(separator: "/").last ?? Substring(path)), bytes: header.fileBytes)
    }
}
