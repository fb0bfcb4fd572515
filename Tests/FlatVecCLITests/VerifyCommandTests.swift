import FlatVecClient
import FlatVecModel
import FlatVecTestSupport
import Foundation
import Testing

/// `flatvec verify` through the binary: a stopped server's directory is sound (exit 0), a flipped
/// byte in its log is found and located (exit 1), and a directory that does not exist is refused.
@Suite(.timeLimit(.minutes(2))) struct VerifyCommandTests {
    @Test func verifyPassesASoundDirectoryAndLocatesDamage() async throws {
        let directory = TestDirectory.path("flatvec-verify")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(["--data", directory])
        let client = try await server.connect()
        try await client.createCollection("v", dimension: 3)
        for i in 0..<4 { _ = try await client.add(collection: "v", batch: VectorBatch(id: Int64(i), label: 0, vector: [1, Float(i), 0])) }
        await client.close()
        server.stop()
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
}
