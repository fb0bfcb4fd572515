import CBLAS
import CFlatVecKernels
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

    private func search(_ input: PreparedSearch) throws(FlatVecError) -> [[SearchHit]] {
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

    /// Queries and options checked and ready to scan.
    struct PreparedSearch {
        var queries: [Float]
        var count: Int
        var options: [SearchOptions]
    }

    private func prepareSearch(_ queries: SearchQueries, options: [SearchOptions]) throws(FlatVecError) -> PreparedSearch {
        switch queries {
        case .vectors(let vectors):
            return try vectors.withUnsafeBufferPointer { (buffer) throws(FlatVecError) in
                try prepareSearch(vectors: buffer, options: options)
            }
        case .storedIDs(let ids, let excluding):
            try checkOptionsCount(options, queries: ids.count)
            var checked: [SearchOptions] = []
            for option in options { checked.append(try self.checked(option)) }
            var unknown: [Int64] = []
            let vectors: [Float] = lock.withReaderLock {
                var vectors: [Float] = []
                vectors.reserveCapacity(ids.count * dimension)
                for id in ids {
                    guard let row = rows.row(of: id) else {
                        unknown.append(id)
                        continue
                    }
                    let (chunk, offset) = rows.location(of: row)
                    // Stored vectors are finite and, under cosine, already unit length: used as they are.
                    vectors.append(contentsOf: UnsafeBufferPointer(start: chunk.vector(at: offset), count: dimension))
                }
                return vectors
            }
            if !unknown.isEmpty {
                throw FlatVecError(.unknownID, "search by stored vector: unknown \(Self.describe(ids: unknown))")
            }
            if excluding {
                checked = ids.indices.map { i in
                    var option = checked.count == 1 ? checked[0] : checked[i]
                    option.excludingID = ids[i]
                    return option
                }
            }
            return PreparedSearch(queries: vectors, count: ids.count, options: checked)
        }
    }

    private func prepareSearch(vectors: UnsafeBufferPointer<Float>, options: [SearchOptions]) throws(FlatVecError) -> PreparedSearch {
        let prepared = try prepareQueries(vectors)
        let nq = prepared.count / dimension
        try checkOptionsCount(options, queries: nq)
        var checked: [SearchOptions] = []
        checked.reserveCapacity(options.count)
        for option in options { checked.append(try self.checked(option)) }
        return PreparedSearch(queries: prepared, count: nq, options: checked)
    }

    private func checkOptionsCount(_ options: [SearchOptions], queries: Int) throws(FlatVecError) {
        guard options.count == 1 || options.count == queries else {
            throw FlatVecError(.invalidArgument, "\(options.count) search options for \(queries) queries: give 1, or 1 per query")
        }
    }

    /// Scores the queries of several waiting searches in one scan, each with its own options.
    func scanCoalesced(_ segments: [SearchCoalescer.Segment]) -> [[SearchHit]] {
        if segments.count == 1, let only = segments.first, only.start == 0, only.length == only.ticket.count {
            let options = (0..<only.length).map { only.ticket.options(of: $0) }
            return only.ticket.queries.withUnsafeBufferPointer { run(queries: $0.baseAddress!, options: options) }
        }
        var queries: [Float] = []
        var options: [SearchOptions] = []
        let total = segments.reduce(0) { $0 + $1.length }
        queries.reserveCapacity(total * dimension)
        options.reserveCapacity(total)
        for segment in segments {
            let t = segment.ticket
            queries += t.queries[(segment.start * dimension)..<((segment.start + segment.length) * dimension)]
            options += (segment.start..<(segment.start + segment.length)).map { t.options(of: $0) }
        }
        return queries.withUnsafeBufferPointer { run(queries: $0.baseAddress!, options: options) }
    }

    /// Chooses a plan: split queries across threads for batches, chunk ranges for a few queries.
    /// - Parameter options: One per query.
    private func run(queries: UnsafePointer<Float>, options: [SearchOptions]) -> [[SearchHit]] {
        let nq = options.count
        let threads = configuration.searchThreads
        let occupied = lock.withReaderLock { rows.occupiedChunkCount }
        if threads > 1 && nq >= queryParallelThreshold {
            let perThread = (nq + threads - 1) / threads
            let blockSize = min(configuration.kernelPlan.block, perThread)
            let blocks = (nq + blockSize - 1) / blockSize
            let results = ResultSlots(count: nq)
            let shared = SharedPointer(queries)
            ScanWorkers.shared.perform(parts: blocks, helpers: threads - 1) { b in
                let queries = shared.pointer
                let start = b * blockSize
                let n = min(blockSize, nq - start)
                let collectors = scanBlock(queries: queries + start * dimension, options: options[start..<(start + n)], mayList: true)
                for i in 0..<n { results.set(start + i, collectors[i].sortedHits()) }
            }
            return results.take()
        }
        // A claimed-chunks scan that had to give up (a writer moved rows) is redone here without
        // listing, which a writer could spoil again.
        var mayList = true
        if threads > 1 && occupied >= 2 {
            if let hits = scanClaimedChunksInParallel(queries: queries, options: options, threads: threads) {
                return hits
            }
            mayList = false
        }
        var results: [[SearchHit]] = []
        results.reserveCapacity(nq)
        var start = 0
        while start < nq {
            let n = min(configuration.kernelPlan.block, nq - start)
            let collectors = scanBlock(queries: queries + start * dimension, options: options[start..<(start + n)], mayList: mayList)
            results.append(contentsOf: collectors.map { $0.sortedHits() })
            start += n
        }
        return results
    }

    /// Whether a scan of queries with these options lists its int8 candidates and rescores them
    /// after the whole index is bounded (see ``listingThreshold``): plain searches only (filters,
    /// labels, grouping and exclusions rescore chunk by chunk).
    func lists(_ options: some Collection<SearchOptions>) -> Bool {
        configuration.effectiveScan == .int8 && options.count >= Self.listingThreshold && options.allSatisfy {
            $0.filter == nil && $0.labels == nil && !$0.groupByLabel && $0.excludingID == nil
        }
    }

    /// Scans every chunk for one block of queries on the calling thread; a listing scan rescores its
    /// candidates under one hold of the reader lock, or, if a writer ran meanwhile, scans again.
    private func scanBlock(queries: UnsafePointer<Float>, options: ArraySlice<SearchOptions>, mayList: Bool) -> [HitCollector] {
        var collectors = options.map { HitCollector(options: $0) }
        guard mayList && lists(options) else {
            scanInReverse(queries: queries, count: options.count, collectors: &collectors)
            return collectors
        }
        let writes = lock.withReaderLock { lock.writes }
        let listed = scanInReverse(queries: queries, count: options.count, collectors: &collectors, listing: true)
        if let listed, rescoreListed([listed], into: &collectors, queries: queries, unlessWritesPassed: writes) {
            return collectors
        }
        var again = options.map { HitCollector(options: $0) }
        scanInReverse(queries: queries, count: options.count, collectors: &again)
        return again
    }

    /// Rescores the candidates a listing scan's threads listed into `collectors`, under one hold of
    /// the reader lock; returns false, rescoring nothing, if a writer ran since ``ReadWriteLock/writes``
    /// read `writes` (the listed positions may name other rows now: the caller scans again).
    private func rescoreListed(
        _ parts: [CandidateLists], into collectors: inout [HitCollector], queries: UnsafePointer<Float>,
        unlessWritesPassed writes: UInt64
    ) -> Bool {
        afterListingPass?()
        let rescored: Int? = lock.withReaderLock {
            guard lock.writes == writes else { return nil }
            return CandidateLists.rescore(parts, into: &collectors, in: rows, queries: queries, dimension: dimension)
        }
        guard let rescored else { return false }
        rescoreCounters.add(bounded: 0, rescored: rescored, chunksInFloat32: 0)
        return true
    }

    /// From this many queries on, threads split the queries (each scans every chunk with blocks of
    /// ``KernelPlan/block`` queries); below, they claim chunks (each reads part of the memory, and a
    /// thread slowed by the network threads or another caller takes fewer chunks instead of holding
    /// the others up). Measured crossover under float32: ~128. Under int8, chunks claimed with
    /// ``SharedThresholds`` against queries split, in one run (Zen 4, 100k x 512, best of 40): 24
    /// queries 4.8-4.9 against 5.2 ms, 32 queries 6.6-6.7 against 6.9 ms, 64 queries 12.2-12.4
    /// against 11.5 ms (each thread's threshold is lower at its first chunks: 134 rows rescored per
    /// query against 96).
    var queryParallelThreshold: Int { configuration.effectiveScan == .int8 ? 64 : 128 }

    /// From this many queries on, plain int8 scans list their candidates and rescore them after the
    /// whole index is bounded (``CandidateLists``). Measured (Zen 4, 100k x 512, k = 10, alternating
    /// binaries): 32 queries 5.3-5.4 against 5.5-5.6 ms in process (rows rescored per query 135 ->
    /// 20), 32 server lanes 3,750-4,104 against 3,450-4,065 q/s with p99 12.5-12.8 against 13.3-14.1
    /// ms; at 1 and 8 queries no gain (1 lane p50 1.3-1.8 against 1.3-1.4 ms), so below this they
    /// rescore chunk by chunk. Blocks of queries split over threads list too: 64 / 128 / 256 queries
    /// 10.0-11.3 / 19.1-19.8 / 37.3-37.8 -> 9.8-10.1 / 18.6-18.7 / 36.9-37.9 ms (rows rescored per
    /// query ~98 -> 20).
    static var listingThreshold: Int { 16 }

    /// A chunk in which every query's filter matches at most 1/divisor of the rows is scored by
    /// gathering the matching rows, not by scanning it with a mask. Measured (Zen 4, 100k x 512,
    /// Benchmarks/README.md "Filtered search, exact"): under float32, gathering a third of the rows
    /// costs about what scanning them all does, for one query and for 32.
    static var gatherDivisorFloat32: Int { 3 }
    /// The same under int8, which gathers the matching rows' codes (a quarter of the bytes) and
    /// rescores only those that can reach the top k: the crossover lies near 30% of the rows, for one
    /// query and for 32 (Zen 4, 100k x 512, two runs of Benchmarks/compare/filters.py).
    static var gatherDivisorInt8: Int { 3 }

    /// Scores every chunk from the last to the first, taking the reader lock per chunk.
    ///
    /// Why in reverse: a removal moves the last row into a hole at a lower position. Scanning from
    /// high to low positions, a row present for the whole search can only move into the part not yet
    /// scanned, so it is never missed; it may be scored twice, which deduplication absorbs.
    /// - Parameter listing: Whether the int8 pass lists its candidates instead of rescoring them
    ///   (plain searches only): they are returned, for ``CandidateLists/rescore(_:into:in:queries:dimension:)``.
    @discardableResult
    func scanInReverse(
        queries: UnsafePointer<Float>,
        count nq: Int,
        collectors: inout [HitCollector],
        claims: ChunkClaims? = nil,
        shared: SharedThresholds? = nil,
        listing: Bool = false
    ) -> CandidateLists? {
        let (occupied, epoch) = lock.withReaderLock { (rows.occupiedChunkCount, rows.moveEpoch) }
        let claims = claims ?? ChunkClaims(below: occupied)
        guard claims.mayHaveChunks else { return listing ? CandidateLists(count: nq) : nil }
        let rowsPerChunk = rows.rowsPerChunk
        let int8 = configuration.effectiveScan == .int8
        let tiled = !int8 && configuration.kernelPlan.usesTiled(nq)
        var filters = ScanFilters(collectors: collectors, rowsPerChunk: rowsPerChunk)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: (int8 && filters.isEmpty ? 1 : nq) * rowsPerChunk)
        let indices = UnsafeMutablePointer<UInt32>.allocate(capacity: rowsPerChunk)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tiled ? fv_tile_scratch_floats(nq, dimension) : 0)
        defer {
            scores.deallocate()
            indices.deallocate()
            scratch.deallocate()
        }
        var firstPass = int8
            ? Int8Scan(
                queries: queries, count: nq, dimension: dimension, rowsPerChunk: rowsPerChunk,
                variant: configuration.int8Variant, listing: listing
            ) : nil
        let gatherDivisor = int8 ? Self.gatherDivisorInt8 : Self.gatherDivisorFloat32
        var deduplicating = false
        while let c = claims.next() {
            lock.withReaderLock {
                let n = rows.rows(inChunk: c)
                guard n > 0 else { return }
                if !deduplicating && rows.moveEpoch != epoch {
                    deduplicating = true
                    for i in 0..<nq { collectors[i].enableDeduplication() }
                }
                let chunk = rows.chunks[c]
                if !filters.isEmpty {
                    filters.evaluate(chunk: chunk, index: c, rows: n, in: rows)
                    let limit = configuration._gatherFraction.map { Int(Double(n) * $0) } ?? n / gatherDivisor
                    if filters.prefersGathering(limit: limit) {
                        if firstPass != nil {
                            firstPass!.scanGathered(
                                chunk: chunk, rows: n, queries: queries, collectors: &collectors,
                                floatScores: scores, floatIndices: indices, filters: filters, in: rows, shared: shared
                            )
                        } else {
                            scoreGathered(chunk: chunk, filters: filters, queries: queries, collectors: &collectors, scores: scores)
                        }
                        return
                    }
                }
                if firstPass != nil {
                    firstPass!.scan(
                        chunk: chunk, rows: n, queries: queries, collectors: &collectors,
                        floatScores: scores, floatIndices: indices, filters: filters, in: rows, shared: shared,
                        index: c
                    )
                    return
                }
                score(queries: queries, count: nq, chunk: chunk, rows: n, into: scores, stride: rowsPerChunk, scratch: scratch)
                for i in 0..<nq {
                    collectors[i].consume(
                        scores: scores + i * rowsPerChunk, count: n, chunk: chunk, indices: indices,
                        mask: filters.isEmpty ? nil : filters.mask(ofQuery: i), rows: rows
                    )
                }
            }
        }
        if let firstPass {
            rescoreCounters.add(
                bounded: firstPass.rowsBounded, rescored: firstPass.rowsRescored,
                chunksInFloat32: firstPass.chunksInFloat32
            )
            return firstPass.listed
        }
        return nil
    }

    /// Scores only the rows of `chunk` that match each query's filter, bit for bit as the
    /// single-query kernel does (so a filtered batch gives the scores of its queries searched alone):
    /// each gathered row is read once for all the queries of its filter when they are consecutive
    /// (one request's queries), else once per query in blocks of 64 rows that stay in cache.
    /// - Parameter scores: Room for `rowsPerChunk` scores per query.
    private func scoreGathered(
        chunk: VectorChunk, filters: borrowing ScanFilters, queries: UnsafePointer<Float>,
        collectors: inout [HitCollector], scores: UnsafeMutablePointer<Float>
    ) {
        let stride = rows.rowsPerChunk
        for (g, members) in filters.queriesOfGroup.enumerated() {
            let (list, m) = filters.matches(ofGroup: g)
            guard m > 0 else { continue }
            if members.count > 1, members.last! - members[0] == members.count - 1 {
                fv_dot_rows_gather_multi(
                    chunk.vectors, list, m, dimension, queries + members[0] * dimension, members.count, scores, stride
                )
                for (slot, q) in members.enumerated() {
                    collectors[q].consume(rows: list, scores: scores + slot * stride, count: m, chunk: chunk, rows: rows)
                }
                continue
            }
            var start = 0
            while start < m {
                let n = min(64, m - start)
                for (slot, q) in members.enumerated() {
                    fv_dot_rows_gather(chunk.vectors, list + start, n, dimension, queries + q * dimension, scores + slot * stride + start)
                }
                start += n
            }
            for (slot, q) in members.enumerated() {
                collectors[q].consume(rows: list, scores: scores + slot * stride, count: m, chunk: chunk, rows: rows)
            }
        }
    }

    /// Threads claim chunks one at a time, from the last to the first, each with its own hit
    /// collectors (merged at the end): a thread that starts late or runs slowly (the cores are shared
    /// with the network threads and other callers) takes fewer chunks instead of holding the others
    /// up. If a removal moved rows meanwhile, returns nil and the caller rescans in reverse on one
    /// thread, which is immune to moves.
    private func scanClaimedChunksInParallel(
        queries: UnsafePointer<Float>,
        options: [SearchOptions],
        threads: Int
    ) -> [[SearchHit]]? {
        let nq = options.count
        let (occupied, epoch, writes) = lock.withReaderLock { (rows.occupiedChunkCount, rows.moveEpoch, lock.writes) }
        let parts = min(threads, occupied)
        let partials = ResultSlots(count: parts * nq)
        let shared = SharedPointer(queries)
        // One chunk past the last occupied one: rows appended meanwhile may have opened it.
        let claims = ChunkClaims(below: occupied + 1)
        let thresholds = SharedThresholds(count: nq)
        // Plain int8 batches list their candidates and rescore them once the whole index is bounded.
        let listing = lists(options)
        let listedByPart = CandidateListSlots(count: parts)
        ScanWorkers.shared.perform(parts: parts, helpers: parts - 1) { p in
            let queries = shared.pointer
            var collectors = options.map { HitCollector(options: $0) }
            let listed = scanInReverse(
                queries: queries, count: nq, collectors: &collectors, claims: claims, shared: thresholds, listing: listing
            )
            listedByPart.set(p, listed)
            for i in 0..<nq { partials.set(p * nq + i, collectors[i].heap) }
        }
        // (A listing scan checks below, under the lock it rescores in, that no writer ran at all.)
        let moved = !listing && lock.withReaderLock { rows.moveEpoch != epoch }
        if moved { return nil }
        let all = partials.take()
        var merged = (0..<nq).map { i in
            var collector = HitCollector(options: options[i])
            for p in 0..<parts {
                for hit in all[p * nq + i] { collector.offer(hit) }
            }
            return collector
        }
        if listing && !rescoreListed(listedByPart.take(), into: &merged, queries: queries, unlessWritesPassed: writes) {
            return nil
        }
        return merged.map { $0.sortedHits() }
    }

    /// scores[q * stride + r] = dot(query q, row r) for the first `rows` rows of `chunk`.
    @inline(__always)
    private func score(
        queries: UnsafePointer<Float>,
        count nq: Int,
        chunk: VectorChunk,
        rows n: Int,
        into scores: UnsafeMutablePointer<Float>,
        stride: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        if nq == 1 {
            fv_dot_rows(chunk.vectors, n, dimension, queries, scores)
        } else if nq <= configuration.kernelPlan.dotProducts {
            fv_dot_rows_multi(chunk.vectors, n, dimension, queries, nq, scores, stride)
        } else if configuration.kernelPlan.usesTiled(nq) {
            fv_scores_tiled(chunk.vectors, n, dimension, queries, nq, scores, stride, scratch)
        } else {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans,
                Int32(nq), Int32(n), Int32(dimension),
                1, queries, Int32(dimension),
                chunk.vectors, Int32(dimension),
                0, scores, Int32(stride)
            )
        }
    }
}

/// Result slots written by parallel workers, each slot by exactly one worker.
final class ResultSlots: @unchecked Sendable {
    // @unchecked: each index is written by one worker, and read only after ScanWorkers.perform returns.
    private let slots: UnsafeMutablePointer<[SearchHit]>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [], count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ index: Int, _ hits: [SearchHit]) { slots[index] = hits }

    func take() -> [[SearchHit]] { Array(UnsafeBufferPointer(start: slots, count: count)) }
}

/// A read-only pointer handed to parallel workers.
struct SharedPointer: @unchecked Sendable {
    // @unchecked: the pointee is immutable for the duration of the parallel section.
    let pointer: UnsafePointer<Float>

    init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}
