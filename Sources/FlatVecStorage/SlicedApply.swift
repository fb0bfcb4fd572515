import FlatVecCore

/// A large ADD, already stored, going into its collection's index a slice of rows at a time, with
/// the collection's write order let go between slices so the smaller ADDs queued meanwhile are not
/// held up for the whole batch (``WritePath/addStaged(_:_:rejectAbove:_:)``).
///
/// A write that takes the write order while a batch is part-way in finishes it first
/// (``NamedIndex/WriteState/finishSlicedApply(_:)``), unless it is an ADD group whose ids the batch
/// does not hold and that nothing else orders against the batch (no duplicate check, nothing in
/// doubt): so the index always holds what applying the stored writes in the store's order gives.
final class SlicedApply: @unchecked Sendable {
    // @unchecked: every field is read and written only under the collection's write order.
    /// Rows applied under one hold of the write order (and of the index's writer lock).
    static let rowsPerSlice = 1_024

    let batch: ValidatedBatch
    /// The batch's ids.
    let ids: Set<Int64>
    private var next = 0
    /// What the slices applied so far added and replaced (nil before the first).
    private(set) var result: AddResult?

    init(_ batch: ValidatedBatch) {
        self.batch = batch
        self.ids = Set(batch.batch.ids)
    }

    /// Whether every row is in the index.
    var isDone: Bool { next == batch.batch.count }

    /// Applies the next slice.
    func applyNext(to index: FlatIndex) {
        let end = min(next + Self.rowsPerSlice, batch.batch.count)
        let slice = index.add(batch, rows: next..<end)
        if var sum = result {
            sum.inserted += slice.inserted
            sum.replaced += slice.replaced
            result = sum
        } else {
            result = slice
        }
        next = end
    }

    /// Applies every remaining slice.
    func finish(_ index: FlatIndex) {
        while !isDone { applyNext(to: index) }
    }
}
