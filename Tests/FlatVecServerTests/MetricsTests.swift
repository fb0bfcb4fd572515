import FlatVecClient
import FlatVecCore
import FlatVecServer
@testable import FlatVecStorage
import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics` after a known sequence of requests: the counters, the histograms and the gauges
/// hold exactly what happened, and every line is valid Prometheus text.
@Suite(.timeLimit(.minutes(2))) struct MetricsTests {
    /// One HTTP/1.1 exchange on a fresh socket; returns the status code and the body.
    static func http(_ method: String, _ path: String, port: Int) throws -> (status: Int, body: String) {
        let raw = try RawConnection(port: port)
        raw.send(Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(raw.fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n") else { throw FlatVecError(.badFrame, "no HTTP header in \(text)") }
        let status = Int(text.split(separator: " ", maxSplits: 2)[1]) ?? 0
        return (status, String(text[headerEnd.upperBound...]))
    }

    /// Parses Prometheus text strictly: `# TYPE name kind`, `# HELP ...`, or `name{label="v",...} value`.
    static func parse(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        let name = #/[a-zA-Z_:][a-zA-Z0-9_:]*/#
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, (try? name.wholeMatch(in: parts[2])) != nil,
                      ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                else { throw FlatVecError(.badFrame, "bad TYPE line: \(line)") }
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            let sample = #/([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (\S+)/#
            guard let m = try sample.wholeMatch(in: line), let value = Double(String(m.output.5).replacingOccurrences(of: "Inf", with: "inf")) else {
                throw FlatVecError(.badFrame, "bad sample line: \(line)")
            }
            samples[String(m.output.1) + String(m.output.2 ?? "")] = value
        }
        return samples
    }

    @Test func scrapesCountExactlyWhatHappened() async throws {
        let metrics = ServerMetrics()
        let server = try await TestServer.start(metrics: metrics)
        defer { Task { await server.stop() } }
        var logger = Logger(label: "metrics-test")
        logger.logLevel = .critical
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, executor: server.executor, metrics: metrics, logger: logger)
        let task = Task { try await endpoint.run() }
        defer { task.cancel() }
        let port = try #require(await endpoint.listeningAddress()?.port)

        let c = try await server.client()
        try await c.createCollection("m", dimension: 2)
        for i in 0..<3 { try await c.add(collection: "m", batch: VectorBatch(id: Int64(i), label: 0, vector: [1, Float(i)])) }
        for _ in 0..<5 { _ = try await c.search(collection: "m", queries: [1, 0], dimension: 2, options: SearchOptions(k: 1)) }
        await #expect(throws: FlatVecError.self) {
            _ = try await c.search(collection: "nope", queries: [1, 0], dimension: 2, options: SearchOptions(k: 1))
        }
        await #expect(throws: FlatVecError.self) { try await c.remove(collection: "m", ids: [99]) }

        let (status, body) = try Self.http("GET", "/metrics", port: port)
        #expect(status == 200)
        let s = try Self.parse(body)
        #expect(s[#"flatvec_requests_total{op="search"}"#] == 6)
        #expect(s[#"flatvec_requests_total{op="add"}"#] == 3)
        #expect(s[#"flatvec_requests_total{op="hello"}"#] == 1)
        #expect(s[#"flatvec_request_errors_total{op="search",code="unknown_collection"}"#] == 1)
        #expect(s[#"flatvec_request_errors_total{op="remove",code="unknown_id"}"#] == 1)
        #expect(s[#"flatvec_request_errors_total{op="add",code="unknown_id"}"#] == nil)
        #expect(s[#"flatvec_request_duration_seconds_count{op="search"}"#] == 6)
        #expect(s[#"flatvec_request_duration_seconds_bucket{op="search",le="+Inf"}"#] == 6)
        #expect(s[#"flatvec_store_commit_duration_seconds_count{op="add"}"#] == 3)
        #expect(s[#"flatvec_store_commit_duration_seconds_count{op="create_collection"}"#] == 1)
        #expect(s["flatvec_connections_open"] == 1 && s["flatvec_connections_total"] == 1)
        #expect(s[#"flatvec_collection_vectors{collection="m"}"#] == 3)
        #expect((s[#"flatvec_collection_memory_bytes{collection="m"}"#] ?? 0) > 0)
        #expect(s[#"flatvec_search_queries_total{collection="m"}"#] == 5)
        #expect((s[#"flatvec_search_scans_total{collection="m"}"#] ?? 0) >= 1)

        // A dropped collection's gauges go; counters only ever grow.
        try await c.dropCollection("m")
        let after = try Self.parse(try Self.http("GET", "/metrics", port: port).body)
        #expect(after[#"flatvec_collection_vectors{collection="m"}"#] == nil)
        #expect(after[#"flatvec_requests_total{op="search"}"#] == 6)
        #expect(after[#"flatvec_requests_total{op="drop_collection"}"#] == 1)

        #expect(try Self.http("GET", "/other", port: port).status == 404)
        #expect(try Self.http("POST", "/metrics", port: port).status == 405)
        let head = try Self.http("HEAD", "/metrics", port: port)
        #expect(head.status == 200 && head.body.isEmpty)
        await c.close()
    }

    /// `/healthz` answers while the process serves; `/readyz` says 503 with the reason while the
    /// collections load and while the store cannot be reached, 200 otherwise.
    @Test func probesSayLiveAndReadyWithReasons() async throws {
        let metrics = ServerMetrics()
        let server = try await TestServer.start(metrics: metrics)
        defer { Task { await server.stop() } }
        var logger = Logger(label: "probe-test")
        logger.logLevel = .critical
        let readiness = Readiness()
        readiness.loading("from a test")
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, executor: server.executor, metrics: metrics, readiness: readiness, logger: logger)
        let task = Task { try await endpoint.run() }
        defer { task.cancel() }
        let port = try #require(await endpoint.listeningAddress()?.port)
        #expect(try Self.http("GET", "/healthz", port: port) == (200, "ok\n"))
        let loading = try Self.http("GET", "/readyz", port: port)
        #expect(loading.status == 503 && loading.body == "not ready: loading collections: from a test\n", "\(loading)")
        readiness.loaded()
        #expect(try Self.http("GET", "/readyz", port: port) == (200, "ready\n"))
        #expect(try Self.http("HEAD", "/readyz", port: port).status == 200)
        #expect(try Self.http("POST", "/readyz", port: port).status == 405)

        // A store that cannot be reached.
        let executor = RequestExecutor(registry: CollectionRegistry(), store: UnreachableStore(), statistics: ServerStatistics())
        let down = MetricsEndpoint(host: "127.0.0.1", port: 0, executor: executor, metrics: ServerMetrics(), logger: logger)
        let downTask = Task { try await down.run() }
        defer { downTask.cancel() }
        let downPort = try #require(await down.listeningAddress()?.port)
        let unreachable = try Self.http("GET", "/readyz", port: downPort)
        #expect(unreachable.status == 503 && unreachable.body == "not ready: the store cannot be reached: the test store is down\n", "\(unreachable)")
        #expect(try Self.http("GET", "/healthz", port: downPort).status == 200)

        // A follower with a lag bound: ready while its collections lag less, not when one lags more.
        let registry = CollectionRegistry()
        try registry.insert(NamedIndex(name: "f", index: try FlatIndex(dimension: 2)))
        let following = RequestExecutor(registry: registry, store: MemoryOnlyStore(), statistics: ServerStatistics())
        following.following.started()
        following.following.read(positions: ["f": 10], pending: ["f": 0], pendingAgeMillis: [:])
        let bounded = Readiness(maximumLagMillis: 5_000)
        bounded.loaded()
        #expect(bounded.notReadyBecause(following) == nil)
        following.following.read(positions: ["f": 10], pending: ["f": 3], pendingAgeMillis: ["f": 7_500])
        #expect(bounded.notReadyBecause(following)?.first?.hasPrefix("collection 'f' lags 75") == true, "\(String(describing: bounded.notReadyBecause(following)))")
        #expect(Readiness().notReadyBecause(following) == ["loading collections: starting"])
    }
}

/// A store that says it cannot be reached (for readiness); it holds nothing.
struct UnreachableStore: DurableStore {
    var description: String { "unreachable test store" }
    func loadCollections() throws(FlatVecError) -> [NamedIndex] { [] }
    func createCollection(name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]) throws(FlatVecError) { throw Self.down }
    func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError) { throw Self.down }
    func dropAttribute(collection: String, name: String) throws(FlatVecError) { throw Self.down }
    func update(collection: String, updates: [RowUpdate]) throws(FlatVecError) { throw Self.down }
    func dropCollection(name: String) throws(FlatVecError) { throw Self.down }
    func add(collection: String, batch: VectorBatch) throws(FlatVecError) { throw Self.down }
    func remove(collection: String, ids: [Int64]) throws(FlatVecError) { throw Self.down }
    func checkReachable() throws(FlatVecError) { throw Self.down }
    static var down: FlatVecError { FlatVecError(.unavailable, "the test store is down") }
}
