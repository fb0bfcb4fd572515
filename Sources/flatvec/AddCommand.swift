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
            Vectors: .npy or .fvecs. Ids and labels: .npy (int32/int64), .ivecs, or text with one integer \
            per line; ids default to row numbers, labels to 0. Payloads: JSON lines, one per vector (an \
            empty line for none). Attributes: JSON lines, one flat object per vector, e.g. \
            {"category": "shoes", "visible": true, "price": 49.5} (an empty line or {} for none).

            The whole file is checked before anything is sent (dimension against the collection, NaN or \
            infinite components, zero vectors under cosine, duplicate ids, payload count, size and JSON), \
            so a bad file adds nothing. The server then takes it --batch vectors at a time; if it refuses \
            a batch (the store failed, say), the batches before it stay added and the error says which \
            rows were: run the command again, since an ADD replaces ids that exist.

            --reject-duplicates-above T adds only what is new: a batch holding a vector that scores at             least T with a stored vector (other than the one it replaces) or another vector of the batch             is refused whole, and the error lists each such vector with its best match (exact, checked             by the server in write order, so two racing adds cannot both slip in a duplicate).
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "Vectors (.npy or .fvecs).") var vectors: String
    @Option(name: .long, help: "Ids file.") var ids: String?
    @Option(name: .long, help: "Labels file.") var labels: String?
    @Option(name: .long, help: "Payloads file (JSON lines).") var payloads: String?
    @Option(name: .long, help: "Attribute values file (JSON lines, one object per vector).") var attributes: String?
    @Option(name: .long, help: "Vectors per request.") var batch: Int = 1000
    @Option(name: .long, parsing: .unconditional, help: "Refuse a batch holding a vector that scores at least this with another (see below).")
    var rejectDuplicatesAbove: Float?

    func run() async throws {
        guard batch >= 1 else { fail("--batch must be at least 1") }
        if let rejectDuplicatesAbove, !rejectDuplicatesAbove.isFinite {
            fail("--reject-duplicates-above must be a finite number, got \(rejectDuplicatesAbove)")
        }
        let matrix: Matrix<Float>
        var idValues: [Int64]
        var labelValues: [Int64]
        var payloadValues: [[UInt8]?] = []
        var attributeValues: [[String: AttributeValue]] = []
        do {
            matrix = try VectorFile.readFloat32Matrix(vectors)
            idValues = try ids.map { path in try VectorFile.readIntegers(path) } ?? (0..<Int64(matrix.rows)).map { $0 }
            labelValues = try labels.map { path in try VectorFile.readIntegers(path) } ?? Array(repeating: 0, count: matrix.rows)
            if let payloads { payloadValues = try VectorFile.readPayloadLines(payloads) }
            if let attributes {
                for (n, line) in try VectorFile.readPayloadLines(attributes).enumerated() {
                    do {
                        attributeValues.append(try AttributeLines.parse(line ?? [], lineNumber: n + 1))
                    } catch {
                        fail("\(attributes): \(error.message); nothing was added")
                    }
                }
            }
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
        guard attributeValues.isEmpty || attributeValues.count == matrix.rows else {
            fail("\(attributes ?? "attributes"): \(attributeValues.count) lines for \(matrix.rows) vectors")
        }
        for (n, payload) in payloadValues.enumerated() {
            if let payload, !JSONValidator.isValid(payload) {
                fail("\(payloads ?? "payloads"): line \(n + 1) is not a JSON value; nothing was added")
            }
        }
        let c = await client.connect()
        // Check the whole file with the server's own rules first, so a bad row adds nothing.
        let collections = await orFail { try await c.listCollections() }
        guard let target = collections.first(where: { $0.name == collection }) else {
            fail("the server has no collection named '\(collection)'; nothing was added")
        }
        guard Int(target.dimension) == matrix.columns else {
            fail("\(vectors) has dimension \(matrix.columns), collection '\(collection)' has dimension \(target.dimension); nothing was added")
        }
        do {
            let whole = try VectorBatch(dimension: matrix.columns, ids: idValues, labels: labelValues, vectors: matrix.values, payloads: payloadValues)
            _ = try FlatIndex(dimension: matrix.columns, metric: target.metric).validate(whole)
        } catch {
            fail("\(vectors): \(error.message.replacingRowNumbers()); nothing was added")
        }
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
                payloads: payloadValues.isEmpty ? [] : Array(payloadValues[done..<(done + n)]),
                attributes: attributeValues.isEmpty ? [] : Array(attributeValues[done..<(done + n)])
            )
            let result = await orFail {
                do {
                    return try await c.add(collection: collection, batch: slice, rejectingDuplicatesAbove: rejectDuplicatesAbove)
                } catch let error as FlatVecError {
                    // Say what was stored only when something was: a first batch that fails stored nothing.
                    let stored = done == 0 ? "nothing was added" : "rows 0 to \(done - 1) of the file were added before it"
                    throw FlatVecError(error.code, "the server refused rows \(done) to \(done + n - 1) of the file: \(error.message) (\(stored))")
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

extension String {
    /// The index names rows of a batch as "(row N)"; the whole file is one batch here, so they are
    /// rows of the file: say so.
    func replacingRowNumbers() -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: "(row ") {
            out += rest[..<range.lowerBound] + "(row "
            rest = rest[range.upperBound...]
            let digits = rest.prefix { $0.isNumber }
            out += digits + " of the file"
            rest = rest.dropFirst(digits.count)
        }
        return out + rest
    }
}
