// In-process timings of index updates for Benchmarks/compare/run.py, so FlatVec's FlatIndex is
// compared with FAISS IndexFlatIP in process on both sides (the server's round trip is measured
// separately by the harness):
//
//     flatvec-updates-bench --dim 512 --sizes 100,1000,10000 --repeats 5
//
// prints one JSON object per N: the best of `repeats` for building a fresh index of N + 1 vectors,
// adding 1 vector to an index of N, and removing 1 vector from an index of N (seconds).
import FlatVecBenchSupport
import FlatVecCore

#if canImport(Glibc)
import Glibc
#endif

let dimension = Int(CommandLineOptions.value("--dim", default: "512"))!
let sizes = CommandLineOptions.value("--sizes", default: "100,500,1000,5000,10000,100000").split(separator: ",").map { Int($0)! }
let repeats = Int(CommandLineOptions.value("--repeats", default: "5"))!

// Gaussian rows from a fixed seed (timings do not depend on the values; FAISS gets numpy's).
var random = SplitMix64(seed: 3)
let largest = sizes.max()! + 1
var pool = [Float](repeating: 0, count: largest * dimension)
for i in 0..<pool.count {
    pool[i] = Float((-2 * log(max(random.nextUniform(), 1e-300))).squareRoot() * cos(2 * Double.pi * random.nextUniform()))
}

@MainActor func batch(_ range: Range<Int>) -> VectorBatch {
    try! VectorBatch(
        dimension: dimension, ids: range.map(Int64.init), labels: Array(repeating: 0, count: range.count),
        vectors: Array(pool[(range.lowerBound * dimension)..<(range.upperBound * dimension)])
    )
}

@MainActor func best(_ body: () -> Void) -> Double {
    var fastest = Double.infinity
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        body()
        let elapsed = ContinuousClock.now - start
        fastest = min(fastest, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    return fastest
}

for n in sizes {
    let everything = batch(0..<(n + 1))
    let rebuild = best {
        let index = try! FlatIndex(dimension: dimension)
        try! index.add(everything)
    }
    let index = try! FlatIndex(dimension: dimension)
    try! index.add(batch(0..<n))
    let one = batch(n..<(n + 1))
    // Add the (N+1)-th vector, then take it out again untimed, so every repeat adds to N.
    var add = Double.infinity
    var remove = Double.infinity
    for _ in 0..<repeats {
        var start = ContinuousClock.now
        try! index.add(one)
        var elapsed = ContinuousClock.now - start
        add = min(add, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        try! index.remove(ids: [Int64(n)])
        // Remove one of the N (from the middle), then put it back untimed.
        let victim = Int64(n / 2)
        let back = batch(Int(victim)..<(Int(victim) + 1))
        start = ContinuousClock.now
        try! index.remove(ids: [victim])
        elapsed = ContinuousClock.now - start
        remove = min(remove, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        try! index.add(back)
    }
    print("{\"n\": \(n), \"rebuild\": \(rebuild), \"add\": \(add), \"remove\": \(remove)}")
    fflush(nil)  // every stream: the harness reads line by line
}
