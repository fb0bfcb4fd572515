import FlatVecCore
import NIOCore

/// Size limits a server announces in its ``HelloResponse`` and enforces.
public struct ProtocolLimits: Sendable, Hashable {
    /// Largest frame (after the length prefix) once authenticated. Default 64 MiB.
    public var maxFrameBytes: UInt32
    /// Largest frame before a connection has a role (authentication pending). Default 64 KiB.
    public var maxUnauthenticatedFrameBytes: UInt32
    /// Largest `k` of a search.
    public var maxK: UInt32
    /// Most vectors in one ADD, ids in one REMOVE or GET, or queries in one SEARCH.
    public var maxBatch: UInt32

    /// Creates limits.
    public init(
        maxFrameBytes: UInt32 = 64 << 20,
        maxUnauthenticatedFrameBytes: UInt32 = 64 << 10,
        maxK: UInt32 = 10_000,
        maxBatch: UInt32 = 1_000_000
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.maxUnauthenticatedFrameBytes = min(maxUnauthenticatedFrameBytes, maxFrameBytes)
        self.maxK = maxK
        self.maxBatch = maxBatch
    }
}

/// What a connection may do, granted by HELLO.
public enum Role: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Nothing but HELLO and PING.
    case none = 0
    /// Search, get, list and stats.
    case reader = 1
    /// Everything: also create, drop, add and remove.
    case admin = 2

    /// `none`, `reader` or `admin`.
    public var description: String {
        switch self {
        case .none: "none"
        case .reader: "reader"
        case .admin: "admin"
        }
    }
}
