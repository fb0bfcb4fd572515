import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

extension WritePath {
    /// Follows the store's change log until `isStopped` returns true: reads the changes other writers
    /// committed (other servers, plain SQL), applies them to the served collections, waits for the
    /// next wake-up, and trims the log now and then. Blocks its thread; the engine's maintenance runs
    /// it on one of its own. A store that cannot be reached is retried every half second;
    /// a position trimmed from the log reloads every collection (logged).
    /// - Parameters:
    ///   - feed: The store's change log.
    ///   - trimEvery: How often to trim the log.
    ///   - isStopped: Polled between steps (at least twice a second).
    public func follow(_ feed: any ChangeFeed, trimEvery: Duration = .seconds(60), isStopped: @Sendable () -> Bool) {
        following.started()
        var cursor: UInt64?
        var failing = false
        var lastTrim = ContinuousClock.now
        while !isStopped() {
            do throws(FlatVecError) {
                if cursor == nil { cursor = try feed.startingCursor() }
                var settled = true
                switch try feed.read(after: cursor!) {
                case .trimmed:
                    logger?.warning("this server's position in the change log was trimmed; reloading every collection from the store", metadata: [
                        "store": "\(store.description)",
                    ])
                    let (fresh, next) = try feed.loadAll()
                    replaceEverything(with: fresh)
                    following.reloadedEverything()
                    cursor = next
                    logger?.notice("reloaded every collection; following the change log again", metadata: [
                        "collections": "\(fresh.count)", "vectors": "\(fresh.reduce(0) { $0 + $1.index.count })",
                    ])
                case .changes(let changes, let next):
                    if !changes.isEmpty { try apply(changes, from: feed) }
                    cursor = next
                    following.read(positions: changes.positions, pending: changes.unsettled, pendingAgeMillis: changes.unsettledAgeMillis)
                    settled = changes.unsettled.isEmpty
                }
                if failing {
                    failing = false
                    logger?.notice("following the change log again", metadata: ["store": "\(store.description)"])
                }
                if ContinuousClock.now - lastTrim >= trimEvery {
                    lastTrim = .now
                    let trimmed = try feed.trim()
                    if trimmed > 0 { logger?.info("trimmed the change log", metadata: ["changes": "\(trimmed)"]) }
                }
                if settled {
                    try feed.waitForChanges(timeoutMillis: 500)
                } else {
                    // Committed changes wait behind an older transaction still running (under a stream
                    // of writes there nearly always is one): look again in a millisecond. (Waiting for
                    // the next commit's notification instead, at most 5 ms, gave a p99 lag of 159-171 ms
                    // at 1,000 adds/s in Benchmarks/compare/followers.py against 37-88 ms for this.)
                    usleep(1_000)
                }
            } catch {
                if !failing {
                    failing = true
                    logger?.warning("cannot follow the change log; retrying every half second", metadata: [
                        "store": "\(store.description)", "error": "\(error)",
                    ])
                }
                for _ in 0..<5 where !isStopped() { usleep(100_000) }
            }
        }
    }

    /// Applies changes read from the log: whole collections first (created, dropped, truncated), then
    /// attribute declarations, then rows. Each collection's part runs under its write order and reads
    /// the store after taking it, so a write of this server is either in what it reads or applied
    /// after it, never overwritten by an older row.
    /// - Throws: If the store cannot be read; nothing is lost, the same changes are read again.
    func apply(_ changes: StoreChanges, from feed: any ChangeFeed) throws(FlatVecError) {
        try locks.writing { scope throws(FlatVecError) in
            try checkOpen()
            if !changes.reload.isEmpty {
                try scope.namespace { namespace, _ throws(FlatVecError) in
                    for name in changes.reload.sorted() { try reload(name, from: feed, namespace) }
                }
            }
            for name in changes.attributes.sorted() where !changes.reload.contains(name) {
                guard let collection = try? registry.collection(named: name) else { continue }
                try scope.inWriteOrder(of: collection) { state throws(FlatVecError) in
                    guard !state.retired else { return }
                    try syncAttributes(collection, from: feed)
                }
            }
            for (name, ids) in changes.rows.sorted(by: { $0.key < $1.key }) {
                guard let collection = try? registry.collection(named: name) else { continue }
                try scope.inWriteOrder(of: collection) { state throws(FlatVecError) in
                    guard !state.retired else { return }
                    let ids = Array(ids)
                    var rows = try feed.fetch(collection: name, ids: ids)
                    if rows.contains(where: { Set($0.attributes.keys).isSubset(of: collection.index.attributes.map(\.name)) == false }) {
                        // The rows carry an attribute this index has not seen declared yet.
                        try syncAttributes(collection, from: feed)
                        rows = try feed.fetch(collection: name, ids: ids)
                    }
                    bringInLine(collection, ids: ids, rows: rows)
                }
            }
        }
    }

    /// Loads a collection whole from the store in place of the one served (or forgets it, if the
    /// store no longer has it). Runs under the namespace lock.
    private func reload(_ name: String, from feed: any ChangeFeed, _ namespace: NamespaceScope) throws(FlatVecError) {
        if let current = try? registry.collection(named: name) {
            try namespace.inWriteOrder(of: current) { state throws(FlatVecError) in
                let fresh = try feed.loadCollection(named: name)
                if let fresh { registry.replace(with: [fresh], all: false) } else { _ = try? registry.remove(named: name) }
                state.retired = true
            }
        } else if let fresh = try feed.loadCollection(named: name) {
            try? registry.insert(fresh)
        }
        logger?.info("followed a collection change", metadata: ["collection": "\(name)", "exists": "\(registry.contains(name))"])
    }

    /// Declares and drops attributes until the index has the store's. Runs under the write order.
    private func syncAttributes(_ collection: NamedIndex, from feed: any ChangeFeed) throws(FlatVecError) {
        guard let stored = try feed.attributes(of: collection.name) else { return }
        try matchAttributes(collection, to: stored)
    }

    /// Swaps in freshly loaded collections for all served ones, as REBUILD does.
    private func replaceEverything(with fresh: [NamedIndex]) {
        locks.exclusively { namespace in
            for old in registry.all { namespace.inWriteOrder(of: old) { $0.retired = true } }
            registry.replace(with: fresh, all: true)
        }
    }
}

