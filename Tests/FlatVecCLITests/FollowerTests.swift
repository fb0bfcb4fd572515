import FlatVecClient
import FlatVecCore
@testable import FlatVecPostgres
import FlatVecTestSupport
import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flatvec serve --postgres URL` as a real process, with its log in a file.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: used by one test task at a time.
    let port = CrashRecoveryTests.freePort()
    let logPath = TestDirectory.path("flatvec-follower") + ".log"
    let arguments: [String]
    private var process: Process?

    init(_ arguments: [String]) throws {
        self.arguments = arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        try start()
    }

    func start() throws {
        let p = Process()
        p.executableURL = CrashRecoveryTests.flatvecBinary
        p.arguments = ["serve", "--port", "\(port)", "--log-level", "info"] + arguments
        p.standardOutput = FileHandle.nullDevice
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        p.standardError = log
        try p.run()
        process = p
    }

    func connect() async throws -> FlatVecClient { try await CrashRecoveryTests.connect(port: port) }

    func signal(_ s: Int32) { if let p = process { kill(p.processIdentifier, s) } }

    func kill9() {
        signal(SIGKILL)
        process?.waitUntilExit()
        process = nil
    }

    func stop() {
        guard let p = process else { return }
        if p.isRunning {
            kill(p.processIdentifier, SIGCONT)
            p.terminate()
        }
        p.waitUntilExit()
        process = nil
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// Three real servers on one real PostgreSQL, each following the change log: writes through any of
/// them and plain SQL reach all, and every server ends up holding exactly what the tables hold.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FollowerTests {
    static var serverURL: String? { ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"] }

    static var quiet: Logger {
        var l = Logger(label: "follower-test")
        l.logLevel = .critical
        return l
    }

    /// A fresh database on `server`.
    static func database(on server: String) throws -> String {
        let name = "flatvec_follow_\(UInt32.random(in: 0...UInt32.max))"
        try PostgresConnection(url: server).execute("CREATE DATABASE \(name)")
        let url = String(server[...server.lastIndex(of: "/")!]) + name
        try PostgresConnection(url: url).execute("CREATE EXTENSION IF NOT EXISTS vector")
        return url
    }

    /// What the tables hold, by collection, rows in id order.
    static func tables(_ url: String) throws -> [String: [StoredVector]] {
        var result: [String: [StoredVector]] = [:]
        for c in try PostgresStore(url: url, logger: quiet).loadCollections() {
            var rows: [StoredVector] = []
            try c.index.forEachRow { id, label, vector, payload, attributes in
                rows.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
            }
            result[c.name] = rows.sorted { $0.id < $1.id }
        }
        return result
    }

    /// What a server holds for the tables' ids, or nil if its collections or counts differ.
    static func contents(of server: ServerProcess, like expected: [String: [StoredVector]]) async -> [String: [StoredVector]]? {
        guard let c = try? await server.connect() else { return nil }
        defer { Task { await c.close() } }
        guard let list = try? await c.listCollections(),
              Set(list.map(\.name)) == Set(expected.keys),
              list.allSatisfy({ Int($0.count) == expected[$0.name]!.count })
        else { return nil }
        var result: [String: [StoredVector]] = [:]
        for (name, rows) in expected {
            guard let got = try? await c.get(collection: name, ids: rows.map(\.id)) else { return nil }
            result[name] = got.sorted { $0.id < $1.id }
        }
        return result
    }

    /// Waits until every server holds exactly what the tables hold (ids, labels, payloads, attributes,
    /// vector bytes); records an issue naming the first server that does not within `seconds`.
    static func expectConverged(_ servers: [ServerProcess], _ url: String, seconds: Int = 20, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var expected = try tables(url)
        for (n, server) in servers.enumerated() {
            while true {
                if await contents(of: server, like: expected) == expected { break }
                if ContinuousClock.now > deadline {
                    let counts = expected.mapValues(\.count)
                    Issue.record("server \(n) did not converge to the tables \(counts) within \(seconds) s; log:\n\(server.log.suffix(3000))", sourceLocation: sourceLocation)
                    return
                }
                try await Task.sleep(for: .milliseconds(50))
                expected = try tables(url)
            }
        }
    }

    static func vectors(_ ids: [Int64], dimension: Int = 8) -> VectorBatch {
        var rng = SystemRandomNumberGenerator()
        return try! VectorBatch(
            dimension: dimension, ids: ids, labels: ids.map { $0 % 7 },
            vectors: (0..<(ids.count * dimension)).map { _ in Float(Int.random(in: -64...64, using: &rng)) / 64 },
            payloads: ids.map { Array("{\"n\":\($0)}".utf8) }
        )
    }

    @Test(.enabled(if: serverURL != nil))
    func writesThroughAnyServerReachTheOthers() async throws {
        let url = try Self.database(on: Self.serverURL!)
        let servers = try (0..<3).map { _ in try ServerProcess(["--postgres", url]) }
        let a = try await servers[0].connect()
        let b = try await servers[1].connect()
        try await a.createCollection("shop", dimension: 8, attributes: [try AttributeDefinition(name: "category", type: .keyword)])
        try await a.add(collection: "shop", batch: Self.vectors(Array(0..<300)))
        // Read-your-writes on the server written through, at once.
        #expect(try await a.get(collection: "shop", ids: [299]).count == 1)
        try await b.add(collection: "shop", batch: Self.vectors(Array(300..<400)))
        try await a.remove(collection: "shop", ids: Array(0..<50))
        // A server checks a write against what it holds: B updates rows A wrote once it has them.
        try await Self.expectConverged(servers, url)
        try await b.update(collection: "shop", (60..<90).map { RowUpdate(id: $0, label: 99, set: ["category": .keyword("hats")]) })
        try await a.addAttribute(collection: "shop", try AttributeDefinition(name: "price", type: .float64))
        try await Self.expectConverged(servers, url)
        try await b.update(collection: "shop", [RowUpdate(id: 100, set: ["price": .float64(9.5)])])
        try await a.createCollection("other", dimension: 4)
        try await a.add(collection: "other", batch: Self.vectors([1, 2, 3], dimension: 4))
        try await Self.expectConverged(servers, url)
        try await b.dropCollection("other")
        try await Self.expectConverged(servers, url)
        // The same filtered search gives the same hits on every server.
        let query = Self.vectors([0]).vectors
        let options = SearchOptions(k: 10, filter: try Filter(parsing: #"category = "hats""#))
        let expected = try await a.search(collection: "shop", queries: query, dimension: 8, options: options)
        #expect(expected[0].count == 10)
        for server in servers.dropFirst() {
            let c = try await server.connect()
            #expect(try await c.search(collection: "shop", queries: query, dimension: 8, options: options) == expected)
        }
        // STATS on a follower: its place in the log, nothing pending.
        let stats = try await servers[2].connect().stats()
        let shop = try #require(stats.collections.first { $0.name == "shop" })
        #expect(shop.following && shop.logPosition > 0)
        #expect(shop.pendingChanges == 0 && shop.lagMillis == 0)
    }

    @Test(.enabled(if: serverURL != nil))
    func plainSQLReachesEveryServer() async throws {
        let url = try Self.database(on: Self.serverURL!)
        let servers = try (0..<3).map { _ in try ServerProcess(["--postgres", url]) }
        let a = try await servers[0].connect()
        try await a.createCollection("p", dimension: 3, metric: .cosine, attributes: [try AttributeDefinition(name: "visible", type: .bool)])
        let sql = try PostgresConnection(url: url)
        try sql.execute("INSERT INTO fv_p (id, label, payload, embedding, visible) SELECT g, g % 5, 'row ' || g, ('[' || g || ', 1, 2]')::vector, g % 2 = 0 FROM generate_series(1, 500) AS g")
        try await Self.expectConverged(servers, url)
        try sql.execute("UPDATE fv_p SET label = 42, visible = NULL WHERE id <= 100")
        try sql.execute("UPDATE fv_p SET id = 1000 WHERE id = 500")
        try sql.execute("DELETE FROM fv_p WHERE id BETWEEN 200 AND 260")
        try sql.copyIn("COPY fv_p (id, label, embedding) FROM STDIN", data: Array("2000\t7\t[0,0,1]\n2001\t7\t[0,1,1]\n".utf8))
        try await Self.expectConverged(servers, url)
        #expect(try await a.get(collection: "p", ids: [1000]).count == 1)
        try sql.execute("TRUNCATE fv_p")
        try sql.execute("INSERT INTO fv_p (id, embedding) VALUES (7, '[0, 3, 4]')")
        try await Self.expectConverged(servers, url)
        let row = try #require(try await servers[2].connect().get(collection: "p", ids: [7]).first)
        #expect(abs(row.vector[1] - 0.6) < 1e-6, "plain SQL rows are normalised under cosine on the followers too")
    }

    @Test(.enabled(if: serverURL != nil))
    func transactionsCommittingOutOfSequenceOrderAreBothApplied() async throws {
        let url = try Self.database(on: Self.serverURL!)
        let servers = try (0..<3).map { _ in try ServerProcess(["--postgres", url]) }
        try await servers[0].connect().createCollection("t", dimension: 2)
        let first = try PostgresConnection(url: url)
        let second = try PostgresConnection(url: url)
        try first.execute("BEGIN")
        try first.execute("INSERT INTO fv_t (id, embedding) VALUES (1, '[1, 0]')")
        try second.execute("BEGIN")
        try second.execute("INSERT INTO fv_t (id, embedding) VALUES (2, '[0, 1]')")
        try second.execute("COMMIT")
        // Let the followers read the log while the first transaction, with the smaller position, is open.
        try await Task.sleep(for: .milliseconds(700))
        let positions = try first.query("SELECT id, position FROM flatvec_changes WHERE kind = 'row' ORDER BY id")
        #expect(positions.count == 2 && Int(positions[0][1]!)! < Int(positions[1][1]!)!, "the open transaction logged first")
        try first.execute("COMMIT")
        try await Self.expectConverged(servers, url)
        for server in servers {
            #expect(try await server.connect().get(collection: "t", ids: [1, 2]).count == 2)
        }
    }

    @Test(.enabled(if: serverURL != nil))
    func aKilledFollowerConvergesAfterRestart() async throws {
        let url = try Self.database(on: Self.serverURL!)
        let servers = try (0..<3).map { _ in try ServerProcess(["--postgres", url]) }
        let a = try await servers[0].connect()
        try await a.createCollection("k", dimension: 8)
        let writer = Task {
            var id: Int64 = 0
            while !Task.isCancelled {
                let n = Int64.random(in: 1...20)
                _ = try? await a.add(collection: "k", batch: Self.vectors(Array(id..<(id + n))))
                if id > 40 { _ = try? await a.remove(collection: "k", ids: [id - 40]) }
                id += n
            }
        }
        try await Task.sleep(for: .milliseconds(600))
        servers[1].kill9()
        try await Task.sleep(for: .milliseconds(600))
        try servers[1].start()
        try await Task.sleep(for: .milliseconds(600))
        writer.cancel()
        _ = await writer.value
        try await Self.expectConverged(servers, url)
        #expect(try Self.tables(url)["k"]!.count > 100, "too few writes to mean anything")
    }

    @Test(.enabled(if: serverURL != nil))
    func aFollowerWhosePositionWasTrimmedReloads() async throws {
        let url = try Self.database(on: Self.serverURL!)
        let servers = try (0..<3).map { _ in try ServerProcess(["--postgres", url]) }
        let a = try await servers[0].connect()
        try await a.createCollection("r", dimension: 8)
        try await a.add(collection: "r", batch: Self.vectors(Array(0..<100)))
        try await Self.expectConverged(servers, url)
        servers[1].signal(SIGSTOP)
        defer { servers[1].signal(SIGCONT) }
        try await a.add(collection: "r", batch: Self.vectors(Array(100..<200)))
        try await a.remove(collection: "r", ids: Array(0..<10))
        try await Self.expectConverged([servers[0], servers[2]], url)
        let sql = try PostgresConnection(url: url)
        // Trimming stops below the oldest running transaction of the whole cluster (other tests'
        // included): trim until the log is empty.
        var trimmed = 0
        for _ in 0..<200 where try sql.query("SELECT count(*) FROM flatvec_changes") != [["0"]] {
            trimmed += Int(try sql.query("SELECT flatvec_trim_changes('0 seconds', 0)")[0][0] ?? "0")!
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(trimmed >= 110)
        #expect(try sql.query("SELECT count(*) FROM flatvec_changes") == [["0"]])
        servers[1].signal(SIGCONT)
        try await Self.expectConverged(servers, url)
        #expect(servers[1].log.contains("position in the change log was trimmed; reloading every collection"))
        #expect(!servers[2].log.contains("was trimmed"), "a follower that was not behind does not reload")
    }
}

/// The followers against a PostgreSQL of the test's own, stopped and started under them.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FollowerRestartTests {
    @Test(.enabled(if: FollowerTests.serverURL != nil))
    func postgresStoppedAndStartedEveryServerConverges() async throws {
        let state = TestDirectory.path("flatvec-pg-follow")
        let server = try DevPostgres.run("start", state: state)
        defer {
            _ = try? DevPostgres.run("stop", state: state)
            try? FileManager.default.removeItem(atPath: state)
        }
        let url = try FollowerTests.database(on: server)
        let servers = try (0..<3).map { _ in try ServerProcess(["--postgres", url]) }
        let a = try await servers[0].connect()
        try await a.createCollection("s", dimension: 8)
        try await a.add(collection: "s", batch: FollowerTests.vectors(Array(0..<100)))
        _ = try DevPostgres.run("stop", state: state)
        do {
            try await a.add(collection: "s", batch: FollowerTests.vectors([500]))
            Issue.record("a write succeeded with PostgreSQL stopped")
        } catch {
            // The first write after the stop finds the connection dead, with no answer: it may have run.
            #expect(error.code == .unavailable || error.code == .outcomeUnknown, "\(error)")
        }
        _ = try DevPostgres.run("start", state: state)
        // Writes through A and through plain SQL after the restart reach B and C.
        var written = false
        for _ in 0..<100 where !written {
            written = (try? await a.add(collection: "s", batch: FollowerTests.vectors(Array(100..<150)))) != nil
            if !written { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(written)
        try PostgresConnection(url: url).execute("DELETE FROM fv_s WHERE id < 20")
        try await FollowerTests.expectConverged(servers, url, seconds: 30)
    }
}
