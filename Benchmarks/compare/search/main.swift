// In-process search timings against the machine's own compute limit, for Benchmarks/compare/run.py
// and Benchmarks/README.md:
//
//     flatvec-search-bench --n 100000 --dim 512 --k 10 --nq 1,8,32,64,256,1024 --repeats 5
//
// Measures the sgemm rate of this machine first (all cores, each running single-threaded sgemm on
// 512 x 4096 x d blocks, as FlatVec's search does), then the best of `repeats` warm searches
// (after one untimed search) for each batch size. Prints one JSON object per line:
// {"sgemm_gflops": ..., "threads": ...} and then {"nq": .., "seconds": .., "bound_seconds": .., "fraction": ..}
// where bound_seconds = 2 * nq * N * d / sgemm rate and fraction = bound / measured.
//
// With files, for Benchmarks/compare/run.py's "FlatVec in process" column:
//
//     flatvec-search-bench --base base.npy --queries q.npy --k 10 --repeats 5 --out ids.npy
//
// builds the index from `base` (ids = row numbers), searches `queries` once (the first search,
// timed) and then `repeats` more times (warm, best kept), writes the ids of the last search
// (int32, best first) and prints {"first": s, "warm": s}. With `--batches 1,8,32 [--check yes]` it
// instead times the first nq queries for each size and prints one JSON line per size (see int8.py).
// `--scan float32|int8|auto` picks the scan mode (default auto); `--search-threads N` the threads one
// search may use (default: the cores).
import CBLAS
import Dispatch
import FlatVecBenchSupport
import FlatVecCore
import FlatVecFormats
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let count = Int(CommandLineOptions.value("--n", default: "100000"))!
let dimension = Int(CommandLineOptions.value("--dim", default: "512"))!
let k = Int(CommandLineOptions.value("--k", default: "10"))!
let batches = CommandLineOptions.value("--nq", default: "1,2,4,8,16,32,64,128,256,512,1024").split(separator: ",").map { Int($0)! }
let repeats = Int(CommandLineOptions.value("--repeats", default: "5"))!
let base = CommandLineOptions.value("--base", default: "")
guard let scan = ScanMode(name: CommandLineOptions.value("--scan", default: "auto")) else {
    fatalError("--scan takes float32, int8 or auto")
}
let searchThreads = Int(CommandLineOptions.value("--search-threads", default: "0"))!
let configuration = FlatIndex.Configuration(searchThreads: searchThreads > 0 ? searchThreads : FlatIndex.defaultSearchThreads, scan: scan)

var random = SplitMix64(seed: 11)
@MainActor func nextUniform() -> Float { Float(random.nextUniform()) - 0.5 }

if !base.isEmpty {
    let baseMatrix = try VectorFile.readFloat32Matrix(base)
    let queryMatrix = try VectorFile.readFloat32Matrix(CommandLineOptions.value("--queries", default: ""))
    let d = baseMatrix.columns
    let index = try FlatIndex(dimension: d, configuration: configuration)
    let whole = try VectorBatch(
        dimension: d,
        ids: (0..<Int64(baseMatrix.rows)).map { $0 },
        labels: Array(repeating: 0, count: baseMatrix.rows),
        vectors: baseMatrix.values
    )
    try index.add(whole)
    let options = SearchOptions(k: k)
    let timedBatches = CommandLineOptions.value("--batches", default: "")
    if !timedBatches.isEmpty {
        // Per batch size: the best of `repeats` warm searches of the first nq queries, the rows the
        // int8 pass rescored, and (with --check) whether every hit and score equals the float32
        // path's for that query searched alone.
        let reference: FlatIndex? = CommandLineOptions.value("--check", default: "no") == "yes"
            ? try FlatIndex(dimension: d, configuration: FlatIndex.Configuration(scan: .float32)) : nil
        try reference?.add(whole)
        for nq in timedBatches.split(separator: ",").map({ Int($0)! }) where nq <= queryMatrix.rows {
            let batch = Array(queryMatrix.values[0..<(nq * d)])
            _ = try index.search(batch: batch, options: options)
            let before = index.statistics.rescoring
            var samples: [Double] = []
            var hits: [[SearchHit]] = []
            for _ in 0..<repeats {
                let start = ContinuousClock.now
                hits = try index.search(batch: batch, options: options)
                samples.append((ContinuousClock.now - start).inSeconds)
            }
            samples.sort()
            let best = samples[0]
            let after = index.statistics.rescoring
            var mismatches = 0
            if let reference {
                for q in 0..<nq where try reference.search(Array(batch[(q * d)..<((q + 1) * d)]), options: options) != hits[q] {
                    mismatches += 1
                }
            }
            let rescored = Double(after.rowsRescored - before.rowsRescored) / Double(repeats * nq)
            print("{\"nq\": \(nq), \"seconds\": \(best), \"median_seconds\": \(samples[samples.count / 2]), \"rescored_per_query\": \(rescored), \"checked\": \(reference != nil), \"mismatches\": \(mismatches), \"scan\": \"\(index.statistics.scan)\", \"code_bytes\": \(index.statistics.codeBytes)}")
        }
        exit(0)
    }
    var start = ContinuousClock.now
    var hits = try index.search(batch: queryMatrix.values, options: options)
    let first = (ContinuousClock.now - start).inSeconds
    var warm = Double.infinity
    for _ in 0..<repeats {
        start = ContinuousClock.now
        hits = try index.search(batch: queryMatrix.values, options: options)
        warm = min(warm, (ContinuousClock.now - start).inSeconds)
    }
    var ids = Matrix<Int32>(rows: queryMatrix.rows, columns: k, values: Array(repeating: -1, count: queryMatrix.rows * k))
    for (q, row) in hits.enumerated() {
        for (j, hit) in row.enumerated() { ids.values[q * k + j] = Int32(hit.id) }
    }
    try VectorFile.write(ids, to: CommandLineOptions.value("--out", default: "ids.npy"))
    print("{\"first\": \(first), \"warm\": \(warm)}")
    exit(0)
}

let index = try FlatIndex(dimension: dimension, configuration: configuration)
let threads = index.configuration.searchThreads

// The machine's sgemm rate: every search thread runs single-threaded sgemm at once (FlatVec sets one
// BLAS thread per call), M = 512 queries against 4096 rows, which is the large-batch shape.
@MainActor func sgemmRate() -> Double {
    let m = 512, n = 4096
    let a = (0..<(m * dimension)).map { _ in nextUniform() }
    let b = (0..<(n * dimension)).map { _ in nextUniform() }
    let ap = UnsafeMutablePointer<Float>.allocate(capacity: a.count)
    let bp = UnsafeMutablePointer<Float>.allocate(capacity: b.count)
    ap.initialize(from: a, count: a.count)
    bp.initialize(from: b, count: b.count)
    let shared = (UInt(bitPattern: ap), UInt(bitPattern: bp))
    var best = Double.infinity
    let rounds = 4
    for _ in 0..<5 {
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            let a = UnsafePointer<Float>(bitPattern: shared.0)!
            let b = UnsafePointer<Float>(bitPattern: shared.1)!
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            for _ in 0..<rounds {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(dimension),
                            1, a, Int32(dimension), b, Int32(dimension), 0, c, Int32(n))
            }
            c.deallocate()
        }
        best = min(best, (ContinuousClock.now - start).inSeconds)
    }
    return 2.0 * Double(m * n * dimension * rounds * threads) / best
}

var vectors = [Float](repeating: 0, count: count * dimension)
for i in vectors.indices { vectors[i] = nextUniform() }
for start in stride(from: 0, to: count, by: 10_000) {
    let n = min(10_000, count - start)
    try index.add(VectorBatch(
        dimension: dimension,
        ids: (Int64(start)..<Int64(start + n)).map { $0 },
        labels: Array(repeating: 0, count: n),
        vectors: Array(vectors[(start * dimension)..<((start + n) * dimension)])
    ))
}
if let lanes = Int(CommandLineOptions.value("--threads", default: "")) {
    // Closed-loop threads in process: each searches one query at a time for --seconds; prints q/s,
    // p50, p99 and how the searches were merged into scans.
    let duration = Double(CommandLineOptions.value("--seconds", default: "5"))!
    let queries = (0..<(256 * dimension)).map { _ in nextUniform() }
    let options = SearchOptions(k: k)
    let before = index.statistics.searching
    let times = Mutex<[Double]>([])
    let shared = queries
    let end = ContinuousClock.now + .milliseconds(Int(duration * 1000))
    let group = DispatchGroup()
    for lane in 0..<lanes {
        DispatchQueue(label: "lane \(lane)").async(group: group) {
            var mine: [Double] = []
            var i = lane
            while ContinuousClock.now < end {
                let q = Array(shared[((i % 256) * dimension)..<((i % 256 + 1) * dimension)])
                let start = ContinuousClock.now
                _ = try! index.search(q, options: options)
                mine.append((ContinuousClock.now - start).inSeconds)
                i += 1
            }
            times.withLock { $0 += mine }
        }
    }
    group.wait()
    var all = times.withLock { $0 }
    all.sort()
    let after = index.statistics.searching
    let scans = after.scans - before.scans
    let path = CommandLineOptions.value("--latencies", default: "")
    if !path.isEmpty, let file = fopen(path, "w") {
        // Every latency in seconds, sorted, one per line: for a histogram.
        for latency in all { fputs("\(latency)\n", file) }
        fclose(file)
    }
    print("{\"threads\": \(lanes), \"qps\": \(Double(all.count) / duration), \"p50\": \(all[all.count / 2]), \"p90\": \(all[all.count * 90 / 100]), \"p99\": \(all[all.count * 99 / 100]), \"max\": \(all[all.count - 1]), \"queries_per_scan\": \(Double(after.queries - before.queries) / Double(max(scans, 1))), \"holds\": \(after.holds - before.holds), \"holds_run_out\": \(after.holdsRunOut - before.holdsRunOut), \"scans\": \(scans)}")
    exit(0)
}

let rate = sgemmRate()
let info = BLASRuntime.info
print("{\"sgemm_gflops\": \(rate / 1e9), \"threads\": \(threads), \"kernel\": \"\(info.kernel ?? "?")\", \"n\": \(count), \"dim\": \(dimension), \"k\": \(k), \"scan\": \"\(index.statistics.scan)\", \"int8_kernel\": \"\(info.int8Kernel)\"}")
let maximum = batches.max() ?? 1
let queries = (0..<(maximum * dimension)).map { _ in nextUniform() }
let options = SearchOptions(k: k)
for nq in batches {
    let batch = Array(queries[0..<(nq * dimension)])
    _ = try index.search(batch: batch, options: options)
    var samples: [Double] = []
    let before = index.statistics.rescoring
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        let hits = try index.search(batch: batch, options: options)
        samples.append((ContinuousClock.now - start).inSeconds)
        precondition(hits.count == nq)
    }
    samples.sort()
    let best = samples[0]
    let after = index.statistics.rescoring
    let perQuery = Double(repeats * nq)
    let bound = 2.0 * Double(nq) * Double(count) * Double(dimension) / rate
    print("{\"nq\": \(nq), \"seconds\": \(best), \"median_seconds\": \(samples[samples.count / 2]), \"bound_seconds\": \(bound), \"fraction\": \(bound / best), \"rescored_per_query\": \(Double(after.rowsRescored - before.rowsRescored) / perQuery), \"float32_chunks_per_query\": \(Double(after.chunksInFloat32 - before.chunksInFloat32) / perQuery)}")
}
