import Dispatch

extension FlatIndex {
    /// Searches one query.
    /// - Parameters:
    ///   - query: `dimension` floats.
    ///   - options: k, filters and what to return.
    /// - Returns: Up to `k` hits, best first (ties: smaller id first).
    /// - Throws: ``FlatVecError`` for a wrong dimension, a NaN or infinite component, a zero query
    ///   under cosine, or `k` out of range.
    public func search(_ query: [Float], options: SearchOptions = SearchOptions()) throws(FlatVecError) -> [SearchHit] {
        guard query.count == dimension else {
            throw FlatVecError(
                .dimensionMismatch,
                "query has dimension \(query.count), the index has dimension \(dimension)"
            )
        }
        return try search(batch: query, options: options)[0]
    }

    /// Searches a batch of queries, row-major.
    /// - Parameters:
    ///   - queries: `n * dimension` floats.
    ///   - options: k, filters and what to return.
    /// - Returns: One list of hits per query, each best first (ties: smaller id first).
    /// - Throws: ``FlatVecError`` as ``search(_:options:)``.
    public func search(batch queries: [Float], options: SearchOptions = SearchOptions()) throws(FlatVecError) -> [[SearchHit]] {
        try queries.withUnsafeBufferPointer { (buffer) throws(FlatVecError) in
            try search(batch: buffer, options: options)
        }
    }

    /// Searches a batch of queries given as a buffer, without copying it first.
    ///
    /// Safe to call from many threads at once: searches that arrive while a scan of this index runs
    /// are merged into the next scan (see ``submitSearch(batch:options:isCancelled:runScan:completion:)``),
    /// each with its own options and the hits it would get alone.
    /// - Parameters:
    ///   - queries: `n * dimension` floats, row-major.
    ///   - options: k, filters and what to return.
    /// - Returns: One list of hits per query, each best first.
    /// - Throws: ``FlatVecError`` as ``search(_:options:)``.
    public func search(batch queries: UnsafeBufferPointer<Float>, options: SearchOptions) throws(FlatVecError) -> [[SearchHit]] {
        let input = try prepareSearch(vectors: queries, options: [options])
        return try search(input)
    }

    /// Searches vectors or stored ids, each query with its own options (filters, k, ...) or all with one.
    ///
    /// ```swift
    /// // "More like this one", leaving the product itself out, only among visible ones:
    /// let hits = try index.search(.storedIDs([42], excludingThemselves: true),
    ///                             options: [SearchOptions(k: 5, filter: try Filter(parsing: "visible"))])
    /// ```
    /// - Parameters:
    ///   - queries: The query vectors or the stored ids.
    ///   - options: One for all queries, or one per query.
    /// - Returns: One list of hits per query, each best first (ties: smaller id first).
    /// - Throws: ``FlatVecError`` as ``search(_:options:)``; ``FlatVecError/Code/unknownID`` naming
    ///   ids that are not stored; ``FlatVecError/Code/invalidArgument`` for a filter that does not fit
    ///   the attributes, or an options count that is neither 1 nor the number of queries.
    public func search(_ queries: SearchQueries, options: [SearchOptions]) throws(FlatVecError) -> [[SearchHit]] {
        try search(try prepareSearch(queries, options: options))
    }

    func search(_ input: PreparedSearch) throws(FlatVecError) -> [[SearchHit]] {
        guard input.count > 0 else { return [] }
        let semaphore = DispatchSemaphore(value: 0)
        let ticket = SearchCoalescer.Ticket(
            queries: input.queries, count: input.count, options: input.options, isCancelled: { false },
            waiter: .thread(semaphore)
        )
        return try coalescer.searchBlocking(ticket, semaphore: semaphore, on: self).get()
    }

    /// Starts a search that answers through a callback, for servers that must not block a thread
    /// per waiting search.
    ///
    /// The search joins the queue of this index: if no scan is running, one starts at once through
    /// `runScan`; otherwise the search goes into the next scan with the others waiting, up to
    /// ``Configuration/maximumQueriesPerScan`` queries per scan, in arrival order, each request taking
    /// turns of at most 64 queries so large and small requests both progress. When a search is
    /// answered its caller's `runScan` may be asked to drive the scan of the next waiting search.
    ///
    /// ```swift
    /// try index.submitSearch(batch: query, options: SearchOptions(k: 5),
    ///                        runScan: { work in pool.submit { _ in work() } }) { result in reply(result) }
    /// ```
    /// - Parameters:
    ///   - queries: `n * dimension` floats, row-major.
    ///   - options: k, filters and what to return.
    ///   - isCancelled: Polled (under a lock, so it must be quick and must not block) before the search
    ///     is scanned; true drops it, and `completion` gets an `unavailable` error.
    ///   - runScan: Runs the given work (a scan, 1 to tens of milliseconds) on a thread that may block.
    ///   - completion: Called once, on the thread that ran the scan, with the hits of every query.
    /// - Throws: ``FlatVecError`` as ``search(_:options:)``, before anything is queued.
    public func submitSearch(
        batch queries: [Float],
        options: SearchOptions,
        isCancelled: @escaping @Sendable () -> Bool = { false },
        runScan: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        completion: @escaping @Sendable (Result<[[SearchHit]], FlatVecError>) -> Void
    ) throws(FlatVecError) {
        try submitSearch(.vectors(queries), options: [options], isCancelled: isCancelled, runScan: runScan, completion: completion)
    }

    /// Starts a search of vectors or stored ids that answers through a callback, each query with its
    /// own options or all with one (see ``submitSearch(batch:options:isCancelled:runScan:completion:)``).
    /// - Parameters:
    ///   - queries: The query vectors or the stored ids.
    ///   - options: One for all queries, or one per query.
    ///   - isCancelled: Polled before the search is scanned; true drops it.
    ///   - runScan: Runs the given work on a thread that may block.
    ///   - completion: Called once with the hits of every query.
    /// - Throws: As ``search(_:options:)-(SearchQueries,_)``, before anything is queued.
    public func submitSearch(
        _ queries: SearchQueries,
        options: [SearchOptions],
        isCancelled: @escaping @Sendable () -> Bool = { false },
        runScan: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        completion: @escaping @Sendable (Result<[[SearchHit]], FlatVecError>) -> Void
    ) throws(FlatVecError) {
        let input = try prepareSearch(queries, options: options)
        guard input.count > 0 else {
            completion(.success([]))
            return
        }
        let ticket = SearchCoalescer.Ticket(
            queries: input.queries, count: input.count, options: input.options, isCancelled: isCancelled,
            waiter: .callback(runScan: runScan, completion: completion)
        )
        coalescer.submit(ticket, on: self)
    }
}
