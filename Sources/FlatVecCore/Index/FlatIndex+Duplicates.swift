extension FlatIndex {
    /// The vectors of `batch` that score at least `threshold` with a stored vector, a vector of
    /// `pending` or another vector of `batch`, each with its best such match (an ADD that rejects
    /// duplicates, ``FlatVecError/Code/duplicateVector``).
    ///
    /// Stored vectors whose ids `batch` or `pending` replace do not count (an upsert does not
    /// duplicate the row it replaces), nor do vectors of `pending` whose ids `batch` replaces. The
    /// caller holds the collection's write order, so nothing is written meanwhile.
    /// - Parameters:
    ///   - batch: The ADD's validated batch.
    ///   - threshold: The inclusive threshold (finite).
    ///   - pending: Batches accepted before it and not applied yet (the same group commit).
    /// - Returns: One match per offending new vector, in the batch's order; empty if none.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` for a threshold that is not finite.
    public func duplicates(of batch: ValidatedBatch, threshold: Float, pending: [VectorBatch] = []) throws(FlatVecError) -> [DuplicateMatch] {
        guard threshold.isFinite else {
            throw FlatVecError(.invalidArgument, "reject_duplicates_above must be a finite number, not \(threshold)")
        }
        let new = batch.batch
        guard new.count > 0 else { return [] }
        var best: [Int64: DuplicateMatch] = [:]
        func offer(_ match: DuplicateMatch) {
            if let held = best[match.id], held.score > match.score || (held.score == match.score && held.other < match.other) { return }
            best[match.id] = match
        }
        // Stored vectors, apart from those the batch and the pending batches replace.
        let replaced = Set(new.ids).union(pending.flatMap(\.ids))
        var options = SearchOptions(k: 1, minScore: threshold)
        if !replaced.isEmpty {
            options.filter = try Filter.not(.oneOf(.id, replaced.sorted().map { .int64($0) })).checked(against: lock.withReaderLock { rows.schema })
        }
        let stored = try search(PreparedSearch(queries: new.vectors, count: new.count, options: [options]))
        for (i, hits) in stored.enumerated() {
            if let hit = hits.first { offer(DuplicateMatch(id: new.ids[i], other: hit.id, score: hit.score, otherIsStored: true)) }
        }
        // The pending batches' vectors (those this batch does not replace) and this batch's own, by
        // inner product: the vectors are stored as they are (normalised already under cosine).
        // (The latest pending row of an id wins: pending batches are taken newest first.)
        var taken = Set(new.ids)
        var ids: [Int64] = [], vectors: [Float] = []
        for earlier in pending.reversed() {
            for (r, id) in earlier.ids.enumerated() where taken.insert(id).inserted {
                ids.append(id)
                vectors += earlier.vectors[(r * dimension)..<((r + 1) * dimension)]
            }
        }
        guard !ids.isEmpty || new.count > 1 else { return new.ids.compactMap { best[$0] } }
        let scratch = try FlatIndex(dimension: dimension, metric: .innerProduct, configuration: Configuration(searchThreads: 1, scan: .float32))
        if !ids.isEmpty {
            try scratch.add(VectorBatch(dimension: dimension, ids: ids, labels: ids.map { _ in 0 }, vectors: vectors))
            let found = try scratch.search(batch: new.vectors, options: SearchOptions(k: 1, minScore: threshold))
            for (i, hits) in found.enumerated() {
                if let hit = hits.first { offer(DuplicateMatch(id: new.ids[i], other: hit.id, score: hit.score, otherIsStored: false)) }
            }
            try scratch.remove(ids: ids)
        }
        // Within the batch: the sweep of the batch against itself.
        if new.count > 1 {
            try scratch.add(VectorBatch(dimension: dimension, ids: new.ids, labels: new.ids.map { _ in 0 }, vectors: new.vectors))
            let sweep = try scratch.duplicateSweep(minScore: threshold, partnerLimit: FlatVecLimits.maximumRangeHits)
            var page: DuplicatePage
            repeat {
                page = try sweep.nextPage(maxPairs: 100_000, budget: .seconds(3_600))
                for pair in page.pairs {
                    offer(DuplicateMatch(id: pair.a, other: pair.b, score: pair.score, otherIsStored: false))
                    offer(DuplicateMatch(id: pair.b, other: pair.a, score: pair.score, otherIsStored: false))
                }
            } while !page.finished
            guard page.truncatedRows == 0 else {
                throw FlatVecError(
                    .limitExceeded,
                    "a vector of the batch has more than \(FlatVecLimits.maximumRangeHits) others at or above \(threshold) in it: split the batch"
                )
            }
        }
        return new.ids.compactMap { best[$0] }
    }
}
