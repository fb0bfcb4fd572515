import Benchmark
import BenchmarkData
import FlatVecCore
import Foundation


let dimension = 512
let baseCount = 100_000

/// An index of `count` random unit vectors (ids 0..<count, 1,000 labels).
func makeIndex(count: Int, seed: UInt64 = 1) -> FlatIndex {
    var source = VectorSource(state: seed)
    let index = try! FlatIndex(dimension: dimension)
    var start = 0
    while start < count {
        let n = min(10_000, count - start)
        let ids = (start..<(start + n)).map(Int64.init)
        try! index.add(VectorBatch(
            dimension: dimension,
            ids: ids,
            labels: ids.map { $0 % 1_000 },
            vectors: source.unitVectors(n, dimension: dimension)
        ))
        start += n
    }
    return index
}

nonisolated(unsafe) var sharedIndex: FlatIndex?
func base() -> FlatIndex {
    if let sharedIndex { return sharedIndex }
    let index = makeIndex(count: baseCount)
    sharedIndex = index
    return index
}

/// A thread that writes to an index until stopped: the "concurrent writer" of the search-while-adding runs.
final class BackgroundWriter: @unchecked Sendable {
    // @unchecked: `running` is only read by the writer thread and set once by the benchmark thread;
    // a late read costs one more write, never a wrong result.
    private var running = true
    private var thread: Thread?

    init(index: FlatIndex, batch: Int, pauseMicros: UInt32) {
        var source = VectorSource(state: 11)
        let vectors = source.unitVectors(batch, dimension: dimension)
        thread = Thread { [self] in
            var next: Int64 = 20_000_000
            while running {
                let ids = (next..<(next + Int64(batch))).map { $0 }
                try! index.add(VectorBatch(dimension: dimension, ids: ids, labels: Array(repeating: 1, count: batch), vectors: vectors))
                if batch > 1 {
                    // Keep the size stable: take the batch out again (each removal moves a row).
                    try! index.remove(ids: ids)
                }
                next += Int64(batch)
                usleep(pauseMicros)
            }
        }
        thread!.start()
    }

    func stop() {
        running = false
        usleep(20_000)
    }
}

let benchmarks: @Sendable () -> Void = {
    let searchConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput],
        maxDuration: .seconds(3),
        maxIterations: 300
    )

    // Question 3: search throughput by batch size, k and grouping.
    for nq in [1, 8, 16, 32, 64, 256, 1_024] {
        var source = VectorSource(state: 99)
        let queries = source.unitVectors(nq, dimension: dimension)
        for k in [1, 10, 100] {
            for grouped in [false, true] {
                let name = "search nq=\(nq) k=\(k)\(grouped ? " groupByLabel" : "") N=100k d=512"
                Benchmark(name, configuration: searchConfiguration) { benchmark in
                    let index = base()
                    let options = SearchOptions(k: k, groupByLabel: grouped)
                    benchmark.startMeasurement()
                    for _ in benchmark.scaledIterations {
                        blackHole(try! index.search(batch: queries, options: options))
                    }
                }
            }
        }
    }

    // Question 2: one-query search latency alone and with a concurrent writer.
    let latencyConfiguration = Benchmark.Configuration(
        metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 1_000
    )
    var querySource = VectorSource(state: 123)
    let oneQuery = querySource.unitVectors(1, dimension: dimension)
    for (name, batch, pause) in [("no writer", 0, UInt32(0)), ("writer adding 1 vector every 1 ms", 1, UInt32(1_000)), ("writer adding and removing batches of 1,000", 1_000, UInt32(1_000))] {
        Benchmark("search 1 query k=10 N=100k d=512, \(name)", configuration: latencyConfiguration) { benchmark in
            let index = makeIndex(count: baseCount, seed: 7)
            let writer = batch > 0 ? BackgroundWriter(index: index, batch: batch, pauseMicros: pause) : nil
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try! index.search(oneQuery, options: SearchOptions(k: 10)))
            }
            benchmark.stopMeasurement()
            writer?.stop()
        }
    }

    // Question 1: rebuild an index of N + 1 against adding 1 vector to an index of N.
    for n in [100, 500, 1_000, 5_000, 10_000, 100_000] {
        var source = VectorSource(state: UInt64(n))
        let all = source.unitVectors(n + 1, dimension: dimension)
        let ids = (0..<Int64(n + 1)).map { $0 }
        let labels = ids.map { $0 % 1_000 }
        Benchmark(
            "rebuild index of N+1 vectors, N=\(n) d=512",
            configuration: .init(metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 200)
        ) { benchmark in
            let batch = try! VectorBatch(dimension: dimension, ids: ids, labels: labels, vectors: all)
            benchmark.startMeasurement()
            var built: [FlatIndex] = []
            for _ in benchmark.scaledIterations {
                let index = try! FlatIndex(dimension: dimension)
                try! index.add(batch)
                built.append(index)
            }
            // Freeing the indexes is not part of a rebuild's latency.
            benchmark.stopMeasurement()
            blackHole(built)
        }
        Benchmark(
            "incremental add of 1 vector to an index of N (1,000 adds per sample, warm), N=\(n) d=512",
            configuration: .init(metrics: [.wallClock], scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 50)
        ) { benchmark in
            let index = try! FlatIndex(dimension: dimension)
            try! index.add(VectorBatch(dimension: dimension, ids: Array(ids.prefix(n)), labels: Array(labels.prefix(n)), vectors: Array(all.prefix(n * dimension))))
            let extra = Array(all.suffix(dimension))
            var next = Int64(n)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try! index.add(VectorBatch(id: next, label: 1, vector: extra))
                next += 1
            }
            // Freeing the index afterwards is not part of an add.
            benchmark.stopMeasurement()
        }
    }

    // One vector per iteration into an index that starts at 100k and keeps growing to 400k: the p100
    // of this benchmark is the worst stall of a single add (chunk allocation, id-map growth).
    nonisolated(unsafe) var growing: FlatIndex?
    nonisolated(unsafe) var nextID: Int64 = 10_000_000
    var addSource = VectorSource(state: 5)
    let addVectors = addSource.unitVectors(1_024, dimension: dimension)
    Benchmark(
        "add 1 vector to N=100k+ d=512 (long run, growing)",
        configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 300_000)
    ) { benchmark in
        if growing == nil { growing = makeIndex(count: baseCount, seed: 3) }
        let index = growing!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let offset = Int(nextID % 1_024) * dimension
            try! index.add(VectorBatch(id: nextID, label: 1, vector: Array(addVectors[offset..<(offset + dimension)])))
            nextID += 1
        }
    }
}
