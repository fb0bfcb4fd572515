import FlatVecModel
import NIOCore

/// DESCRIBE_COLLECTION reply: a collection's shape and the attributes its vectors may carry.
public struct CollectionDescription: Sendable, Hashable {
    /// Name.
    public var name: String
    /// Components per vector.
    public var dimension: UInt32
    /// Metric.
    public var metric: Metric
    /// Vectors stored.
    public var count: UInt64
    /// The attributes, in declaration order.
    public var attributes: [AttributeDefinition]

    /// Creates the reply.
    public init(name: String, dimension: UInt32, metric: Metric, count: UInt64, attributes: [AttributeDefinition]) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.count = count
        self.attributes = attributes
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> CollectionDescription {
        let name = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let dimension = try buffer.readU32("dimension")
        let rawMetric = try buffer.readU8("metric")
        guard let metric = Metric(rawValue: rawMetric) else { throw malformed("unknown metric \(rawMetric)") }
        let count = try buffer.readU64("count")
        let attributes = try buffer.readAttributeDefinitions()
        try buffer.expectFullyRead("DESCRIBE_COLLECTION reply")
        return CollectionDescription(name: name, dimension: dimension, metric: metric, count: count, attributes: attributes)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(name)
        buffer.writeU32(dimension)
        buffer.writeU8(metric.rawValue)
        buffer.writeU64(count)
        buffer.writeAttributeDefinitions(attributes)
    }
}
