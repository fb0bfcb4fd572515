import FlatVecCore
import Synchronization

/// One collection: its name, its index, and the lock that orders its writes (taken only by
/// ``WritePath``, in the order ``WriteLocks`` gives).
public final class NamedIndex: Sendable {
    /// The name.
    public let name: String
    /// The index.
    public let index: FlatIndex
    /// Serialises "write to the store, then apply to the index" so both see writes in one order, and
    /// holds what a write must know before it starts (whether the collection still exists, which ids
    /// an interrupted write left in doubt).
    let writeOrder = Mutex<WriteState>(WriteState())

    /// ADDs waiting for the write order: the thread that takes it next stores all of them in one
    /// store write (group commit) and applies each to the index in the order they arrived.
    let pendingAdds = Mutex<[PendingAdd]>([])

    /// An ADD in ``pendingAdds``: its batch, and once some thread has stored it, the outcome.
    final class PendingAdd: @unchecked Sendable {
        // @unchecked: `outcome` is written and read only under the collection's write order.
        let batch: ValidatedBatch
        /// Refuse the batch if a vector scores at least this with another (stored or new).
        let rejectAbove: Float?
        var outcome: Result<AddResult, FlatVecError>?

        init(_ batch: ValidatedBatch, rejectAbove: Float? = nil) {
            self.batch = batch
            self.rejectAbove = rejectAbove
        }
    }

    /// The state a write checks under ``writeOrder``.
    struct WriteState {
        /// Set by DROP (and by a REBUILD that replaced this collection) under the write order: a write
        /// that looked the collection up before must not reach the store after the drop.
        var retired = false
        /// Ids whose last write has an unknown outcome (a COMMIT whose connection died): the index is
        /// brought back in line with the store for them before the next write.
        var inDoubt: Set<Int64> = []
        /// Whether an ADD_ATTRIBUTE or DROP_ATTRIBUTE had an unknown outcome: the index's attributes
        /// are brought in line with the store's before the next write.
        var attributesInDoubt = false
        /// A large ADD, stored, part of whose rows are not in the index yet.
        var slicedApply: SlicedApply?

        /// Applies the rest of a large ADD part-way into the index, if there is one: before any
        /// write that the store orders after it.
        mutating func finishSlicedApply(_ index: FlatIndex) {
            guard let slicedApply else { return }
            slicedApply.finish(index)
            self.slicedApply = nil
        }
    }

    /// Rows of the store's copy that the index could not hold when it was loaded (another program
    /// wrote them: a zero vector under cosine, a norm that overflows, ...); they were skipped.
    public let skippedRows: Int

    /// Creates a collection around an index.
    /// - Parameters:
    ///   - name: The name.
    ///   - index: The index.
    ///   - skippedRows: Rows skipped while loading the index from a store.
    public init(name: String, index: FlatIndex, skippedRows: Int = 0) {
        self.name = name
        self.index = index
        self.skippedRows = skippedRows
    }
}

