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

/// One page of a duplicate sweep: the pairs found since the last page, and how far the sweep is.
public struct DuplicatePage: Sendable, Hashable {
    /// Pairs, each listed once over the whole sweep, in the order found.
    public var pairs: [DuplicatePair]
    /// Whether the sweep has ended (no pair follows).
    public var finished: Bool
    /// Rows of the collection swept so far.
    public var rowsDone: Int
    /// Rows the collection held when the sweep started.
    public var rowsTotal: Int
    /// Rows, so far, with more partners at or above the threshold than the sweep's per-row limit:
    /// for each of them only the best ones up to the limit were listed.
    public var truncatedRows: Int

    /// Creates a page.
    /// - Parameters:
    ///   - pairs: The pairs.
    ///   - finished: Whether the sweep has ended.
    ///   - rowsDone: Rows swept so far.
    ///   - rowsTotal: Rows when the sweep started.
    ///   - truncatedRows: Rows whose partners were cut at the limit.
    public init(pairs: [DuplicatePair], finished: Bool, rowsDone: Int, rowsTotal: Int, truncatedRows: Int) {
        self.pairs = pairs
        self.finished = finished
        self.rowsDone = rowsDone
        self.rowsTotal = rowsTotal
        self.truncatedRows = truncatedRows
    }
}

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

extension FlatVecError {
    /// The ``FlatVecError/Code/duplicateVector`` error of an ADD that rejects duplicates: its message
    /// lists each offending new vector as `id A ~ stored id B (score)` or `id A ~ new id B (score)`.
    /// - Parameters:
    ///   - matches: The new vectors that duplicate others, each with its best match.
    ///   - threshold: The ADD's threshold.
    /// - Returns: The error.
    public static func duplicateVectors(_ matches: [DuplicateMatch], threshold: Float) -> FlatVecError {
        let listed = matches.prefix(100).map { m in
            "id \(m.id) ~ \(m.otherIsStored ? "stored" : "new") id \(m.other) (\(m.score))"
        }
        let more = matches.count > 100 ? ", and \(matches.count - 100) more" : ""
        let count = matches.count == 1 ? "1 new vector duplicates" : "\(matches.count) new vectors duplicate"
        return FlatVecError(
            .duplicateVector,
            "\(count) another at or above \(threshold), nothing was added: " + listed.joined(separator: ", ") + more
        )
    }
}
