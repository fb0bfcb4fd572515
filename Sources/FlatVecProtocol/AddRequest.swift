import FlatVecModel
import NIOCore

/// ADD request: upsert a batch of vectors into a collection.
public struct AddRequest: Sendable, Hashable {
    /// The collection.
    public var collection: String
    /// The vectors, ids, labels and optional payloads.
    public var batch: VectorBatch
    /// Add only if new: refuse the whole batch when a vector scores at least this with a stored
    /// vector or another of the batch (flags bit 2).
    public var rejectDuplicatesAbove: Float?

    /// Creates the request.
    public init(collection: String, batch: VectorBatch, rejectDuplicatesAbove: Float? = nil) {
        self.collection = collection
        self.batch = batch
        self.rejectDuplicatesAbove = rejectDuplicatesAbove
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> AddRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let count = try buffer.readCount("vector count", limit: limits.maxBatch, bytesEach: 16)
        let dimension = try buffer.readU32("dimension")
        guard (1...UInt32(FlatVecLimits.maximumDimension)).contains(dimension) else {
            throw FlatVecError(.invalidArgument, "dimension \(dimension) is outside 1...\(FlatVecLimits.maximumDimension)")
        }
        let flags = AddFlags(rawValue: try buffer.readFlags("ADD flags", known: AddFlags.known.rawValue))
        let (vectorBytes, overflow) = count.multipliedReportingOverflow(by: Int(dimension) * 4)
        guard !overflow, count * 16 + vectorBytes <= buffer.readableBytes else {
            throw malformed("\(count) vectors of dimension \(dimension) need more bytes than the payload has")
        }
        let ids = buffer.readI64Array(count: count)
        let labels = buffer.readI64Array(count: count)
        let vectors = buffer.readF32Array(count: count * Int(dimension))
        var payloads: [[UInt8]?] = []
        if flags.contains(.payloads) {
            payloads.reserveCapacity(count)
            for _ in 0..<count {
                payloads.append(try buffer.readOptionalBytes("payload", maxBytes: FlatVecLimits.maximumPayloadBytes))
            }
        }
        var attributes: [[String: AttributeValue]] = []
        if flags.contains(.attributes) {
            attributes.reserveCapacity(count)
            for _ in 0..<count { attributes.append(try buffer.readAttributeValues()) }
        }
        var rejectAbove: Float?
        if flags.contains(.rejectDuplicates) {
            let threshold = try buffer.readF32("reject_duplicates_above")
            guard threshold.isFinite else {
                throw FlatVecError(.invalidArgument, "reject_duplicates_above must be a finite number, not \(threshold)")
            }
            rejectAbove = threshold
        }
        try buffer.expectFullyRead("ADD")
        let batch = try VectorBatch(
            dimension: Int(dimension), ids: ids, labels: labels, vectors: vectors, payloads: payloads, attributes: attributes
        )
        return AddRequest(collection: collection, batch: batch, rejectDuplicatesAbove: rejectAbove)
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        buffer.writeCount(batch.count)
        buffer.writeU32(UInt32(batch.dimension))
        buffer.writeU8(
            (batch.payloads.isEmpty ? [] : AddFlags.payloads).union(batch.attributes.isEmpty ? [] : .attributes)
                .union(rejectDuplicatesAbove == nil ? [] : .rejectDuplicates).rawValue
        )
        buffer.writeI64Array(batch.ids)
        buffer.writeI64Array(batch.labels)
        buffer.writeF32Array(batch.vectors)
        for p in batch.payloads { buffer.writeOptionalBytes(p) }
        for values in batch.attributes { buffer.writeAttributeValues(values) }
        if let rejectDuplicatesAbove { buffer.writeF32(rejectDuplicatesAbove) }
    }
}

/// ADD reply.
public struct AddResponse: Sendable, Hashable {
    /// Ids that were new.
    public var inserted: UInt32
    /// Ids that replaced an existing vector.
    public var replaced: UInt32

    /// Creates the reply.
    public init(inserted: UInt32, replaced: UInt32) {
        self.inserted = inserted
        self.replaced = replaced
    }
}
