import FlatVecCore
import FlatVecEngine
import FlatVecProtocol
import FlatVecStorage
import Logging

/// Maps decoded requests to calls of the ``Engine`` and their results to replies. No sockets and no
/// rules of its own: the engine's ``WritePath`` owns every write. The connection handler calls it on
/// a thread pool, and tests call it directly.
public struct RequestExecutor: Sendable {
    /// The collections, their store and their write path.
    public let engine: Engine
    /// Counters for STATS.
    public let statistics: ServerStatistics
    /// The duplicate sweeps clients are reading, by cursor.
    let sweeps = SweepCursors()
    /// The online backups clients are reading, by cursor.
    let backups = BackupSessions()

    /// The collections.
    public var registry: CollectionRegistry { engine.registry }
    /// Where writes become durable first.
    public var store: any DurableStore { engine.store }
    /// Where this server stands in the store's change log, when it follows one.
    public var following: FollowerStatus { engine.writes.following }

    /// Creates an executor over an engine.
    /// - Parameters:
    ///   - engine: The collections and their store.
    ///   - statistics: Counters for STATS.
    public init(engine: Engine, statistics: ServerStatistics) {
        self.engine = engine
        self.statistics = statistics
    }

    /// Creates an executor and its engine (store writes are timed in `statistics`' metrics).
    /// - Parameters:
    ///   - registry: The collections served.
    ///   - store: Where writes become durable first.
    ///   - statistics: Counters for STATS.
    ///   - indexConfiguration: The tuning of collections created later.
    ///   - logger: Where reconciliations and store failures are logged.
    public init(
        registry: CollectionRegistry,
        store: any DurableStore,
        statistics: ServerStatistics,
        indexConfiguration: FlatIndex.Configuration = .init(),
        logger: Logger? = nil
    ) {
        var observer: (@Sendable (String, Duration, Bool) -> Void)?
        if let metrics = statistics.metrics {
            observer = { op, took, failed in metrics.storeWrite(op, took: took, failed: failed) }
        }
        let engine = Engine(
            registry: registry, store: store, configuration: Engine.Configuration(index: indexConfiguration, runsMaintenance: false),
            logger: logger, storeWriteObserver: observer
        )
        self.init(engine: engine, statistics: statistics)
    }

    /// Runs a SEARCH without blocking a thread while it waits: it joins the queue of its collection's
    /// index and is merged with the searches waiting there (see ``Engine/submitSearch(_:in:options:isCancelled:runScan:completion:)``).
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
            let dimension = try checkedDimension(request)
            engine.submitSearch(
                Self.queries(of: request), in: request.collection, options: request.optionsPerQuery, groups: request.queryGroups,
                isCancelled: isCancelled, runScan: runScan
            ) { result in
                switch result {
                case .success(let hits): completion(Self.searched(request, hits, dimension: dimension))
                case .failure(let error): completion(.error(ErrorResponse(error)))
                }
            }
        } catch {
            completion(.error(ErrorResponse(error)))
        }
    }

    /// The dimension of the collection a SEARCH reads, once the request's is checked against it.
    private func checkedDimension(_ r: SearchRequest) throws(FlatVecError) -> Int {
        let dimension = try registry.collection(named: r.collection).index.dimension
        guard r.storedIDs != nil || Int(r.dimension) == dimension else {
            throw FlatVecError(
                .dimensionMismatch, "queries have dimension \(r.dimension), collection '\(r.collection)' has dimension \(dimension)"
            )
        }
        return dimension
    }

    private static func queries(of r: SearchRequest) -> SearchQueries {
        if let ids = r.storedIDs { return .storedIDs(ids, excludingThemselves: r.excludingThemselves) }
        return .vectors(r.queries)
    }

    private static func searched(_ r: SearchRequest, _ results: [[SearchHit]], dimension: Int) -> Response {
        var hits = results
        var truncated: [Bool]?
        if r.options.range {
            // A range search's lists come with one hit more than the limit when more reach min_score.
            truncated = results.indices.map { q in
                let (kept, cut) = r.options.cut(results[q])
                hits[q] = kept
                return cut
            }
        }
        return .searched(SearchResponse(
            withPayloads: r.options.includePayloads, withVectors: r.options.includeVectors,
            withAttributes: r.options.includeAttributes, dimension: UInt32(dimension), results: hits, truncated: truncated
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
            try engine.createCollection(r.name, dimension: Int(r.dimension), metric: r.metric, attributes: r.attributes)
            return .done
        case .dropCollection(let name):
            try engine.dropCollection(name)
            return .done
        case .addAttribute(let name, let definition):
            try engine.addAttribute(definition, to: name)
            return .done
        case .dropAttribute(let name, let attribute):
            try engine.dropAttribute(named: attribute, from: name)
            return .done
        case .update(let r):
            try engine.update(r.updates, in: r.collection)
            return .updated(UInt32(r.updates.count))
        case .describeCollection(let name):
            let c = try engine.collection(name)
            return .described(CollectionDescription(
                name: name, dimension: UInt32(c.dimension), metric: c.metric, count: UInt64(c.count), attributes: c.attributes
            ))
        case .listCollections:
            return .collections(engine.collections.map(Self.info))
        case .add(let r):
            let result = try engine.add(r.batch, to: r.collection, rejectingDuplicatesAbove: r.rejectDuplicatesAbove)
            return .added(AddResponse(inserted: UInt32(result.inserted), replaced: UInt32(result.replaced)))
        case .remove(let r):
            try engine.remove(ids: r.ids, from: r.collection)
            return .removed(UInt32(r.ids.count))
        case .get(let r):
            let dimension = try registry.collection(named: r.collection).index.dimension
            var rows = try engine.get(ids: r.ids, from: r.collection)
            if !r.withVectors { for i in rows.indices { rows[i].vector = [] } }
            if !r.withPayloads { for i in rows.indices { rows[i].payload = nil } }
            if !r.withAttributes { for i in rows.indices { rows[i].attributes = [:] } }
            return .got(GetResponse(
                dimension: UInt32(dimension), withVectors: r.withVectors, withPayloads: r.withPayloads,
                withAttributes: r.withAttributes, rows: rows
            ))
        case .search(let r):
            let dimension = try checkedDimension(r)
            let hits = try engine.search(Self.queries(of: r), in: r.collection, options: r.optionsPerQuery, groups: r.queryGroups)
            return Self.searched(r, hits, dimension: dimension)
        case .duplicates(let r):
            return try duplicates(r, isCancelled: { false })
        case .backup(let r):
            return try backup(r, frameLimit: Int(ProtocolLimits().maxFrameBytes))
        case .rebuild(let name):
            return .rebuilt(try engine.rebuild(name.isEmpty ? nil : name).map { Self.info($0, withSkippedRows: true) })
        case .stats(let storage):
            return .stats(stats(storage: storage))
        }
    }

    /// Runs a DUPLICATES request: starts a sweep, reads its next page (sweeping for at most about
    /// ``sweepPageBudget``), or ends it.
    /// - Parameters:
    ///   - r: The request.
    ///   - isCancelled: True once the caller has gone: the page stops early.
    /// - Returns: The reply.
    /// - Throws: ``FlatVecError`` for the reply.
    public func duplicates(_ r: DuplicatesRequest, isCancelled: () -> Bool) throws(FlatVecError) -> Response {
        if r.ending {
            let entry = sweeps.end(r.cursor)
            guard let entry, entry.collection == r.collection else {
                throw FlatVecError(.invalidArgument, "no open duplicate sweep of '\(r.collection)' has cursor \(r.cursor)")
            }
            return .duplicates(DuplicatesResponse(cursor: 0, page: DuplicatePage(
                pairs: [], finished: true, rowsDone: 0, rowsTotal: 0, truncatedRows: 0
            )))
        }
        let cursor: UInt64
        let entry: SweepCursors.Entry
        if r.cursor == 0 {
            let index = try registry.collection(named: r.collection).index
            let sweep = try index.duplicateSweep(minScore: r.minScore, filter: r.filter, partnerLimit: r.partnerLimit)
            cursor = try sweeps.open(sweep, collection: r.collection, index: index)
            entry = SweepCursors.Entry(sweep: sweep, collection: r.collection, index: index, lastUsed: .now)
        } else {
            cursor = r.cursor
            entry = try sweeps.take(cursor, collection: r.collection)
        }
        guard (try? registry.collection(named: r.collection).index) === entry.index else {
            _ = sweeps.end(cursor)
            throw FlatVecError(
                .invalidArgument, "collection '\(r.collection)' was dropped or rebuilt during the duplicate sweep: start a new one"
            )
        }
        let page: DuplicatePage
        do {
            page = try entry.sweep.nextPage(maxPairs: Int(r.maxPairs), budget: Self.sweepPageBudget, isCancelled: isCancelled)
        } catch {
            _ = sweeps.end(cursor)
            throw error
        }
        sweeps.give(back: cursor, finished: page.finished)
        return .duplicates(DuplicatesResponse(cursor: page.finished ? 0 : cursor, page: page))
    }

    /// Runs a BACKUP request: starts an online backup (writes held off while its files are listed),
    /// sends its next piece, or ends it. Pieces go file by file, the MANIFEST last.
    /// - Parameters:
    ///   - r: The request.
    ///   - frameLimit: The largest reply frame the connection takes.
    /// - Returns: The reply.
    /// - Throws: ``FlatVecError`` for the reply.
    public func backup(_ r: BackupRequest, frameLimit: Int) throws(FlatVecError) -> Response {
        if r.ending {
            guard let session = backups.remove(r.cursor) else {
                throw FlatVecError(.invalidArgument, "no backup in progress has cursor \(r.cursor)")
            }
            store.endBackup(session.plan.pin)
            return .backup(BackupResponse(cursor: 0, file: "MANIFEST", fileLength: 0, offset: 0, data: []))
        }
        let cursor: UInt64
        var session: BackupSessions.Session
        if r.cursor == 0 {
            let plan = try engine.writes.beginBackup()
            cursor = try backups.open(plan, store: store)
            session = BackupSessions.Session(plan: plan)
        } else {
            cursor = r.cursor
            session = try backups.take(cursor)
        }
        store.touchBackup(session.plan.pin)
        let plan = session.plan
        guard session.file < plan.files.count else {
            // Every file sent: the MANIFEST ends the backup.
            _ = backups.remove(cursor)
            store.endBackup(plan.pin)
            return .backup(BackupResponse(
                cursor: 0, file: "MANIFEST", fileLength: UInt64(plan.manifest.count), offset: 0, data: plan.manifest
            ))
        }
        let file = plan.files[session.file]
        let room = max(1, min(Int(r.maxBytes), frameLimit - 4_096))
        let data: [UInt8]
        do {
            data = try plan.read(file: session.file, offset: session.offset, count: room)
        } catch {
            _ = backups.remove(cursor)
            store.endBackup(plan.pin)
            throw error
        }
        let offset = session.offset
        session.offset += data.count
        if session.offset >= file.length {
            session.file += 1
            session.offset = 0
        }
        backups.give(back: cursor, session)
        return .backup(BackupResponse(cursor: cursor, file: file.name, fileLength: UInt64(file.length), offset: UInt64(offset), data: data))
    }

    /// How long one DUPLICATES request sweeps before replying with what it found (a page may carry
    /// no pair, only progress): short enough for progress and cancellation, long enough that the
    /// round trips cost little.
    static var sweepPageBudget: Duration { .milliseconds(250) }

    private static func info(_ c: Engine.Collection) -> CollectionInfo { info(c, withSkippedRows: false) }

    private static func info(_ c: Engine.Collection, withSkippedRows: Bool) -> CollectionInfo {
        CollectionInfo(
            name: c.name, dimension: UInt32(c.dimension), metric: c.metric, count: UInt64(c.count),
            skippedRows: withSkippedRows ? UInt64(c.skippedRows) : 0
        )
    }

    /// Compacts the store now, with writes held off (searches go on).
    public func compact() throws(FlatVecError) { try engine.compact() }

    /// Compacts if the log holds records a start would replay (``Engine/checkpoint()``).
    public func checkpoint() throws(FlatVecError) { try engine.checkpoint() }

    /// Reconciles every write whose outcome was unknown with the store, if it can be reached.
    /// - Returns: Whether nothing is left in doubt.
    @discardableResult
    public func reconcileWritesInDoubt() -> Bool { engine.writes.reconcileWritesInDoubt() }

    /// The engine's background work (compactions, reconciliation, following), until cancelled.
    public func runMaintenance() async { await engine.runMaintenance() }
}
