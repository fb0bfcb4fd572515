import ArgumentParser
import FlatVecClient
import FlatVecProtocol
import FlatVecCore
import FlatVecFormats

/// `flatvec search`: queries from a file against a collection on a server.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a collection with queries from a file, or with stored vectors (--like).",
        discussion: """
            Without --out, prints a table (or JSON with --json). With --out, writes ids as .npy (int64) or \
            .ivecs (int32) and, with --scores, scores as .npy or .fvecs; missing hits are -1 and -3.4e38.

            --filter keeps only vectors the filter is true of, before ranking, so k hits come back whenever \
            k vectors match: visible and category = "shoes"; price < 50 or stock >= 3; \
            category in ("shoes", "boots"); not label in (3, 4); id not in (7); tier is null. \
            Strings are quoted, numbers and true/false bare; comparisons with a missing value are \
            neither true nor false (as in SQL). The grammar: proto-spec/FILTERS.md.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "Queries (.npy or .fvecs).") var queries: String?
    @Option(name: .long, help: "Search with the stored vectors of these ids instead (comma-separated).") var like: String?
    @Flag(name: .long, help: "With --like: a query may return its own id.") var includeSelf = false
    @Option(name: .long, help: "Only vectors this filter is true of (see below).") var filter: String?
    @Flag(name: .long, help: "Print attribute values of hits.") var withAttributes = false
    // Unconditional parsing: `--k -3` is a value out of range and `--min-score -0.5` a value, not options.
    @Option(name: .long, parsing: .unconditional, help: "Hits per query (1 to 10000), or all: every hit scoring at least --min-score, up to the server's --max-range-hits (a range search).")
    var k: String = "10"
    @Flag(name: .long, help: "Best hit per label, top k labels.") var groupByLabel = false
    @Option(name: .long, help: "With --group-by-label: up to this many hits per label (1 to 1000).") var groupSize: Int = 1
    @Option(name: .long, help: "Search groups of this many consecutive query vectors (a burst of frames), one ranking per group.")
    var vectorsPerQuery: Int?
    @Option(name: .long, help: "With --vectors-per-query: max (the best of any vector) or mean (of each vector's best within the id or label).")
    var aggregate: String = "max"
    @Option(name: .long, parsing: .unconditional, help: "Drop hits scoring below this.") var minScore: Float?
    @Option(name: .long, help: "Only these labels, comma-separated.") var labels: String?
    @Option(name: .long, help: "Write ids here (.npy or .ivecs).") var out: String?
    @Option(name: .long, help: "With --out: write scores here (.npy or .fvecs).") var scores: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let range = k == "all"
        if range && minScore == nil { fail("--k all (a range search) needs --min-score") }
        guard range || Int(k).map({ (1...SearchOptions.maximumK).contains($0) }) == true else {
            fail("--k must be from 1 to \(SearchOptions.maximumK) or all, got \(k)")
        }
        if scores != nil && out == nil { fail("--scores needs --out (the file of ids the scores belong to)") }
        guard (1...FlatVecLimits.maximumGroupSize).contains(groupSize) else {
            fail("--group-size must be from 1 to \(FlatVecLimits.maximumGroupSize), got \(groupSize)")
        }
        if groupSize > 1 && !groupByLabel { fail("--group-size needs --group-by-label (it counts hits per label)") }
        guard let aggregateKind = ["max": QueryGroups.Aggregate.max, "mean": .mean][aggregate] else {
            fail("--aggregate must be max or mean, got \(aggregate)")
        }
        if let vectorsPerQuery, vectorsPerQuery < 1 { fail("--vectors-per-query must be at least 1, got \(vectorsPerQuery)") }
        var matrix = Matrix<Float>(rows: 0, columns: 0, values: [])
        var storedIDs: [Int64]?
        switch (queries, like) {
        case (let path?, nil):
            matrix = CommandInputs.vectors(path)
        case (nil, let list?):
            storedIDs = list.split(separator: ",").map { part in
                guard let v = Int64(part.trimmingWhitespace()) else { fail("--like: '\(part)' is not an integer") }
                return v
            }
        default:
            fail("give exactly one of --queries and --like")
        }
        let parsedFilter = CommandInputs.filter(filter)
        var labelFilter: Set<Int64>?
        if let labels {
            var set = Set<Int64>()
            for part in labels.split(separator: ",") {
                guard let v = Int64(part.trimmingWhitespace()) else { fail("--labels: '\(part)' is not an integer") }
                set.insert(v)
            }
            labelFilter = set
        }
        var options = SearchOptions(
            k: Int(k) ?? FlatVecLimits.defaultRangeHits, minScore: minScore, labels: labelFilter, groupByLabel: groupByLabel,
            includePayloads: out == nil, filter: parsedFilter, includeAttributes: withAttributes
        )
        options.range = range
        options.groupSize = groupSize
        var request = storedIDs.map { SearchRequest(collection: collection, storedIDs: $0, excludingThemselves: !includeSelf, options: options) }
            ?? SearchRequest(collection: collection, dimension: UInt32(matrix.columns), queries: matrix.values, options: options)
        if let vectorsPerQuery {
            do {
                request.queryGroups = try QueryGroups(every: vectorsPerQuery, of: request.queryCount, aggregate: aggregateKind)
            } catch {
                fail("--vectors-per-query: \(error.message)")
            }
        }
        let c = await client.connect()
        let reply = await orFail { try await c.send(.search(request)) }
        await c.close()
        guard case .searched(let response) = reply else { fail("the server answered with a reply of another kind") }
        let results = response.results
        let truncated = response.truncated
        // Range searches return as many hits as reach --min-score, and a group size several per label:
        // the files are as wide as the longest list.
        let k = range || groupSize > 1 ? max(1, results.map(\.count).max() ?? 0) : Int(k)!
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
            let body = results.enumerated().map { q, hits in
                let list = "[" + hits.map { h in
                    #"{"id":\#(h.id),"label":\#(h.label),"score":\#(h.score)"# + (h.payload.map { #","payload":\#(jsonPayload($0))"# } ?? "")
                        + (h.attributes.map { #","attributes":\#(jsonAttributes($0))"# } ?? "") + "}"
                }.joined(separator: ",") + "]"
                // A range search says, per query, whether the server's limit cut its hits.
                return truncated.map { #"{"hits":\#(list),"truncated":\#($0[q])}"# } ?? list
            }
            print("[" + body.joined(separator: ",") + "]")
            return
        }
        var rows: [[String]] = []
        for (q, hits) in results.enumerated() {
            if hits.isEmpty { rows.append(["\(q)", "-", "-", "-", "-", "(no hits)"] + (withAttributes ? [""] : [])) }
            for (rank, h) in hits.enumerated() {
                rows.append(
                    ["\(q)", "\(rank + 1)", "\(h.id)", "\(h.label)", "\(h.score)", h.payloadString ?? ""]
                        + (withAttributes ? [h.attributes.map(jsonAttributes) ?? ""] : [])
                )
            }
            if truncated?[q] == true {
                rows.append(["\(q)", "-", "-", "-", "-", "(cut at the server's --max-range-hits)"] + (withAttributes ? [""] : []))
            }
        }
        printTable(["query", "rank", "id", "label", "score", "payload"] + (withAttributes ? ["attributes"] : []), rows)
    }
}

/// Attribute values as a JSON object, names in order.
func jsonAttributes(_ values: [String: AttributeValue]) -> String {
    "{" + values.sorted { $0.key < $1.key }.map { name, value in
        let text: String
        switch value {
        case .bool(let b): text = b ? "true" : "false"
        case .int64(let i): text = "\(i)"
        case .float64(let d): text = d.isFinite ? "\(d)" : jsonString("\(d)")
        case .keyword(let k): text = jsonString(k)
        }
        return "\(jsonString(name)):\(text)"
    }.joined(separator: ",") + "}"
}

/// A payload in JSON output: as itself when it is JSON (an object stays an object), else as a string.
func jsonPayload(_ payload: [UInt8]) -> String {
    JSONValidator.isValid(payload) ? String(decoding: payload, as: UTF8.self) : jsonString(String(decoding: payload, as: UTF8.self))
}
