/// What a connection may do, granted by HELLO.
public enum Role: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Nothing but HELLO and PING.
    case none = 0
    /// Search, get, list and stats.
    case reader = 1
    /// Everything: also create, drop, add, remove, update and change attributes.
    case admin = 2

    /// Whether this role may perform `opcode`: the permission table of PROTOCOL.md section 3.
    /// - Parameter opcode: The operation.
    /// - Returns: Whether it is allowed.
    public func allows(_ opcode: Opcode) -> Bool {
        switch opcode {
        case .hello, .ping: true
        case .search, .get, .listCollections, .describeCollection, .stats: self != .none
        case .createCollection, .dropCollection, .addAttribute, .dropAttribute, .add, .remove, .update, .rebuild, .backup: self == .admin
        default: self != .none
        }
    }

    /// `none`, `reader` or `admin`.
    public var description: String {
        switch self {
        case .none: "none"
        case .reader: "reader"
        case .admin: "admin"
        }
    }
}
