import Benchmark
import BenchmarkData
import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import FlatVecStorage
import Logging


let dimension = 512
let baseCount = 100_000

/// A server on a free loopback port holding collection "bench" (100k x 512), started once.
final class Fixture: @unchecked Sendable {
    // @unchecked: written once during setup, before any benchmark reads it.
    let registry = CollectionRegistry()
    var port = 0
    var index: FlatIndex!

    static let shared = Fixture()

    func start() async throws {
        guard port == 0 else { return }
        var source = VectorSource(state: 1)
        let index = try FlatIndex(dimension: dimension)
        for start in stride(from: 0, to: baseCount, by: 10_000) {
            let ids = (Int64(start)..<Int64(start + 10_000)).map { $0 }
            try index.add(VectorBatch(dimension: dimension, ids: ids, labels: ids.map { $0 % 1_000 }, vectors: source.unitVectors(10_000, dimension: dimension)))
        }
        try registry.insert(NamedIndex(name: "bench", index: index))
        self.index = index
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let configuration = ServerConfiguration(port: 0)
        let executor = RequestExecutor(registry: registry, store: MemoryOnlyStore(), statistics: ServerStatistics())
        let server = try FlatVecServer(configuration: configuration, executor: executor, logger: logger)
        Task { try await server.run() }
        port = await server.listeningAddress()!.port!
    }

    func client() async throws -> FlatVecClient {
        try await FlatVecClient.connect(host: "127.0.0.1", port: port)
    }
}

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(metrics: [.wallClock, .throughput], maxDuration: .seconds(4), maxIterations: 2_000)
    var source = VectorSource(state: 42)
    let query = source.unitVectors(1, dimension: dimension)
    let addVector = source.unitVectors(1, dimension: dimension)

    Benchmark("PING round trip (loopback)", configuration: configuration) { benchmark in
        try await Fixture.shared.start()
        let client = try await Fixture.shared.client()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { _ = try await client.ping() }
        benchmark.stopMeasurement()
        await client.close()
    }

    Benchmark("ADD 1 vector round trip (loopback, N=100k d=512)", configuration: configuration) { benchmark in
        try await Fixture.shared.start()
        let client = try await Fixture.shared.client()
        var id: Int64 = 50_000_000
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await client.add(collection: "bench", batch: VectorBatch(id: id, label: 1, vector: addVector))
            id += 1
        }
        benchmark.stopMeasurement()
        await client.close()
    }

    Benchmark("SEARCH 1 query k=10 round trip (loopback, N=100k d=512)", configuration: configuration) { benchmark in
        try await Fixture.shared.start()
        let client = try await Fixture.shared.client()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await client.search(collection: "bench", queries: query, dimension: dimension, options: SearchOptions(k: 10)))
        }
        benchmark.stopMeasurement()
        await client.close()
    }

    Benchmark("search 1 query k=10 in process (same index)", configuration: configuration) { benchmark in
        try await Fixture.shared.start()
        let index = Fixture.shared.index!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try index.search(query, options: SearchOptions(k: 10)))
        }
    }

    // Closed-loop lanes: the server merges the searches that wait while a scan runs. q/s = rounds/s x clients;
    // a round's wall clock is the slowest of its searches. (Benchmarks/compare/checkout.py measures
    // the same with independent lanes and per-request percentiles.)
    for clients in [1, 2, 4, 8, 16, 32, 64] {
        Benchmark(
            "SEARCH throughput, \(clients) concurrent clients, 1 query k=10 each (N=100k d=512)",
            configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .one, maxDuration: .seconds(6), maxIterations: 200)
        ) { benchmark in
            try await Fixture.shared.start()
            var connections: [FlatVecClient] = []
            for _ in 0..<clients { connections.append(try await Fixture.shared.client()) }
            let pool = connections
            benchmark.startMeasurement()
            // One iteration: every client runs one search; throughput counts iterations per second.
            for _ in benchmark.scaledIterations {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for c in pool {
                        group.addTask {
                            blackHole(try await c.search(collection: "bench", queries: query, dimension: dimension, options: SearchOptions(k: 10)))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            benchmark.stopMeasurement()
            for c in pool { await c.close() }
        }
    }
}
