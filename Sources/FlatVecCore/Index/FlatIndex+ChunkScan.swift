import CBLAS
import CFlatVecKernels

extension FlatIndex {
    /// Scores every chunk from the last to the first, taking the reader lock per chunk.
    ///
    /// Why in reverse: a removal moves the last row into a hole at a lower position. Scanning from
    /// high to low positions, a row present for the whole search can only move into the part not yet
    /// scanned, so it is never missed; it may be scored twice, which deduplication absorbs.
    /// - Parameters:
    ///   - listing: Whether the int8 pass lists its candidates instead of rescoring them (plain
    ///     searches only): they are returned, for ``CandidateLists/rescore(_:into:in:queries:dimension:)``.
    ///   - chunkLimit: Without `claims`, only chunks below this are scanned.
    @discardableResult
    func scanInReverse(
        queries: UnsafePointer<Float>,
        count nq: Int,
        collectors: inout [HitCollector],
        claims: ChunkClaims? = nil,
        shared: SharedThresholds? = nil,
        listing: Bool = false,
        chunkLimit: Int = .max
    ) -> CandidateLists? {
        let (occupied, epoch) = lock.withReaderLock { (rows.occupiedChunkCount, rows.moveEpoch) }
        let claims = claims ?? ChunkClaims(below: min(occupied, chunkLimit))
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
    func scoreGathered(
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

    /// scores[q * stride + r] = dot(query q, row r) for the first `rows` rows of `chunk`.
    @inline(__always)
    func score(
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
