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
    /// With ``groupByLabel``: up to this many hits per label (its best ones, best first), for the `k`
    /// best labels ranked by their best hit; 1 to ``FlatVecLimits/maximumGroupSize``, and `k` times
    /// it at most ``FlatVecLimits/maximumRangeHits``.
    public var groupSize: Int = 1
    /// Whether hits carry their payloads.
    public var includePayloads: Bool
    /// Whether hits carry their stored vectors (normalised under cosine).
    public var includeVectors: Bool
    /// Whether hits carry their attribute values.
    public var includeAttributes: Bool
    /// An id never returned (a search by a stored vector that leaves out the vector itself).
    public var excludingID: Int64?
    /// A range search: every hit scoring at least ``minScore`` (which must be set), best first, at
    /// most `k` of them (1 to ``FlatVecLimits/maximumRangeHits``). The index returns up to `k + 1`
    /// hits for it, the last one only to tell that more than `k` reach ``minScore``:
    /// ``cut(_:)`` keeps `k` and says whether the list was cut.
    public var range: Bool = false

    /// A range search's options: every hit scoring at least `minScore`, at most `limit` of them.
    /// - Parameters:
    ///   - minScore: The inclusive threshold.
    ///   - limit: The most hits returned per query.
    /// - Returns: The options (filters, labels and the rest may be set on them).
    public static func range(minScore: Float, limit: Int = FlatVecLimits.defaultRangeHits) -> SearchOptions {
        var options = SearchOptions(k: limit, minScore: minScore)
        options.range = true
        return options
    }

    /// The hits a search with these options returns to its caller: for a range search, at most `k`,
    /// with whether more reached ``minScore``; otherwise `hits` as they are.
    /// - Parameter hits: What the index returned for one query.
    /// - Returns: The hits, and whether a range search's list was cut at `k`.
    public func cut(_ hits: [SearchHit]) -> (hits: [SearchHit], truncated: Bool) {
        guard range else { return (hits, false) }
        guard groupByLabel && groupSize > 1 else {
            guard hits.count > k else { return (hits, false) }
            return (Array(hits.prefix(k)), true)
        }
        // Several hits per label (consecutive): the limit counts labels.
        var labels = 0
        for (i, hit) in hits.enumerated() where i == 0 || hit.label != hits[i - 1].label {
            labels += 1
            if labels > k { return (Array(hits.prefix(i)), true) }
        }
        return (hits, false)
    }

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
