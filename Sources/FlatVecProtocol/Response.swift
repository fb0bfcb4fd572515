import FlatVecModel
import NIOCore

/// A reply, decoded.
public enum Response: Sendable, Hashable {
    /// HELLO reply.
    case hello(HelloResponse)
    /// PING reply: the request's bytes.
    case pong([UInt8])
    /// Empty success reply (CREATE_COLLECTION, DROP_COLLECTION).
    case done
    /// LIST_COLLECTIONS reply.
    case collections([CollectionInfo])
    /// ADD reply.
    case added(AddResponse)
    /// REMOVE reply: how many ids were removed.
    case removed(UInt32)
    /// UPDATE: how many rows changed.
    case updated(UInt32)
    /// DESCRIBE_COLLECTION.
    case described(CollectionDescription)
    /// GET reply.
    case got(GetResponse)
    /// SEARCH reply.
    case searched(SearchResponse)
    /// DUPLICATES reply.
    case duplicates(DuplicatesResponse)
    /// BACKUP reply.
    case backup(BackupResponse)
    /// STATS reply.
    case stats(StatsResponse)
    /// REBUILD reply: each rebuilt collection and its vector count.
    case rebuilt([CollectionInfo])
    /// Error reply.
    case error(ErrorResponse)

    /// Decodes a reply payload.
    /// - Parameters:
    ///   - opcode: The frame's opcode (that of the request).
    ///   - isError: Whether the frame has the error flag.
    ///   - payload: The payload; consumed.
    /// - Throws: ``FlatVecError/Code/badFrame`` for a malformed payload.
    public static func decode(opcode: Opcode, isError: Bool, payload: inout ByteBuffer) throws(FlatVecError) -> Response {
        if isError { return .error(try ErrorResponse.decode(from: &payload)) }
        switch opcode {
        case .hello: return .hello(try HelloResponse.decode(from: &payload))
        case .ping: return .pong(payload.readBytes(length: payload.readableBytes) ?? [])
        case .createCollection, .dropCollection, .addAttribute, .dropAttribute:
            try payload.expectFullyRead("\(opcode) reply")
            return .done
        case .describeCollection: return .described(try CollectionDescription.decode(from: &payload))
        case .update:
            let n = try payload.readU32("updated")
            try payload.expectFullyRead("UPDATE reply")
            return .updated(n)
        case .listCollections: return .collections(try CollectionInfo.decodeList(from: &payload, withSkippedRows: false))
        case .add:
            let r = AddResponse(inserted: try payload.readU32("inserted"), replaced: try payload.readU32("replaced"))
            try payload.expectFullyRead("ADD reply")
            return .added(r)
        case .remove:
            let n = try payload.readU32("removed")
            try payload.expectFullyRead("REMOVE reply")
            return .removed(n)
        case .get: return .got(try GetResponse.decode(from: &payload))
        case .search: return .searched(try SearchResponse.decode(from: &payload))
        case .duplicates: return .duplicates(try DuplicatesResponse.decode(from: &payload))
        case .backup: return .backup(try BackupResponse.decode(from: &payload))
        case .stats: return .stats(try StatsResponse.decode(from: &payload))
        case .rebuild: return .rebuilt(try CollectionInfo.decodeList(from: &payload, withSkippedRows: true))
        default: throw FlatVecError(.badFrame, "reply with unknown opcode \(opcode)")
        }
    }

    /// Encodes the reply payload.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .hello(let r): r.encode(into: &buffer)
        case .pong(let bytes): buffer.writeBytes(bytes)
        case .done: break
        case .collections(let list): CollectionInfo.encodeList(list, withSkippedRows: false, into: &buffer)
        case .rebuilt(let list): CollectionInfo.encodeList(list, withSkippedRows: true, into: &buffer)
        case .added(let r):
            buffer.writeU32(r.inserted)
            buffer.writeU32(r.replaced)
        case .removed(let n), .updated(let n): buffer.writeU32(n)
        case .described(let r): r.encode(into: &buffer)
        case .got(let r): r.encode(into: &buffer)
        case .searched(let r): r.encode(into: &buffer)
        case .duplicates(let r): r.encode(into: &buffer)
        case .backup(let r): r.encode(into: &buffer)
        case .stats(let r): r.encode(into: &buffer)
        case .error(let r): r.encode(into: &buffer)
        }
    }

    /// Whether this is an error reply.
    public var isError: Bool {
        if case .error = self { return true }
        return false
    }
}
