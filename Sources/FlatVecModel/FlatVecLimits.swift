/// The hard limits every FlatVec layer checks against: the index, the wire protocol and the client
/// use these, so a limit is stated once.
public enum FlatVecLimits {
    /// Largest vector dimension.
    public static let maximumDimension = 16_000
    /// Largest payload of one vector, in bytes.
    public static let maximumPayloadBytes = 65_536
    /// Largest `k` of a search.
    public static let maximumK = 10_000
    /// Most hits a range search may ask for per query.
    public static let maximumRangeHits = 100_000
    /// Most hits per label a search grouped by label may ask for (``SearchOptions/groupSize``).
    public static let maximumGroupSize = 1_000
    /// Hits a range search returns per query unless told otherwise (a server's `--max-range-hits`).
    public static let defaultRangeHits = 10_000
}
