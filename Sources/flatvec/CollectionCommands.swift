import ArgumentParser
import FlatVecClient
import FlatVecCore
import FlatVecProtocol

/// `flatvec create`.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a collection.")

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, help: "Dimension, 1 to 16000.") var dim: Int
    @Option(name: .long, help: "ip or cosine.") var metric: String = "ip"
    @Option(name: .long, help: "An attribute, NAME:TYPE (bool, int64, float64, keyword); repeatable.") var attr: [String] = []

    func run() async throws {
        guard let metric = Metric(name: metric) else { fail("unknown metric '\(self.metric)'; use ip or cosine") }
        var attributes: [AttributeDefinition] = []
        for text in attr {
            do {
                attributes.append(try AttributeDefinition(parsing: text))
            } catch {
                fail("--attr: \(error.message)")
            }
        }
        let c = await client.connect()
        await orFail { try await c.createCollection(collection, dimension: dim, metric: metric, attributes: attributes) }
        let described = attributes.isEmpty ? "" : ", attributes " + attributes.map(\.description).joined(separator: ", ")
        print("created \(collection) (dimension \(dim), \(metric)\(described))")
        await c.close()
    }
}

/// `flatvec drop`.
struct DropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop", abstract: "Drop a collection and its vectors.")

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String

    func run() async throws {
        let c = await client.connect()
        await orFail { try await c.dropCollection(collection) }
        print("dropped \(collection)")
        await c.close()
    }
}

/// `flatvec list`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List collections.")

    @OptionGroup var client: ClientOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let c = await client.connect()
        let list = await orFail { try await c.listCollections() }
        if json {
            print("[" + list.map { #"{"name":\#(jsonString($0.name)),"dimension":\#($0.dimension),"metric":"\#($0.metric)","count":\#($0.count)}"# }
                .joined(separator: ",") + "]")
        } else {
            printTable(["collection", "dimension", "metric", "count"], list.map { [$0.name, "\($0.dimension)", "\($0.metric)", "\($0.count)"] })
        }
        await c.close()
    }
}

/// `flatvec describe`.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Show a collection and its attributes.")

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let c = await client.connect()
        let d = await orFail { try await c.describeCollection(collection) }
        await c.close()
        if json {
            let attributes = d.attributes.map { #"{"name":\#(jsonString($0.name)),"type":"\#($0.type)"}"# }.joined(separator: ",")
            print(#"{"name":\#(jsonString(d.name)),"dimension":\#(d.dimension),"metric":"\#(d.metric)","count":\#(d.count),"attributes":[\#(attributes)]}"#)
            return
        }
        print("\(d.name): \(d.count) vectors of dimension \(d.dimension), \(d.metric)")
        if d.attributes.isEmpty {
            print("no attributes")
        } else {
            printTable(["attribute", "type"], d.attributes.map { [$0.name, "\($0.type)"] })
        }
    }
}

/// `flatvec stats`.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Server statistics.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let c = await client.connect()
        let s = await orFail { try await c.stats() }
        print("uptime: \(Double(s.uptimeMillis) / 1000) s")
        print("blas: \(s.blasLibrary) (kernel \(s.blasKernel))")
        print("connections: \(s.openConnections) open, \(s.totalConnections) since start")
        print("")
        let following = s.collections.contains(where: \.following)
        printTable(
            ["collection", "dimension", "metric", "count", "memory MiB", "mapped MiB", "disk MiB", "scan", "codes MiB", "rescored / bounded"]
                + (following ? ["log position", "pending", "lag ms"] : []),
            s.collections.map {
                [
                    $0.name, "\($0.dimension)", "\($0.metric)", "\($0.count)", String(format1: Double($0.memoryBytes) / 1_048_576),
                    String(format1: Double($0.mappedBytes ?? 0) / 1_048_576), String(format1: Double($0.diskBytes ?? 0) / 1_048_576),
                    "\($0.scan)", String(format1: Double($0.codeBytes) / 1_048_576),
                    $0.scan == .int8 ? "\($0.rowsRescored) / \($0.rowsBounded)" : "-",
                ] + (following ? ["\($0.logPosition)", "\($0.pendingChanges)", "\($0.lagMillis)"] : [])
            }
        )
        print("")
        printTable(["operation", "requests", "errors", "p50 µs", "p90 µs", "p99 µs", "max µs"], s.operations.map {
            ["\($0.opcode)", "\($0.requests)", "\($0.errors)", "\($0.p50Micros)", "\($0.p90Micros)", "\($0.p99Micros)", "\($0.maxMicros)"]
        })
        await c.close()
    }
}

/// Prints rows under a header, columns padded.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

extension String {
    init(format1 value: Double) {
        let scaled = (value * 10).rounded() / 10
        self = "\(scaled)"
    }

    func padding(toLength length: Int, withPad pad: String, startingAt: Int) -> String {
        count >= length ? self : self + String(repeating: pad, count: length - count)
    }
}

/// `flatvec rebuild`.
struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Reload collections from PostgreSQL (picks up rows other programs wrote); searches go on meanwhile."
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Only this collection (default: all).") var collection: String?

    func run() async throws {
        let c = await client.connect()
        let response = await orFail { try await c.send(.rebuild(collection ?? "")) }
        if case .rebuilt(let list) = response {
            for info in list {
                let skipped = info.skippedRows == 0 ? "" : " (\(info.skippedRows) rows skipped: the index cannot hold them; see the server log)"
                print("rebuilt \(info.name): \(info.count) vectors\(skipped)")
            }
        }
        await c.close()
    }
}
