import FlatVecModel
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
    /// Most hits a range search (`k = 0`) returns per query; more are cut, and the reply says so.
    public var maxRangeHits: UInt32

    /// Creates limits.
    public init(
        maxFrameBytes: UInt32 = 64 << 20,
        maxUnauthenticatedFrameBytes: UInt32 = 64 << 10,
        maxK: UInt32 = UInt32(FlatVecLimits.maximumK),
        maxBatch: UInt32 = 1_000_000,
        maxRangeHits: UInt32 = UInt32(FlatVecLimits.defaultRangeHits)
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.maxUnauthenticatedFrameBytes = min(maxUnauthenticatedFrameBytes, maxFrameBytes)
        self.maxK = maxK
        self.maxBatch = maxBatch
        self.maxRangeHits = min(max(maxRangeHits, 1), UInt32(FlatVecLimits.maximumRangeHits))
    }
}
