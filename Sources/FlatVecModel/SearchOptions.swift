/// Options of a search.
public struct SearchOptions: Sendable, Hashable {
    /// Largest `k` a search accepts (``FlatVecLimits/maximumK``).
    public static var maximumK: Int { FlatVecLimits.maximumK }

    /// Hits per query, 1 to ``maximumK``. Fewer return when the index or the filter holds fewer.
    public var k: Int
    /// Hits scoring below this are dropped, so fewer than `k` may return.
    public var minScore: Float?
    /// Only vectors with one of these labels are considered (an allow-list); nil for all.
    public var labels: Set<Int64>?
    /// Only vectors for which this is true are considered (applied before ranking, so `k` hits return
    /// whenever `k` vectors match); nil for all. Checked against the collection's attributes when the
    /// search starts.
    public var filter: Filter?
    /// The best hit per label, top `k` distinct labels ("which products", not "which images").
    public var groupByLabel: Bool
    /// Whether hits carry their payloads.
    public var includePayloads: Bool
    /// Whether hits carry their stored vectors (normalised under cosine).
    public var includeVectors: Bool
    /// Whether hits carry their attribute values.
    public var includeAttributes: Bool
    /// An id never returned (a search by a stored vector that leaves out the vector itself).
    public var excludingID: Int64?

    /// Creates search options.
    /// - Parameters:
    ///   - k: Hits per query.
    ///   - minScore: Drop hits scoring below this.
    ///   - labels: Label allow-list.
    ///   - groupByLabel: One hit per label.
    ///   - includePayloads: Return payloads.
    ///   - includeVectors: Return stored vectors.
    ///   - filter: Only vectors matching it.
    ///   - includeAttributes: Return attribute values.
    public init(
        k: Int = 10,
        minScore: Float? = nil,
        labels: Set<Int64>? = nil,
        groupByLabel: Bool = false,
        includePayloads: Bool = false,
        includeVectors: Bool = false,
        filter: Filter? = nil,
        includeAttributes: Bool = false
    ) {
        self.k = k
        self.minScore = minScore
        self.labels = labels
        self.groupByLabel = groupByLabel
        self.includePayloads = includePayloads
        self.includeVectors = includeVectors
        self.filter = filter
        self.includeAttributes = includeAttributes
    }
}
