import FlatVecModel
import NIOCore

/// A request, decoded.
public enum Request: Sendable, Hashable {
    /// HELLO.
    case hello(HelloRequest)
    /// PING with opaque bytes to echo.
    case ping([UInt8])
    /// CREATE_COLLECTION.
    case createCollection(CreateCollectionRequest)
    /// DROP_COLLECTION of the named collection.
    case dropCollection(String)
    /// LIST_COLLECTIONS.
    case listCollections
    /// ADD_ATTRIBUTE: a new attribute of a collection.
    case addAttribute(collection: String, definition: AttributeDefinition)
    /// DROP_ATTRIBUTE: an attribute of a collection, by name.
    case dropAttribute(collection: String, name: String)
    /// DESCRIBE_COLLECTION of the named collection.
    case describeCollection(String)
    /// ADD.
    case add(AddRequest)
    /// REMOVE.
    case remove(IDListRequest)
    /// GET.
    case get(GetRequest)
    /// UPDATE.
    case update(UpdateRequest)
    /// SEARCH.
    case search(SearchRequest)
    /// DUPLICATES: a page of a near-duplicate sweep.
    case duplicates(DuplicatesRequest)
    /// BACKUP: a piece of an online backup.
    case backup(BackupRequest)
    /// STATS; with `storage` (revision 4) the reply ends with each collection's mapped and on-disk bytes.
    case stats(storage: Bool)
    /// REBUILD of one collection by name, or of all with an empty name.
    case rebuild(String)

    /// The opcode of the request.
    public var opcode: Opcode {
        switch self {
        case .hello: .hello
        case .ping: .ping
        case .createCollection: .createCollection
        case .dropCollection: .dropCollection
        case .listCollections: .listCollections
        case .addAttribute: .addAttribute
        case .dropAttribute: .dropAttribute
        case .describeCollection: .describeCollection
        case .update: .update
        case .add: .add
        case .remove: .remove
        case .get: .get
        case .search: .search
        case .duplicates: .duplicates
        case .backup: .backup
        case .stats: .stats
        case .rebuild: .rebuild
        }
    }

    /// Decodes a request payload.
    /// - Parameters:
    ///   - opcode: The frame's opcode.
    ///   - payload: The payload; consumed.
    ///   - limits: Counts beyond these are rejected before anything is allocated.
    /// - Throws: ``FlatVecError`` with `badFrame` for an unknown opcode or malformed payload,
    ///   `limitExceeded` for counts over the limits.
    public static func decode(opcode: Opcode, payload: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> Request {
        switch opcode {
        case .hello: return .hello(try HelloRequest.decode(from: &payload))
        case .ping: return .ping(payload.readBytes(length: payload.readableBytes) ?? [])
        case .createCollection: return .createCollection(try CreateCollectionRequest.decode(from: &payload))
        case .dropCollection:
            let name = try payload.readString("collection name", maxBytes: CollectionName.maximumLength)
            try payload.expectFullyRead("DROP_COLLECTION")
            return .dropCollection(name)
        case .listCollections:
            try payload.expectFullyRead("LIST_COLLECTIONS")
            return .listCollections
        case .addAttribute:
            let collection = try payload.readString("collection name", maxBytes: CollectionName.maximumLength)
            let definition = try payload.readAttributeDefinition()
            try payload.expectFullyRead("ADD_ATTRIBUTE")
            return .addAttribute(collection: collection, definition: definition)
        case .dropAttribute:
            let collection = try payload.readString("collection name", maxBytes: CollectionName.maximumLength)
            let name = try payload.readString("attribute name", maxBytes: AttributeDefinition.maximumNameLength)
            try payload.expectFullyRead("DROP_ATTRIBUTE")
            return .dropAttribute(collection: collection, name: name)
        case .update: return .update(try UpdateRequest.decode(from: &payload, limits: limits))
        case .describeCollection:
            let name = try payload.readString("collection name", maxBytes: CollectionName.maximumLength)
            try payload.expectFullyRead("DESCRIBE_COLLECTION")
            return .describeCollection(name)
        case .add: return .add(try AddRequest.decode(from: &payload, limits: limits))
        case .remove: return .remove(try IDListRequest.decode(from: &payload, limits: limits))
        case .get: return .get(try GetRequest.decode(from: &payload, limits: limits))
        case .search: return .search(try SearchRequest.decode(from: &payload, limits: limits))
        case .duplicates: return .duplicates(try DuplicatesRequest.decode(from: &payload, limits: limits))
        case .backup: return .backup(try BackupRequest.decode(from: &payload))
        case .stats:
            // Empty before revision 4; then an optional flags byte.
            var storage = false
            if payload.readableBytes > 0 {
                let flags = StatsFlags(rawValue: try payload.readFlags("STATS flags", known: StatsFlags.known.rawValue))
                storage = flags.contains(.storage)
            }
            try payload.expectFullyRead("STATS")
            return .stats(storage: storage)
        case .rebuild:
            let name = try payload.readString("collection name", maxBytes: CollectionName.maximumLength)
            try payload.expectFullyRead("REBUILD")
            return .rebuild(name)
        default:
            throw FlatVecError(.badFrame, "unknown opcode \(opcode)")
        }
    }

    /// Encodes the request payload.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .hello(let r): r.encode(into: &buffer)
        case .ping(let bytes): buffer.writeBytes(bytes)
        case .createCollection(let r): r.encode(into: &buffer)
        case .dropCollection(let name), .rebuild(let name), .describeCollection(let name): buffer.writeFlatVecString(name)
        case .listCollections, .stats(storage: false): break
        case .stats(storage: true): buffer.writeInteger(StatsFlags.storage.rawValue)
        case .add(let r): r.encode(into: &buffer)
        case .remove(let r): r.encode(into: &buffer)
        case .get(let r): r.encode(into: &buffer)
        case .search(let r): r.encode(into: &buffer)
        case .duplicates(let r): r.encode(into: &buffer)
        case .backup(let r): r.encode(into: &buffer)
        case .addAttribute(let collection, let definition):
            buffer.writeFlatVecString(collection)
            buffer.writeAttributeDefinition(definition)
        case .dropAttribute(let collection, let name):
            buffer.writeFlatVecString(collection)
            buffer.writeFlatVecString(name)
        case .update(let r): r.encode(into: &buffer)
        }
    }
}
