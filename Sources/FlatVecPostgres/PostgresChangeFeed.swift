import FlatVecCore
import FlatVecStorage
import Logging
import Synchronization

/// How long the change log keeps changes: older than ``maximumAge`` or beyond the newest
/// ``maximumRows`` go (a follower that was away longer reloads its collections).
public struct ChangeLogRetention: Sendable, Equatable {
    /// Changes older than this many seconds are trimmed.
    public var maximumAgeSeconds: Int
    /// At most this many changes are kept.
    public var maximumRows: Int

    /// Creates a retention policy (default: a day, and a million changes).
    public init(maximumAgeSeconds: Int = 86_400, maximumRows: Int = 1_000_000) {
        self.maximumAgeSeconds = maximumAgeSeconds
        self.maximumRows = maximumRows
    }
}

/// Follows `flatvec_changes` (see ``PostgresStore/changeLogMigration``) on a connection of its own,
/// which `LISTEN`s on `flatvec_changes`. A lost connection fails the call with `unavailable`; the next
/// call reconnects and listens again (the log, not the notifications, is what it reads, so nothing
/// sent meanwhile is lost).
final class PostgresChangeFeed: ChangeFeed {
    private let store: PostgresStore
    private let url: String
    private let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)

    init(store: PostgresStore, url: String, logger: Logger) {
        self.store = store
        self.url = url
        self.logger = logger
    }

    private func withConnection<T>(_ body: (PostgresConnection) throws(FlatVecError) -> T) throws(FlatVecError) -> T {
        try connection.withLock { slot throws(FlatVecError) -> T in
            if slot == nil || !(slot!.isHealthy) {
                slot = nil
                let c = try PostgresConnection(url: url)
                try c.execute("LISTEN flatvec_changes")
                slot = c
            }
            let c = slot!
            do throws(FlatVecError) {
                return try body(c)
            } catch {
                if c.isHealthy { try? c.execute("ROLLBACK") } else { slot = nil }
                throw error
            }
        }
    }

    func startingCursor() throws(FlatVecError) -> UInt64 {
        if let horizon = store.loadHorizon.withLock({ $0 }) { return horizon }
        return try withConnection { (c) throws(FlatVecError) in try PostgresStore.horizon(on: c) }
    }

    func read(after cursor: UInt64) throws(FlatVecError) -> ChangeRead {
        try withConnection { (c) throws(FlatVecError) -> ChangeRead in
            // One statement, so one snapshot for the horizon, the trim mark, the changes below the
            // horizon (part 1) and the count of committed changes above it (part 2): they agree, and a
            // read is one round trip of a statement planned once (under a stream of writes followers
            // read hundreds of times a second).
            let rows = try c.query(
                prepared: """
                WITH snap AS MATERIALIZED (
                    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon,
                           (SELECT horizon FROM flatvec_changes_trimmed) AS trimmed
                )
                SELECT 0 AS part, NULL::bigint AS n, horizon::text AS collection, trimmed::text AS kind,
                       NULL::bigint AS id, NULL::boolean AS own, NULL::bigint AS age
                FROM snap
                UNION ALL
                SELECT 1, position, collection, kind, id, origin IS NOT DISTINCT FROM $2, NULL
                FROM flatvec_changes, snap
                WHERE $1::xid8 > snap.trimmed AND xid >= $1::xid8 AND xid < snap.horizon
                UNION ALL
                SELECT 2, count(*), collection, NULL, NULL, NULL,
                       (extract(epoch FROM clock_timestamp() - min(logged_at)) * 1000)::bigint
                FROM flatvec_changes, snap
                WHERE xid >= greatest($1::xid8, snap.horizon) AND origin IS DISTINCT FROM $2
                GROUP BY collection
                ORDER BY 1, 2
                """,
                ["\(cursor)", store.origin]
            )
            guard let head = rows.first, head[0] == "0", let horizon = UInt64(head[2] ?? ""), let trimmed = UInt64(head[3] ?? "") else {
                throw FlatVecError(.corruptData, "flatvec_changes_trimmed is missing its row")
            }
            if cursor <= trimmed { return .trimmed }
            var changes = StoreChanges()
            for r in rows.dropFirst() {
                guard let collection = r[2] else { continue }
                if r[0] == "2" {
                    changes.unsettled[collection] = Int(r[1] ?? "") ?? 0
                    changes.unsettledAgeMillis[collection] = UInt64(max(0, Int64(r[6] ?? "") ?? 0))
                    continue
                }
                guard let position = UInt64(r[1] ?? ""), let kind = r[3] else {
                    throw FlatVecError(.corruptData, "flatvec_changes holds a malformed row")
                }
                changes.positions[collection] = max(changes.positions[collection] ?? 0, position)
                if r[5] == "t" {
                    changes.ownChanges += 1
                    continue
                }
                switch kind {
                case "row":
                    guard let id = Int64(r[4] ?? "") else { throw FlatVecError(.corruptData, "flatvec_changes row \(position) has no id") }
                    changes.rows[collection, default: []].insert(id)
                case "attributes": changes.attributes.insert(collection)
                default: changes.reload.insert(collection)
                }
            }
            for collection in changes.reload { changes.rows[collection] = nil }
            return .changes(changes, next: max(cursor, horizon))
        }
    }

    func waitForChanges(timeoutMillis: Int32) throws(FlatVecError) {
        _ = try withConnection { (c) throws(FlatVecError) in try c.waitForNotifications(timeoutMillis: timeoutMillis) }
    }

    func fetch(collection: String, ids: [Int64]) throws(FlatVecError) -> [StoredVector] {
        guard let loaded = try load(collection, where: "id = ANY('{\(ids.map(String.init).joined(separator: ","))}'::bigint[])") else {
            return []
        }
        var rows: [StoredVector] = []
        try loaded.index.forEachRow { id, label, vector, payload, attributes in
            rows.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
        }
        return rows
    }

    func loadCollection(named name: String) throws(FlatVecError) -> NamedIndex? {
        try load(name, where: nil)
    }

    private func load(_ name: String, where filter: String?) throws(FlatVecError) -> NamedIndex? {
        try withConnection { (c) throws(FlatVecError) -> NamedIndex? in
            let rows = try c.query("SELECT name, dimension, metric FROM flatvec_collections WHERE name = $1", [name])
            return try rows.first.map { (row) throws(FlatVecError) in try store.load(row, from: c, where: filter) }
        }
    }

    func attributes(of collection: String) throws(FlatVecError) -> [AttributeDefinition]? {
        try withConnection { (c) throws(FlatVecError) in try store.declaredAttributes(of: collection, on: c) }
    }

    func loadAll() throws(FlatVecError) -> (collections: [NamedIndex], cursor: UInt64) {
        let (collections, cursor) = try withConnection { (c) throws(FlatVecError) in try store.loadAll(from: c) }
        return (collections, cursor)
    }

    func trim() throws(FlatVecError) -> Int {
        let retention = store.changeLogRetention
        return try withConnection { (c) throws(FlatVecError) -> Int in
            let rows = try c.query(
                "SELECT flatvec_trim_changes(make_interval(secs => $1::double precision), $2::bigint)",
                ["\(retention.maximumAgeSeconds)", "\(retention.maximumRows)"]
            )
            return Int(rows.first?.first.flatMap { $0 } ?? "0") ?? 0
        }
    }
}
