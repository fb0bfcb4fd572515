import Benchmark
import FlatVecCore

/// Deterministic random unit vectors (SplitMix64), the same shape as normalised CLIP embeddings.
struct VectorSource {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func unitVectors(_ count: Int, dimension: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * dimension)
        for r in 0..<count {
            var norm: Float = 0
            for c in 0..<dimension {
                let v = Float(Int64(bitPattern: next() >> 11) - (1 << 52)) / Float(1 << 52)
                out[r * dimension + c] = v
                norm += v * v
            }
            let scale = 1 / norm.squareRoot()
            for c in 0..<dimension { out[r * dimension + c] *= scale }
        }
        return out
    }
}

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

let benchmarks: @Sendable () -> Void = {
    let searchConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput],
        maxDuration: .seconds(5),
        maxIterations: 200
    )

    for nq in [1, 16, 256] {
        for k in [10] {
            var source = VectorSource(state: 99)
            let queries = source.unitVectors(nq, dimension: dimension)
            Benchmark("search nq=\(nq) k=\(k) N=100k d=512", configuration: searchConfiguration) { benchmark in
                let index = base()
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(try! index.search(batch: queries, options: SearchOptions(k: k)))
                }
            }
        }
    }

    var groupSource = VectorSource(state: 77)
    let groupQueries = groupSource.unitVectors(16, dimension: dimension)
    Benchmark("search nq=16 k=10 groupByLabel N=100k d=512", configuration: searchConfiguration) { benchmark in
        let index = base()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! index.search(batch: groupQueries, options: SearchOptions(k: 10, groupByLabel: true)))
        }
    }

    // One vector per iteration into an index that starts at 100k and keeps growing: the p100 of
    // this benchmark is the worst stall of a single add (chunk allocation, id-map growth).
    nonisolated(unsafe) var growing: FlatIndex?
    nonisolated(unsafe) var nextID: Int64 = 10_000_000
    var addSource = VectorSource(state: 5)
    let addVectors = addSource.unitVectors(1_024, dimension: dimension)
    Benchmark(
        "add 1 vector to N=100k+ d=512",
        configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5), maxIterations: 300_000)
    ) { benchmark in
        if growing == nil { growing = makeIndex(count: baseCount, seed: 3) }
        let index = growing!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let offset = Int(nextID % 1_024) * dimension
            try! index.add(VectorBatch(
                id: nextID,
                label: 1,
                vector: Array(addVectors[offset..<(offset + dimension)])
            ))
            nextID += 1
        }
    }
}
