import FlatVecCore
import FlatVecStorage
import Logging
import Synchronization

/// FlatVec in process: collections of vectors in a durable store, searched exactly, with the same
/// guarantees as the server (which is one more user of this type).
///
/// Every write is stored first (a fsynced log record, a PostgreSQL transaction), then applied to the
/// index, one write at a time per collection; searches run meanwhile and see each write whole. A
/// write that returns was stored; one that throws `unavailable` changed nothing; one that throws
/// `outcome_unknown` may or may not have been stored, and the engine brings its index back in line
/// with the store as soon as it can read it.
///
/// ```swift
/// let engine = try Engine.open(LocalDirectoryStore(directory: "data", logger: logger))
/// try engine.createCollection("products", dimension: 512, metric: .cosine,
///                             attributes: [try AttributeDefinition(name: "visible", type: .bool)])
/// try engine.add(VectorBatch(id: 1, label: 7, vector: embedding), to: "products")
/// let hits = try engine.search(query, in: "products", options: SearchOptions(k: 10, filter: "visible"))
/// await engine.close()
/// ```
///
/// Methods that write block their thread while the store works: call them off an event loop.
public final class Engine: Sendable {
    /// How an engine runs.
    public struct Configuration: Sendable {
        /// The tuning of every collection's index (search threads, chunk size, scan mode).
        public var index: FlatIndex.Configuration
        /// Whether ``open(_:configuration:logger:)`` starts the background work (compactions the store
        /// asks for, reconciling writes of unknown outcome, following the store's change log) until
        /// ``close()``. Without it, call ``runMaintenance()`` yourself or ``compact()`` now and then.
        public var runsMaintenance: Bool

        /// Creates a configuration.
        /// - Parameters:
        ///   - index: The tuning of every collection's index.
        ///   - runsMaintenance: Whether the engine runs its background work itself.
        public init(index: FlatIndex.Configuration = .init(), runsMaintenance: Bool = true) {
            self.index = index
            self.runsMaintenance = runsMaintenance
        }
    }

    /// What a collection is: its shape and size, and what it cost to load.
    public struct Collection: Sendable, Equatable {
        /// The name.
        public var name: String
        /// The vectors' dimension.
        public var dimension: Int
        /// Inner product or cosine.
        public var metric: Metric
        /// Vectors stored.
        public var count: Int
        /// The declared attributes, in declaration order.
        public var attributes: [AttributeDefinition]
        /// Rows of the store that the index could not hold at load time (written by another program).
        public var skippedRows: Int
    }

    /// The single owner of writes: locks, write orders, group commit, reconciliation, the follower's apply.
    public let writes: WritePath
    /// The configuration.
    public let configuration: Configuration
    let logger: Logger?
    private let maintenance = Mutex<Task<Void, Never>?>(nil)
    private let closed = Atomic<Bool>(false)
    /// Set by the first ``runMaintenance()``: the background work runs once per engine.
    let maintenanceStarted = Atomic<Bool>(false)

    /// The collections served.
    package var registry: CollectionRegistry { writes.registry }
    /// Where writes become durable first.
    public var store: any DurableStore { writes.store }

    /// Opens a store and serves every collection it holds.
    /// - Parameters:
    ///   - store: `MemoryOnlyStore()`, `LocalDirectoryStore(directory:logger:)` or (FlatVecPostgres)
    ///     `PostgresStore(url:logger:)`; the engine keeps it until ``close()``.
    ///   - configuration: Index tuning and background work.
    ///   - logger: Where store failures, reconciliations and compactions are logged.
    /// - Returns: The engine.
    /// - Throws: The store's error if its collections cannot be loaded.
    public static func open(
        _ store: any DurableStore, configuration: Configuration = .init(), logger: Logger? = nil
    ) throws(FlatVecError) -> Engine {
        let registry = CollectionRegistry()
        for collection in try store.loadCollections() { try registry.insert(collection) }
        let engine = Engine(registry: registry, store: store, configuration: configuration, logger: logger)
        if configuration.runsMaintenance { engine.startMaintenance() }
        return engine
    }

    /// Creates an engine around collections already loaded (``open(_:configuration:logger:)`` loads
    /// them from the store); its background work does not start (``runMaintenance()``).
    /// - Parameters:
    ///   - registry: The collections to serve.
    ///   - store: Where writes become durable first.
    ///   - configuration: Index tuning for collections created later.
    ///   - logger: Where store failures, reconciliations and compactions are logged.
    ///   - storeWriteObserver: Told the operation, duration and failure of every store write (metrics).
    public init(
        registry: CollectionRegistry, store: any DurableStore, configuration: Configuration = .init(), logger: Logger? = nil,
        storeWriteObserver: (@Sendable (_ op: String, _ took: Duration, _ failed: Bool) -> Void)? = nil
    ) {
        self.writes = WritePath(registry: registry, store: store, logger: logger, storeWriteObserver: storeWriteObserver)
        self.configuration = configuration
        self.logger = logger
    }

    /// Stops the background work (a compaction in progress finishes first), waits for the writes in
    /// progress, and closes the store (a local directory's lock is released, so it can be opened
    /// again); later calls throw `unavailable`. Searches already running finish.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let task = maintenance.withLock { task in defer { task = nil }; return task }
        task?.cancel()
        await task?.value
        writes.close()
    }

    func checkOpen() throws(FlatVecError) {
        guard !closed.load(ordering: .acquiring) else { throw FlatVecError(.unavailable, "the engine is closed") }
    }

    private func startMaintenance() {
        // Claimed here, before the task starts, so a runMaintenance() called right after open returns.
        maintenanceStarted.store(true, ordering: .releasing)
        maintenance.withLock { $0 = Task { [self] in await maintain() } }
    }

    // MARK: Collections

    /// Creates an empty collection.
    /// - Parameters:
    ///   - name: 1 to 128 bytes of letters, digits, `_`, `-` and `.` (at most 60 in a PostgreSQL store).
    ///   - dimension: 1 to 16,000.
    ///   - metric: Inner product (the default) or cosine (vectors are normalised when added).
    ///   - attributes: Typed attributes that filters can test.
    /// - Throws: `collection_exists`, `invalid_argument` for a bad name, dimension or attribute list,
    ///   or a store failure.
    public func createCollection(
        _ name: String, dimension: Int, metric: Metric = .innerProduct, attributes: [AttributeDefinition] = []
    ) throws(FlatVecError) {
        try checkOpen()
        try CollectionName.validate(name)
        let index = try FlatIndex(
            dimension: dimension, metric: metric, configuration: configuration.index.forCollection(name), attributes: attributes
        )
        try writes.createCollection(named: name, index: index)
    }

    /// Drops a collection and its vectors.
    /// - Throws: `unknown_collection`, or a store failure.
    public func dropCollection(_ name: String) throws(FlatVecError) {
        try checkOpen()
        try writes.dropCollection(named: name)
    }

    /// Every collection, by name.
    public var collections: [Collection] { registry.all.map(Self.describe) }

    /// One collection.
    /// - Throws: `unknown_collection`.
    public func collection(_ name: String) throws(FlatVecError) -> Collection {
        Self.describe(try registry.collection(named: name))
    }

    private static func describe(_ c: NamedIndex) -> Collection {
        Collection(
            name: c.name, dimension: c.index.dimension, metric: c.index.metric, count: c.index.count,
            attributes: c.index.attributes, skippedRows: c.skippedRows
        )
    }

    /// Declares an attribute (every stored vector has no value for it).
    /// - Throws: `unknown_collection`, `invalid_argument`, or a store failure.
    public func addAttribute(_ definition: AttributeDefinition, to collection: String) throws(FlatVecError) {
        try checkOpen()
        try writes.addAttribute(definition, to: collection)
    }

    /// Forgets an attribute and its values.
    /// - Throws: `unknown_collection`, `invalid_argument`, or a store failure.
    public func dropAttribute(named attribute: String, from collection: String) throws(FlatVecError) {
        try checkOpen()
        try writes.dropAttribute(named: attribute, from: collection)
    }

    /// Reloads collections from the store's external copy (PostgreSQL: rows other programs wrote).
    /// - Parameter name: One collection, or nil for every one.
    /// - Returns: The collections served now in their place.
    /// - Throws: `invalid_argument` for a store without an external copy, `unknown_collection`, `unavailable`.
    public func rebuild(_ name: String? = nil) throws(FlatVecError) -> [Collection] {
        try checkOpen()
        return try writes.rebuild(name).map(Self.describe)
    }

    /// Compacts the store now: the local directory starts a new log with writes held off for a
    /// moment, then writes the chunks that changed as segments and a new manifest while writes and
    /// searches go on (``LocalDirectoryStore``).
    /// - Throws: The store's error; its log then keeps every write.
    public func compact() throws(FlatVecError) {
        try checkOpen()
        try writes.compact()
    }

    /// Compacts if the store holds log records a start would replay, so the next start maps
    /// segments and replays nothing (``compact()`` otherwise). `flatvec serve` does this when it
    /// stops cleanly (SIGTERM, SIGINT); a crash leaves the log, which the next start replays.
    /// - Throws: `unavailable` while an online backup is being taken, or a store failure.
    public func checkpoint() throws(FlatVecError) {
        try checkOpen()
        try writes.checkpoint()
    }
}
