import FlatVecModel

/// A large upsert batch whose bytes a store wrote ahead of its turn (``DurableStore/stageAdd(collection:batch:)``),
/// to be committed in the collection's write order (``DurableStore/commitAdd(_:)``).
///
/// Staging lets a large batch's bytes reach the disk while smaller writes of the same collection go
/// on: only the commit, a few bytes, waits in the collection's write order.
public struct StagedAdd: Sendable {
    /// The collection.
    public let collection: String
    /// The batch (validated; as the index stores it).
    public let batch: VectorBatch
    /// Where a local store wrote it: the log's number, the stage's number in it and its parts; nil
    /// when nothing was written ahead (the commit stores the whole batch).
    let stage: (log: Int, number: UInt64, parts: Int)?

    /// A batch nothing was written ahead for: committing it stores it whole.
    public init(collection: String, batch: VectorBatch) {
        self.init(collection: collection, batch: batch, stage: nil)
    }

    init(collection: String, batch: VectorBatch, stage: (log: Int, number: UInt64, parts: Int)?) {
        self.collection = collection
        self.batch = batch
        self.stage = stage
    }
}
