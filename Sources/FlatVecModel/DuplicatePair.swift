/// Two stored vectors whose score reaches a duplicate sweep's threshold.
public struct DuplicatePair: Sendable, Hashable {
    /// The smaller id.
    public var a: Int64
    /// The larger id.
    public var b: Int64
    /// Their inner product (cosine similarity under cosine).
    public var score: Float

    /// Creates a pair; the ids are put in order.
    /// - Parameters:
    ///   - a: One id.
    ///   - b: The other id.
    ///   - score: Their score.
    public init(_ a: Int64, _ b: Int64, score: Float) {
        self.a = min(a, b)
        self.b = max(a, b)
        self.score = score
    }
}
