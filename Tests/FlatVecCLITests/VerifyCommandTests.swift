import FlatVecClient
import FlatVecModel
import FlatVecTestSupport
import Foundation
import Testing

/// `flatvec verify` through the binary: a crashed server's directory is sound (exit 0), a flipped
/// byte in its log is found and located (exit 1), and a directory that does not exist is refused; a
/// cleanly stopped server leaves no log to replay; damaged vectors in a segment are named by verify
/// and by the server's first read of them, and never served.
@Suite(.timeLimit(.minutes(2))) struct VerifyCommandTests {
    /// A server on `directory` holding collection "v" with ids 0 to 3 (a CREATE and four ADDs logged).
    static func serverWithFourRows(_ directory: String) async throws -> ServerProcess {
        let server = try ServerProcess(["--data", directory])
        let client = try await server.connect()
        try await client.createCollection("v", dimension: 3)
        for i in 0..<4 { _ = try await client.add(collection: "v", batch: VectorBatch(id: Int64(i), label: 0, vector: [1, Float(i), 0])) }
        await client.close()
        return server
    }

    @Test func verifyPassesASoundDirectoryAndLocatesDamage() async throws {
        let directory = TestDirectory.path("flatvec-verify")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await Self.serverWithFourRows(directory)
        // Killed: a clean stop would compact the log away.
        server.kill9()
        let sound = try runFlatVec(["verify", "--data", directory])
        #expect(sound.status == 0 && sound.stdout.contains("ok: wal.0.log: 5 records, checksums match, 5 applied") && sound.stdout.hasSuffix("is sound\n"), "\(sound.stdout) \(sound.stderr)")
        // Damage the first record: records after it still pass their checksums, so it is corruption.
        let log = URL(fileURLWithPath: directory + "/wal.0.log")
        var bytes = [UInt8](try Data(contentsOf: log))
        bytes[10] ^= 0xFF
        try Data(bytes).write(to: log)
        let damaged = try runFlatVec(["verify", "--data", directory])
        #expect(damaged.status == 1 && damaged.stderr.contains("problem: wal.0.log: record 1 at offset 0 is damaged"), "\(damaged.stderr)")
        let missing = try runFlatVec(["verify", "--data", directory + "/nope"])
        #expect(missing.status == 1 && missing.stderr.contains("is not a directory"), "\(missing.stderr)")
    }

    /// SIGTERM answers what was read, then compacts: the directory holds segments and an empty log,
    /// and the next start serves every row without replaying anything.
    @Test func aCleanStopLeavesNothingToReplay() async throws {
        let directory = TestDirectory.path("flatvec-clean-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await Self.serverWithFourRows(directory)
        server.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files.filter { $0.hasSuffix(".log") } == ["wal.1.log"], "\(files)")
        #expect(try FileManager.default.attributesOfItem(atPath: directory + "/wal.1.log")[.size] as? Int == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").contains { $0.hasSuffix(".seg") })
        let verified = try runFlatVec(["verify", "--data", directory])
        #expect(verified.status == 0 && verified.stdout.contains("ok: wal.1.log: 0 records"), "\(verified.stdout)")
        try server.start()
        let again = try await server.connect()
        #expect(try await again.get(collection: "v", ids: [0, 1, 2, 3]).map(\.id) == [0, 1, 2, 3])
        await again.close()
        server.stop()
        #expect(server.log.contains("log records replayed=0") || server.log.contains("\"log records replayed\": 0") || server.log.contains("log records replayed: 0"), "\(server.log.suffix(2_000))")
    }

    /// A flipped byte in a segment's vectors: `verify` names the segment and rows; the server starts
    /// (it checks vectors as reads first need them), answers SEARCH and GET on that collection with
    /// `corrupt_data` naming them, and serves the other collections.
    @Test func damagedVectorsAreNamedAndNeverServed() async throws {
        let directory = TestDirectory.path("flatvec-damaged-vectors")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await Self.serverWithFourRows(directory)
        let client = try await server.connect()
        try await client.createCollection("w", dimension: 3)
        _ = try await client.add(collection: "w", batch: VectorBatch(id: 7, label: 0, vector: [0, 0, 1]))
        await client.close()
        server.stop()
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").first { $0.hasPrefix("v.") && $0.hasSuffix(".seg") })
        let path = URL(fileURLWithPath: directory + "/snapshots/" + segment)
        var bytes = [UInt8](try Data(contentsOf: path))
        bytes[4096 + (1 * 3 + 1) * 4 + 2] ^= 0x10
        try Data(bytes).write(to: path)
        let named = "\(segment): the vectors of rows 0..<4 do not match their checksum"

        let verified = try runFlatVec(["verify", "--data", directory])
        #expect(verified.status == 1 && verified.stderr.contains(named), "\(verified.stderr)")
        try server.start()
        let again = try await server.connect()
        #expect(try await again.search(collection: "w", queries: [0, 0, 1], dimension: 3, options: SearchOptions(k: 1))[0].map(\.id) == [7])
        for attempt in ["search", "get", "search again"] {
            do {
                if attempt == "get" {
                    _ = try await again.get(collection: "v", ids: [1])
                } else {
                    _ = try await again.search(collection: "v", queries: [1, 1, 0], dimension: 3, options: SearchOptions(k: 4))
                }
                Issue.record("\(attempt) served damaged vectors")
            } catch {
                #expect(error.code == .corruptData && error.message.contains(named), "\(attempt): \(error)")
            }
        }
        #expect(try await again.search(collection: "w", queries: [0, 0, 1], dimension: 3, options: SearchOptions(k: 1))[0].map(\.id) == [7])
        await again.close()
        server.stop()
    }
}
