import FlatVecModel
import NIOCore

/// CREATE_COLLECTION request.
public struct CreateCollectionRequest: Sendable, Hashable {
    /// The new collection's name.
    public var name: String
    /// Components per vector, 1 to 16000.
    public var dimension: UInt32
    /// Inner product or cosine.
    public var metric: Metric
    /// The attributes vectors may carry (more can be added with ADD_ATTRIBUTE).
    public var attributes: [AttributeDefinition]

    /// Creates the request.
    public init(name: String, dimension: UInt32, metric: Metric, attributes: [AttributeDefinition] = []) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.attributes = attributes
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> CreateCollectionRequest {
        let name = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let dimension = try buffer.readU32("dimension")
        let rawMetric = try buffer.readU8("metric")
        guard let metric = Metric(rawValue: rawMetric) else { throw FlatVecError(.invalidArgument, "unknown metric \(rawMetric)") }
        // Attributes are optional: a payload that ends after the metric declares none.
        var attributes: [AttributeDefinition] = []
        if buffer.readableBytes > 0 {
            attributes = try buffer.readAttributeDefinitions()
            guard !attributes.isEmpty else {
                throw FlatVecError(.invalidArgument, "CREATE_COLLECTION has an attributes part with m = 0; leave the part out for no attributes")
            }
        }
        try buffer.expectFullyRead("CREATE_COLLECTION")
        return CreateCollectionRequest(name: name, dimension: dimension, metric: metric, attributes: attributes)
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(name)
        buffer.writeU32(dimension)
        buffer.writeU8(metric.rawValue)
        if !attributes.isEmpty { buffer.writeAttributeDefinitions(attributes) }
    }
}
