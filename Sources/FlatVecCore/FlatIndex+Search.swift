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
    /// - Parameters:
    ///   - queries: `n * dimension` floats, row-major.
    ///   - options: k, filters and what to return.
    /// - Returns: One list of hits per query, each best first.
    /// - Throws: ``FlatVecError`` as ``search(_:options:)``.
    public func search(batch queries: UnsafeBufferPointer<Float>, options: SearchOptions) throws(FlatVecError) -> [[SearchHit]] {
        try validate(options)
        let prepared = try prepareQueries(queries)
        let nq = prepared.count / dimension
        guard nq > 0 else { return [] }
        return prepared.withUnsafeBufferPointer { run(queries: $0.baseAddress!, count: nq, options: options) }
    }

    /// Chooses a plan: split queries across threads for batches, chunk ranges for a few queries.
    private func run(queries: UnsafePointer<Float>, count nq: Int, options: SearchOptions) -> [[SearchHit]] {
        let threads = configuration.searchThreads
        let occupied = lock.withReaderLock { rows.occupiedChunkCount }
        if threads > 1 && nq >= Self.queryParallelThreshold {
            let perThread = (nq + threads - 1) / threads
            let blockSize = min(Self.maximumQueryBlock, perThread)
            let blocks = (nq + blockSize - 1) / blockSize
            let results = ResultSlots(count: nq)
            let shared = SharedPointer(queries)
            DispatchQueue.concurrentPerform(iterations: blocks) { b in
                let queries = shared.pointer
                let start = b * blockSize
                let n = min(blockSize, nq - start)
                var collectors = (0..<n).map { _ in HitCollector(options: options) }
                scanInReverse(queries: queries + start * dimension, count: n, collectors: &collectors)
                for i in 0..<n { results.set(start + i, collectors[i].sortedHits()) }
            }
            return results.take()
        }
        if threads > 1 && occupied >= 2 {
            if let hits = scanChunkRangesInParallel(queries: queries, count: nq, options: options, threads: threads) {
                return hits
            }
        }
        var results: [[SearchHit]] = []
        results.reserveCapacity(nq)
        var start = 0
        while start < nq {
            let n = min(Self.maximumQueryBlock, nq - start)
            var collectors = (0..<n).map { _ in HitCollector(options: options) }
            scanInReverse(queries: queries + start * dimension, count: n, collectors: &collectors)
            results.append(contentsOf: collectors.map { $0.sortedHits() })
            start += n
        }
        return results
    }

    /// Up to this many queries are scored by the SIMD kernel, which reads each stored row once;
    /// measured at 100k x 512 on 2 cores, sgemm with so few queries is no faster and 2-3x slower below 4.
    static var smallBatch: Int { 4 }

    /// From this many queries on, threads split the queries (each scans every chunk with a big sgemm);
    /// below, they split the stored chunks, so each reads half the memory. Measured crossover: ~128.
    static var queryParallelThreshold: Int { 128 }

    /// Queries scored together in one sgemm call.
    static var maximumQueryBlock: Int { 256 }

    /// Scores every chunk from the last to the first, taking the reader lock per chunk.
    ///
    /// Why in reverse: a removal moves the last row into a hole at a lower position. Scanning from
    /// high to low positions, a row present for the whole search can only move into the part not yet
    /// scanned, so it is never missed; it may be scored twice, which deduplication absorbs.
    func scanInReverse(
        queries: UnsafePointer<Float>,
        count nq: Int,
        collectors: inout [HitCollector],
        chunkRange: Range<Int>? = nil
    ) {
        let (occupied, epoch) = lock.withReaderLock { (rows.occupiedChunkCount, rows.moveEpoch) }
        let range = chunkRange ?? 0..<occupied
        guard !range.isEmpty else { return }
        let rowsPerChunk = rows.rowsPerChunk
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: nq * rowsPerChunk)
        let indices = UnsafeMutablePointer<UInt32>.allocate(capacity: rowsPerChunk)
        defer {
            scores.deallocate()
            indices.deallocate()
        }
        var deduplicating = false
        for c in range.reversed() {
            lock.withReaderLock {
                let n = rows.rows(inChunk: c)
                guard n > 0 else { return }
                if !deduplicating && rows.moveEpoch != epoch {
                    deduplicating = true
                    for i in 0..<nq { collectors[i].enableDeduplication() }
                }
                let chunk = rows.chunks[c]
                score(queries: queries, count: nq, chunk: chunk, rows: n, into: scores, stride: rowsPerChunk)
                for i in 0..<nq {
                    collectors[i].consume(scores: scores + i * rowsPerChunk, count: n, chunk: chunk, indices: indices)
                }
            }
        }
    }

    /// Splits the chunks into one contiguous range per thread. If a removal moved rows meanwhile,
    /// returns nil and the caller rescans in reverse on one thread, which is immune to moves.
    private func scanChunkRangesInParallel(
        queries: UnsafePointer<Float>,
        count nq: Int,
        options: SearchOptions,
        threads: Int
    ) -> [[SearchHit]]? {
        let (occupied, epoch) = lock.withReaderLock { (rows.occupiedChunkCount, rows.moveEpoch) }
        let parts = min(threads, occupied)
        let partials = ResultSlots(count: parts * nq)
        let shared = SharedPointer(queries)
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let queries = shared.pointer
            let lower = occupied * p / parts
            let upper = p == parts - 1 ? occupied + 1 : occupied * (p + 1) / parts
            var collectors = (0..<nq).map { _ in HitCollector(options: options) }
            scanInReverse(queries: queries, count: nq, collectors: &collectors, chunkRange: lower..<upper)
            for i in 0..<nq { partials.set(p * nq + i, collectors[i].heap) }
        }
        let moved = lock.withReaderLock { rows.moveEpoch != epoch }
        if moved { return nil }
        let all = partials.take()
        return (0..<nq).map { i in
            var merged = HitCollector(options: options)
            for p in 0..<parts {
                for hit in all[p * nq + i] { merged.offer(hit) }
            }
            return merged.sortedHits()
        }
    }

    /// scores[q * stride + r] = dot(query q, row r) for the first `rows` rows of `chunk`.
    @inline(__always)
    private func score(
        queries: UnsafePointer<Float>,
        count nq: Int,
        chunk: VectorChunk,
        rows n: Int,
        into scores: UnsafeMutablePointer<Float>,
        stride: Int
    ) {
        if nq == 1 {
            fv_dot_rows(chunk.vectors, n, dimension, queries, scores)
        } else if nq <= Self.smallBatch {
            fv_dot_rows_multi(chunk.vectors, n, dimension, queries, nq, scores, stride)
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
    // @unchecked: each index is written by one worker, and read only after concurrentPerform returns.
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
