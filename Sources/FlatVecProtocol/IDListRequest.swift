import FlatVecModel
import NIOCore

/// REMOVE request (and the id part of GET): a collection and a list of ids.
public struct IDListRequest: Sendable, Hashable {
    /// The collection.
    public var collection: String
    /// The ids.
    public var ids: [Int64]

    /// Creates the request.
    public init(collection: String, ids: [Int64]) {
        self.collection = collection
        self.ids = ids
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> IDListRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let count = try buffer.readCount("id count", limit: limits.maxBatch, bytesEach: 8)
        let ids = buffer.readI64Array(count: count)
        try buffer.expectFullyRead("REMOVE")
        return IDListRequest(collection: collection, ids: ids)
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        buffer.writeCount(ids.count)
        buffer.writeI64Array(ids)
    }
}
