import Synchronization

/// Every pair of stored vectors of one index whose score reaches a threshold, found page by page
/// (``FlatIndex/duplicateSweep(minScore:filter:partnerLimit:)``).
///
/// The sweep is blocked like a matrix product of the collection with itself, and uses its symmetry:
/// the chunks are taken from the last to the first, and the rows of chunk `c` (the queries, in blocks
/// of ``queriesPerScan``) are scored against chunks `0 ... c` only, by the int8 first pass with
/// float32 rescoring of the rows whose bound reaches the threshold (exact: the scores a search gives).
/// Each scan takes the reader lock chunk by chunk, so writers wait at most for one chunk.
///
/// Pairs of vectors present for the whole sweep are listed exactly once. Why: a removal moves the
/// last row into the hole, so rows only move to lower positions; a row is therefore a query of some
/// chunk (never skipped over), and when the first of two rows is a query the other lies in the same
/// chunk or below it, where the scan (immune to moves, see ``FlatIndex/scanInReverse(queries:count:collectors:claims:shared:listing:chunkLimit:)``)
/// finds it. A row already swept is not a query again (if it moved down), and a pair whose other row
/// was already swept, or was found from the other side within one chunk, is not listed again. Pairs
/// of vectors added, removed or changed meanwhile may or may not be listed.
public final class DuplicateSweep: Sendable {
    /// The inclusive threshold.
    public let minScore: Float
    /// The filter both vectors of a pair match, if any (checked against the attributes).
    public let filter: Filter?
    /// Most partners listed per row (the best ones); a row with more counts as truncated.
    public let partnerLimit: Int
    /// Queries per scan (a block of a chunk's rows).
    static let queriesPerScan = 256

    private let index: FlatIndex
    private let state: Mutex<State>

    private struct State: Sendable {
        /// The next chunk to sweep (descending); -1 when every chunk is done.
        var nextChunk: Int
        let rowsTotal: Int
        var rowsDone = 0
        var truncatedRows = 0
        /// Ids already swept as queries.
        var swept: Set<Int64> = []
        /// The chunk being swept: its queries' ids and vectors, and the next block of them.
        var chunk = -1
        var queryIDs: [Int64] = []
        var queryIDSet: Set<Int64> = []
        var queries: [Float] = []
        var nextQuery = 0
        /// Pairs found and not yet returned.
        var pending: [DuplicatePair] = []
        var pendingStart = 0
    }

    init(index: FlatIndex, minScore: Float, filter: Filter?, partnerLimit: Int) {
        self.index = index
        self.minScore = minScore
        self.filter = filter
        self.partnerLimit = partnerLimit
        let (chunks, count) = index.lock.withReaderLock { (index.rows.occupiedChunkCount, index.rows.count) }
        state = Mutex(State(nextChunk: chunks - 1, rowsTotal: count))
    }

    /// Sweeps on until `maxPairs` pairs are ready, the sweep ends, or `budget` has passed (checked
    /// after each scan of up to ``queriesPerScan`` queries: tens of milliseconds), and returns them.
    ///
    /// Pages are taken one at a time (a second caller waits for the first). Runs on the calling
    /// thread and the index's search threads.
    /// - Parameters:
    ///   - maxPairs: Most pairs returned; at least 1.
    ///   - budget: How long to sweep before returning what is ready (possibly no pair, with progress).
    ///   - isCancelled: Polled between scans; true returns at once with what is ready.
    /// - Returns: The page.
    /// - Throws: `corruptData` naming a segment whose vectors do not match their checksum.
    public func nextPage(
        maxPairs: Int, budget: Duration = .milliseconds(250), isCancelled: () -> Bool = { false }
    ) throws(FlatVecError) -> DuplicatePage {
        let maxPairs = max(1, maxPairs)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: budget)
        return try state.withLock { (state) throws(FlatVecError) -> DuplicatePage in
            while state.pending.count - state.pendingStart < maxPairs && !isFinished(state) {
                sweepNextBlock(&state)
                if clock.now >= deadline || isCancelled() { break }
            }
            try index.vectorDamage.check()
            let end = min(state.pending.count, state.pendingStart + maxPairs)
            let pairs = Array(state.pending[state.pendingStart..<end])
            state.pendingStart = end
            if state.pendingStart == state.pending.count {
                state.pending.removeAll(keepingCapacity: true)
                state.pendingStart = 0
            }
            return DuplicatePage(
                pairs: pairs, finished: isFinished(state) && state.pending.isEmpty,
                rowsDone: state.rowsDone, rowsTotal: state.rowsTotal, truncatedRows: state.truncatedRows
            )
        }
    }

    private func isFinished(_ state: borrowing State) -> Bool {
        state.nextChunk < 0 && state.nextQuery >= state.queryIDs.count
    }

    /// Scores the next block of queries (taking the next chunk's rows first if the last is done).
    private func sweepNextBlock(_ state: inout State) {
        if state.nextQuery >= state.queryIDs.count {
            state.swept.formUnion(state.queryIDs)
            gatherChunk(&state)
            if state.queryIDs.isEmpty { return }
        }
        let start = state.nextQuery
        let count = min(Self.queriesPerScan, state.queryIDs.count - start)
        state.nextQuery += count
        var options = SearchOptions.range(minScore: minScore, limit: partnerLimit + 1)
        options.filter = filter
        let perQuery = Array(repeating: options, count: count)
        let dimension = index.dimension
        let results = state.queries.withUnsafeBufferPointer { buffer in
            index.run(queries: buffer.baseAddress! + start * dimension, options: perQuery, chunkLimit: state.chunk + 1)
        }
        for (j, hits) in results.enumerated() {
            let id = state.queryIDs[start + j]
            var partners = 0
            for hit in hits where hit.id != id {
                partners += 1
                if partners > partnerLimit {
                    state.truncatedRows += 1
                    break
                }
                // Listed from the other side: an earlier chunk's query, or a smaller id of this chunk.
                if state.swept.contains(hit.id) || (hit.id < id && state.queryIDSet.contains(hit.id)) { continue }
                state.pending.append(DuplicatePair(id, hit.id, score: hit.score))
            }
        }
    }

    /// Copies the rows of the next chunk that are queries (not swept yet, matching the filter).
    private func gatherChunk(_ state: inout State) {
        state.queryIDs.removeAll(keepingCapacity: true)
        state.queries.removeAll(keepingCapacity: true)
        state.nextQuery = 0
        guard state.nextChunk >= 0 else { return }
        let c = state.nextChunk
        state.nextChunk -= 1
        state.chunk = c
        let dimension = index.dimension
        let program = filter
        let swept = state.swept
        var ids: [Int64] = []
        var vectors: [Float] = []
        let rowsInChunk: Int = index.lock.withReaderLock {
            let rows = index.rows
            let n = rows.rows(inChunk: c)
            guard n > 0 else { return 0 }
            let chunk = rows.chunks[c]
            var mask: [UInt8]?
            if let program {
                var verdicts = [UInt8](repeating: 0, count: n)
                verdicts.withUnsafeMutableBufferPointer { buffer in
                    _ = FilterProgram(program, rows: rows).evaluate(chunk: chunk, chunkIndex: c, rows: n, in: rows, into: buffer.baseAddress!)
                }
                mask = verdicts
            }
            ids.reserveCapacity(n)
            vectors.reserveCapacity(n * dimension)
            chunk.prepareVectors(0..<n)
            for r in 0..<n {
                if let mask, mask[r] != FilterProgram.trueByte { continue }
                let id = chunk.ids[r]
                if swept.contains(id) { continue }
                ids.append(id)
                vectors.append(contentsOf: UnsafeBufferPointer(start: chunk.vector(at: r), count: dimension))
            }
            return n
        }
        state.rowsDone = min(state.rowsTotal, state.rowsDone + rowsInChunk)
        if state.nextChunk < 0 { state.rowsDone = state.rowsTotal }
        state.queryIDs = ids
        state.queryIDSet = Set(ids)
        state.queries = vectors
    }
}

extension FlatIndex {
    /// Starts a sweep for every pair of stored vectors scoring at least `minScore` (near-duplicates),
    /// read page by page with ``DuplicateSweep/nextPage(maxPairs:budget:isCancelled:)``.
    ///
    /// ```swift
    /// let sweep = try index.duplicateSweep(minScore: 0.95)
    /// var page: DuplicatePage
    /// repeat {
    ///     page = sweep.nextPage(maxPairs: 10_000)
    ///     for pair in page.pairs { print(pair.a, pair.b, pair.score) }
    /// } while !page.finished
    /// ```
    /// - Parameters:
    ///   - minScore: The inclusive threshold (a finite number).
    ///   - filter: Only vectors matching it take part, on both sides of a pair.
    ///   - partnerLimit: Most partners listed per row, 1 to ``FlatVecLimits/maximumRangeHits``.
    /// - Returns: The sweep, which holds the index until it is released.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` for a threshold that is not finite or a filter
    ///   that does not fit the attributes; ``FlatVecError/Code/limitExceeded`` for a limit out of range.
    public func duplicateSweep(
        minScore: Float, filter: Filter? = nil, partnerLimit: Int = FlatVecLimits.defaultRangeHits
    ) throws(FlatVecError) -> DuplicateSweep {
        guard minScore.isFinite else {
            throw FlatVecError(.invalidArgument, "a duplicate sweep's minimum score must be a finite number, not \(minScore)")
        }
        guard (1...FlatVecLimits.maximumRangeHits).contains(partnerLimit) else {
            throw FlatVecError(.limitExceeded, "a duplicate sweep's limit per row \(partnerLimit) is outside 1...\(FlatVecLimits.maximumRangeHits)")
        }
        let checked = try filter.map { (filter) throws(FlatVecError) in try filter.checked(against: lock.withReaderLock { rows.schema }) }
        return DuplicateSweep(index: self, minScore: minScore, filter: checked, partnerLimit: partnerLimit)
    }
}
