import Benchmark
import BenchmarkData
import Dispatch
import FlatVecCore
import FlatVecEngine
import FlatVecPostgres
import FlatVecStorage
import Foundation
import Logging

// Needs FLATVEC_BENCH_POSTGRES_URL (e.g. from scripts/dev-postgres.sh start) for the PostgreSQL runs.

let dimension = 512


var quiet: Logger {
    var l = Logger(label: "bench")
    l.logLevel = .error
    return l
}

func temporaryDirectory(_ tag: String) -> String {
    let path = NSTemporaryDirectory() + "flatvec-bench-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A fresh PostgreSQL database URL, or nil when no server is configured.
func freshDatabase() -> String? {
    guard let server = ProcessInfo.processInfo.environment["FLATVEC_BENCH_POSTGRES_URL"] else { return nil }
    let name = "flatvec_bench_\(UInt32.random(in: 0...UInt32.max))"
    let task = Process()
    task.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
    task.arguments = [server, "-q", "-c", "CREATE DATABASE \(name)"]
    try? task.run()
    task.waitUntilExit()
    return String(server[...server.lastIndex(of: "/")!]) + name
}

func executor(_ store: any DurableStore) -> Engine {
    try! Engine.open(store, configuration: Engine.Configuration(runsMaintenance: false))
}

/// `writers` real threads (as many server connections would be) each add `perWriter` single vectors,
/// one durable ADD at a time; returns when all are acknowledged.
func addConcurrently(_ executor: Engine, writers: Int, perWriter: Int, base: Int64, vector: [Float]) {
    let group = DispatchGroup()
    for w in 0..<writers {
        group.enter()
        Thread {
            for i in 0..<perWriter {
                let id = base + Int64(w * perWriter + i)
                try! executor.add(VectorBatch(id: id, label: 0, vector: vector), to: "c")
            }
            group.leave()
        }.start()
    }
    group.wait()
}

nonisolated(unsafe) var nextBase: Int64 = 0

let benchmarks: @Sendable () -> Void = {
    var source = VectorSource(state: 1)
    let one = source.unitVectors(1, dimension: dimension)

    var stores: [(String, () -> any DurableStore)] = [("local store", { try! LocalDirectoryStore(directory: temporaryDirectory("add"), logger: quiet) })]
    if ProcessInfo.processInfo.environment["FLATVEC_BENCH_POSTGRES_URL"] != nil {
        stores.append(("PostgreSQL store", { try! PostgresStore(url: freshDatabase()!, logger: quiet) }))
    }
    for (name, make) in stores {
        for writers in [1, 16] {
            // One iteration = `writers` threads x 20 single-vector ADDs, each durable before it returns.
            Benchmark(
                "durable ADDs of 1 vector (d=512): \(writers) writers x 20 adds per iteration, \(name)",
                configuration: .init(metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 500)
            ) { benchmark in
                let e = executor(make())
                try? e.createCollection("c", dimension: dimension)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    addConcurrently(e, writers: writers, perWriter: 20, base: nextBase, vector: one)
                    nextBase += Int64(writers * 20)
                }
                benchmark.stopMeasurement()
            }
        }
    }

    // Start-up from the local store: 100k x 512 in a snapshot plus 10k more in the log.
    nonisolated(unsafe) var prepared: String?
    Benchmark(
        "start-up from the local store, 100k x 512 snapshot + 10k in the log",
        configuration: .init(metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 20)
    ) { benchmark in
        if prepared == nil {
            let directory = temporaryDirectory("startup")
            let e = executor(try! LocalDirectoryStore(directory: directory, logger: quiet))
            try! e.createCollection("c", dimension: dimension)
            var s = VectorSource(state: 2)
            for start in stride(from: 0, to: 110_000, by: 10_000) {
                if start == 100_000 { try! e.compact() }
                let ids = (Int64(start)..<Int64(start + 10_000)).map { $0 }
                try! e.add(VectorBatch(dimension: dimension, ids: ids, labels: ids, vectors: s.unitVectors(10_000, dimension: dimension)), to: "c")
            }
            prepared = directory
        }
        benchmark.startMeasurement()
        let store = try! LocalDirectoryStore(directory: prepared!, logger: quiet)
        let loaded = try! store.loadCollections()
        benchmark.stopMeasurement()
        precondition(loaded.first?.index.count == 110_000)
    }

    // Rebuild of 100k x 512 from PostgreSQL (binary COPY streamed into a new index).
    if ProcessInfo.processInfo.environment["FLATVEC_BENCH_POSTGRES_URL"] != nil {
        nonisolated(unsafe) var url: String?
        Benchmark(
            "rebuild 100k x 512 from PostgreSQL",
            configuration: .init(metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 10)
        ) { benchmark in
            if url == nil {
                let u = freshDatabase()!
                let store = try! PostgresStore(url: u, logger: quiet)
                try! store.createCollection(name: "c", dimension: dimension, metric: .innerProduct, attributes: [])
                var s = VectorSource(state: 3)
                for start in stride(from: 0, to: 100_000, by: 10_000) {
                    let ids = (Int64(start)..<Int64(start + 10_000)).map { $0 }
                    try! store.add(collection: "c", batch: VectorBatch(dimension: dimension, ids: ids, labels: ids, vectors: s.unitVectors(10_000, dimension: dimension)))
                }
                url = u
            }
            let store = try! PostgresStore(url: url!, logger: quiet)
            benchmark.startMeasurement()
            let loaded = try! store.rebuildCollections()
            benchmark.stopMeasurement()
            precondition(loaded.first?.index.count == 100_000)
        }
    }
}
