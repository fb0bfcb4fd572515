import FlatVecModel
import NIOCore

/// GET request: stored vectors by id.
public struct GetRequest: Sendable, Hashable {
    /// The collection.
    public var collection: String
    /// The ids, in the order the reply lists them.
    public var ids: [Int64]
    /// Whether the reply carries the vectors.
    public var withVectors: Bool
    /// Whether the reply carries the payloads.
    public var withPayloads: Bool
    /// Whether the reply carries the attribute values.
    public var withAttributes: Bool

    /// Creates the request.
    public init(collection: String, ids: [Int64], withVectors: Bool = true, withPayloads: Bool = true, withAttributes: Bool = false) {
        self.collection = collection
        self.ids = ids
        self.withVectors = withVectors
        self.withPayloads = withPayloads
        self.withAttributes = withAttributes
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> GetRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let flags = GetFlags(rawValue: try buffer.readFlags("GET flags", known: GetFlags.known.rawValue))
        let count = try buffer.readCount("id count", limit: limits.maxBatch, bytesEach: 8)
        let ids = buffer.readI64Array(count: count)
        try buffer.expectFullyRead("GET")
        return GetRequest(
            collection: collection, ids: ids, withVectors: flags.contains(.withVectors), withPayloads: flags.contains(.withPayloads),
            withAttributes: flags.contains(.withAttributes)
        )
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        buffer.writeU8(
            (withVectors ? GetFlags.withVectors : []).union(withPayloads ? .withPayloads : [])
                .union(withAttributes ? .withAttributes : []).rawValue
        )
        buffer.writeCount(ids.count)
        buffer.writeI64Array(ids)
    }
}

/// GET reply.
public struct GetResponse: Sendable, Hashable {
    /// The collection's dimension (the length of each vector, when present).
    public var dimension: UInt32
    /// Whether vectors are present.
    public var withVectors: Bool
    /// Whether payloads are present.
    public var withPayloads: Bool
    /// Whether attribute values are present.
    public var withAttributes: Bool
    /// The rows, in the order asked; vectors are empty, payloads nil and attributes empty when not asked for.
    public var rows: [StoredVector]

    /// Creates the reply.
    public init(dimension: UInt32, withVectors: Bool, withPayloads: Bool, withAttributes: Bool = false, rows: [StoredVector]) {
        self.dimension = dimension
        self.withVectors = withVectors
        self.withPayloads = withPayloads
        self.withAttributes = withAttributes
        self.rows = rows
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> GetResponse {
        let flags = GetFlags(rawValue: try buffer.readU8("flags"))
        let dimension = try buffer.readU32("dimension")
        let withVectors = flags.contains(.withVectors)
        let withPayloads = flags.contains(.withPayloads)
        let withAttributes = flags.contains(.withAttributes)
        let count = try buffer.readCount("row count", limit: UInt32.max, bytesEach: 16 + (withVectors ? Int(dimension) * 4 : 0))
        var rows: [StoredVector] = []
        rows.reserveCapacity(count)
        for _ in 0..<count {
            let id = try buffer.readI64("id")
            let label = try buffer.readI64("label")
            var vector: [Float] = []
            if withVectors {
                guard buffer.readableBytes >= Int(dimension) * 4 else { throw malformed("payload ends inside a vector") }
                vector = buffer.readF32Array(count: Int(dimension))
            }
            let payload = withPayloads ? try buffer.readOptionalBytes("payload", maxBytes: FlatVecLimits.maximumPayloadBytes) : nil
            let attributes = withAttributes ? try buffer.readAttributeValues() : [:]
            rows.append(StoredVector(id: id, label: label, vector: vector, payload: payload, attributes: attributes))
        }
        try buffer.expectFullyRead("GET reply")
        return GetResponse(
            dimension: dimension, withVectors: withVectors, withPayloads: withPayloads, withAttributes: withAttributes, rows: rows
        )
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU8(
            (withVectors ? GetFlags.withVectors : []).union(withPayloads ? .withPayloads : [])
                .union(withAttributes ? .withAttributes : []).rawValue
        )
        buffer.writeU32(dimension)
        buffer.writeCount(rows.count)
        for row in rows {
            buffer.writeI64(row.id)
            buffer.writeI64(row.label)
            if withVectors { buffer.writeF32Array(row.vector) }
            if withPayloads { buffer.writeOptionalBytes(row.payload) }
            if withAttributes { buffer.writeAttributeValues(row.attributes) }
        }
    }
}
