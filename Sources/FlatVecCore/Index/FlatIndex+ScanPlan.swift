import Dispatch

extension FlatIndex {
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
    /// - Parameters:
    ///   - options: One per query.
    ///   - chunkLimit: Only chunks below this are scanned (a duplicate sweep's triangle); all by default.
    func run(queries: UnsafePointer<Float>, options: [SearchOptions], chunkLimit: Int = .max) -> [[SearchHit]] {
        let nq = options.count
        let threads = configuration.searchThreads
        let occupied = min(chunkLimit, lock.withReaderLock { rows.occupiedChunkCount })
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
                let collectors = scanBlock(
                    queries: queries + start * dimension, options: options[start..<(start + n)], mayList: true, chunkLimit: chunkLimit
                )
                for i in 0..<n { results.set(start + i, collectors[i].sortedHits()) }
            }
            return results.take()
        }
        // A claimed-chunks scan that had to give up (a writer moved rows) is redone here without
        // listing, which a writer could spoil again.
        var mayList = true
        if threads > 1 && occupied >= 2 {
            if let hits = scanClaimedChunksInParallel(queries: queries, options: options, threads: threads, chunkLimit: chunkLimit) {
                return hits
            }
            mayList = false
        }
        var results: [[SearchHit]] = []
        results.reserveCapacity(nq)
        var start = 0
        while start < nq {
            let n = min(configuration.kernelPlan.block, nq - start)
            let collectors = scanBlock(
                queries: queries + start * dimension, options: options[start..<(start + n)], mayList: mayList, chunkLimit: chunkLimit
            )
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
    /// candidates under one hold of the reader lock, or, if a removal moved rows or an attribute was
    /// added or dropped meanwhile, scans again.
    func scanBlock(
        queries: UnsafePointer<Float>, options: ArraySlice<SearchOptions>, mayList: Bool, chunkLimit: Int = .max
    ) -> [HitCollector] {
        var collectors = options.map { HitCollector(options: $0) }
        guard mayList && lists(options) else {
            scanInReverse(queries: queries, count: options.count, collectors: &collectors, chunkLimit: chunkLimit)
            return collectors
        }
        let epochs = lock.withReaderLock { (rows.moveEpoch, rows.schemaEpoch) }
        let listed = scanInReverse(queries: queries, count: options.count, collectors: &collectors, listing: true, chunkLimit: chunkLimit)
        if let listed, rescoreListed([listed], into: &collectors, queries: queries, unlessChangedSince: epochs) {
            return collectors
        }
        var again = options.map { HitCollector(options: $0) }
        scanInReverse(queries: queries, count: options.count, collectors: &again, chunkLimit: chunkLimit)
        return again
    }

    /// Rescores the candidates a listing scan's threads listed into `collectors`, under one hold of
    /// the reader lock, from the chunks the pass read (adds, upserts and updates since do not
    /// matter); returns false, rescoring nothing, if since the ``ChunkedRows/moveEpoch`` and
    /// ``ChunkedRows/schemaEpoch`` of `epochs` a removal moved rows (one may be listed twice) or an
    /// attribute was added or dropped (the chunks' columns and the schema may disagree): the caller
    /// scans again.
    func rescoreListed(
        _ parts: [CandidateLists], into collectors: inout [HitCollector], queries: UnsafePointer<Float>,
        unlessChangedSince epochs: (moves: UInt64, schema: UInt64)
    ) -> Bool {
        afterListingPass?()
        let rescored: Int? = lock.withReaderLock {
            guard rows.moveEpoch == epochs.moves && rows.schemaEpoch == epochs.schema else { return nil }
            return CandidateLists.rescore(parts, into: &collectors, in: rows, queries: queries, dimension: dimension)
        }
        guard let rescored else { return false }
        rescoreCounters.add(bounded: 0, rescored: rescored, chunksInFloat32: 0)
        return true
    }

    /// From this many queries on, threads split the queries (each scans every chunk with blocks of
    /// ``KernelPlan/block`` queries); below, they claim chunks (each reads part of the memory, and a
    /// thread slowed by the network threads or another caller takes fewer chunks instead of holding
    /// the others up). The crossovers (about 128 queries under float32, 64 under int8, where each
    /// claiming thread's threshold starts lower) are measured in Benchmarks/README.md "Search plans".
    var queryParallelThreshold: Int { configuration.effectiveScan == .int8 ? 64 : 128 }

    /// From this many queries on, plain int8 scans list their candidates and rescore them after the
    /// whole index is bounded (``CandidateLists``): listing rescores far fewer rows per query, which
    /// pays from a few tens of queries on and not for a handful (Benchmarks/README.md "Search plans"),
    /// so below this they rescore chunk by chunk.
    static var listingThreshold: Int { 16 }

    /// A chunk in which every query's filter matches at most 1/divisor of the rows is scored by
    /// gathering the matching rows, not by scanning it with a mask: under float32, gathering a third
    /// of the rows costs about what scanning them all does (Benchmarks/README.md "Filtered search").
    static var gatherDivisorFloat32: Int { 3 }
    /// The same under int8, which gathers the matching rows' codes (a quarter of the bytes) and
    /// rescores only those that can reach the top k: the crossover lies near a third of the rows too.
    static var gatherDivisorInt8: Int { 3 }

    /// Threads claim chunks one at a time, from the last to the first, each with its own hit
    /// collectors (merged at the end): a thread that starts late or runs slowly (the cores are shared
    /// with the network threads and other callers) takes fewer chunks instead of holding the others
    /// up. If a removal moved rows meanwhile, returns nil and the caller rescans in reverse on one
    /// thread, which is immune to moves.
    func scanClaimedChunksInParallel(
        queries: UnsafePointer<Float>,
        options: [SearchOptions],
        threads: Int,
        chunkLimit: Int = .max
    ) -> [[SearchHit]]? {
        let nq = options.count
        let (occupied, epoch, schema) = lock.withReaderLock { (rows.occupiedChunkCount, rows.moveEpoch, rows.schemaEpoch) }
        let parts = min(threads, occupied, chunkLimit)
        let partials = ResultSlots(count: parts * nq)
        let shared = SharedPointer(queries)
        // One chunk past the last occupied one: rows appended meanwhile may have opened it.
        let claims = ChunkClaims(below: min(occupied + 1, chunkLimit))
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
        if listing && !rescoreListed(listedByPart.take(), into: &merged, queries: queries, unlessChangedSince: (epoch, schema)) {
            return nil
        }
        return merged.map { $0.sortedHits() }
    }
}
