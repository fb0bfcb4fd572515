import FlatVecModel
import NIOCore

/// The operation a frame carries. Requests and their replies share the opcode.
public struct Opcode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The byte on the wire.
    public let rawValue: UInt8

    /// Wraps a wire byte (known or not).
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Version negotiation and authentication.
    public static let hello = Opcode(rawValue: 0x01)
    /// Liveness check; echoes its payload.
    public static let ping = Opcode(rawValue: 0x02)
    /// Creates a collection.
    public static let createCollection = Opcode(rawValue: 0x10)
    /// Drops a collection.
    public static let dropCollection = Opcode(rawValue: 0x11)
    /// Lists collections.
    public static let listCollections = Opcode(rawValue: 0x12)
    /// Declares a new attribute of a collection.
    public static let addAttribute = Opcode(rawValue: 0x13)
    /// Drops an attribute of a collection.
    public static let dropAttribute = Opcode(rawValue: 0x14)
    /// Describes one collection, attributes included.
    public static let describeCollection = Opcode(rawValue: 0x15)
    /// Upserts a batch of vectors.
    public static let add = Opcode(rawValue: 0x20)
    /// Removes vectors by id.
    public static let remove = Opcode(rawValue: 0x21)
    /// Fetches vectors by id.
    public static let get = Opcode(rawValue: 0x22)
    /// Changes labels, payloads or attribute values of stored vectors.
    public static let update = Opcode(rawValue: 0x23)
    /// Searches a batch of queries.
    public static let search = Opcode(rawValue: 0x30)
    /// Reads a page of a near-duplicate sweep (every pair scoring at least a threshold).
    public static let duplicates = Opcode(rawValue: 0x31)
    /// Server statistics.
    public static let stats = Opcode(rawValue: 0x40)
    /// Reloads collections from the durable store (admin).
    public static let rebuild = Opcode(rawValue: 0x50)
    /// Reads an online backup of the data directory piece by piece (admin).
    public static let backup = Opcode(rawValue: 0x51)

    /// Every opcode this version defines.
    public static let all: [Opcode] = [
        .hello, .ping, .createCollection, .dropCollection, .listCollections, .addAttribute, .dropAttribute,
        .describeCollection, .add, .remove,
        .get, .update, .search, .duplicates, .stats, .rebuild, .backup,
    ]

    /// The name used in the spec, logs and statistics.
    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .ping: "PING"
        case .createCollection: "CREATE_COLLECTION"
        case .dropCollection: "DROP_COLLECTION"
        case .listCollections: "LIST_COLLECTIONS"
        case .addAttribute: "ADD_ATTRIBUTE"
        case .dropAttribute: "DROP_ATTRIBUTE"
        case .describeCollection: "DESCRIBE_COLLECTION"
        case .add: "ADD"
        case .remove: "REMOVE"
        case .get: "GET"
        case .update: "UPDATE"
        case .search: "SEARCH"
        case .duplicates: "DUPLICATES"
        case .stats: "STATS"
        case .rebuild: "REBUILD"
        case .backup: "BACKUP"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}
