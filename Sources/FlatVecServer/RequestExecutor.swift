import Dispatch
import FlatVecStorage
import FlatVecCore
import FlatVecProtocol
import Logging
import Synchronization

/// Carries out decoded requests against the collections and the durable store. No sockets: the
/// connection handler calls it on a thread pool, and tests call it directly.
public struct RequestExecutor: Sendable {
    /// The collections.
    public let registry: CollectionRegistry
    /// Where writes become durable first.
    public let store: any DurableStore
    /// Counters for STATS.
    public let statistics: ServerStatistics
    /// Search threads per collection index.
    public let indexConfiguration: FlatIndex.Configuration
    /// Where this server stands in the store's change log, when it follows one.
    public let following = FollowerStatus()
    /// Writes hold it shared; compaction holds it exclusively, so a snapshot sees every write whole.
    let writeGate = WriteGate()
    /// Where reconciliations and store failures are logged.
    let logger: Logger?
    /// Logs store failure episodes once each.
    private let storeHealth = StoreHealth()
    /// Writes that find the log large ask here for a compaction; ``runMaintenance()`` carries them out.
    private let compactionRequests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    /// Creates an executor.
    public init(
        registry: CollectionRegistry,
        store: any DurableStore,
        statistics: ServerStatistics,
        indexConfiguration: FlatIndex.Configuration = .init(),
        logger: Logger? = nil
    ) {
        self.logger = logger
        self.registry = registry
        self.store = store
        self.statistics = statistics
        self.indexConfiguration = indexConfiguration
    }

    /// Runs a SEARCH without blocking a thread while it waits: it joins the queue of its collection's
    /// index and is merged with the searches waiting there (see ``FlatIndex/submitSearch(batch:options:isCancelled:runScan:completion:)``).
    /// - Parameters:
    ///   - request: The decoded SEARCH.
    ///   - isCancelled: True once the caller has gone; polled before the search is scanned.
    ///   - runScan: Runs a scan on a thread that may block.
    ///   - completion: Called once with the reply (hits or an error).
    public func search(
        _ request: SearchRequest,
        isCancelled: @escaping @Sendable () -> Bool,
        runScan: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        completion: @escaping @Sendable (Response) -> Void
    ) {
        do throws(FlatVecError) {
            let index = try searchedIndex(request)
            try index.submitSearch(
                Self.queries(of: request), options: request.optionsPerQuery, isCancelled: isCancelled, runScan: runScan
            ) { result in
                switch result {
                case .success(let hits): completion(Self.searched(request, hits, dimension: index.dimension))
                case .failure(let error): completion(.error(ErrorResponse(error)))
                }
            }
        } catch {
            completion(.error(ErrorResponse(error)))
        }
    }

    /// The index a SEARCH reads, once its dimension is checked.
    private func searchedIndex(_ r: SearchRequest) throws(FlatVecError) -> FlatIndex {
        let collection = try registry.collection(named: r.collection)
        guard r.storedIDs != nil || Int(r.dimension) == collection.index.dimension else {
            throw FlatVecError(
                .dimensionMismatch,
                "queries have dimension \(r.dimension), collection '\(r.collection)' has dimension \(collection.index.dimension)"
            )
        }
        return collection.index
    }

    private static func queries(of r: SearchRequest) -> SearchQueries {
        if let ids = r.storedIDs { return .storedIDs(ids, excludingThemselves: r.excludingThemselves) }
        return .vectors(r.queries)
    }

    private static func searched(_ r: SearchRequest, _ results: [[SearchHit]], dimension: Int) -> Response {
        .searched(SearchResponse(
            withPayloads: r.options.includePayloads, withVectors: r.options.includeVectors,
            withAttributes: r.options.includeAttributes, dimension: UInt32(dimension), results: results
        ))
    }

    /// Runs one request (HELLO excepted: the connection handles it).
    /// - Throws: ``FlatVecError`` to be sent as an error reply.
    public func execute(_ request: Request) throws(FlatVecError) -> Response {
        switch request {
        case .hello:
            throw FlatVecError(.internalError, "HELLO is handled by the connection")
        case .ping(let bytes):
            return .pong(bytes)
        case .createCollection(let r):
            try CollectionName.validate(r.name)
            let index = try FlatIndex(
                dimension: Int(r.dimension), metric: r.metric, configuration: indexConfiguration.forCollection(r.name),
                attributes: r.attributes
            )
            try writeGate.shared { () throws(FlatVecError) in
                // CREATE and DROP take the namespace in turn, so the store records them in the order the
                // registry applies them.
                try writeGate.namespace.withLock { inDoubt throws(FlatVecError) in
                    try reconcileNamespace(&inDoubt)
                    guard !registry.contains(r.name) else {
                        throw FlatVecError(.collectionExists, "a collection named '\(r.name)' exists already")
                    }
                    try durably("create_collection", collection: r.name, inDoubt: &inDoubt) { () throws(FlatVecError) in
                        try store.createCollection(name: r.name, dimension: Int(r.dimension), metric: r.metric, attributes: r.attributes)
                    }
                    try registry.insert(NamedIndex(name: r.name, index: index))
                }
            }
            compactIfWanted()
            return .done
        case .dropCollection(let name):
            try writeGate.shared { () throws(FlatVecError) in
                try writeGate.namespace.withLock { inDoubt throws(FlatVecError) in
                    try reconcileNamespace(&inDoubt)
                    let collection = try registry.collection(named: name)
                    // Under the collection's write order: a write that is already logged is applied
                    // before the DROP is logged, and every later one finds the collection retired.
                    try collection.writeOrder.withLock { state throws(FlatVecError) in
                        try durably("drop_collection", collection: name, inDoubt: &inDoubt) { () throws(FlatVecError) in try store.dropCollection(name: name) }
                        try registry.remove(named: name)
                        state.retired = true
                    }
                }
            }
            compactIfWanted()
            return .done
        case .addAttribute(let name, let definition):
            try writeGate.shared { () throws(FlatVecError) in
                let collection = try registry.collection(named: name)
                try inWriteOrder(collection) { (state) throws(FlatVecError) in
                    try collection.index.checkAddable(definition)
                    try durably("add_attribute", { () throws(FlatVecError) in
                        try store.addAttribute(collection: name, definition: definition)
                    }, ifOutcomeUnknown: { state.attributesInDoubt = true })
                    try collection.index.addAttribute(definition)
                }
            }
            compactIfWanted()
            return .done
        case .dropAttribute(let name, let attribute):
            try writeGate.shared { () throws(FlatVecError) in
                let collection = try registry.collection(named: name)
                try inWriteOrder(collection) { (state) throws(FlatVecError) in
                    try collection.index.checkDroppable(named: attribute)
                    try durably("drop_attribute", { () throws(FlatVecError) in
                        try store.dropAttribute(collection: name, name: attribute)
                    }, ifOutcomeUnknown: { state.attributesInDoubt = true })
                    try collection.index.dropAttribute(named: attribute)
                }
            }
            compactIfWanted()
            return .done
        case .update(let r):
            try writeGate.shared { () throws(FlatVecError) in
                let collection = try registry.collection(named: r.collection)
                try inWriteOrder(collection) { (state) throws(FlatVecError) in
                    // Validated (ids present, values fit) first, so the store never records an update
                    // the index would refuse.
                    let checked = try collection.index.validate(r.updates)
                    try durably("update", ids: r.updates.map(\.id), state: &state) { () throws(FlatVecError) in
                        try store.update(collection: r.collection, updates: checked)
                    }
                    try collection.index.apply(checked)
                }
            }
            compactIfWanted()
            return .updated(UInt32(r.updates.count))
        case .describeCollection(let name):
            let collection = try registry.collection(named: name)
            let index = collection.index
            return .described(CollectionDescription(
                name: name, dimension: UInt32(index.dimension), metric: index.metric, count: UInt64(index.count),
                attributes: index.attributes
            ))
        case .listCollections:
            return .collections(registry.all.map {
                CollectionInfo(name: $0.name, dimension: UInt32($0.index.dimension), metric: $0.index.metric, count: UInt64($0.index.count))
            })
        case .add(let r):
            let result = try writeGate.shared { () throws(FlatVecError) -> AddResult in
                let collection = try registry.collection(named: r.collection)
                return try addInGroup(collection, try collection.index.validate(r.batch))
            }
            compactIfWanted()
            return .added(AddResponse(inserted: UInt32(result.inserted), replaced: UInt32(result.replaced)))
        case .remove(let r):
            try writeGate.shared { () throws(FlatVecError) in
                let collection = try registry.collection(named: r.collection)
                try inWriteOrder(collection) { (state) throws(FlatVecError) in
                    // Check first, so the store never records a removal the index would refuse.
                    try collection.index.checkRemovable(ids: r.ids)
                    try durably("remove", ids: r.ids, state: &state) { () throws(FlatVecError) in
                        try store.remove(collection: r.collection, ids: r.ids)
                    }
                    try collection.index.remove(ids: r.ids)
                }
            }
            compactIfWanted()
            return .removed(UInt32(r.ids.count))
        case .get(let r):
            let collection = try registry.collection(named: r.collection)
            var rows = try collection.index.get(ids: r.ids)
            if !r.withVectors { for i in rows.indices { rows[i].vector = [] } }
            if !r.withPayloads { for i in rows.indices { rows[i].payload = nil } }
            if !r.withAttributes { for i in rows.indices { rows[i].attributes = [:] } }
            return .got(GetResponse(
                dimension: UInt32(collection.index.dimension), withVectors: r.withVectors, withPayloads: r.withPayloads,
                withAttributes: r.withAttributes, rows: rows
            ))
        case .search(let r):
            let index = try searchedIndex(r)
            return Self.searched(r, try index.search(Self.queries(of: r), options: r.optionsPerQuery), dimension: index.dimension)
        case .rebuild(let name):
            let rebuilt = try writeGate.exclusive { () throws(FlatVecError) -> [NamedIndex] in
                let fresh = try durablyLoading { () throws(FlatVecError) in try store.rebuildCollections() }
                let chosen = name.isEmpty ? fresh : fresh.filter { $0.name == name }
                if !name.isEmpty && chosen.isEmpty {
                    throw FlatVecError(.unknownCollection, "the store has no collection named '\(name)'")
                }
                let replaced = name.isEmpty ? registry.all : registry.all.filter { $0.name == name }
                for old in replaced { old.writeOrder.withLock { $0.retired = true } }
                registry.replace(with: chosen, all: name.isEmpty)
                return chosen
            }
            return .rebuilt(rebuilt.map {
                CollectionInfo(
                    name: $0.name, dimension: UInt32($0.index.dimension), metric: $0.index.metric, count: UInt64($0.index.count),
                    skippedRows: UInt64($0.skippedRows)
                )
            })
        case .stats:
            let blas = BLASRuntime.info
            let (open, total, operations) = statistics.snapshot()
            let uptime = ContinuousClock.now - statistics.startedAt
            return .stats(StatsResponse(
                uptimeMillis: UInt64(uptime.components.seconds) * 1000 + UInt64(uptime.components.attoseconds / 1_000_000_000_000_000),
                blasLibrary: blas.library, blasKernel: blas.kernel ?? "unknown",
                openConnections: open, totalConnections: total,
                collections: registry.all.map {
                    let s = $0.index.statistics
                    let followed = following.entry(for: $0.name)
                    return StatsResponse.CollectionStats(
                        name: $0.name, dimension: UInt32(s.dimension), metric: s.metric,
                        count: UInt64(s.count), memoryBytes: UInt64(s.memoryBytes), skippedRows: UInt64($0.skippedRows),
                        scan: s.scan, codeBytes: UInt64(s.codeBytes), rowsBounded: UInt64(s.rescoring.rowsBounded),
                        rowsRescored: UInt64(s.rescoring.rowsRescored), following: followed != nil,
                        logPosition: followed?.position ?? 0, pendingChanges: followed?.pending ?? 0, lagMillis: followed?.pendingAgeMillis ?? 0
                    )
                },
                operations: operations
            ))
        }
    }

    /// Brings the per-collection metrics up to date (the metrics endpoint calls it before each scrape).
    public func refreshMetrics() {
        guard let metrics = statistics.metrics else { return }
        metrics.refresh(
            collections: registry.all.map {
                let s = $0.index.statistics
                return ($0.name, s.count, s.memoryBytes, s.searching.scans, s.searching.queries)
            },
            following: following
        )
    }

    /// Compacts the store now, with writes held off (searches go on).
    public func compact() throws(FlatVecError) {
        try writeGate.exclusive { () throws(FlatVecError) in try store.compact(registry.all) }
    }

    /// Starts a compaction in the background if the store asks for one and none is running.
    private func compactIfWanted() {
        guard store.wantsCompaction else { return }
        compactionRequests.continuation.yield()
    }

    /// The executor's background work, until the task is cancelled: compactions the store asks for
    /// (logged), reconciling writes of unknown outcome every second, and following the store's change
    /// log if it has one (``follow(_:trimEvery:isStopped:)``). Cancelling it waits for a
    /// compaction in progress to finish. A server runs it for its whole life.
    public func runMaintenance() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in compactionRequests.stream {
                    guard store.wantsCompaction else { continue }
                    await compactInTheBackground()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    reconcileWritesInDoubt()
                }
            }
            group.addTask { await followTheStore() }
        }
    }

    /// Compacts on a thread of its own (it writes every collection's snapshot), logging the outcome.
    private func compactInTheBackground() async {
        let executor = self
        let started = ContinuousClock.now
        let outcome: Result<Void, FlatVecError> = await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(returning: Result { () throws(FlatVecError) in try executor.compact() })
            }
        }
        switch outcome {
        case .success:
            logger?.info("compacted the store", metadata: ["store": "\(store.description)", "took": "\(ContinuousClock.now - started)"])
        case .failure(let error):
            // The log keeps every write; the next write that finds the log large asks again.
            logger?.error("compaction failed; the log keeps every write", metadata: ["store": "\(store.description)", "error": "\(error)"])
        }
    }

    private func durablyLoading<T>(_ body: () throws(FlatVecError) -> T) throws(FlatVecError) -> T {
        do {
            return try body()
        } catch where error.code == .ioError {
            throw FlatVecError(.unavailable, "the durable store failed: \(error.message)")
        }
    }

    /// Stores and applies an ADD together with the ADDs of the same collection waiting meanwhile: one
    /// store write for all of them (one PostgreSQL transaction, one log sync), then each applied to the
    /// index in arrival order. All or none are stored; each caller gets its own counts, or the group's
    /// error (an outcome-unknown one puts every id of the group in doubt).
    private func addInGroup(_ collection: NamedIndex, _ validated: ValidatedBatch) throws(FlatVecError) -> AddResult {
        let mine = NamedIndex.PendingAdd(validated)
        collection.pendingAdds.withLock { $0.append(mine) }
        return try collection.writeOrder.withLock { state throws(FlatVecError) -> AddResult in
            // Another thread may have stored this ADD while this one waited for the write order.
            if let outcome = mine.outcome { return try outcome.get() }
            do throws(FlatVecError) {
                guard !state.retired else {
                    throw FlatVecError(
                        .unknownCollection,
                        "collection '\(collection.name)' was dropped or rebuilt before this write reached it; nothing was changed"
                    )
                }
                try reconcile(collection, &state)
            } catch {
                // Under the write order, so no other thread can have taken it from the queue meanwhile.
                collection.pendingAdds.withLock { $0.removeAll { $0 === mine } }
                throw error
            }
            let group = collection.pendingAdds.withLock { queue in
                defer { queue.removeAll() }
                return queue
            }
            do throws(FlatVecError) {
                let batch = group.count == 1 ? validated.batch : try Self.merged(group.map(\.batch.batch), dimension: collection.index.dimension)
                try durably("add", ids: batch.ids, state: &state) { () throws(FlatVecError) in
                    try store.add(collection: collection.name, batch: batch)
                }
            } catch {
                for add in group { add.outcome = .failure(error) }
                throw error
            }
            for add in group { add.outcome = .success(collection.index.add(add.batch)) }
            return try mine.outcome!.get()
        }
    }

    /// Batches in arrival order as one, each id once with its last row (what applying them in order
    /// leaves in the index).
    static func merged(_ batches: [VectorBatch], dimension: Int) throws(FlatVecError) -> VectorBatch {
        var last: [Int64: (batch: Int, row: Int)] = [:]
        for (b, batch) in batches.enumerated() {
            for (r, id) in batch.ids.enumerated() { last[id] = (b, r) }
        }
        var ids: [Int64] = [], labels: [Int64] = [], vectors: [Float] = []
        var payloads: [[UInt8]?] = [], attributes: [[String: AttributeValue]] = []
        for (b, batch) in batches.enumerated() {
            for (r, id) in batch.ids.enumerated() where last[id]! == (b, r) {
                ids.append(id)
                labels.append(batch.labels[r])
                vectors.append(contentsOf: batch.vectors[(r * dimension)..<((r + 1) * dimension)])
                payloads.append(batch.payloads.isEmpty ? nil : batch.payloads[r])
                attributes.append(batch.attributes.isEmpty ? [:] : batch.attributes[r])
            }
        }
        // Every part was validated and ids are now unique, so this does not fail.
        return try VectorBatch(dimension: dimension, ids: ids, labels: labels, vectors: vectors, payloads: payloads, attributes: attributes)
    }

    /// Runs `body` under the collection's write order, once the collection is known to be live and
    /// the ids an interrupted write left in doubt are back in line with the store.
    private func inWriteOrder<T>(
        _ collection: NamedIndex, _ body: (inout NamedIndex.WriteState) throws(FlatVecError) -> T
    ) throws(FlatVecError) -> T {
        try collection.writeOrder.withLock { state throws(FlatVecError) -> T in
            guard !state.retired else {
                throw FlatVecError(
                    .unknownCollection,
                    "collection '\(collection.name)' was dropped or rebuilt before this write reached it; nothing was changed"
                )
            }
            try reconcile(collection, &state)
            return try body(&state)
        }
    }

    /// Brings the index in line with the store for the attributes and ids in doubt (the store is the
    /// authority: its attributes are declared, a row it holds is upserted, an id it lacks is removed).
    /// Runs under the collection's write order.
    private func reconcile(_ collection: NamedIndex, _ state: inout NamedIndex.WriteState) throws(FlatVecError) {
        if state.attributesInDoubt {
            if store.canReadBack {
                let stored: [AttributeDefinition]?
                do {
                    stored = try store.attributes(of: collection.name)
                } catch {
                    throw FlatVecError(
                        .unavailable,
                        "the durable store failed, nothing was changed: an earlier attribute change's outcome is still unknown (\(error.message))"
                    )
                }
                if let stored { try matchAttributes(collection, to: stored) }
                logger?.notice("reconciled an attribute change of unknown outcome with the store", metadata: [
                    "collection": "\(collection.name)", "attributes": "\(stored?.map(\.name) ?? [])",
                ])
            }
            state.attributesInDoubt = false
        }
        guard !state.inDoubt.isEmpty else { return }
        let ids = Array(state.inDoubt)
        guard store.canReadBack else {
            // Nothing to read back (a local log whose sync failed): the client was told the outcome is
            // unknown, and the next start-up replays whatever reached the disk.
            state.inDoubt = []
            return
        }
        let rows: [StoredVector]
        do {
            rows = try store.fetch(collection: collection.name, ids: ids)
        } catch {
            throw FlatVecError(
                .unavailable,
                "the durable store failed, nothing was changed: an earlier write's outcome is still unknown (\(error.message))"
            )
        }
        let held = bringInLine(collection, ids: ids, rows: rows)
        state.inDoubt = []
        logger?.notice("reconciled writes of unknown outcome with the store", metadata: [
            "collection": "\(collection.name)", "ids": "\(ids.count)", "present": "\(held)", "absent": "\(ids.count - held)",
        ])
    }

    /// Declares and drops attributes until the index has `stored` (the store's). Runs under the write
    /// order.
    func matchAttributes(_ collection: NamedIndex, to stored: [AttributeDefinition]) throws(FlatVecError) {
        let index = collection.index
        for definition in index.attributes where !stored.contains(definition) {
            try index.dropAttribute(named: definition.name)
        }
        let current = index.attributes
        for definition in stored where !current.contains(definition) {
            try index.addAttribute(definition)
        }
    }

    /// Makes the index hold exactly `rows` for `ids` (the store's rows for them): present rows are
    /// upserted, ids without a row removed. A row the index cannot hold (written by another program)
    /// is skipped with a warning, as the loader does.
    /// - Returns: How many of the rows the index now holds.
    @discardableResult
    func bringInLine(_ collection: NamedIndex, ids: [Int64], rows: [StoredVector]) -> Int {
        let index = collection.index
        var held = 0
        func restore(_ part: ArraySlice<StoredVector>) throws(FlatVecError) {
            try index.restore(VectorBatch(
                dimension: index.dimension, ids: part.map(\.id), labels: part.map(\.label), vectors: part.flatMap(\.vector),
                payloads: part.map(\.payload), attributes: part.map(\.attributes)
            ))
        }
        do throws(FlatVecError) {
            try restore(rows[...])
            held = rows.count
        } catch {
            for i in rows.indices {
                do throws(FlatVecError) {
                    try restore(rows[i...i])
                    held += 1
                } catch {
                    logger?.warning("skipped a row the index cannot hold", metadata: [
                        "collection": "\(collection.name)", "id": "\(rows[i].id)", "error": "\(error)",
                    ])
                }
            }
        }
        let present = Set(rows.map(\.id))
        let gone = ids.filter { !present.contains($0) && index.contains(id: $0) }
        if !gone.isEmpty { try? index.remove(ids: gone) }
        return held
    }

    /// Brings the registry in line with the store for collections whose CREATE or DROP had an
    /// unknown outcome. Runs under the namespace lock.
    private func reconcileNamespace(_ inDoubt: inout Set<String>) throws(FlatVecError) {
        guard !inDoubt.isEmpty else { return }
        guard store.canReadBack else {
            inDoubt = []
            return
        }
        for name in inDoubt.sorted() {
            let stored: NamedIndex?
            do {
                stored = try store.loadCollection(named: name)
            } catch {
                throw FlatVecError(
                    .unavailable,
                    "the durable store failed, nothing was changed: an earlier CREATE or DROP's outcome is still unknown (\(error.message))"
                )
            }
            if let stored, !registry.contains(name) {
                try? registry.insert(stored)
            } else if stored == nil, let current = try? registry.remove(named: name) {
                current.writeOrder.withLock { $0.retired = true }
            }
            inDoubt.remove(name)
            logger?.notice("reconciled a CREATE or DROP of unknown outcome", metadata: ["collection": "\(name)", "exists": "\(stored != nil)"])
        }
    }

    /// Reconciles every write whose outcome was unknown with the store, if it can be reached. The
    /// server calls this periodically, so the index catches up without waiting for the next write.
    /// - Returns: Whether nothing is left in doubt.
    @discardableResult
    public func reconcileWritesInDoubt() -> Bool {
        (try? writeGate.shared { () throws(FlatVecError) -> Bool in
            try writeGate.namespace.withLock { inDoubt throws(FlatVecError) in try reconcileNamespace(&inDoubt) }
            var clear = true
            for collection in registry.all {
                let done = collection.writeOrder.withLock { state -> Bool in
                    guard !state.retired else { return true }
                    return (try? reconcile(collection, &state)) != nil
                }
                clear = clear && done
            }
            return clear
        }) ?? false
    }

    /// Runs a CREATE or DROP in the store; an unknown outcome puts the name in doubt.
    private func durably(
        _ op: String, collection name: String, inDoubt: inout Set<String>, _ body: () throws(FlatVecError) -> Void
    ) throws(FlatVecError) {
        try durably(op, body, ifOutcomeUnknown: { inDoubt.insert(name) })
    }

    /// Runs an ADD or REMOVE in the store; an unknown outcome puts its ids in doubt.
    private func durably(
        _ op: String, ids: [Int64], state: inout NamedIndex.WriteState, _ body: () throws(FlatVecError) -> Void
    ) throws(FlatVecError) {
        try durably(op, body, ifOutcomeUnknown: { state.inDoubt.formUnion(ids) })
    }

    /// Runs a store write. A failure that is not already a FlatVec error becomes `unavailable` ("nothing
    /// was changed"); an outcome-unknown failure is passed on as it is, after `ifOutcomeUnknown`. Store
    /// failure episodes are logged once; its duration and failure go to the metrics under `op`.
    private func durably(
        _ op: String, _ body: () throws(FlatVecError) -> Void, ifOutcomeUnknown: () -> Void
    ) throws(FlatVecError) {
        let started = ContinuousClock.now
        var failed = true
        defer {
            let took = ContinuousClock.now - started
            statistics.metrics?.storeWrite(
                op, nanoseconds: took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000, failed: failed
            )
        }
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
            throw FlatVecError(.unavailable, "the durable store failed, nothing was changed: \(error.message)")
        }
    }
}
