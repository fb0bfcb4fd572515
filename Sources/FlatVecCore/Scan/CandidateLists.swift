import CFlatVecKernels

/// The rows one thread's int8 pass found able to reach each query's top k, kept for rescoring once
/// the whole index is bounded instead of chunk by chunk.
///
/// Rescoring chunk by chunk, a query's threshold early in a scan is only the k-th best of the few
/// rows seen so far, so the first chunks send many rows to float32 rescoring that the rest of the
/// scan shows could never make it (random unit vectors, 100k x 512, k = 10: 134-155 rows per query
/// rescored, against 15-20 above the final bound). Each rescored row is a random 2 KiB read from
/// memory. So the int8 pass only bounds and lists; every thread raises the shared threshold to the
/// k-th largest lower bound among the rows it listed (those k rows are rescored in the end, so the
/// final k-th best reaches it), and once every chunk is bounded, ``rescore(_:into:in:queries:dimension:)``
/// rescores, under one hold of the reader lock, only the rows that can still reach the final bound.
/// The lists keep the chunks they name: a writer that changes a listed row meanwhile copies its
/// chunk first (``ChunkedRows/writableChunk(_:)``) and rows it appends lie past the rows scanned, so
/// the rows rescored are the rows the pass bounded, whatever writers did since (the search sees the
/// index as each chunk was when the pass read it, as a search that rescores chunk by chunk does).
struct CandidateLists {
    /// Per query, the rows listed: chunk in the high 32 bits, row in the low 32, in scan order (the
    /// rows of one chunk together).
    private(set) var positions: [[UInt64]]
    private(set) var lower: [[Double]]
    private(set) var upper: [[Double]]
    /// Per query, the k largest lower bounds among its listed rows, a min-heap (the k-th at the root).
    private var largest: [[Double]]
    /// The chunks rows were listed in, by position, as the pass read them.
    private(set) var chunks: [Int: VectorChunk] = [:]

    init(count: Int) {
        positions = Array(repeating: [], count: count)
        lower = Array(repeating: [], count: count)
        upper = Array(repeating: [], count: count)
        largest = Array(repeating: [], count: count)
    }

    /// The k-th largest lower bound among query `q`'s listed rows (-infinity below k rows).
    func bound(_ q: Int, k: Int) -> Double {
        largest[q].count < k ? -.infinity : largest[q][0]
    }

    /// Lists candidates `j < found` of query `q` in chunk `chunk` (their rows and bounds); returns the
    /// query's bound (see ``bound(_:k:)``).
    mutating func append(
        query q: Int, chunk: Int, of object: VectorChunk, found: Int, k: Int,
        indices: UnsafePointer<UInt32>, lower rowLower: UnsafePointer<Double>, upper rowUpper: UnsafePointer<Double>
    ) -> Double {
        let high = UInt64(chunk) << 32
        if found > 0 && chunks[chunk] == nil { chunks[chunk] = object }
        for j in 0..<found {
            positions[q].append(high | UInt64(indices[j]))
            lower[q].append(rowLower[j])
            upper[q].append(rowUpper[j])
            Self.keepLargest(rowLower[j], k: k, in: &largest[q])
        }
        return bound(q, k: k)
    }

    /// Adds `value` to `heap`, a min-heap of at most `k` values, if it is among the `k` largest.
    private static func keepLargest(_ value: Double, k: Int, in heap: inout [Double]) {
        if heap.count < k {
            heap.append(value)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child] < heap[parent] else { break }
                heap.swapAt(child, parent)
                child = parent
            }
            return
        }
        guard value > heap[0] else { return }
        heap[0] = value
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left] < heap[smallest] { smallest = left }
            if right < heap.count && heap[right] < heap[smallest] { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    /// Rescores, for every query, the rows listed by `parts` (one per thread, distinct chunks) whose
    /// upper bound reaches the final bound, and offers them to `collectors` (the merged collectors,
    /// which already hold the rows rescored during the pass), from the chunks the pass read. The
    /// caller holds the reader lock (the collectors read the attribute schema) and has checked that
    /// no attribute was added or dropped since the pass began.
    /// - Returns: How many rows were rescored.
    static func rescore(
        _ parts: [CandidateLists],
        into collectors: inout [HitCollector],
        in rows: borrowing ChunkedRows,
        queries: UnsafePointer<Float>,
        dimension: Int
    ) -> Int {
        var rescored = 0
        var lowers: [Double] = []
        var indices: [UInt32] = []
        var scores: [Float] = []
        for q in collectors.indices {
            let listed = parts.reduce(0) { $0 + $1.positions[q].count }
            guard listed > 0 else { continue }
            let k = collectors[q].k
            // The k-th largest lower bound of all the listed rows: those k rows are rescored below.
            var bar = Double(collectors[q].admissionThreshold)
            if listed >= k {
                // Each part's k largest hold the k largest of all.
                lowers.removeAll(keepingCapacity: true)
                for part in parts { lowers.append(contentsOf: part.largest[q]) }
                bar = max(bar, lowers.withUnsafeMutableBufferPointer { fv_kth_largest($0.baseAddress!, $0.count, k) })
            }
            // First the rows whose lower bound reaches the bar (at least k of them, the likeliest hits):
            // their scores usually lift the collector's threshold above it, and the other rows are
            // then rescored only if they can still reach that.
            let query = queries + q * dimension
            let firstBar = bar
            for stage in 0..<2 {
                if stage == 1 { bar = max(bar, Double(collectors[q].admissionThreshold)) }
                for part in parts {
                    let positions = part.positions[q], lower = part.lower[q], upper = part.upper[q]
                    var j = 0
                    while j < positions.count {
                        let chunk = Int(positions[j] >> 32)
                        indices.removeAll(keepingCapacity: true)
                        while j < positions.count && Int(positions[j] >> 32) == chunk {
                            let first = lower[j] >= firstBar
                            if stage == 0 ? first : (!first && upper[j] >= bar) {
                                indices.append(UInt32(truncatingIfNeeded: positions[j]))
                            }
                            j += 1
                        }
                        guard !indices.isEmpty else { continue }
                        if scores.count < indices.count { scores = Array(repeating: 0, count: indices.count) }
                        let c = part.chunks[chunk]!
                        indices.withUnsafeBufferPointer { list in
                            scores.withUnsafeMutableBufferPointer { out in
                                c.vectorChecks?.check(rows: list.baseAddress!, count: list.count)
                                fv_dot_rows_gather(c.vectors, list.baseAddress!, list.count, dimension, query, out.baseAddress!)
                                collectors[q].consume(
                                    rows: list.baseAddress!, scores: out.baseAddress!, count: list.count, chunk: c, rows: rows
                                )
                            }
                        }
                        rescored += indices.count
                    }
                }
            }
        }
        return rescored
    }
}

/// The candidate lists of a scan's threads, one slot per thread, each written by its thread only and
/// read after all have finished.
final class CandidateListSlots: @unchecked Sendable {
    // @unchecked: slot p is written only by part p of ScanWorkers.perform (distinct memory per part),
    // and read by the caller only after perform has returned.
    private let slots: UnsafeMutablePointer<CandidateLists?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ p: Int, _ lists: CandidateLists?) { slots[p] = lists }

    func take() -> [CandidateLists] { UnsafeBufferPointer(start: slots, count: count).compactMap { $0 } }
}
