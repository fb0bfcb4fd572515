import ArgumentParser
import FlatVecClient
import FlatVecCore
import FlatVecFormats

/// `flatvec search`: queries from a file against a collection on a server.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a collection with queries from a file.",
        discussion: """
            Without --out, prints a table (or JSON with --json). With --out, writes ids as .npy (int64) or \
            .ivecs (int32) and, with --scores, scores as .npy or .fvecs; missing hits are -1 and -3.4e38.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "Queries (.npy or .fvecs).") var queries: String
    // Unconditional parsing: `--k -3` is a value out of range and `--min-score -0.5` a value, not options.
    @Option(name: .long, parsing: .unconditional, help: "Hits per query (1 to 10000).") var k: Int = 10
    @Flag(name: .long, help: "Best hit per label, top k labels.") var groupByLabel = false
    @Option(name: .long, parsing: .unconditional, help: "Drop hits scoring below this.") var minScore: Float?
    @Option(name: .long, help: "Only these labels, comma-separated.") var labels: String?
    @Option(name: .long, help: "Write ids here (.npy or .ivecs).") var out: String?
    @Option(name: .long, help: "With --out: write scores here (.npy or .fvecs).") var scores: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        guard (1...SearchOptions.maximumK).contains(k) else { fail("--k must be from 1 to \(SearchOptions.maximumK), got \(k)") }
        if scores != nil && out == nil { fail("--scores needs --out (the file of ids the scores belong to)") }
        let matrix: Matrix<Float>
        do {
            matrix = try VectorFile.readFloat32Matrix(queries)
        } catch {
            fail(error.description)
        }
        var labelFilter: Set<Int64>?
        if let labels {
            var set = Set<Int64>()
            for part in labels.split(separator: ",") {
                guard let v = Int64(part.trimmingWhitespace()) else { fail("--labels: '\(part)' is not an integer") }
                set.insert(v)
            }
            labelFilter = set
        }
        let options = SearchOptions(
            k: k, minScore: minScore, labels: labelFilter, groupByLabel: groupByLabel, includePayloads: out == nil
        )
        let c = await client.connect()
        let results = await orFail {
            try await c.search(collection: collection, queries: matrix.values, dimension: matrix.columns, options: options)
        }
        await c.close()
        if let out {
            var ids = [Int64](repeating: -1, count: results.count * k)
            var values = [Float](repeating: -Float.greatestFiniteMagnitude, count: results.count * k)
            for (q, hits) in results.enumerated() {
                for (j, hit) in hits.enumerated() {
                    ids[q * k + j] = hit.id
                    values[q * k + j] = hit.score
                }
            }
            do {
                try VectorFile.writeIDs(ids, rows: results.count, columns: k, to: out)
                if let scores { try VectorFile.write(Matrix(rows: results.count, columns: k, values: values), to: scores) }
            } catch {
                fail(error.description)
            }
            return
        }
        if json {
            let body = results.map { hits in
                "[" + hits.map { h in
                    #"{"id":\#(h.id),"label":\#(h.label),"score":\#(h.score)"# + (h.payload.map { #","payload":\#(jsonPayload($0))"# } ?? "") + "}"
                }.joined(separator: ",") + "]"
            }
            print("[" + body.joined(separator: ",") + "]")
            return
        }
        var rows: [[String]] = []
        for (q, hits) in results.enumerated() {
            if hits.isEmpty { rows.append(["\(q)", "-", "-", "-", "-", "(no hits)"]) }
            for (rank, h) in hits.enumerated() {
                rows.append(["\(q)", "\(rank + 1)", "\(h.id)", "\(h.label)", "\(h.score)", h.payloadString ?? ""])
            }
        }
        printTable(["query", "rank", "id", "label", "score", "payload"], rows)
    }
}

/// A payload in JSON output: as itself when it is JSON (an object stays an object), else as a string.
func jsonPayload(_ payload: [UInt8]) -> String {
    JSONValidator.isValid(payload) ? String(decoding: payload, as: UTF8.self) : jsonString(String(decoding: payload, as: UTF8.self))
}
