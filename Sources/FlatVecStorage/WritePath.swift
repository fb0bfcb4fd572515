import FlatVecCore
import Logging
import Synchronization

/// The one owner of every write: it stores a write durably first, then applies it to the index, in
/// one order per collection, and keeps the store and the served collections in line when an outcome
/// is unknown.
///
/// It holds the locks (``WriteLocks`` gives their order), each collection's write order and its
/// queue of ADDs for group commit, the names and ids in doubt, the compaction requests, and the
/// follower's apply. The server and the embedded engine both write only through it.
///
/// Every method blocks its thread while the store works (an fsync, a PostgreSQL round trip): call it
/// off an event loop.
public final class WritePath: Sendable {
    /// The collections served.
    public let registry: CollectionRegistry
    /// Where writes become durable first.
    public let store: any DurableStore
    /// Where this process stands in the store's change log, when it follows one.
    public let following = FollowerStatus()
    let locks = WriteLocks()
    let logger: Logger?
    private let storeHealth = StoreHealth()

    /// How long the durable store's writes have been failing (the last one failed), or nil.
    public var storeFailingFor: Duration? { storeHealth.failingFor }
    private let storeWriteObserver: (@Sendable (_ op: String, _ took: Duration, _ failed: Bool) -> Void)?
    private let compactionRequests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    private let closed = Mutex(false)
    /// Held by a compaction from start to end: one at a time.
    private let compacting = Mutex(())

    /// Creates the write path of a set of collections.
    /// - Parameters:
    ///   - registry: The collections served (loaded from `store`, or empty).
    ///   - store: Where writes become durable first.
    ///   - logger: Where reconciliations, store failure episodes and the follower's progress go.
    ///   - storeWriteObserver: Told the operation, duration and failure of every store write (metrics).
    public init(
        registry: CollectionRegistry, store: any DurableStore, logger: Logger? = nil,
        storeWriteObserver: (@Sendable (_ op: String, _ took: Duration, _ failed: Bool) -> Void)? = nil
    ) {
        self.registry = registry
        self.store = store
        self.logger = logger
        self.storeWriteObserver = storeWriteObserver
    }

    /// Records a new collection, then serves it.
    /// - Parameters:
    ///   - name: Its name.
    ///   - index: Its empty index (dimension, metric, attributes and tuning).
    /// - Throws: `collection_exists`, `invalid_argument` for a name the store cannot hold, or a store failure.
    public func createCollection(named name: String, index: FlatIndex) throws(FlatVecError) {
        try CollectionName.validate(name)
        try store.checkCollectionName(name)
        try locks.writing { scope throws(FlatVecError) in
            try checkOpen()
            try scope.namespace { namespace, inDoubt throws(FlatVecError) in
                try reconcileNamespace(&inDoubt, namespace)
                guard !registry.contains(name) else {
                    throw FlatVecError(.collectionExists, "a collection named '\(name)' exists already")
                }
                try durably("create_collection", { () throws(FlatVecError) in
                    try store.createCollection(name: name, dimension: index.dimension, metric: index.metric, attributes: index.attributes)
                }, ifOutcomeUnknown: { inDoubt.insert(name) })
                try registry.insert(NamedIndex(name: name, index: index))
            }
        }
        compactIfWanted()
    }

    /// Forgets a collection in the store, then stops serving it. A write that is already stored is
    /// applied first; every later one finds the collection gone.
    /// - Throws: `unknown_collection`, or a store failure.
    public func dropCollection(named name: String) throws(FlatVecError) {
        try locks.writing { scope throws(FlatVecError) in
            try checkOpen()
            try scope.namespace { namespace, inDoubt throws(FlatVecError) in
                try reconcileNamespace(&inDoubt, namespace)
                let collection = try registry.collection(named: name)
                try namespace.inWriteOrder(of: collection) { state throws(FlatVecError) in
                    try durably("drop_collection", { () throws(FlatVecError) in try store.dropCollection(name: name) },
                                ifOutcomeUnknown: { inDoubt.insert(name) })
                    try registry.remove(named: name)
                    state.retired = true
                }
            }
        }
        compactIfWanted()
    }

    /// Declares an attribute (every stored vector has no value for it).
    /// - Throws: `invalid_argument` if the collection has it or cannot take more, or a store failure.
    public func addAttribute(_ definition: AttributeDefinition, to name: String) throws(FlatVecError) {
        try write(name) { collection, state throws(FlatVecError) in
            try collection.index.checkAddable(definition)
            try durably("add_attribute", { () throws(FlatVecError) in
                try store.addAttribute(collection: name, definition: definition)
            }, ifOutcomeUnknown: { state.attributesInDoubt = true })
            try collection.index.addAttribute(definition)
        }
    }

    /// Forgets an attribute and its values.
    /// - Throws: `invalid_argument` if the collection has no such attribute, or a store failure.
    public func dropAttribute(named attribute: String, from name: String) throws(FlatVecError) {
        try write(name) { collection, state throws(FlatVecError) in
            try collection.index.checkDroppable(named: attribute)
            try durably("drop_attribute", { () throws(FlatVecError) in
                try store.dropAttribute(collection: name, name: attribute)
            }, ifOutcomeUnknown: { state.attributesInDoubt = true })
            try collection.index.dropAttribute(named: attribute)
        }
    }

    /// Applies partial updates; validated first, so the store never records one the index would refuse.
    /// - Throws: `unknown_id`, `invalid_argument` for values that do not fit, or a store failure.
    public func update(_ updates: [RowUpdate], in name: String) throws(FlatVecError) {
        try write(name) { collection, state throws(FlatVecError) in
            let checked = try collection.index.validate(updates)
            try durably("update", { () throws(FlatVecError) in try store.update(collection: name, updates: checked) },
                        ifOutcomeUnknown: { state.inDoubt.formUnion(updates.map(\.id)) })
            try collection.index.apply(checked)
        }
    }

    /// Upserts a batch, stored together with the ADDs of the same collection that wait meanwhile
    /// (group commit: one store write for all of them). A batch above ``stagedAddBytes`` is staged
    /// instead (written ahead, outside the write order) and enters the index a slice at a time
    /// (``addStaged(_:_:rejectAbove:_:)``).
    /// - Parameters:
    ///   - batch: The vectors.
    ///   - name: The collection.
    ///   - rejectAbove: If set, the batch is refused, nothing written, when one of its vectors scores
    ///     at least this with a stored vector (other than one it replaces) or with another vector of
    ///     the batch (``FlatVecError/Code/duplicateVector``, listing each). Checked in write order,
    ///     against the ADDs stored before it: two racing batches cannot both slip in a duplicate.
    /// - Returns: How many ids were new and how many replaced.
    /// - Throws: The batch's validation error, its duplicates, or a store failure (the group's).
    public func add(_ batch: VectorBatch, to name: String, rejectingDuplicatesAbove rejectAbove: Float? = nil) throws(FlatVecError) -> AddResult {
        if let rejectAbove, !rejectAbove.isFinite {
            throw FlatVecError(.invalidArgument, "reject_duplicates_above must be a finite number, not \(rejectAbove)")
        }
        let result = try locks.writing { scope throws(FlatVecError) -> AddResult in
            try checkOpen()
            let collection = try registry.collection(named: name)
            let validated = try collection.index.validate(batch)
            if batch.count * (16 + 4 * batch.dimension) > Self.stagedAddBytes {
                return try addStaged(collection, validated, rejectAbove: rejectAbove, scope)
            }
            return try addInGroup(collection, validated, rejectAbove: rejectAbove, scope)
        }
        compactIfWanted()
        return result
    }

    /// Removes ids; checked first, so the store never records a removal the index would refuse.
    /// - Throws: `unknown_id` naming the ids not stored, or a store failure.
    public func remove(ids: [Int64], from name: String) throws(FlatVecError) {
        try write(name) { collection, state throws(FlatVecError) in
            try collection.index.checkRemovable(ids: ids)
            try durably("remove", { () throws(FlatVecError) in try store.remove(collection: name, ids: ids) },
                        ifOutcomeUnknown: { state.inDoubt.formUnion(ids) })
            try collection.index.remove(ids: ids)
        }
    }

    /// Reloads collections from the store's external copy (rows other programs wrote included) and
    /// serves them in place of the current ones, with writes held off.
    /// - Parameter name: One collection, or nil for all of them.
    /// - Returns: The collections now served in their place.
    /// - Throws: `unknown_collection` if the store has no such collection, `unavailable` if it
    ///   cannot be read, `invalid_argument` if it has no external copy.
    public func rebuild(_ name: String?) throws(FlatVecError) -> [NamedIndex] {
        try locks.exclusively { namespace throws(FlatVecError) -> [NamedIndex] in
            try checkOpen()
            let fresh: [NamedIndex]
            do throws(FlatVecError) {
                fresh = try store.rebuildCollections()
            } catch where error.code == .ioError {
                throw FlatVecError(.unavailable, "the durable store failed: \(error.message)")
            }
            let chosen = name.map { n in fresh.filter { $0.name == n } } ?? fresh
            if let name, chosen.isEmpty {
                throw FlatVecError(.unknownCollection, "the store has no collection named '\(name)'")
            }
            let replaced = name.map { n in registry.all.filter { $0.name == n } } ?? registry.all
            for old in replaced { namespace.inWriteOrder(of: old) { $0.retired = true } }
            registry.replace(with: chosen, all: name == nil)
            return chosen
        }
    }

    /// Compacts the store now: writes are held off only while the store takes a view of every
    /// collection and starts a new log; the files are written while writes and searches go on.
    public func compact() throws(FlatVecError) {
        try compacting.withLock { _ throws(FlatVecError) in
            let plan = try locks.exclusively { _ throws(FlatVecError) -> CompactionPlan? in
                try checkOpen()
                return try store.beginCompaction(registry.all)
            }
            if let plan { try store.finishCompaction(plan) }
        }
    }

    /// Compacts if the store has log records a start would replay (``DurableStore/hasLogToReplay``):
    /// after it, a start maps the segments and replays nothing. A server does this as it stops.
    public func checkpoint() throws(FlatVecError) {
        guard store.hasLogToReplay else { return }
        try compact()
    }

    /// Starts an online backup of the store (``DurableStore/beginBackup()``) with writes held off
    /// just while the files are listed: every write acknowledged before it is in the plan.
    public func beginBackup() throws(FlatVecError) -> BackupPlan {
        try locks.exclusively { _ throws(FlatVecError) -> BackupPlan in
            try checkOpen()
            return try store.beginBackup()
        }
    }

    /// Waits for the writes in progress, then refuses every later one with `unavailable` and closes
    /// the store (a local directory releases its lock, so another process or engine may open it).
    public func close() {
        locks.exclusively { _ in
            let wasClosed = closed.withLock { c in defer { c = true }; return c }
            if !wasClosed { store.close() }
        }
    }

    /// Throws once ``close()`` ran. Called under the gate, so no write passes it while ``close()`` runs.
    func checkOpen() throws(FlatVecError) {
        guard !closed.withLock({ $0 }) else { throw FlatVecError(.unavailable, "the store \(store.description) is closed") }
    }

    /// Signals each time a write finds that the store would like a compaction (at most one signal
    /// waits); the engine's maintenance compacts then. Iterate it once.
    public var compactionWanted: AsyncStream<Void> { compactionRequests.stream }

    private func compactIfWanted() {
        guard store.wantsCompaction else { return }
        compactionRequests.continuation.yield()
    }

    /// Runs `body` under the collection's write order, once the collection is known to be live and
    /// what an interrupted write left in doubt is back in line with the store; then asks for a
    /// compaction if the store wants one.
    private func write<T>(
        _ name: String, _ body: (NamedIndex, inout NamedIndex.WriteState) throws(FlatVecError) -> T
    ) throws(FlatVecError) -> T {
        let result = try locks.writing { scope throws(FlatVecError) -> T in
            try checkOpen()
            let collection = try registry.collection(named: name)
            return try scope.inWriteOrder(of: collection) { state throws(FlatVecError) -> T in
                try checkLive(collection, state)
                try reconcile(collection, &state)
                return try body(collection, &state)
            }
        }
        compactIfWanted()
        return result
    }

    /// Throws if a DROP or REBUILD retired the collection after the caller looked it up.
    func checkLive(_ collection: NamedIndex, _ state: NamedIndex.WriteState) throws(FlatVecError) {
        guard state.retired else { return }
        throw FlatVecError(
            .unknownCollection,
            "collection '\(collection.name)' was dropped or rebuilt before this write reached it; nothing was changed"
        )
    }

    /// Runs a store write. An outcome-unknown failure runs `ifOutcomeUnknown` and is passed on; a
    /// failure to reach the store (`unavailable`, `io_error`) becomes `unavailable` ("nothing was
    /// changed"); a statement the store refused (a request error) is passed on as it is and does not
    /// count as a store failure. Store failure episodes are logged once each.
    func durably(_ op: String, _ body: () throws(FlatVecError) -> Void, ifOutcomeUnknown: () -> Void) throws(FlatVecError) {
        let started = ContinuousClock.now
        var failed = true
        defer { storeWriteObserver?(op, ContinuousClock.now - started, failed) }
        do {
            try body()
            failed = false
            storeHealth.succeeded(store: store.description, logger: logger)
        } catch where error.isOutcomeUnknown {
            ifOutcomeUnknown()
            storeHealth.failed(error, store: store.description, logger: logger)
            throw error
        } catch where error.code == .unavailable || error.code == .ioError {
            storeHealth.failed(error, store: store.description, logger: logger)
            throw FlatVecError(.unavailable, "the durable store failed, nothing was changed: \(error.message)", sqlState: error.sqlState)
        } catch {
            // The store answered and refused the write (a statement PostgreSQL rejected): the
            // request's error, not a store failure.
            failed = false
            throw error
        }
    }
}
