import ArgumentParser
import FlatVecClient
import FlatVecCore
import FlatVecFormats

/// Ids from `--ids 1,2,3` or `--ids-file F`.
struct IDOptions: ParsableArguments {
    @Option(name: .long, help: "Comma-separated ids.") var ids: String?
    @Option(name: .long, help: "File of ids (.npy, .ivecs or one per line).") var idsFile: String?

    func values() -> [Int64] {
        switch (ids, idsFile) {
        case (let list?, nil):
            return list.split(separator: ",").map { part in
                guard let v = Int64(part.trimmingWhitespace()) else { fail("--ids: '\(part)' is not an integer") }
                return v
            }
        case (nil, let path?):
            do {
                return try VectorFile.readIntegers(path)
            } catch {
                fail(error.description)
            }
        default:
            fail("give exactly one of --ids and --ids-file")
        }
    }
}

/// `flatvec remove`.
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove vectors by id (all or nothing).")

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @OptionGroup var idOptions: IDOptions

    func run() async throws {
        let ids = idOptions.values()
        let c = await client.connect()
        let n = await orFail { try await c.remove(collection: collection, ids: ids) }
        print("removed \(n) vectors from \(collection)")
        await c.close()
    }
}

/// `flatvec get`.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print stored vectors as JSON lines.")

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @OptionGroup var idOptions: IDOptions
    @Flag(name: .long, help: "Leave the vectors out.") var noVectors = false

    func run() async throws {
        let ids = idOptions.values()
        let c = await client.connect()
        let rows = await orFail {
            try await c.get(collection: collection, ids: ids, withVectors: !noVectors, withPayloads: true, withAttributes: true)
        }
        for row in rows {
            var line = #"{"id":\#(row.id),"label":\#(row.label)"#
            if let payload = row.payload { line += #","payload":\#(jsonPayload(payload))"# }
            if !row.attributes.isEmpty { line += #","attributes":\#(jsonAttributes(row.attributes))"# }
            if !noVectors { line += #","vector":[\#(row.vector.map { "\($0)" }.joined(separator: ","))]"# }
            print(line + "}")
        }
        await c.close()
    }
}
