import FlatVecModel
import NIOCore

/// One entry of LIST_COLLECTIONS or REBUILD.
public struct CollectionInfo: Sendable, Hashable {
    /// Name.
    public var name: String
    /// Components per vector.
    public var dimension: UInt32
    /// Metric.
    public var metric: Metric
    /// Vectors stored.
    public var count: UInt64
    /// REBUILD only: rows of the store's copy the index could not hold, skipped (0 in LIST_COLLECTIONS).
    public var skippedRows: UInt64

    /// Creates an entry.
    public init(name: String, dimension: UInt32, metric: Metric, count: UInt64, skippedRows: UInt64 = 0) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.count = count
        self.skippedRows = skippedRows
    }

    static func decodeList(from buffer: inout ByteBuffer, withSkippedRows: Bool) throws(FlatVecError) -> [CollectionInfo] {
        let n = try buffer.readCount("collection count", limit: 1 << 20, bytesEach: withSkippedRows ? 25 : 17)
        var list: [CollectionInfo] = []
        for _ in 0..<n {
            let name = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
            let dimension = try buffer.readU32("dimension")
            let rawMetric = try buffer.readU8("metric")
            guard let metric = Metric(rawValue: rawMetric) else { throw malformed("unknown metric \(rawMetric)") }
            let count = try buffer.readU64("count")
            let skipped = withSkippedRows ? try buffer.readU64("skipped rows") : 0
            list.append(CollectionInfo(name: name, dimension: dimension, metric: metric, count: count, skippedRows: skipped))
        }
        try buffer.expectFullyRead(withSkippedRows ? "REBUILD reply" : "LIST_COLLECTIONS reply")
        return list
    }

    static func encodeList(_ list: [CollectionInfo], withSkippedRows: Bool, into buffer: inout ByteBuffer) {
        buffer.writeCount(list.count)
        for c in list {
            buffer.writeFlatVecString(c.name)
            buffer.writeU32(c.dimension)
            buffer.writeU8(c.metric.rawValue)
            buffer.writeU64(c.count)
            if withSkippedRows { buffer.writeU64(c.skippedRows) }
        }
    }
}
