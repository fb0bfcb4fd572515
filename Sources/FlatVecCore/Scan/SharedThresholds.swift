import CFlatVecKernels

/// One admission threshold per query, shared by the threads that scan different chunks for the same
/// queries (``FlatIndex`` claims chunks to threads, each with its own hit collectors).
///
/// Why it is safe to use another thread's threshold: when a thread's collector for a query holds k
/// hits, k distinct rows score at least its ``HitCollector/admissionThreshold`` (or it is the
/// query's minScore). The final top k of the query is drawn from the union of all threads' rows, so
/// its k-th best also scores at least that value, and a row scoring below it cannot enter; rows
/// scoring exactly that much are kept (they may win a tie on the smaller id). With grouping by
/// label the same holds for the k-th best label. So a thread may skip every row whose upper bound is
/// below the largest threshold any thread has published, and the merged result is unchanged.
///
/// Sharing matters in the int8 first pass: a thread that has seen only some chunks has a lower
/// threshold than the whole scan's, and rescores more rows (Benchmarks/README.md "Search plans").
final class SharedThresholds: @unchecked Sendable {
    // @unchecked: the words are read and written only through the C atomics.
    private let words: UnsafeMutablePointer<UInt32>
    let count: Int

    /// Thresholds of `count` queries, all -infinity.
    init(count: Int) {
        self.count = count
        words = .allocate(capacity: max(count, 1))
        words.initialize(repeating: (-Float.infinity).bitPattern, count: max(count, 1))
    }

    deinit {
        words.deallocate()
    }

    /// The largest threshold published for query `q`.
    @inline(__always)
    func threshold(of q: Int) -> Float { fv_atomic_load_float(words + q) }

    /// Publishes `value` as a threshold of query `q` (kept if larger than the current one).
    @inline(__always)
    func raise(_ q: Int, to value: Float) { fv_atomic_raise_float(words + q, value) }
}
