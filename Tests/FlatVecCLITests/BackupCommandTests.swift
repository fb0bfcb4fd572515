import FlatVecClient
import FlatVecModel
import FlatVecTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flatvec backup` through the binary: taken under 8 writers and searches, it restores every write
/// acknowledged before it began and no half row; an interrupted backup never looks complete and
/// leaves the server unaffected; servers without a local directory say how they are backed up.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BackupCommandTests {
    /// Runs the binary on a thread of its own (not the test's cooperative pool, which the writers use).
    static func runOffPool(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runFlatVec(arguments) })
            }
        }
    }

    /// The vector of an id: its components say which id it is, so a restored row can be checked.
    static func vector(_ id: Int64) -> [Float] {
        (0..<8).map { Float((id >> (8 * Int64($0))) & 0xFF) }
    }

    @Test func aBackupUnderWritesRestoresEveryAcknowledgedWrite() async throws {
        let directory = TestDirectory.path("flatvec-backup-source")
        let out = TestDirectory.path("flatvec-backup-copy")
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: out)
        }
        let server = try ServerProcess(["--data", directory])
        let setup = try await server.connect()
        try await setup.createCollection("b", dimension: 8, attributes: [try AttributeDefinition(name: "n", type: .int64)])
        await setup.close()
        final class Shared: Sendable {
            let acknowledged = Mutex<[(id: Int64, at: ContinuousClock.Instant)]>([])
            let stop = Atomic(false)
        }
        let shared = Shared()
        let workers = Task {
            await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        let client = try await server.connect()
                        var next = Int64(writer) << 32
                        while !shared.stop.load(ordering: .relaxed) {
                            let ids = (0..<10).map { next + Int64($0) }
                            next += 10
                            _ = try await client.add(collection: "b", batch: VectorBatch(
                                dimension: 8, ids: ids, labels: ids, vectors: ids.flatMap(Self.vector), attributes: ids.map { ["n": .int64($0)] }
                            ))
                            let now = ContinuousClock.now
                            shared.acknowledged.withLock { $0 += ids.map { ($0, now) } }
                        }
                        await client.close()
                    }
                }
                for _ in 0..<2 {
                    group.addTask {
                        let client = try await server.connect()
                        while !shared.stop.load(ordering: .relaxed) {
                            _ = try await client.search(collection: "b", queries: Self.vector(1), dimension: 8, options: SearchOptions(k: 5))
                        }
                        await client.close()
                    }
                }
            }
        }
        // Let the writers get going (however loaded the machine is) before the backup starts.
        let deadline = ContinuousClock.now + .seconds(60)
        while shared.acknowledged.withLock({ $0.count }) < 400 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let started = ContinuousClock.now
        let backup = try await Self.runOffPool(["backup", "--server", "127.0.0.1:\(server.port)", "--out", out, "--piece-bytes", "65536"])
        try await Task.sleep(for: .milliseconds(300))
        shared.stop.store(true, ordering: .relaxed)
        await workers.value
        #expect(backup.status == 0 && backup.stdout.contains("verified"), "\(backup.stdout) \(backup.stderr)")
        let before = shared.acknowledged.withLock { $0.filter { $0.at < started }.map(\.id) }
        let after = shared.acknowledged.withLock { $0.filter { $0.at >= started }.map(\.id) }
        #expect(before.count >= 400 && !after.isEmpty, "\(before.count) before, \(after.count) after")
        server.stop()

        // Restore: every id acknowledged before the backup began, whole; later ones whole or absent.
        let restored = try ServerProcess(["--data", out])
        let client = try await restored.connect()
        let rows = try await client.get(collection: "b", ids: before, withVectors: true, withPayloads: false, withAttributes: true)
        #expect(rows.count == before.count)
        for row in rows {
            #expect(row.vector == Self.vector(row.id) && row.attributes["n"] == .int64(row.id), "row \(row.id) is not whole")
        }
        // Writes acknowledged after the start: whole or absent (a sample of up to 300 of them).
        let sample = stride(from: 0, to: after.count, by: max(1, after.count / 300)).map { after[$0] }
        for id in sample {
            guard let row = try? await client.get(collection: "b", ids: [id]).first else { continue }
            #expect(row.vector == Self.vector(id) && row.attributes["n"] == .int64(id), "row \(id) is not whole")
        }
        let count = try await client.listCollections().first?.count ?? 0
        #expect(count >= UInt64(before.count) && count <= UInt64(before.count + after.count), "\(count) rows: \(before.count) before, \(after.count) after the start")
        await client.close()
    }

    @Test func anInterruptedBackupNeverLooksCompleteAndTheServerGoesOn() async throws {
        let directory = TestDirectory.path("flatvec-backup-cut")
        let out = TestDirectory.path("flatvec-backup-cut-copy")
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: out)
        }
        let server = try ServerProcess(["--data", directory])
        let client = try await server.connect()
        try await client.createCollection("c", dimension: 16)
        var random = SeededRandom(seed: 5)
        for start in stride(from: 0, to: 50_000, by: 10_000) {
            let ids = (start..<(start + 10_000)).map { Int64($0) }
            _ = try await client.add(collection: "c", batch: VectorBatch(dimension: 16, ids: ids, labels: ids, vectors: ids.flatMap { _ in random.uniformVector(16) }))
        }
        // 256-byte pieces: thousands of requests, cut short by SIGKILL.
        let process = Process()
        process.executableURL = CrashRecoveryTests.flatvecBinary
        process.arguments = ["backup", "--server", "127.0.0.1:\(server.port)", "--out", out, "--piece-bytes", "256"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await Task.sleep(for: .milliseconds(400))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: out + "/MANIFEST"), "the backup finished before it was cut")
        let verify = try runFlatVec(["verify", "--data", out])
        #expect(verify.status == 1 && verify.stderr.contains("MANIFEST is missing"), "\(verify.stderr)")
        // The server goes on: writes, and a new backup.
        _ = try await client.add(collection: "c", batch: VectorBatch(id: 99_999_999, label: 0, vector: random.uniformVector(16)))
        try? FileManager.default.removeItem(atPath: out)
        let whole = try await Self.runOffPool(["backup", "--server", "127.0.0.1:\(server.port)", "--out", out])
        #expect(whole.status == 0, "\(whole.stderr)")
        await client.close()

        // The server killed in the middle of a backup: the copy is incomplete, the server's own
        // directory untouched (it starts with every row).
        let cut = out + "-server-killed"
        defer { try? FileManager.default.removeItem(atPath: cut) }
        let reader = Process()
        reader.executableURL = CrashRecoveryTests.flatvecBinary
        reader.arguments = ["backup", "--server", "127.0.0.1:\(server.port)", "--out", cut, "--piece-bytes", "256"]
        reader.standardOutput = FileHandle.nullDevice
        reader.standardError = FileHandle.nullDevice
        try reader.run()
        try await Task.sleep(for: .milliseconds(400))
        server.kill9()
        reader.waitUntilExit()
        #expect(reader.terminationStatus == 1 && !FileManager.default.fileExists(atPath: cut + "/MANIFEST"))
        try server.start()
        let again = try await server.connect()
        #expect(try await again.listCollections().first?.count == 50_001)
        await again.close()
    }

    @Test func serversWithoutALocalDirectorySayHowTheyAreBackedUp() async throws {
        let server = try ServerProcess(["--sample-data", "none"])
        _ = try await server.connect()
        let out = TestDirectory.path("flatvec-backup-memory")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let memory = try await Self.runOffPool(["backup", "--server", "127.0.0.1:\(server.port)", "--out", out])
        #expect(memory.status == 1 && memory.stderr.contains("nothing durable to back up"), "\(memory.stderr)")
    }
}
