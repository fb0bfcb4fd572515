import FlatVecCore
import NIOCore

/// One entry of LIST_COLLECTIONS.
public struct CollectionInfo: Sendable, Hashable {
    /// Name.
    public var name: String
    /// Components per vector.
    public var dimension: UInt32
    /// Metric.
    public var metric: Metric
    /// Vectors stored.
    public var count: UInt64

    /// Creates an entry.
    public init(name: String, dimension: UInt32, metric: Metric, count: UInt64) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.count = count
    }

    static func decodeList(from buffer: inout ByteBuffer) throws(FlatVecError) -> [CollectionInfo] {
        let n = try buffer.readCount("collection count", limit: 1 << 20, bytesEach: 17)
        var list: [CollectionInfo] = []
        for _ in 0..<n {
            let name = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
            let dimension = try buffer.readU32("dimension")
            let rawMetric = try buffer.readU8("metric")
            guard let metric = Metric(rawValue: rawMetric) else { throw malformed("unknown metric \(rawMetric)") }
            list.append(CollectionInfo(name: name, dimension: dimension, metric: metric, count: try buffer.readU64("count")))
        }
        try buffer.expectFullyRead("LIST_COLLECTIONS reply")
        return list
    }

    static func encodeList(_ list: [CollectionInfo], into buffer: inout ByteBuffer) {
        buffer.writeCount(list.count)
        for c in list {
            buffer.writeFlatVecString(c.name)
            buffer.writeU32(c.dimension)
            buffer.writeU8(c.metric.rawValue)
            buffer.writeU64(c.count)
        }
    }
}
