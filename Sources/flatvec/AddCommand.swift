import ArgumentParser
import FlatVecClient
import FlatVecCore
import FlatVecFormats

#if canImport(Glibc)
import Glibc
#endif

/// `flatvec add`: upsert vectors from files, in batches, with progress on a terminal.
struct AddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Upsert vectors into a collection.",
        discussion: """
            Vectors: .npy or .fvecs. Ids and labels: .npy (int32/int64), .ivecs, or text with one integer
            per line; ids default to row numbers, labels to 0. Payloads: JSON lines, one per vector (an
            empty line for none).
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "Vectors (.npy or .fvecs).") var vectors: String
    @Option(name: .long, help: "Ids file.") var ids: String?
    @Option(name: .long, help: "Labels file.") var labels: String?
    @Option(name: .long, help: "Payloads file (JSON lines).") var payloads: String?
    @Option(name: .long, help: "Vectors per request.") var batch: Int = 1000

    func run() async throws {
        guard batch >= 1 else { fail("--batch must be at least 1") }
        let matrix: Matrix<Float>
        var idValues: [Int64]
        var labelValues: [Int64]
        var payloadValues: [[UInt8]?] = []
        do {
            matrix = try VectorFile.readFloat32Matrix(vectors)
            idValues = try ids.map { path in try VectorFile.readIntegers(path) } ?? (0..<Int64(matrix.rows)).map { $0 }
            labelValues = try labels.map { path in try VectorFile.readIntegers(path) } ?? Array(repeating: 0, count: matrix.rows)
            if let payloads { payloadValues = try VectorFile.readPayloadLines(payloads) }
        } catch let error as VectorFileError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
        guard idValues.count == matrix.rows else { fail("\(ids ?? "ids"): \(idValues.count) ids for \(matrix.rows) vectors") }
        guard labelValues.count == matrix.rows else { fail("\(labels ?? "labels"): \(labelValues.count) labels for \(matrix.rows) vectors") }
        guard payloadValues.isEmpty || payloadValues.count == matrix.rows else {
            fail("\(payloads ?? "payloads"): \(payloadValues.count) lines for \(matrix.rows) vectors")
        }
        let c = await client.connect()
        let showProgress = isatty(2) != 0
        let clock = ContinuousClock()
        let start = clock.now
        var inserted = 0
        var replaced = 0
        var done = 0
        while done < matrix.rows {
            let n = min(batch, matrix.rows - done)
            let slice = try! VectorBatch(
                dimension: matrix.columns,
                ids: Array(idValues[done..<(done + n)]),
                labels: Array(labelValues[done..<(done + n)]),
                vectors: Array(matrix.values[(done * matrix.columns)..<((done + n) * matrix.columns)]),
                payloads: payloadValues.isEmpty ? [] : Array(payloadValues[done..<(done + n)])
            )
            let result = await orFail {
                do {
                    return try await c.add(collection: collection, batch: slice)
                } catch let error as FlatVecError {
                    // Say what was stored only when something was: a first batch that fails stored nothing.
                    let stored = done == 0 ? "nothing was added" : "rows 0..<\(done) were added"
                    throw FlatVecError(error.code, "rows \(done)..<\(done + n): \(error.message) (\(stored))")
                }
            }
            inserted += Int(result.inserted)
            replaced += Int(result.replaced)
            done += n
            if showProgress {
                let seconds = max(1e-9, (clock.now - start).seconds)
                report("\r\(done)/\(matrix.rows) vectors, \(Int(Double(done) / seconds)) rows/s", newline: false)
            }
        }
        if showProgress { report("") }
        let seconds = max(1e-9, (clock.now - start).seconds)
        print("added \(done) vectors to \(collection): \(inserted) new, \(replaced) replaced, \(Int(Double(done) / seconds)) rows/s")
        await c.close()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
