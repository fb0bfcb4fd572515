import Synchronization

/// Counts what the int8 first pass of one index bounded and rescored, from any number of scans at once.
final class RescoreCounters: Sendable {
    private let rowsBounded = Atomic<Int>(0)
    private let rowsRescored = Atomic<Int>(0)
    private let chunksInFloat32 = Atomic<Int>(0)

    /// Adds the figures of one scan.
    func add(bounded: Int, rescored: Int, chunksInFloat32 chunks: Int) {
        if bounded > 0 { rowsBounded.add(bounded, ordering: .relaxed) }
        if rescored > 0 { rowsRescored.add(rescored, ordering: .relaxed) }
        if chunks > 0 { chunksInFloat32.add(chunks, ordering: .relaxed) }
    }

    /// The totals so far.
    var snapshot: RescoringCounters {
        var counters = RescoringCounters()
        counters.rowsBounded = rowsBounded.load(ordering: .relaxed)
        counters.rowsRescored = rowsRescored.load(ordering: .relaxed)
        counters.chunksInFloat32 = chunksInFloat32.load(ordering: .relaxed)
        return counters
    }
}
