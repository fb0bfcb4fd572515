/// Reads the fields of a version 3 snapshot's body after its header, checking every length; the
/// segment list is read the same way by the loader and by ``FlatIndex/segmentNames(ofSnapshot:)``.
struct SegmentListReader {
    let raw: UnsafeRawBufferPointer
    let path: String
    private(set) var cursor = SnapshotFormat.headerSize

    init(raw: UnsafeRawBufferPointer, path: String) {
        self.raw = raw
        self.path = path
    }

    func corrupt(_ why: String) -> FlatVecError { FlatVecError(.corruptData, "snapshot \(path): \(why)") }

    mutating func take(_ n: Int, _ what: String) throws(FlatVecError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= raw.count - cursor else { throw corrupt("file ends inside \(what)") }
        defer { cursor += n }
        return UnsafeRawBufferPointer(rebasing: raw[cursor..<(cursor + n)])
    }

    mutating func u32(_ what: String) throws(FlatVecError) -> Int {
        Int(UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self)))
    }

    /// A UTF-8 string after its length of `lengthBytes` bytes (1, 2 or 4).
    mutating func string(_ lengthBytes: Int, _ what: String) throws(FlatVecError) -> String {
        let field = try take(lengthBytes, what)
        let n = lengthBytes == 1 ? Int(field[0]) : lengthBytes == 2
            ? Int(UInt16(littleEndian: field.loadUnaligned(as: UInt16.self))) : Int(UInt32(littleEndian: field.loadUnaligned(as: UInt32.self)))
        guard let s = String(validating: try take(n, what), as: UTF8.self) else { throw corrupt("\(what) is not UTF-8") }
        return s
    }

    /// The chunk size and the segments (name, rows, file length) of a snapshot of `count` rows.
    mutating func segmentList(count: Int) throws(FlatVecError) -> (rowsPerChunk: Int, segments: [(name: String, rows: Int, bytes: Int)]) {
        let rowsPerChunk = try u32("the chunk size")
        _ = try u32("the flags")  // whether the segments hold codes; each segment's header says so too
        let segmentCount = try u32("the segment count")
        guard rowsPerChunk > 0, rowsPerChunk % 16 == 0, count >= 0, segmentCount <= count / rowsPerChunk + 1 else {
            throw corrupt("\(segmentCount) segments of \(rowsPerChunk) rows for \(count) rows")
        }
        var segments: [(name: String, rows: Int, bytes: Int)] = []
        for s in 0..<segmentCount {
            let rows = try u32("segment \(s)")
            let bytes = Int(truncatingIfNeeded: UInt64(littleEndian: try take(8, "segment \(s)").loadUnaligned(as: UInt64.self)))
            let name = try string(2, "the name of segment \(s)")
            guard !name.contains("/"), !name.isEmpty else { throw corrupt("segment \(s) has the name '\(name)'") }
            segments.append((name, rows, bytes))
        }
        guard segments.dropLast().allSatisfy({ $0.rows == rowsPerChunk }), segments.reduce(0, { $0 + $1.rows }) == count else {
            throw corrupt("the segments' rows do not add up to \(count) in chunks of \(rowsPerChunk)")
        }
        return (rowsPerChunk, segments)
    }
}
