import FlatVecModel
import NIOCore

/// UPDATE request: change the label, payload or attribute values of stored vectors, without their vectors.
public struct UpdateRequest: Sendable, Hashable {
    /// The collection.
    public var collection: String
    /// One update per id, applied together or not at all.
    public var updates: [RowUpdate]

    /// Creates the request.
    public init(collection: String, updates: [RowUpdate]) {
        self.collection = collection
        self.updates = updates
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> UpdateRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let count = try buffer.readCount("update count", limit: limits.maxBatch, bytesEach: 11)
        var updates: [RowUpdate] = []
        updates.reserveCapacity(count)
        for _ in 0..<count {
            var update = RowUpdate(id: try buffer.readI64("id"))
            let flags = try buffer.readFlags("UPDATE row flags", known: 0b111)
            if flags & 1 != 0 { update.label = try buffer.readI64("label") }
            if flags & 6 == 6 { throw FlatVecError(.invalidArgument, "update of id \(update.id) both sets and clears its payload") }
            if flags & 2 != 0 {
                guard let payload = try buffer.readOptionalBytes("payload", maxBytes: FlatVecLimits.maximumPayloadBytes) else {
                    throw FlatVecError(.invalidArgument, "update of id \(update.id) sets a payload of length 0xFFFFFFFF")
                }
                update.payload = .set(payload)
            }
            if flags & 4 != 0 { update.payload = .clear }
            update.set = try buffer.readAttributeValues()
            let clearCount = Int(try buffer.readU8("cleared attribute count"))
            for _ in 0..<clearCount {
                let name = try buffer.readString("cleared attribute", maxBytes: AttributeDefinition.maximumNameLength)
                guard update.clear.insert(name).inserted else {
                    throw FlatVecError(.invalidArgument, "update of id \(update.id) clears attribute \(name) twice")
                }
            }
            updates.append(update)
        }
        try buffer.expectFullyRead("UPDATE")
        return UpdateRequest(collection: collection, updates: updates)
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        buffer.writeCount(updates.count)
        for update in updates {
            buffer.writeI64(update.id)
            var flags: UInt8 = update.label == nil ? 0 : 1
            switch update.payload {
            case .keep: break
            case .set: flags |= 2
            case .clear: flags |= 4
            }
            buffer.writeU8(flags)
            if let label = update.label { buffer.writeI64(label) }
            if case .set(let payload) = update.payload { buffer.writeOptionalBytes(payload) }
            buffer.writeAttributeValues(update.set)
            buffer.writeU8(UInt8(update.clear.count))
            for name in update.clear.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { buffer.writeFlatVecString(name) }
        }
    }
}
