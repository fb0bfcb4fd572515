import ArgumentParser
import FlatVecCore
import FlatVecFormats

/// `flatvec knn`: exact k nearest neighbours of every query in a base file, as used for ANN ground truth.
struct KnnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knn",
        abstract: "Exact top-k by inner product (or cosine) of every query against a base file.",
        discussion: """
            Reads .fvecs or .npy (float32, 2-D, C order). Writes ids as .ivecs or .npy (int32, 0-based \
            row numbers of the base, best first) and scores as .fvecs or .npy. Where the base holds fewer \
            than k rows the ids are padded with -1 and the scores with -3.4028235e38, as FAISS does.
            """
    )

    @Option(name: .long, help: "Base vectors (.fvecs or .npy).")
    var base: String

    @Option(name: .long, help: "Query vectors (.fvecs or .npy).")
    var queries: String

    // Unconditional parsing: `--k -3` is a value out of range, not a missing value.
    @Option(name: .long, parsing: .unconditional, help: "Neighbours per query (1 to 10000).")
    var k: Int

    @Option(name: .long, help: "Output ids (.ivecs or .npy).")
    var out: String

    @Option(name: .long, help: "Output scores (.fvecs or .npy).")
    var scores: String?

    @Option(name: .long, help: "ip (inner product) or cosine.")
    var metric: String = "ip"

    @Flag(name: .long, help: "Print the time of each phase to standard error.")
    var verbose = false

    func run() throws {
        guard let metric = Metric(name: metric) else { fail("unknown metric '\(self.metric)'; use ip or cosine") }
        guard (1...SearchOptions.maximumK).contains(k) else {
            fail("--k \(k) is outside 1...\(SearchOptions.maximumK)")
        }
        let clock = ContinuousClock()
        var phaseStart = clock.now
        func phase(_ name: String) {
            guard verbose else { return }
            let now = clock.now
            report("\(name): \(now - phaseStart)")
            phaseStart = now
        }
        let baseMatrix: Matrix<Float>
        let queryMatrix: Matrix<Float>
        do {
            baseMatrix = try VectorFile.readFloat32Matrix(base)
            queryMatrix = try VectorFile.readFloat32Matrix(queries)
        } catch {
            fail(error.description)
        }
        phase("read")
        if baseMatrix.rows > 0 && queryMatrix.rows > 0 && baseMatrix.columns != queryMatrix.columns {
            fail("base has dimension \(baseMatrix.columns) but queries have dimension \(queryMatrix.columns)")
        }
        guard baseMatrix.rows <= Int(Int32.max) else { fail("base has more rows than int32 ids can number") }
        let dimension = max(baseMatrix.columns, queryMatrix.columns, 1)
        var ids = Matrix<Int32>(rows: queryMatrix.rows, columns: k, values: Array(repeating: -1, count: queryMatrix.rows * k))
        var scoreMatrix = Matrix<Float>(
            rows: queryMatrix.rows,
            columns: k,
            values: Array(repeating: -Float.greatestFiniteMagnitude, count: queryMatrix.rows * k)
        )
        do {
            let index = try FlatIndex(dimension: dimension, metric: metric)
            if baseMatrix.rows > 0 {
                let batch = try VectorBatch(
                    dimension: dimension,
                    ids: (0..<Int64(baseMatrix.rows)).map { $0 },
                    labels: Array(repeating: 0, count: baseMatrix.rows),
                    vectors: baseMatrix.values
                )
                try index.add(batch)
            }
            phase("index")
            if queryMatrix.rows > 0 {
                let results = try index.search(batch: queryMatrix.values, options: SearchOptions(k: k))
                for (q, hits) in results.enumerated() {
                    for (j, hit) in hits.enumerated() {
                        ids.values[q * k + j] = Int32(hit.id)
                        scoreMatrix.values[q * k + j] = hit.score
                    }
                }
            }
            phase("search")
        } catch {
            fail(error.description)
        }
        do {
            try VectorFile.write(ids, to: out)
            if let scores { try VectorFile.write(scoreMatrix, to: scores) }
            phase("write")
        } catch {
            fail(error.description)
        }
    }
}
