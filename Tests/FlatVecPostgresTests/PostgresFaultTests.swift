import FlatVecCore
@testable import FlatVecPostgres
import FlatVecProtocol
@testable import FlatVecServer
@testable import FlatVecStorage
import FlatVecTestSupport
import Foundation
import Logging
import Testing

/// Faults between FlatVec and PostgreSQL, and rows other programs write: nothing acknowledged may be
/// lost or misreported, and one bad row must not take the rest down.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PostgresFaultTests {
    static func upstreamPort(_ url: String) -> Int {
        let afterAt = url[url.index(after: url.lastIndex(of: "@")!)...]
        let colon = afterAt.firstIndex(of: ":")!
        return Int(afterAt[afterAt.index(after: colon)...].prefix { $0.isNumber })!
    }

    static func executor(url: String) throws -> RequestExecutor {
        let store = try PostgresStore(url: url, logger: TestDatabase.logger)
        let registry = CollectionRegistry()
        for c in try store.loadCollections() { try registry.insert(c) }
        return RequestExecutor(registry: registry, store: store, statistics: ServerStatistics())
    }

    static func tableIDs(_ db: TestDatabase, _ table: String) throws -> [Int64] {
        try db.sql("SELECT id FROM \"fv_\(table)\" ORDER BY id").map { Int64($0[0]!)! }
    }

    static func indexIDs(_ executor: RequestExecutor, _ name: String) throws -> [Int64] {
        fingerprint(executor)[name]!.map(\.id)
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil), arguments: [CommitCuttingProxy.Cut.afterForwarding, .beforeForwarding])
    func aCommitCutOffWithItsConnectionIsOutcomeUnknownAndReconciled(cut: CommitCuttingProxy.Cut) throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let proxy = try CommitCuttingProxy(upstreamPort: Self.upstreamPort(db.url))
        let executor = try Self.executor(url: proxy.route(db.url))
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "p", dimension: 2, metric: .innerProduct)))
        for id in Int64(1)...5 {
            _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(id: id, label: 0, vector: [Float(id), 1]))))
        }

        // A one-row ADD (one idempotent autocommit statement) cut off with its connection is sent once
        // more on a new connection: its outcome is known, and it is stored.
        proxy.arm(cut, on: CommitCuttingProxy.oneStatementUpsert)
        _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(id: 10, label: 0, vector: [10, 1]))))
        #expect(proxy.cutCount == 1)
        #expect(try Self.tableIDs(db, "p").contains(10))
        #expect(try Self.indexIDs(executor, "p") == Self.tableIDs(db, "p"))

        // Cut twice: the outcome is unknown.
        proxy.arm(cut, on: CommitCuttingProxy.oneStatementUpsert, times: 2)
        do {
            _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(id: 6, label: 0, vector: [6, 1]))))
            Issue.record("the ADD succeeded through a cut connection")
        } catch {
            #expect(error.isOutcomeUnknown, "\(error)")
            #expect(!error.message.contains("nothing was changed"), "\(error)")
        }
        #expect(proxy.cutCount == 3)
        let committed = cut == .afterForwarding
        #expect(try Self.tableIDs(db, "p").contains(6) == committed)
        // Reconciled without a restart and without another write.
        #expect(executor.reconcileWritesInDoubt())
        #expect(try Self.indexIDs(executor, "p") == Self.tableIDs(db, "p"))

        // A small batch is one statement too: cut once, it is sent again and stored.
        proxy.arm(cut, on: CommitCuttingProxy.oneStatementUpsert)
        _ = try executor.execute(.add(AddRequest(collection: "p", batch: try VectorBatch(dimension: 2, ids: [11, 12], labels: [0, 0], vectors: [11, 1, 12, 1]))))
        #expect(proxy.cutCount == 4)
        #expect(Set(try Self.tableIDs(db, "p")).isSuperset(of: [11, 12]))

        // A batch ADD larger than one statement takes (a transaction) whose COMMIT is cut off.
        let large = Array(Int64(1_000)..<Int64(1_000 + PostgresStore.statementRows + 1))
        proxy.arm(cut)
        let vectors = large.flatMap { id -> [Float] in [Float(id), 1] }
        let batch = try VectorBatch(dimension: 2, ids: large, labels: large.map { _ in 0 }, vectors: vectors)
        do {
            _ = try executor.execute(.add(AddRequest(collection: "p", batch: batch)))
            Issue.record("the batch ADD succeeded through a cut connection")
        } catch {
            #expect(error.isOutcomeUnknown, "\(error)")
        }
        #expect(proxy.cutCount == 5)
        #expect(try Self.tableIDs(db, "p").contains(large.last!) == committed)
        #expect(executor.reconcileWritesInDoubt())
        #expect(try Self.indexIDs(executor, "p") == Self.tableIDs(db, "p"))

        // A REMOVE whose COMMIT is cut off is reconciled before the next write.
        proxy.arm(cut)
        do {
            _ = try executor.execute(.remove(IDListRequest(collection: "p", ids: [1, 2])))
            Issue.record("the REMOVE succeeded through a cut connection")
        } catch {
            #expect(error.isOutcomeUnknown, "\(error)")
        }
        #expect(try Self.tableIDs(db, "p").contains(1) == !committed)
        _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(id: 7, label: 0, vector: [7, 1]))))
        #expect(try Self.indexIDs(executor, "p") == Self.tableIDs(db, "p"))

        // A CREATE whose COMMIT is cut off is reconciled before the next CREATE or DROP.
        proxy.arm(cut)
        do {
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "q", dimension: 3, metric: .cosine)))
            Issue.record("the CREATE succeeded through a cut connection")
        } catch {
            #expect(error.isOutcomeUnknown, "\(error)")
        }
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "r", dimension: 3, metric: .cosine)))
        #expect(executor.registry.contains("q") == committed)
        let stored = try db.sql("SELECT name FROM flatvec_collections ORDER BY name").map { $0[0]! }
        #expect(stored == executor.registry.all.map(\.name))
    }

    /// An ADD_ATTRIBUTE or DROP_ATTRIBUTE whose COMMIT is cut off is reported outcome unknown, and
    /// the index's attributes are brought in line with the table's afterwards (the change log names
    /// it as this server's own write, so following it would not).
    @Test(.enabled(if: TestDatabase.serverURL != nil), arguments: [CommitCuttingProxy.Cut.afterForwarding, .beforeForwarding])
    func anAttributeChangeCutOffIsReconciled(cut: CommitCuttingProxy.Cut) throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let proxy = try CommitCuttingProxy(upstreamPort: Self.upstreamPort(db.url))
        let executor = try Self.executor(url: proxy.route(db.url))
        let color = try AttributeDefinition(name: "color", type: .keyword)
        let size = try AttributeDefinition(name: "size", type: .int64)
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "a", dimension: 2, metric: .innerProduct, attributes: [color])))
        _ = try executor.execute(.add(AddRequest(collection: "a", batch: try VectorBatch(
            dimension: 2, ids: [1, 2], labels: [0, 0], vectors: [1, 0, 0, 1], attributes: [["color": .keyword("red")], [:]]
        ))))
        func declared() throws -> [String] {
            try db.sql("SELECT name FROM flatvec_attributes WHERE collection = 'a' ORDER BY position").map { $0[0]! }
        }
        let committed = cut == .afterForwarding

        proxy.arm(cut)
        do {
            _ = try executor.execute(.addAttribute(collection: "a", definition: size))
            Issue.record("the ADD_ATTRIBUTE succeeded through a cut connection")
        } catch {
            #expect(error.isOutcomeUnknown, "\(error)")
        }
        #expect(try declared() == (committed ? ["color", "size"] : ["color"]))
        #expect(executor.reconcileWritesInDoubt())
        #expect(try executor.registry.collection(named: "a").index.attributes.map(\.name) == declared())

        proxy.arm(cut)
        do {
            _ = try executor.execute(.dropAttribute(collection: "a", name: "color"))
            Issue.record("the DROP_ATTRIBUTE succeeded through a cut connection")
        } catch {
            #expect(error.isOutcomeUnknown, "\(error)")
        }
        // The next write reconciles first, without waiting for the periodic pass.
        _ = try executor.execute(.add(AddRequest(collection: "a", batch: VectorBatch(id: 3, label: 0, vector: [1, 1]))))
        #expect(try declared() == (committed ? ["size"] : ["color"]))
        #expect(try executor.registry.collection(named: "a").index.attributes.map(\.name) == declared())
        #expect(fingerprint(try Self.executor(url: db.url)) == fingerprint(executor))
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil))
    func addsRacingDropAndCreateKeepTableAndIndexEqual() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let executor = try db.executor()
        let outcome = WriteRaces.addsRacingDropAndCreate(executor.engine, rounds: 5)
        #expect(outcome.unexpected.isEmpty, "\(outcome.unexpected.prefix(3))")
        #expect(try Self.indexIDs(executor, "x") == Self.tableIDs(db, "x"))
        let reloaded = try db.executor()
        #expect(fingerprint(reloaded) == fingerprint(executor))
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil))
    func rowsTheIndexCannotHoldAreSkippedNotFatal() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        do {
            let executor = try db.executor()
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "c", dimension: 3, metric: .cosine)))
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "i", dimension: 3, metric: .innerProduct)))
            for name in ["c", "i"] {
                _ = try executor.execute(.add(AddRequest(collection: name, batch: try VectorBatch(
                    dimension: 3, ids: [1, 2, 3], labels: [0, 0, 0], vectors: [1, 0, 0, 0, 1, 0, 0, 0, 1]
                ))))
            }
        }
        // Plain SQL, as the README invites: each row is one the index cannot hold.
        _ = try db.sql("INSERT INTO \"fv_c\" (id, label, embedding) VALUES (100, 0, '[0,0,0]')")  // zero under cosine
        _ = try db.sql("INSERT INTO \"fv_i\" (id, label, embedding) VALUES (101, 0, '[1e20,1e20,1e20]')")  // norm overflows
        _ = try db.sql("INSERT INTO \"fv_i\" (id, label, payload, embedding) VALUES (102, 0, repeat('x', 70000), '[1,1,1]')")  // payload too long
        _ = try db.sql("ALTER TABLE \"fv_i\" ALTER COLUMN embedding TYPE vector")
        _ = try db.sql("INSERT INTO \"fv_i\" (id, label, embedding) VALUES (103, 0, '[1,2]')")  // wrong dimension
        // pgvector itself refuses NaN, so that one cannot get in.
        #expect(throws: FlatVecError.self) { _ = try db.sql("INSERT INTO \"fv_i\" (id, label, embedding) VALUES (104, 0, '[NaN,1,1]')") }
        _ = try db.sql("INSERT INTO \"fv_i\" (id, label, embedding) VALUES (105, 0, '[2,2,2]')")  // a good one among them

        // A restart loads every good row of every collection.
        let executor = try db.executor()
        #expect(try Self.indexIDs(executor, "c") == [1, 2, 3])
        #expect(try Self.indexIDs(executor, "i") == [1, 2, 3, 105])
        guard case .stats(let stats) = try executor.execute(.stats(storage: false)) else { Issue.record("no STATS"); return }
        #expect(stats.collections.map(\.skippedRows) == [1, 3])
        // REBUILD reports them too.
        guard case .rebuilt(let rebuilt) = try executor.execute(.rebuild("")) else { Issue.record("no REBUILD"); return }
        #expect(rebuilt.map(\.name) == ["c", "i"])
        #expect(rebuilt.map(\.skippedRows) == [1, 3])
        #expect(rebuilt.map(\.count) == [3, 4])
    }

    @Test func passwordsAreRedactedInEveryFormLibpqAccepts() {
        let forms = [
            ("postgresql://u:s3cret-pw@h:5/db", "postgresql://u:***@h:5/db"),
            ("postgresql://u@h:5/db?password=s3cret-pw&sslmode=disable", "postgresql://u@h:5/db?password=***&sslmode=disable"),
            ("host=h port=5 user=u password=s3cret-pw dbname=db", "host=h port=5 user=u password=*** dbname=db"),
            ("host=h password = 's3cret pw' dbname=db", "host=h password=*** dbname=db"),
        ]
        for (url, expected) in forms {
            #expect(PostgresStore.redact(url) == expected)
            // And in the error a failed connection reports.
            let keyword = url.contains("://") ? url.replacingOccurrences(of: "@h:5", with: "@127.0.0.1:1") : url.replacingOccurrences(of: "host=h", with: "host=127.0.0.1").replacingOccurrences(of: "port=5", with: "port=1")
            do {
                _ = try PostgresStore(url: keyword, logger: TestDatabase.logger)
                Issue.record("connected to nothing")
            } catch {
                #expect(!error.message.contains("s3cret"), "\(error.message)")
            }
        }
    }
}
