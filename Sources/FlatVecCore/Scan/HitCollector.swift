import CFlatVecKernels

/// Keeps the best `k` hits of one query: a bounded heap with the worst hit at the root, so most
/// scores are rejected by one comparison against ``admissionThreshold``.
///
/// With `groupByLabel` it keeps the best hit per label and the best `k` labels. In plain mode it can
/// switch on id deduplication, needed only when a concurrent removal moved a row the search had
/// already scored into a part it has not scored yet.
struct HitCollector {
    let k: Int
    let floor: Float
    let labelFilter: Set<Int64>?
    let groupByLabel: Bool
    let wantsPayload: Bool
    let wantsVector: Bool
    let wantsAttributes: Bool
    /// The checked filter: only rows it is true of may enter (the scan applies it, by mask or by gathering).
    let filter: Filter?
    /// An id that may not enter.
    let excludedID: Int64?
    private(set) var heap: [SearchHit] = []
    /// The score and id of the root (the worst hit kept) once the heap holds `k` hits: read for
    /// every row offered, without copying a hit out of the heap (its payload, vector and attributes
    /// would be retained and released each time).
    private var worstScore: Float = -.infinity
    private var worstID: Int64 = .max
    private var labelPosition: [Int64: Int] = [:]
    private var memberIDs: Set<Int64>?

    init(options: SearchOptions) {
        // A range search keeps one hit more than it returns: its presence says the list was cut.
        k = options.range ? options.k + 1 : options.k
        floor = options.minScore ?? -.infinity
        labelFilter = options.labels
        groupByLabel = options.groupByLabel
        wantsPayload = options.includePayloads
        wantsVector = options.includeVectors
        wantsAttributes = options.includeAttributes
        filter = options.filter
        excludedID = options.excludingID
        heap.reserveCapacity(min(k, 1024))
    }

    /// Scores below this cannot enter.
    @inline(__always)
    var admissionThreshold: Float {
        heap.count < k ? floor : max(floor, worstScore)
    }

    /// Turns on id deduplication (plain mode; grouping dedupes by label already).
    mutating func enableDeduplication() {
        guard !groupByLabel, memberIDs == nil else { return }
        memberIDs = Set(heap.map(\.id))
    }

    /// Offers the scores of rows `0 ..< count` of `chunk`.
    /// - Parameters:
    ///   - indices: Scratch space for `count` indices.
    ///   - mask: The filter's verdict per row (only rows where it is `FilterProgram.trueByte` may enter), or nil.
    ///   - rows: The rows `chunk` belongs to (for attribute values).
    @inline(__always)
    mutating func consume(
        scores: UnsafePointer<Float>,
        count: Int,
        chunk: VectorChunk,
        indices: UnsafeMutablePointer<UInt32>,
        mask: UnsafePointer<UInt8>?,
        rows: borrowing ChunkedRows
    ) {
        let found = fv_select_at_least(scores, count, admissionThreshold, indices)
        for j in 0..<found {
            let offset = Int(indices[j])
            if let mask, mask[offset] != FilterProgram.trueByte { continue }
            offerRow(offset, score: scores[offset], chunk: chunk, rows: rows)
        }
    }

    /// Offers rows `offsets[j]` of `chunk` with scores `scores[j]`, for `j < count` (rescored or
    /// gathered rows, which must all pass the filter, if any: the caller selected them by it).
    @inline(__always)
    mutating func consume(
        rows offsets: UnsafePointer<UInt32>,
        scores: UnsafePointer<Float>,
        count: Int,
        chunk: VectorChunk,
        rows: borrowing ChunkedRows
    ) {
        for j in 0..<count {
            offerRow(Int(offsets[j]), score: scores[j], chunk: chunk, rows: rows)
        }
    }

    @inline(__always)
    private mutating func offerRow(_ offset: Int, score: Float, chunk: VectorChunk, rows: borrowing ChunkedRows) {
        guard score >= admissionThreshold else { return }
        // A tie with the worst hit enters only with a smaller id. Copies of one vector (one photo
        // under many ids) all tie: they are turned away here, before anything else of them is read.
        if !groupByLabel, heap.count == k, score == worstScore, chunk.ids[offset] >= worstID { return }
        if let excludedID, chunk.ids[offset] == excludedID { return }
        let label = chunk.labels[offset]
        if let labelFilter, !labelFilter.contains(label) { return }
        let wantsPayload = wantsPayload
        let wantsVector = wantsVector
        let attributes = wantsAttributes ? rows.attributes(chunk: chunk, offset: offset) : nil
        offer(score: score, id: chunk.ids[offset], label: label) {
            SearchHit(
                id: chunk.ids[offset],
                label: label,
                score: score,
                payload: wantsPayload ? chunk.payloads[offset] : nil,
                vector: wantsVector && chunk.vectorChecks?.check(row: offset) != false
                    ? Array(UnsafeBufferPointer(start: chunk.vector(at: offset), count: chunk.dimension)) : nil,
                attributes: attributes
            )
        }
    }

    /// Offers a finished hit (used to merge collectors).
    mutating func offer(_ hit: SearchHit) {
        guard hit.score >= admissionThreshold else { return }
        offer(score: hit.score, id: hit.id, label: hit.label) { hit }
    }

    @inline(__always)
    private mutating func offer(score: Float, id: Int64, label: Int64, make: () -> SearchHit) {
        guard score >= floor else { return }
        if groupByLabel, let position = labelPosition[label] {
            if heap.withUnsafeBufferPointer({ Self.ranks(score, id, before: $0[position].score, $0[position].id) }) {
                heap[position] = make()
                siftDown(position)
                noteRoot()
            }
            return
        }
        if let memberIDs, memberIDs.contains(id) { return }
        if heap.count < k {
            heap.append(make())
            note(inserted: heap.count - 1)
            siftUp(heap.count - 1)
        } else if Self.ranks(score, id, before: worstScore, worstID) {
            note(evicted: heap[0])
            heap[0] = make()
            note(inserted: 0)
            siftDown(0)
        }
        noteRoot()
    }

    /// Keeps ``worstScore`` and ``worstID`` those of the root.
    @inline(__always)
    private mutating func noteRoot() {
        guard heap.count == k else { return }
        (worstScore, worstID) = heap.withUnsafeBufferPointer { ($0[0].score, $0[0].id) }
    }

    @inline(__always)
    private mutating func note(inserted position: Int) {
        if groupByLabel { labelPosition[heap[position].label] = position }
        memberIDs?.insert(heap[position].id)
    }

    @inline(__always)
    private mutating func note(evicted hit: SearchHit) {
        if groupByLabel { labelPosition[hit.label] = nil }
        memberIDs?.remove(hit.id)
    }

    /// Whether a row of `score` and `id` ranks before the hit of `otherScore` and `otherID`
    /// (``SearchHit/ranks(before:)``, without making a hit of the row first).
    @inline(__always)
    private static func ranks(_ score: Float, _ id: Int64, before otherScore: Float, _ otherID: Int64) -> Bool {
        score > otherScore || (score == otherScore && id < otherID)
    }

    /// `a` is worse than `b`: it belongs nearer the root.
    @inline(__always)
    private func isWorse(_ a: Int, _ b: Int) -> Bool {
        heap.withUnsafeBufferPointer { Self.ranks($0[b].score, $0[b].id, before: $0[a].score, $0[a].id) }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        if groupByLabel {
            labelPosition[heap[a].label] = a
            labelPosition[heap[b].label] = b
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard isWorse(child, parent) else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let n = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            var worst = left
            let right = left + 1
            if right < n && isWorse(right, left) { worst = right }
            guard isWorse(worst, parent) else { return }
            swapAt(worst, parent)
            parent = worst
        }
    }

    /// The hits, best first.
    func sortedHits() -> [SearchHit] {
        heap.sorted { $0.ranks(before: $1) }
    }
}
