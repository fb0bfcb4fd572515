/// The hard limits every FlatVec layer checks against: the index, the wire protocol and the client
/// use these, so a limit is stated once.
public enum FlatVecLimits {
    /// Largest vector dimension.
    public static let maximumDimension = 16_000
    /// Largest payload of one vector, in bytes.
    public static let maximumPayloadBytes = 65_536
    /// Largest `k` of a search.
    public static let maximumK = 10_000
}
