import FlatVecStorage
import FlatVecCore
@testable import FlatVecPostgres
import FlatVecProtocol
import FlatVecServer
import FlatVecTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// A fresh database on the test server for one test.
struct TestDatabase {
    let name: String
    let url: String
    let adminURL: String

    static var serverURL: String? {
        ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"]
    }

    static var logger: Logger {
        var l = Logger(label: "pg-test")
        l.logLevel = .critical
        return l
    }

    init() throws {
        guard let server = Self.serverURL else {
            throw FlatVecError(.unavailable, "FLATVEC_TEST_POSTGRES_URL is not set; run scripts/dev-postgres.sh start")
        }
        name = "flatvec_test_\(UInt32.random(in: 0...UInt32.max))"
        adminURL = server
        let admin = try PostgresConnection(url: server)
        try admin.execute("CREATE DATABASE \(name)")
        let slash = server.lastIndex(of: "/")!
        url = String(server[...slash]) + name
        let c = try PostgresConnection(url: url)
        try c.execute("CREATE EXTENSION IF NOT EXISTS vector")
    }

    func sql(_ text: String, _ parameters: [String] = []) throws -> [[String?]] {
        try PostgresConnection(url: url).query(text, parameters)
    }

    func drop() {
        guard let admin = try? PostgresConnection(url: adminURL) else { return }
        try? admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()")
        try? admin.execute("DROP DATABASE IF EXISTS \(name)")
    }

    /// Cuts every connection to the database and refuses new ones until `allow` is called.
    func outage() throws {
        let admin = try PostgresConnection(url: adminURL)
        try admin.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
    }

    func allow() throws {
        try PostgresConnection(url: adminURL).execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
    }

    func executor(metrics: ServerMetrics? = nil) throws -> RequestExecutor {
        let store = try PostgresStore(url: url, logger: Self.logger)
        let registry = CollectionRegistry()
        for c in try store.loadCollections() { try registry.insert(c) }
        return RequestExecutor(registry: registry, store: store, statistics: ServerStatistics(metrics: metrics))
    }
}

/// The integer value of one sample line (`name{labels}`) of the metrics, or nil if there is none.
func sample(_ metrics: ServerMetrics, _ name: String) -> Int? {
    String(decoding: metrics.emit(), as: UTF8.self).split(separator: "\n")
        .first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ").last!) }
}

func fingerprint(_ executor: RequestExecutor) -> [String: [StoredVector]] {
    var result: [String: [StoredVector]] = [:]
    for c in executor.registry.all {
        var rows: [StoredVector] = []
        do {
            try c.index.forEachRow { id, label, vector, payload, attributes in
                rows.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
            }
        } catch {
            Issue.record(error)
        }
        result[c.name] = rows.sorted { $0.id < $1.id }
    }
    return result
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct PostgresStoreTests {
    init() {
        if TestDatabase.serverURL == nil && ProcessInfo.processInfo.environment["FLATVEC_REQUIRE_POSTGRES"] != nil {
            Issue.record("FLATVEC_REQUIRE_POSTGRES is set but FLATVEC_TEST_POSTGRES_URL is not")
        }
    }

    /// What the store writes is plain, versioned pgvector tables that other programs can read (the
    /// restart contract itself is StoreContractTests', run against every store).
    @Test(.enabled(if: TestDatabase.serverURL != nil)) func theTablesArePlainVersionedSQL() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        var random = SystemRandomNumberGenerator()
        let before: [String: [StoredVector]]
        let query = SearchRequest(collection: "ip", dimension: 8, queries: (0..<8).map { _ in Float.random(in: -1...1, using: &random) }, options: SearchOptions(k: 15, includePayloads: true))
        let searchBefore: Response
        do {
            let executor = try db.executor()
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "ip", dimension: 8, metric: .innerProduct)))
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "cos", dimension: 4, metric: .cosine)))
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "gone", dimension: 2, metric: .innerProduct)))
            for round in 0..<5 {
                let ids = (0..<200).map { Int64(round * 200 + $0) }
                _ = try executor.execute(.add(AddRequest(collection: "ip", batch: VectorBatch(
                    dimension: 8, ids: ids, labels: ids.map { $0 % 9 }, vectors: (0..<1600).map { _ in Float.random(in: -1...1, using: &random) },
                    payloads: ids.map { $0 % 4 == 0 ? nil : Array("{\"image\":\"é/\($0).jpg\"}".utf8) }
                ))))
                _ = try executor.execute(.add(AddRequest(collection: "cos", batch: VectorBatch(
                    dimension: 4, ids: ids, labels: ids, vectors: (0..<800).map { _ in Float.random(in: 0.1...5, using: &random) }
                ))))
                _ = try executor.execute(.remove(IDListRequest(collection: "ip", ids: ids.filter { $0 % 6 == 0 })))
            }
            _ = try executor.execute(.add(AddRequest(collection: "ip", batch: VectorBatch(id: 1, label: 42, vector: [1, 2, 3, 4, 5, 6, 7, 8], payload: "replaced"))))
            _ = try executor.execute(.dropCollection("gone"))
            before = fingerprint(executor)
            searchBefore = try executor.execute(.search(query))
        }
        let restarted = try db.executor()
        #expect(try restarted.execute(.search(query)) == searchBefore)
        // Ordinary pgvector tables: the schema is versioned and the tables are plain SQL.
        #expect(try db.sql("SELECT max(version) FROM flatvec_schema") == [["3"]])
        #expect(try db.sql("SELECT count(*) FROM \"fv_ip\"") == [["\(before["ip"]!.count)"]])
    }

    /// Small ADDs (one row, or a few) take a one-statement path: the table must hold the same bytes as
    /// the index (edge floats, quoting in payloads and keywords, nulls), and an attribute added or
    /// dropped behind the server's back must be honoured (ADD nulls every attribute it does not set).
    @Test(.enabled(if: TestDatabase.serverURL != nil)) func smallAddsStoreExactBytesAndFollowSchemaChanges() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let executor = try db.executor()
        let category = try AttributeDefinition(name: "category", type: .keyword)
        let price = try AttributeDefinition(name: "price", type: .float64)
        _ = try executor.execute(.createCollection(CreateCollectionRequest(
            name: "one", dimension: 4, metric: .innerProduct, attributes: [category, price]
        )))
        let edges: [[Float]] = [
            [.leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1.7e19, -0.0],
            [.leastNormalMagnitude, 1 / 3, -1e-38, 0.1],
            [Float(bitPattern: 0x3F80_0001), 16_777_216, -2.5e-7, 1e18],
        ]
        let payloads: [String?] = [#"{"q":"a \"quoted\" \\ back"}"#, nil, #"{"é":"日本","path":"C:\temp\new"}"#]
        let keywords: [AttributeValue?] = [.keyword(#"it's "x" \ y"#), nil, .keyword("")]
        func values(_ i: Int) -> [String: AttributeValue] {
            var values: [String: AttributeValue] = [:]
            if let k = keywords[i] { values["category"] = k }
            if i != 1 { values["price"] = .float64(i == 0 ? -0.1 : 1e300) }
            return values
        }
        for round in 0..<2 {
            for (i, vector) in edges.enumerated() {
                _ = try executor.execute(.add(AddRequest(collection: "one", batch: try VectorBatch(
                    dimension: 4, ids: [Int64(i) - 1], labels: [Int64(round)], vectors: vector,
                    payloads: [payloads[i].map { Array($0.utf8) }], attributes: [values(i)]
                ))))
            }
        }
        #expect(try db.sql("SELECT count(*) FROM fv_one") == [["3"]])
        #expect(fingerprint(try db.executor()) == fingerprint(executor))
        // The same rows again as one small batch (one statement with array parameters), payloads and
        // values moved to other ids, so every row changes.
        _ = try executor.execute(.add(AddRequest(collection: "one", batch: try VectorBatch(
            dimension: 4, ids: [-1, 0, 1], labels: [7, 8, 9], vectors: edges.reversed().flatMap { $0 },
            payloads: payloads.reversed().map { $0.map { Array($0.utf8) } }, attributes: [values(2), values(1), values(0)]
        ))))
        #expect(try db.sql("SELECT id, label, category FROM fv_one ORDER BY id") == [["-1", "7", ""], ["0", "8", nil], ["1", "9", #"it's "x" \ y"#]])
        let restarted = try db.executor()
        #expect(fingerprint(restarted) == fingerprint(executor))
        // Another program adds an attribute and gives every row a value: the next one-row ADD through
        // the server (which does not know it yet) must still null it, as every ADD does.
        _ = try db.sql("ALTER TABLE fv_one ADD COLUMN stock bigint")
        _ = try db.sql("INSERT INTO flatvec_attributes (collection, name, type) VALUES ('one', 'stock', 'int64')")
        _ = try db.sql("UPDATE fv_one SET stock = 5")
        _ = try executor.execute(.add(AddRequest(collection: "one", batch: VectorBatch(id: 0, label: 9, vector: [1, 2, 3, 4]))))
        #expect(try db.sql("SELECT id, stock, category FROM fv_one ORDER BY id") == [["-1", "5", ""], ["0", nil, nil], ["1", "5", #"it's "x" \ y"#]])
        // And dropped behind its back: the column is gone, the ADD still lands.
        _ = try db.sql("ALTER TABLE fv_one DROP COLUMN price")
        _ = try db.sql("DELETE FROM flatvec_attributes WHERE collection = 'one' AND name = 'price'")
        _ = try executor.execute(.add(AddRequest(collection: "one", batch: VectorBatch(id: 7, label: 1, vector: [4, 3, 2, 1]))))
        #expect(try db.sql("SELECT count(*) FROM fv_one WHERE id = 7") == [["1"]])
    }

    /// Concurrent one-row ADDs of one collection share PostgreSQL transactions (group commit): every
    /// one is acknowledged with its own counts, the index and the table end up identical (ids written
    /// by several threads hold the same last row in both), and fewer commits than ADDs were made.
    @Test(.enabled(if: TestDatabase.serverURL != nil)) func concurrentAddsShareCommitsAndMatchTheTable() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let metrics = ServerMetrics()
        let executor = try db.executor(metrics: metrics)
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "g", dimension: 4, metric: .innerProduct)))
        let inserted = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let threads = 16, perThread = 40
        runOnThreads(threads) { t in
            for i in 0..<perThread {
                // Ids 0..<60 are written by many threads; each row says who wrote it last.
                let id = Int64((t * 7 + i * 13) % 60)
                do {
                    let reply = try executor.execute(.add(AddRequest(collection: "g", batch: VectorBatch(
                        id: id, label: Int64(t), vector: [Float(t), Float(i), 1, 0]
                    ))))
                    guard case .added(let r) = reply else { return }
                    inserted.add(Int(r.inserted), ordering: .relaxed)
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(inserted.load(ordering: .relaxed) == 60, "each id is reported inserted exactly once")
        let restarted = try db.executor()
        #expect(fingerprint(restarted) == fingerprint(executor))
        #expect(fingerprint(executor)["g"]!.count == 60)
        let commits = sample(metrics, "flatvec_store_commit_duration_seconds_count{op=\"add\"}") ?? 0
        #expect(commits > 0 && commits < threads * perThread, "\(commits) commits for \(threads * perThread) ADDs")
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil)) func pgvectorSQLGivesTheSameTopKAsFlatVec() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let executor = try db.executor()
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "p", dimension: 32, metric: .innerProduct)))
        var random = SystemRandomNumberGenerator()
        let n = 3000
        _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(
            dimension: 32, ids: (0..<Int64(n)).map { $0 * 3 }, labels: Array(repeating: 0, count: n),
            vectors: (0..<(n * 32)).map { _ in Float.random(in: -1...1, using: &random) }
        ))))
        let index = try executor.registry.collection(named: "p").index
        for _ in 0..<10 {
            let q = (0..<32).map { _ in Float.random(in: -1...1, using: &random) }
            let literal = "[" + q.map { "\($0)" }.joined(separator: ",") + "]"
            let sqlIDs = try db.sql("SELECT id FROM \"fv_p\" ORDER BY embedding <#> $1::vector, id LIMIT 10", [literal]).map { Int64($0[0]!)! }
            #expect(try index.search(q, options: SearchOptions(k: 10)).map(\.id) == sqlIDs)
        }
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil)) func rowsInsertedWithPlainSQLAppearAfterRebuild() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let executor = try db.executor()
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "p", dimension: 3, metric: .cosine)))
        _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(id: 1, label: 1, vector: [1, 0, 0]))))
        _ = try db.sql("INSERT INTO \"fv_p\" (id, label, payload, embedding) VALUES (2, 7, 'from sql', '[0, 3, 4]')")
        #expect(!(try executor.registry.collection(named: "p").index.contains(id: 2)))
        let reply = try executor.execute(.rebuild(""))
        #expect(reply == .rebuilt([CollectionInfo(name: "p", dimension: 3, metric: .cosine, count: 2)]))
        let row = try executor.registry.collection(named: "p").index.get(ids: [2])[0]
        #expect(row.label == 7 && row.payload == Array("from sql".utf8))
        #expect(abs(row.vector[1] - 0.6) < 1e-6 && abs(row.vector[2] - 0.8) < 1e-6, "plain SQL rows are normalised under cosine")
        // A rebuild of one collection leaves the others alone; of an unknown one is an error.
        do {
            _ = try executor.execute(.rebuild("nope"))
            Issue.record("rebuilt an unknown collection")
        } catch {
            #expect(error.code == .unknownCollection)
        }
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil)) func anOutageFailsWritesWithUnavailableAndChangesNothing() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let metrics = ServerMetrics()
        let executor = try db.executor(metrics: metrics)
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "p", dimension: 2, metric: .innerProduct)))
        var acknowledged: [Int64] = []
        for id in 0..<Int64(50) {
            if id == 20 { try db.outage() }
            if id == 35 { try db.allow() }
            do {
                _ = try executor.execute(.add(AddRequest(collection: "p", batch: VectorBatch(id: id, label: 0, vector: [Float(id), 1]))))
                acknowledged.append(id)
            } catch {
                // The write that finds the connection dead gets no answer from PostgreSQL: it may have
                // run (outcome unknown). Every later one cannot connect: nothing changed.
                #expect(error.code == .unavailable || (error.code == .outcomeUnknown && id == 20), "\(error)")
                #expect((20..<35).contains(id), "write \(id) failed outside the outage: \(error)")
                #expect(!error.message.contains("flatvec-dev"), "the password leaked into an error")
            }
            // Searches keep working throughout.
            _ = try executor.execute(.search(SearchRequest(collection: "p", dimension: 2, queries: [1, 1], options: SearchOptions(k: 3))))
        }
        #expect(acknowledged.count >= 30)
        #expect(acknowledged.allSatisfy { !(20..<35).contains($0) })
        let inMemory = fingerprint(executor)["p"]!.map(\.id)
        let inDatabase = try db.sql("SELECT id FROM \"fv_p\" ORDER BY id").map { Int64($0[0]!)! }
        #expect(inMemory == acknowledged)
        #expect(inDatabase == acknowledged)
        // The store's failures and commit latencies reach the Prometheus metrics.
        // (After an outcome-unknown failure, later writes fail before reaching the store, until the
        // row in doubt can be read back.)
        let failures = try #require(sample(metrics, "flatvec_store_failures_total{op=\"add\"}"))
        #expect(failures >= 1)
        #expect(sample(metrics, "flatvec_store_commit_duration_seconds_count{op=\"add\"}") == acknowledged.count + failures)
    }

    /// A statement PostgreSQL refuses (here: a table of that name exists, made by plain SQL) is the
    /// request's error with its SQLSTATE, not an outage: no store failure is counted and the next
    /// writes go through.
    @Test(.enabled(if: TestDatabase.serverURL != nil)) func aRefusedStatementIsARequestErrorAndWritesGoOn() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let metrics = ServerMetrics()
        let executor = try db.executor(metrics: metrics)
        _ = try db.sql("CREATE TABLE \"fv_taken\" (x integer)")
        do {
            _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "taken", dimension: 2, metric: .innerProduct)))
            Issue.record("CREATE over an existing table was acknowledged")
        } catch {
            #expect(error.code == .collectionExists, "\(error)")
            #expect(error.sqlState == "42P07" && error.message.contains("SQLSTATE 42P07"), "\(error)")
        }
        #expect(!executor.registry.contains("taken"))
        #expect(sample(metrics, "flatvec_store_failures_total{op=\"create_collection\"}") == nil)
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "free", dimension: 2, metric: .innerProduct)))
        _ = try executor.execute(.add(AddRequest(collection: "free", batch: VectorBatch(id: 1, label: 0, vector: [1, 0]))))
        #expect(try db.sql("SELECT count(*) FROM \"fv_free\"") == [["1"]])
        #expect(PostgresConnection.code(forSQLState: "23505") == .invalidArgument)
        #expect(PostgresConnection.code(forSQLState: "42622") == .invalidArgument)
        #expect(PostgresConnection.code(forSQLState: "08006") == .unavailable)
        #expect(PostgresConnection.code(forSQLState: "57P01") == .unavailable)
        #expect(PostgresConnection.code(forSQLState: "54000") == .limitExceeded)
    }

    @Test func unreachableServerIsAClearErrorWithoutThePassword() {
        do {
            _ = try PostgresStore(url: "postgresql://flatvec:s3cret-pw@127.0.0.1:1/none", logger: TestDatabase.logger)
            Issue.record("connected to nothing")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("127.0.0.1"))
            #expect(!error.message.contains("s3cret-pw"))
        }
        #expect(PostgresStore.redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db")
        #expect(PostgresStore.redact("postgresql://u@h/db") == "postgresql://u@h/db")
    }
}

/// A PostgreSQL server of the test's own (scripts/dev-postgres.sh with a private state directory),
/// so it can be stopped and started without disturbing other tests.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PostgresRestartTests {
    @Test(.enabled(if: TestDatabase.serverURL != nil))
    func stoppingTheDatabaseFailsWritesUntilItReturns() throws {
        let state = TestDirectory.path("flatvec-pg-restart")
        let url = try DevPostgres.run("start", state: state)
        defer {
            _ = try? DevPostgres.run("stop", state: state)
            try? FileManager.default.removeItem(atPath: state)
        }
        let store = try PostgresStore(url: url, logger: TestDatabase.logger)
        let registry = CollectionRegistry()
        let executor = RequestExecutor(registry: registry, store: store, statistics: ServerStatistics())
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "r", dimension: 2, metric: .innerProduct)))
        var acknowledged: [Int64] = []
        var failures = 0
        for id in 0..<Int64(30) {
            if id == 10 { _ = try DevPostgres.run("stop", state: state) }
            if id == 20 { _ = try DevPostgres.run("start", state: state) }
            do {
                _ = try executor.execute(.add(AddRequest(collection: "r", batch: VectorBatch(id: id, label: 0, vector: [1, Float(id)]))))
                acknowledged.append(id)
            } catch {
                // The write that finds the connection dead gets no answer from PostgreSQL: it may have
                // run (outcome unknown). Every later one cannot connect: nothing changed.
                #expect(error.code == .unavailable || (error.code == .outcomeUnknown && failures == 0), "\(error)")
                #expect((10..<20).contains(id), "write \(id) failed while the database was up: \(error)")
                failures += 1
            }
            let hits = try executor.execute(.search(SearchRequest(collection: "r", dimension: 2, queries: [0, 1], options: SearchOptions(k: 1))))
            guard case .searched = hits else { Issue.record("search failed"); return }
        }
        #expect(failures == 10)
        #expect(acknowledged == Array(0..<10) + Array(20..<30))
        let restarted = try PostgresStore(url: url, logger: TestDatabase.logger).loadCollections()
        var stored: [Int64] = []
        try restarted.first!.index.forEachRow { id, _, _, _, _ in stored.append(id) }
        #expect(stored.sorted() == acknowledged)
    }
}
