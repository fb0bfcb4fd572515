import Dispatch
import FlatVecCore
import FlatVecProtocol

/// Carries out decoded requests against the collections and the durable store. No sockets: the
/// connection handler calls it on a thread pool, and tests call it directly.
public struct RequestExecutor: Sendable {
    /// The collections.
    public let registry: CollectionRegistry
    /// Where writes become durable first.
    public let store: any DurableStore
    /// Limits announced and enforced.
    public let limits: ProtocolLimits
    /// Counters for STATS.
    public let statistics: ServerStatistics
    /// Search threads per collection index.
    public let indexConfiguration: FlatIndex.Configuration
    /// Writes hold it shared; compaction holds it exclusively, so a snapshot sees every write whole.
    private let writeGate = WriteGate()

    /// Creates an executor.
    public init(
        registry: CollectionRegistry,
        store: any DurableStore,
        limits: ProtocolLimits,
        statistics: ServerStatistics,
        indexConfiguration: FlatIndex.Configuration = .init()
    ) {
        self.registry = registry
        self.store = store
        self.limits = limits
        self.statistics = statistics
        self.indexConfiguration = indexConfiguration
    }

    /// Whether `role` may perform `opcode`.
    public static func isAllowed(_ opcode: Opcode, for role: Role) -> Bool {
        switch opcode {
        case .hello, .ping: true
        case .search, .get, .listCollections, .stats: role != .none
        case .createCollection, .dropCollection, .add, .remove, .rebuild: role == .admin
        default: role != .none
        }
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
            let index = try FlatIndex(dimension: Int(r.dimension), metric: r.metric, configuration: indexConfiguration)
            guard !registry.contains(r.name) else {
                throw FlatVecError(.collectionExists, "a collection named '\(r.name)' exists already")
            }
            try writeGate.shared { () throws(FlatVecError) in
                try durably { () throws(FlatVecError) in try store.createCollection(name: r.name, dimension: Int(r.dimension), metric: r.metric) }
                try registry.insert(Collection(name: r.name, index: index))
            }
            compactIfWanted()
            return .done
        case .dropCollection(let name):
            _ = try registry.collection(named: name)
            try writeGate.shared { () throws(FlatVecError) in
                try durably { () throws(FlatVecError) in try store.dropCollection(name: name) }
                try registry.remove(named: name)
            }
            compactIfWanted()
            return .done
        case .listCollections:
            return .collections(registry.all.map {
                CollectionInfo(name: $0.name, dimension: UInt32($0.index.dimension), metric: $0.index.metric, count: UInt64($0.index.count))
            })
        case .add(let r):
            let collection = try registry.collection(named: r.collection)
            let validated = try collection.index.validate(r.batch)
            let result = try writeGate.shared { () throws(FlatVecError) -> AddResult in
                try collection.writeOrder.withLock { _ throws(FlatVecError) -> AddResult in
                    try durably { () throws(FlatVecError) in try store.add(collection: r.collection, batch: validated.batch) }
                    return collection.index.add(validated)
                }
            }
            compactIfWanted()
            return .added(AddResponse(inserted: UInt32(result.inserted), replaced: UInt32(result.replaced)))
        case .remove(let r):
            let collection = try registry.collection(named: r.collection)
            try writeGate.shared { () throws(FlatVecError) in
                try collection.writeOrder.withLock { _ throws(FlatVecError) in
                    // Check first, so the store never records a removal the index would refuse.
                    try collection.index.checkRemovable(ids: r.ids)
                    try durably { () throws(FlatVecError) in try store.remove(collection: r.collection, ids: r.ids) }
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
            return .got(GetResponse(dimension: UInt32(collection.index.dimension), withVectors: r.withVectors, withPayloads: r.withPayloads, rows: rows))
        case .search(let r):
            let collection = try registry.collection(named: r.collection)
            guard Int(r.dimension) == collection.index.dimension else {
                throw FlatVecError(
                    .dimensionMismatch,
                    "queries have dimension \(r.dimension), collection '\(r.collection)' has dimension \(collection.index.dimension)"
                )
            }
            let results = try collection.index.search(batch: r.queries, options: r.options)
            return .searched(SearchResponse(
                withPayloads: r.options.includePayloads, withVectors: r.options.includeVectors,
                dimension: r.dimension, results: results
            ))
        case .rebuild(let name):
            let rebuilt = try writeGate.exclusive { () throws(FlatVecError) -> [Collection] in
                let fresh = try durablyLoading { () throws(FlatVecError) in try store.rebuildCollections() }
                let chosen = name.isEmpty ? fresh : fresh.filter { $0.name == name }
                if !name.isEmpty && chosen.isEmpty {
                    throw FlatVecError(.unknownCollection, "the store has no collection named '\(name)'")
                }
                registry.replace(with: chosen, all: name.isEmpty)
                return chosen
            }
            return .rebuilt(rebuilt.map {
                CollectionInfo(name: $0.name, dimension: UInt32($0.index.dimension), metric: $0.index.metric, count: UInt64($0.index.count))
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
                    return StatsResponse.CollectionStats(
                        name: $0.name, dimension: UInt32(s.dimension), metric: s.metric,
                        count: UInt64(s.count), memoryBytes: UInt64(s.memoryBytes)
                    )
                },
                operations: operations
            ))
        }
    }

    /// Compacts the store now, with writes held off (searches go on).
    public func compact() throws(FlatVecError) {
        try writeGate.exclusive { () throws(FlatVecError) in try store.compact(registry.all) }
    }

    /// Starts a compaction in the background if the store asks for one and none is running.
    private func compactIfWanted() {
        guard store.wantsCompaction, writeGate.claimCompaction() else { return }
        let executor = self
        DispatchQueue.global(qos: .utility).async {
            defer { executor.writeGate.releaseCompaction() }
            do {
                try executor.compact()
            } catch {
                // The log keeps every write; compaction is retried after the next write.
            }
        }
    }

    private func durablyLoading<T>(_ body: () throws(FlatVecError) -> T) throws(FlatVecError) -> T {
        do {
            return try body()
        } catch where error.code == .ioError {
            throw FlatVecError(.unavailable, "the durable store failed: \(error.message)")
        }
    }

    /// Runs a store write; a failure that is not already a FlatVec error becomes `unavailable`.
    private func durably(_ body: () throws(FlatVecError) -> Void) throws(FlatVecError) {
        do {
            try body()
        } catch where error.code == .unavailable || error.code == .ioError {
            throw FlatVecError(.unavailable, "the durable store failed, nothing was changed: \(error.message)")
        }
    }
}
