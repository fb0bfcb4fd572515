// Filtered search timings for Benchmarks/compare/filters.py and Benchmarks/README.md ("Filtered search, exact"):
//
//     flatvec-filter-bench --base base.npy --queries q.npy --buckets buckets.npy --k 10 --repeats 5 \
//         --scan auto --selectivities 1,0.1,0.01,0.001,0.0001 --batches 1,32 --plans default,gather,mask
//
// `buckets.npy` holds one int64 per base row in 0 ..< 10,000, each value on the same number of rows,
// stored as the int64 attribute `bucket`; the filter `bucket < s * 10000` then matches exactly the
// fraction s of the rows. For each plan (`default`: the index's own choice per chunk; `gather`:
// always score only the matching rows; `mask`: always scan the chunk and drop the other rows), each
// selectivity and each batch size (the first nq queries), prints one JSON line with the best of
// `repeats` warm searches, the unfiltered time of the same batch, and whether every query's hits and
// scores equal those of the float32 path searching that query alone (the exact reference).
import FlatVecBenchSupport
import FlatVecCore
import FlatVecFormats

let k = Int(CommandLineOptions.value("--k", default: "10"))!
let repeats = Int(CommandLineOptions.value("--repeats", default: "5"))!
let selectivities = CommandLineOptions.value("--selectivities", default: "1,0.1,0.01,0.001,0.0001").split(separator: ",").map { Double($0)! }
let batches = CommandLineOptions.value("--batches", default: "1,32").split(separator: ",").map { Int($0)! }
let plans = CommandLineOptions.value("--plans", default: "default,gather,mask").split(separator: ",").map(String.init)
guard let scan = ScanMode(name: CommandLineOptions.value("--scan", default: "auto")) else { fatalError("--scan takes float32, int8 or auto") }

let baseMatrix = try VectorFile.readFloat32Matrix(CommandLineOptions.value("--base", default: ""))
let queryMatrix = try VectorFile.readFloat32Matrix(CommandLineOptions.value("--queries", default: ""))
let buckets = try VectorFile.readIntegers(CommandLineOptions.value("--buckets", default: ""))
precondition(buckets.count == baseMatrix.rows, "one bucket per base row")
let d = baseMatrix.columns
let bucket = try AttributeDefinition(name: "bucket", type: .int64)
let batch = try VectorBatch(
    dimension: d, ids: (0..<Int64(baseMatrix.rows)).map { $0 }, labels: Array(repeating: 0, count: baseMatrix.rows),
    vectors: baseMatrix.values, attributes: buckets.map { ["bucket": .int64($0)] }
)

func makeIndex(scan: ScanMode, gatherFraction: Double?) throws -> FlatIndex {
    var configuration = FlatIndex.Configuration(scan: scan)
    configuration._gatherFraction = gatherFraction
    let index = try FlatIndex(dimension: d, configuration: configuration, attributes: [bucket])
    try index.add(batch)
    return index
}

func best(_ body: () throws -> [[SearchHit]]) rethrows -> (Double, [[SearchHit]]) {
    var hits = try body()
    var fastest = Double.infinity
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        hits = try body()
        fastest = min(fastest, (ContinuousClock.now - start).inSeconds)
    }
    return (fastest, hits)
}

let reference = try makeIndex(scan: .float32, gatherFraction: nil)
for plan in plans {
    let fraction: Double? = plan == "gather" ? 1 : plan == "mask" ? 0 : nil
    let index = try makeIndex(scan: scan, gatherFraction: fraction)
    for nq in batches where nq <= queryMatrix.rows {
        let queries = Array(queryMatrix.values[0..<(nq * d)])
        let (unfiltered, _) = try best { try index.search(batch: queries, options: SearchOptions(k: k)) }
        for selectivity in selectivities {
            let threshold = Int64((selectivity * 10_000).rounded())
            let options = SearchOptions(k: k, filter: .comparison(.attribute("bucket"), .less, .int64(threshold)))
            let before = index.statistics.rescoring.rowsRescored
            let (seconds, hits) = try best { try index.search(batch: queries, options: options) }
            let rescored = Double(index.statistics.rescoring.rowsRescored - before) / Double((repeats + 1) * nq)
            var expected: [[SearchHit]] = []
            for q in 0..<nq {
                expected.append(try reference.search(Array(queries[(q * d)..<((q + 1) * d)]), options: options))
            }
            // int8 promises the float32 scores of each query alone bit for bit; float32 batches are
            // scored by batch kernels, whose sums may round the last bit differently.
            let bitExact = index.configuration.effectiveScan == .int8
            let exact = zip(hits, expected).allSatisfy { got, want in
                got.map(\.id) == want.map(\.id)
                    && zip(got, want).allSatisfy { bitExact ? $0.score == $1.score : abs($0.score - $1.score) <= 1e-5 }
            }
            let matches = buckets.reduce(0) { $0 + ($1 < threshold ? 1 : 0) }
            print(#"{"plan":"\#(plan)","scan":"\#(index.configuration.effectiveScan)","selectivity":\#(selectivity),"matches":\#(matches),"nq":\#(nq),"seconds":\#(seconds),"unfiltered_seconds":\#(unfiltered),"rescored_per_query":\#(rescored),"exact":\#(exact)}"#)
        }
    }
}
