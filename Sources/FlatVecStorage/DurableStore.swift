import FlatVecCore

/// Where the server makes writes durable before it acknowledges them.
///
/// ``WritePath`` calls each write method before it changes the in-memory index, and only acknowledges
/// the request once the method has returned; a throwing method means nothing was stored, and the
/// write answers `unavailable` (or the error's own code) and leaves the index unchanged. Calls for
/// one collection never overlap; calls for different collections may.
public protocol DurableStore: Sendable {
    /// A one-line description for the start-up log, e.g. `local directory /var/lib/flatvec`.
    var description: String { get }

    /// Every stored collection, to rebuild the in-memory indexes at start-up.
    func loadCollections() throws(FlatVecError) -> [NamedIndex]

    /// Checks that the store can hold a collection of this name as a distinct one (beyond the rules
    /// of ``CollectionName``), before anything is written.
    /// - Throws: `invalid_argument` naming the store's limit.
    func checkCollectionName(_ name: String) throws(FlatVecError)

    /// Records a new collection with its attributes.
    func createCollection(name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]) throws(FlatVecError)

    /// Records a new attribute of a collection (every stored vector has no value for it).
    func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError)

    /// Forgets an attribute of a collection and its values.
    func dropAttribute(collection: String, name: String) throws(FlatVecError)

    /// Stores partial updates (already validated; every id is known to exist).
    func update(collection: String, updates: [RowUpdate]) throws(FlatVecError)

    /// Forgets a collection and its vectors.
    func dropCollection(name: String) throws(FlatVecError)

    /// Stores an upsert batch (already validated; vectors normalised under cosine).
    func add(collection: String, batch: VectorBatch) throws(FlatVecError)

    /// Stores a removal (every id is known to exist).
    func remove(collection: String, ids: [Int64]) throws(FlatVecError)
    /// Writes a large upsert batch ahead of its turn, outside the collection's write order (other
    /// writes of the collection may be stored meanwhile). Nothing of it counts as stored, on a
    /// restart or in a backup, until ``commitAdd(_:)`` returns; a failure here changes nothing.
    func stageAdd(collection: String, batch: VectorBatch) throws(FlatVecError) -> StagedAdd
    /// Stores a staged batch in the collection's write order, as ``add(collection:batch:)`` would at
    /// this point.
    func commitAdd(_ staged: StagedAdd) throws(FlatVecError)

    /// Whether the store would like a compaction (its log has grown large).
    var wantsCompaction: Bool { get }
    /// Whether a start would replay log records now (a compaction makes it false until the next write).
    var hasLogToReplay: Bool { get }

    /// Starts a compaction, with writes held out: takes a view of every collection and starts a new
    /// log for the writes after it, in a moment (nothing of the size of the data is written).
    /// - Returns: What ``finishCompaction(_:)`` writes, or nil when the store has nothing to compact.
    func beginCompaction(_ collections: [NamedIndex]) throws(FlatVecError) -> CompactionPlan?

    /// Writes what ``beginCompaction(_:)`` took, while writes go on; compactions run one at a time.
    func finishCompaction(_ plan: CompactionPlan) throws(FlatVecError)

    /// Loads fresh indexes from the store's external copy (rows other programs wrote included).
    func rebuildCollections() throws(FlatVecError) -> [NamedIndex]

    /// Whether ``fetch(collection:ids:)`` and ``loadCollection(named:)`` can read the store back, to
    /// reconcile the index after a write whose outcome is unknown.
    var canReadBack: Bool { get }

    /// The rows the store holds now for `ids` (ids it does not hold are left out).
    func fetch(collection: String, ids: [Int64]) throws(FlatVecError) -> [StoredVector]

    /// The collection as the store holds it now, or nil if the store has no collection of that name.
    func loadCollection(named name: String) throws(FlatVecError) -> NamedIndex?

    /// The attributes the store declares now for a collection, or nil if it has no such collection.
    func attributes(of collection: String) throws(FlatVecError) -> [AttributeDefinition]?

    /// Releases what the store holds (a directory's lock, connections); called once, with no write
    /// running, when its engine closes. Later calls of the store may fail.
    func close()

    /// Whether the store can be reached now (a readiness probe): throws `unavailable` with the reason
    /// if not. Stores on the local disk are reachable while the process runs.
    func checkReachable() throws(FlatVecError)

    /// Starts an online backup: the files that hold every write stored so far, kept in place (no
    /// compaction) until ``endBackup(_:)`` or, without a sign of life (``touchBackup(_:)``), for a
    /// minute. The caller holds writes off while this runs (briefly: it copies nothing).
    /// - Throws: `invalid_argument` for a store that is not backed up this way.
    func beginBackup() throws(FlatVecError) -> BackupPlan
    /// Keeps a backup's pin alive.
    func touchBackup(_ pin: UInt64)
    /// Ends a backup: its files may be compacted away again.
    func endBackup(_ pin: UInt64)

    /// A reader of the changes committed to the store by anyone (other servers, plain SQL), for a
    /// server that follows them live; nil if the store has no change log.
    func makeChangeFeed() throws(FlatVecError) -> (any ChangeFeed)?
}

extension DurableStore {
    /// Every name ``CollectionName`` allows.
    public func checkCollectionName(_ name: String) throws(FlatVecError) {}

    /// Stores without a log never need compaction.
    public var wantsCompaction: Bool { false }
    /// Stores without a log replay nothing.
    public var hasLogToReplay: Bool { false }

    /// Nothing to compact.
    public func beginCompaction(_ collections: [NamedIndex]) throws(FlatVecError) -> CompactionPlan? { nil }

    /// Nothing written ahead: the commit stores the batch whole.
    public func stageAdd(collection: String, batch: VectorBatch) throws(FlatVecError) -> StagedAdd {
        StagedAdd(collection: collection, batch: batch)
    }
    /// Stores the batch whole (``add(collection:batch:)``).
    public func commitAdd(_ staged: StagedAdd) throws(FlatVecError) {
        try add(collection: staged.collection, batch: staged.batch)
    }
    /// Nothing to compact.
    public func finishCompaction(_ plan: CompactionPlan) throws(FlatVecError) {}

    /// Stores cannot read back unless they say so.
    public var canReadBack: Bool { false }

    /// Not supported unless ``canReadBack``.
    public func fetch(collection: String, ids: [Int64]) throws(FlatVecError) -> [StoredVector] {
        throw FlatVecError(.internalError, "\(description) cannot read rows back")
    }

    /// Not supported unless ``canReadBack``.
    public func loadCollection(named name: String) throws(FlatVecError) -> NamedIndex? {
        throw FlatVecError(.internalError, "\(description) cannot read collections back")
    }

    /// Not supported unless ``canReadBack``.
    public func attributes(of collection: String) throws(FlatVecError) -> [AttributeDefinition]? {
        throw FlatVecError(.internalError, "\(description) cannot read attributes back")
    }

    /// Nothing to release.
    public func close() {}

    /// Reachable: nothing to reach.
    public func checkReachable() throws(FlatVecError) {}

    /// No online backup: the store says how it is backed up instead.
    public func beginBackup() throws(FlatVecError) -> BackupPlan {
        throw FlatVecError(.invalidArgument, "\(description) has no online backup")
    }

    /// Nothing to keep alive.
    public func touchBackup(_ pin: UInt64) {}

    /// Nothing to end.
    public func endBackup(_ pin: UInt64) {}

    /// No change log.
    public func makeChangeFeed() throws(FlatVecError) -> (any ChangeFeed)? { nil }

    /// Stores without an external copy cannot rebuild.
    public func rebuildCollections() throws(FlatVecError) -> [NamedIndex] {
        throw FlatVecError(.invalidArgument, "REBUILD needs a store with an external copy to reload from; this server uses \(description)")
    }
}

/// The embedded default: nothing is persisted. The server says so in its start-up line.
public struct MemoryOnlyStore: DurableStore {
    /// Creates the store.
    public init() {}

    /// Describes the store.
    public var description: String { "memory only (NOT persisting: data is lost on exit)" }

    /// No collections are stored.
    public func loadCollections() throws(FlatVecError) -> [NamedIndex] { [] }

    /// Nothing is durable, so nothing is backed up.
    public func beginBackup() throws(FlatVecError) -> BackupPlan {
        throw FlatVecError(.invalidArgument, "this server keeps its collections in memory only: there is nothing durable to back up (serve with --data DIR)")
    }

    /// Nothing to do.
    public func createCollection(
        name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]
    ) throws(FlatVecError) {}

    /// Nothing to do.
    public func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError) {}

    /// Nothing to do.
    public func dropAttribute(collection: String, name: String) throws(FlatVecError) {}

    /// Nothing to do.
    public func update(collection: String, updates: [RowUpdate]) throws(FlatVecError) {}

    /// Nothing to do.
    public func dropCollection(name: String) throws(FlatVecError) {}

    /// Nothing to do.
    public func add(collection: String, batch: VectorBatch) throws(FlatVecError) {}

    /// Nothing to do.
    public func remove(collection: String, ids: [Int64]) throws(FlatVecError) {}
}
