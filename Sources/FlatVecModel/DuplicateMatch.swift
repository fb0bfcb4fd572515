/// A vector of an ADD that rejects duplicates, and the vector it duplicates.
public struct DuplicateMatch: Sendable, Hashable {
    /// The new vector's id.
    public var id: Int64
    /// The id of the vector it scores at or above the threshold with (the best such).
    public var other: Int64
    /// Their score.
    public var score: Float
    /// Whether `other` is stored already (else it is another new vector of the same batch).
    public var otherIsStored: Bool

    /// Creates a match.
    /// - Parameters:
    ///   - id: The new vector's id.
    ///   - other: The id it duplicates.
    ///   - score: Their score.
    ///   - otherIsStored: Whether `other` is stored already.
    public init(id: Int64, other: Int64, score: Float, otherIsStored: Bool) {
        self.id = id
        self.other = other
        self.score = score
        self.otherIsStored = otherIsStored
    }
}
