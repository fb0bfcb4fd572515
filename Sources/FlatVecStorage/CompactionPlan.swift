import FlatVecCore

/// What a compaction writes: every collection's rows at the instant writes were held out
/// (``DurableStore/beginCompaction(_:)``), written by ``DurableStore/finishCompaction(_:)`` while
/// writes go on.
public struct CompactionPlan: Sendable {
    /// One collection at the instant.
    struct Collection: Sendable {
        let name: String
        let index: FlatIndex
        let view: SegmentView
    }

    /// The log number the new manifest starts from: every write from this log on is newer than the views.
    let generation: Int
    let collections: [Collection]
}
