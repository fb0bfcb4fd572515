import Dispatch
import FlatVecCore

extension Engine {
    /// The `k` best stored vectors for one query.
    /// - Parameters:
    ///   - query: `dimension` floats.
    ///   - collection: The collection.
    ///   - options: k, filter, labels, minimum score, group by label, what to return.
    /// - Returns: Hits, best first (ties by ascending id).
    /// - Throws: `unknown_collection`, `dimension_mismatch`, `invalid_vector`, `invalid_argument`
    ///   for a filter that does not fit the collection, `limit_exceeded` for k.
    public func search(_ query: [Float], in collection: String, options: SearchOptions = SearchOptions()) throws(FlatVecError) -> [SearchHit] {
        try search(.vectors(query), in: collection, options: [options])[0]
    }

    /// The best stored vectors for several queries: vectors (row-major, `n * dimension` floats) or
    /// stored ids (their own vectors, optionally excluding themselves from their hits).
    /// - Parameters:
    ///   - queries: The queries.
    ///   - collection: The collection.
    ///   - options: One for every query, or one per query.
    /// - Returns: One list of hits per query.
    /// - Throws: As ``search(_:in:options:)-(_,_,SearchOptions)``; `unknown_id` for stored ids not held.
    public func search(_ queries: SearchQueries, in collection: String, options: [SearchOptions]) throws(FlatVecError) -> [[SearchHit]] {
        try checkOpen()
        return try registry.collection(named: collection).index.search(queries, options: options)
    }

    /// The best stored vectors, or labels, for groups of query vectors (one ranking per group, by the
    /// `max` or `mean` of its vectors' scores), and several hits per label (``SearchOptions/groupSize``).
    /// See ``FlatIndex/search(_:options:groups:)``.
    /// - Parameters:
    ///   - queries: The queries.
    ///   - collection: The collection.
    ///   - options: One for every query, or one per query (equal within a group).
    ///   - groups: The query groups, or nil.
    /// - Returns: One list of hits per group.
    /// - Throws: As ``search(_:in:options:)-(SearchQueries,_,_)``; `invalid_argument` for groups that do
    ///   not fit.
    public func search(
        _ queries: SearchQueries, in collection: String, options: [SearchOptions], groups: QueryGroups?
    ) throws(FlatVecError) -> [[SearchHit]] {
        try checkOpen()
        return try registry.collection(named: collection).index.search(queries, options: options, groups: groups)
    }

    /// Every stored vector scoring at least `minScore` for each query, best first, at most `limit` per
    /// query (a range search; FAISS's `range_search`).
    /// - Parameters:
    ///   - queries: The queries.
    ///   - collection: The collection.
    ///   - minScore: The inclusive threshold.
    ///   - limit: The most hits per query (1 to ``FlatVecLimits/maximumRangeHits``).
    ///   - options: Filter, labels, grouping and what hits carry (`k`, `minScore` and `range` are set here).
    /// - Returns: Per query, the hits and whether `limit` cut them.
    /// - Throws: As ``search(_:in:options:)-(SearchQueries,_,_)``; `limit_exceeded` for a limit out of range.
    public func rangeSearch(
        _ queries: SearchQueries, in collection: String, minScore: Float, limit: Int = FlatVecLimits.defaultRangeHits,
        options: SearchOptions = SearchOptions()
    ) throws(FlatVecError) -> [(hits: [SearchHit], truncated: Bool)] {
        var options = options
        options.k = limit
        options.minScore = minScore
        options.range = true
        return try search(queries, in: collection, options: [options]).map { options.cut($0) }
    }

    /// A search that does not block the caller: it joins the collection's queue and is scanned
    /// together with the searches waiting there (one pass over the vectors for all of them).
    /// - Parameters:
    ///   - queries: The queries.
    ///   - collection: The collection.
    ///   - options: One for every query, or one per query.
    /// - Returns: One list of hits per query.
    /// - Throws: As ``search(_:in:options:)-(SearchQueries,_,_)``.
    public func search(_ queries: SearchQueries, in collection: String, options: [SearchOptions]) async throws(FlatVecError) -> [[SearchHit]] {
        try checkOpen()
        let index = try registry.collection(named: collection).index
        let result: Result<[[SearchHit]], FlatVecError> = await withCheckedContinuation { continuation in
            do throws(FlatVecError) {
                try index.submitSearch(queries, options: options, runScan: Self.runScan) { continuation.resume(returning: $0) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    /// Starts a search that answers through a callback; the server's way in (it runs scans on its
    /// own thread pool). See ``FlatIndex/submitSearch(_:options:isCancelled:runScan:completion:)``.
    /// - Parameters:
    ///   - queries: The queries.
    ///   - collection: The collection.
    ///   - options: One for every query, or one per query.
    ///   - isCancelled: Polled before the search is scanned; true drops it.
    ///   - runScan: Runs a scan on a thread that may block.
    ///   - completion: Called once with the hits of every query, or the error.
    ///   - groups: Query groups (one ranking per group), or nil.
    public func submitSearch(
        _ queries: SearchQueries, in collection: String, options: [SearchOptions], groups: QueryGroups? = nil,
        isCancelled: @escaping @Sendable () -> Bool = { false },
        runScan: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        completion: @escaping @Sendable (Result<[[SearchHit]], FlatVecError>) -> Void
    ) {
        do throws(FlatVecError) {
            try checkOpen()
            let index = try registry.collection(named: collection).index
            try index.submitSearch(queries, options: options, groups: groups, isCancelled: isCancelled, runScan: runScan, completion: completion)
        } catch {
            completion(.failure(error))
        }
    }

    /// Scans of ``search(_:in:options:)-(SearchQueries,_,_)`` run on a thread of their own, never on
    /// the caller's executor.
    private static let scanQueue = DispatchQueue(label: "flatvec.engine.scan", qos: .userInitiated, attributes: .concurrent)

    private static let runScan: @Sendable (@escaping @Sendable () -> Void) -> Void = { work in scanQueue.async(execute: work) }
}

extension Engine {
    /// Starts a near-duplicate sweep of a collection: every pair of stored vectors scoring at least
    /// `minScore`, exact, read page by page (see ``DuplicateSweep``).
    /// - Parameters:
    ///   - collection: The collection.
    ///   - minScore: The inclusive threshold.
    ///   - filter: Only vectors matching it take part.
    ///   - partnerLimit: Most partners listed per row.
    /// - Returns: The sweep, over the collection's index as it is now (a later rebuild or drop does not
    ///   reach it).
    /// - Throws: `unknown_collection`; `invalid_argument` for a threshold that is not finite or a filter
    ///   that does not fit; `limit_exceeded` for the limit.
    public func duplicateSweep(
        in collection: String, minScore: Float, filter: Filter? = nil, partnerLimit: Int = FlatVecLimits.defaultRangeHits
    ) throws(FlatVecError) -> DuplicateSweep {
        try checkOpen()
        return try registry.collection(named: collection).index.duplicateSweep(minScore: minScore, filter: filter, partnerLimit: partnerLimit)
    }
}
