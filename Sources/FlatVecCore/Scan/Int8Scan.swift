import CFlatVecKernels

/// The int8 first pass of one scan: the queries' codes and the scratch space, reused chunk after chunk.
///
/// For every chunk (under the reader lock, so the codes and vectors it reads belong together) it
/// scans the codes of all queries at once, bounds every row's float32 score, keeps the rows whose
/// upper bound can reach what the query's collector needs, and rescores those with the float32
/// path's own single-query kernel, so hits and scores are exactly the float32 ones (or, for a batch
/// that lists its candidates, keeps them for ``CandidateLists`` to rescore after the last chunk). The
/// proof of the bound is beside the kernels, in `int8_kernels.c`.
struct Int8Scan: ~Copyable {
    let dimension: Int
    let count: Int
    let variant: Int32
    let paddedDimension: Int
    let stride: Int
    private let queryCodes: UnsafeMutablePointer<Int8>
    private let queryMeta: UnsafeMutablePointer<fv_i8_query>
    private let dots: UnsafeMutablePointer<Int32>
    private let indices: UnsafeMutablePointer<UInt32>
    private let lower: UnsafeMutablePointer<Double>
    private let upper: UnsafeMutablePointer<Double>
    private let selection: UnsafeMutablePointer<Double>
    private let scores: UnsafeMutablePointer<Float>
    private(set) var rowsBounded = 0
    private(set) var rowsRescored = 0
    private(set) var chunksInFloat32 = 0
    /// The candidates listed for rescoring after the scan (see ``CandidateLists``), or nil to rescore
    /// chunk by chunk.
    var listed: CandidateLists?

    /// A chunk whose candidates exceed this fraction of its rows is scored whole in float32: reading
    /// it in order is then cheaper than fetching the candidates one by one.
    static let fallbackFraction = 4

    init(queries: UnsafePointer<Float>, count nq: Int, dimension: Int, rowsPerChunk: Int, variant: Int32, listing: Bool = false) {
        listed = listing ? CandidateLists(count: nq) : nil
        self.dimension = dimension
        self.count = nq
        self.variant = variant
        paddedDimension = fv_i8_padded_dim(dimension)
        stride = rowsPerChunk
        queryCodes = .allocate(capacity: nq * paddedDimension)
        queryMeta = .allocate(capacity: nq)
        dots = .allocate(capacity: nq * rowsPerChunk)
        indices = .allocate(capacity: rowsPerChunk)
        lower = .allocate(capacity: rowsPerChunk)
        upper = .allocate(capacity: rowsPerChunk)
        selection = .allocate(capacity: rowsPerChunk)
        scores = .allocate(capacity: rowsPerChunk)
        let levels = fv_i8_query_levels(variant)
        for q in 0..<nq {
            fv_i8_encode_query(queries + q * dimension, dimension, levels, queryCodes + q * paddedDimension, queryMeta + q)
        }
    }

    deinit {
        queryCodes.deallocate()
        queryMeta.deallocate()
        dots.deallocate()
        indices.deallocate()
        lower.deallocate()
        upper.deallocate()
        selection.deallocate()
        scores.deallocate()
    }

    /// Offers to each collector every row of the first `n` rows of `chunk` that can enter it, scored in float32.
    /// - Parameter floatScores: Scratch for `n` floats, for a chunk scored whole.
    /// - Parameter floatIndices: Scratch for `n` indices.
    /// - Parameter shared: The thresholds of the other threads scanning other chunks for the same
    ///   queries, if any: read before each query's candidates are chosen, raised after.
    mutating func scan(
        chunk: VectorChunk,
        rows n: Int,
        queries: UnsafePointer<Float>,
        collectors: inout [HitCollector],
        floatScores: UnsafeMutablePointer<Float>,
        floatIndices: UnsafeMutablePointer<UInt32>,
        filters: borrowing ScanFilters,
        in rows: borrowing ChunkedRows,
        shared: SharedThresholds? = nil,
        index c: Int = 0
    ) {
        guard let codes = chunk.codes, let meta = chunk.codeMeta else {
            preconditionFailure("an int8 scan of a chunk without codes")
        }
        let scanned = fv_i8_scan_variant(variant, codes, n, dimension, queryCodes, count, dots, stride)
        precondition(scanned == 1, "int8 scan variant \(variant) does not run on this CPU")
        rowsBounded += n * count
        for q in 0..<count {
            let k = collectors[q].k
            let mask = filters.isEmpty ? nil : filters.mask(ofQuery: q)
            var threshold = Self.admission(of: q, collectors, shared)
            if listed != nil { threshold = max(threshold, listed!.bound(q, k: k)) }
            if collectors[q].heap.count < k && collectors[q].labelFilter == nil && mask == nil
                && collectors[q].excludedID == nil && !collectors[q].groupByLabel
                && (listed?.lower[q].count ?? 0) < k
            {
                // Not full yet (the first chunk of a scan): k rows of this chunk give a threshold.
                threshold = max(threshold, fv_i8_kth_lower_bound(dots + q * stride, n, meta, chunk.capacity, queryMeta + q, k, scores))
            }
            let found = fv_i8_candidates(
                dots + q * stride, n, meta, chunk.capacity, queryMeta + q, threshold, indices, lower, upper, selection
            )
            if listed != nil, found * Self.fallbackFraction <= n {
                // Listed for rescoring after the scan; the k-th largest lower bound of the rows listed
                // so far is what the other threads' rows must reach.
                let bound = listed!.append(
                    query: q, chunk: c, of: chunk, found: found, k: k, indices: indices, lower: lower, upper: upper
                )
                shared?.raise(q, to: max(collectors[q].admissionThreshold, Self.floatAtMost(bound)))
                continue
            }
            select(
                found, query: q, threshold: threshold, chunk: chunk, rows: n, queries: queries, collectors: &collectors,
                mask: mask, floatScores: floatScores, floatIndices: floatIndices, in: rows
            )
            shared?.raise(q, to: collectors[q].admissionThreshold)
        }
    }

    /// Like ``scan(chunk:rows:queries:collectors:floatScores:floatIndices:filters:in:shared:)`` for a chunk
    /// whose filters match few rows: only the matching rows' codes are read (row by row, from
    /// ``VectorChunk/rowCodes``), for each query of each filter, and bounded the same way.
    mutating func scanGathered(
        chunk: VectorChunk,
        rows n: Int,
        queries: UnsafePointer<Float>,
        collectors: inout [HitCollector],
        floatScores: UnsafeMutablePointer<Float>,
        floatIndices: UnsafeMutablePointer<UInt32>,
        filters: borrowing ScanFilters,
        in rows: borrowing ChunkedRows,
        shared: SharedThresholds? = nil
    ) {
        guard let meta = chunk.codeMeta, let rowCodes = chunk.rowCodes else {
            preconditionFailure("an int8 scan of a chunk without codes")
        }
        for (g, members) in filters.queriesOfGroup.enumerated() {
            let (list, m) = filters.matches(ofGroup: g)
            guard m > 0 else { continue }
            // Built by the first scan that gathers rows of this chunk (a chunk no filter matches never needs them).
            chunk.prepareRowCodes(rows: n)
            for q in members {
                let gathered = fv_i8_gather_variant(
                    variant, rowCodes, dimension, list, m, queryCodes + q * paddedDimension, dots, meta, chunk.capacity
                )
                precondition(gathered == 1, "int8 scan variant \(variant) does not run on this CPU")
                rowsBounded += m
                let threshold = Self.admission(of: q, collectors, shared)
                let found = fv_i8_candidates_listed(dots, list, m, meta, chunk.capacity, queryMeta + q, threshold, indices, lower, upper)
                select(
                    found, query: q, threshold: threshold, chunk: chunk, rows: n, queries: queries, collectors: &collectors,
                    mask: filters.mask(ofQuery: q), floatScores: floatScores, floatIndices: floatIndices, in: rows
                )
                shared?.raise(q, to: collectors[q].admissionThreshold)
            }
        }
    }

    /// The largest float not above `value` (a threshold rounded up could skip a row that reaches it).
    static func floatAtMost(_ value: Double) -> Float {
        let rounded = Float(value)
        return Double(rounded) > value ? rounded.nextDown : rounded
    }

    /// What query `q`'s rows must reach: its collector's admission threshold, or the larger one
    /// another thread scanning other chunks for it has published.
    private static func admission(of q: Int, _ collectors: [HitCollector], _ shared: SharedThresholds?) -> Double {
        let own = Double(collectors[q].admissionThreshold)
        guard let shared else { return own }
        return max(own, Double(shared.threshold(of: q)))
    }

    /// Narrows query `q`'s `found` candidates (rows of `chunk` with their bounds, already above
    /// `threshold`) by its label filter, filter mask and excluded id, and by the k-th largest lower
    /// bound among them, then rescores the rest in float32 (or the first `n` rows of the chunk whole,
    /// when too many remain) and offers them to its collector.
    private mutating func select(
        _ found: Int,
        query q: Int,
        threshold: Double,
        chunk: VectorChunk,
        rows n: Int,
        queries: UnsafePointer<Float>,
        collectors: inout [HitCollector],
        mask: UnsafePointer<UInt8>?,
        floatScores: UnsafeMutablePointer<Float>,
        floatIndices: UnsafeMutablePointer<UInt32>,
        in rows: borrowing ChunkedRows
    ) {
        var found = found
        guard found > 0 else { return }
        let query = queries + q * dimension
        let k = collectors[q].k
        if let labels = collectors[q].labelFilter {
            found = compact(found) { labels.contains(chunk.labels[Int(indices[$0])]) }
        }
        if let mask {
            found = compact(found) { mask[Int(indices[$0])] == FilterProgram.trueByte }
        }
        if let excluded = collectors[q].excludedID {
            // Before the k-th lower bound below: the excluded row must not count among the k.
            found = compact(found) { chunk.ids[Int(indices[$0])] != excluded }
        }
        // Plain mode: k rows of this chunk score at least the k-th largest lower bound, so it
        // can raise the threshold (grouping by label needs k distinct labels: not this shortcut).
        var raised = -Double.infinity
        if !collectors[q].groupByLabel && found > k {
            selection.update(from: lower, count: found)
            raised = fv_kth_largest(selection, found, k)
            if raised > threshold {
                found = compact(found) { upper[$0] >= raised }
            }
        }
        if found * Self.fallbackFraction > n {
            chunk.prepareVectors(0..<n)
            fv_dot_rows(chunk.vectors, n, dimension, query, floatScores)
            collectors[q].consume(scores: floatScores, count: n, chunk: chunk, indices: floatIndices, mask: mask, rows: rows)
            chunksInFloat32 += 1
            rowsRescored += n
            return
        }
        if raised > threshold && found > 2 * k {
            // Two stages: first the rows whose lower bound reaches `raised` (at least k of them,
            // the likeliest hits); their float32 scores usually lift the collector's threshold
            // well above `raised`, and the other rows are then kept only if they can reach it.
            let firstStage = partition(found) { lower[$0] >= raised }
            rescore(firstStage, from: 0, chunk: chunk, query: query, into: &collectors[q], rows: rows)
            let bar = max(raised, Double(collectors[q].admissionThreshold))
            var rest = 0
            for j in firstStage..<found where upper[j] >= bar {
                indices[firstStage + rest] = indices[j]
                rest += 1
            }
            rescore(rest, from: firstStage, chunk: chunk, query: query, into: &collectors[q], rows: rows)
            return
        }
        rescore(found, from: 0, chunk: chunk, query: query, into: &collectors[q], rows: rows)
    }

    /// Scores candidates `start ..< start + count` in float32 and offers them to `collector`.
    private mutating func rescore(
        _ count: Int, from start: Int, chunk: VectorChunk, query: UnsafePointer<Float>, into collector: inout HitCollector,
        rows: borrowing ChunkedRows
    ) {
        guard count > 0 else { return }
        chunk.vectorChecks?.check(rows: indices + start, count: count)
        fv_dot_rows_gather(chunk.vectors, indices + start, count, dimension, query, scores)
        rowsRescored += count
        collector.consume(rows: indices + start, scores: scores, count: count, chunk: chunk, rows: rows)
    }

    /// Reorders candidates `j < count` so those for which `first(j)` holds come first (each row once);
    /// returns how many they are.
    private func partition(_ count: Int, first: (Int) -> Bool) -> Int {
        var front = 0
        for j in 0..<count where first(j) {
            if front != j {
                (indices[front], indices[j]) = (indices[j], indices[front])
                (lower[front], lower[j]) = (lower[j], lower[front])
                (upper[front], upper[j]) = (upper[j], upper[front])
            }
            front += 1
        }
        return front
    }

    /// Keeps the candidates `j < count` for which `keep(j)` holds, in order; returns how many.
    private func compact(_ count: Int, keep: (Int) -> Bool) -> Int {
        var kept = 0
        for j in 0..<count where keep(j) {
            indices[kept] = indices[j]
            lower[kept] = lower[j]
            upper[kept] = upper[j]
            kept += 1
        }
        return kept
    }
}
