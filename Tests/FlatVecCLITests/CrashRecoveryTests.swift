import FlatVecClient
import FlatVecCore
@testable import FlatVecPostgres
import Foundation
import Synchronization
import FlatVecTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Acknowledged adds so far, shared by the writer tasks.
final class AckCounter: Sendable {
    private let count = Mutex(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}

/// `flatvec serve --data` as a real process, killed with SIGKILL in the middle of a stream of adds.
@Suite(.timeLimit(.minutes(5))) struct CrashRecoveryTests {
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Where the server keeps its data: a local directory, or a fresh PostgreSQL database.
    enum Store: String, CaseIterable, Sendable {
        case local, postgres

        func arguments() throws -> [String] {
            switch self {
            case .local:
                return ["--data", TestDirectory.path("flatvec-crash")]
            case .postgres:
                let server = ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"]!
                let name = "flatvec_crash_\(UInt32.random(in: 0...UInt32.max))"
                try PostgresConnection(url: server).execute("CREATE DATABASE \(name)")
                return ["--postgres", String(server[...server.lastIndex(of: "/")!]) + name]
            }
        }

        var isAvailable: Bool {
            self == .local || ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"] != nil
        }
    }

    /// The `flatvec` binary built beside the tests.
    static var flatvecBinary: URL? {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [binary.appendingPathComponent("flatvec"), binary.deletingLastPathComponent().appendingPathComponent("flatvec")]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    static func startServer(storeArguments: [String], port: Int) throws -> Process {
        let process = Process()
        process.executableURL = flatvecBinary
        process.arguments = ["serve", "--port", "\(port)", "--log-level", "error"] + storeArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func connect(port: Int) async throws -> FlatVecClient {
        for _ in 0..<100 {
            if let client = try? await FlatVecClient.connect(host: "127.0.0.1", port: port) { return client }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw FlatVecError(.unavailable, "server did not come up")
    }

    @Test(arguments: Store.allCases.filter(\.isAvailable))
    func killDashNineLosesNothingAcknowledged(store: Store) async throws {
        let storeArguments = try store.arguments()
        let port = Self.freePort()
        let first = try Self.startServer(storeArguments: storeArguments, port: port)
        let client = try await Self.connect(port: port)
        try await client.createCollection("c", dimension: 16)
        // Four writers stream single and batched adds, and a fifth batches of 20,000 (1.6 MB: a
        // local directory stages them in parts); each remembers what was acknowledged. The kill comes
        // once at least 200 adds and one large batch are acknowledged (however slow the machine),
        // mid-stream.
        let progress = AckCounter()
        let largeBatches = AckCounter()
        let acknowledged = try await withThrowingTaskGroup(of: [Int64: Float].self) { group in
            for writer in 0..<5 {
                group.addTask {
                    let c = try await Self.connect(port: port)
                    var acked: [Int64: Float] = [:]
                    var id = Int64(writer) * 1_000_000
                    while true {
                        let n = writer == 4 ? Self.largeBatch : Int.random(in: 1...50)
                        let ids = (0..<n).map { id + Int64($0) }
                        let marker = Float(id % 1000) / 1000
                        let vectors = ids.flatMap { _ in [Float](repeating: marker, count: 16) }
                        do {
                            try await c.add(collection: "c", batch: VectorBatch(dimension: 16, ids: ids, labels: ids, vectors: vectors))
                        } catch {
                            return acked  // the server died mid-request: this batch was never acknowledged
                        }
                        for i in ids { acked[i] = marker }
                        progress.add(n)
                        if writer == 4 { largeBatches.add(1) }
                        id += Int64(n)
                    }
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while (progress.value < 200 || largeBatches.value < 1) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(100))
            kill(first.processIdentifier, SIGKILL)
            var all: [Int64: Float] = [:]
            for try await part in group { all.merge(part) { a, _ in a } }
            return all
        }
        first.waitUntilExit()
        #expect(acknowledged.count >= 200 && largeBatches.value >= 1, "too few writes got through before the kill to mean anything")

        let second = try Self.startServer(storeArguments: storeArguments, port: port)
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        let after = try await Self.connect(port: port)
        let ids = Array(acknowledged.keys)
        var found = 0
        for start in stride(from: 0, to: ids.count, by: 5_000) {
            let slice = Array(ids[start..<min(ids.count, start + 5_000)])
            let rows = try await after.get(collection: "c", ids: slice, withVectors: true, withPayloads: false)
            for row in rows {
                #expect(row.vector == [Float](repeating: acknowledged[row.id]!, count: 16))
                #expect(row.label == row.id)
                found += 1
            }
        }
        #expect(found == acknowledged.count)
        // Whatever else is there (an unacknowledged batch may or may not have made it) is whole.
        let total = try await after.listCollections().first { $0.name == "c" }?.count ?? 0
        #expect(total >= UInt64(acknowledged.count))
        #expect(total <= UInt64(acknowledged.count + 4 * 50 + Self.largeBatch))
        await after.close()
    }

    /// Rows of the large writer's batches.
    static let largeBatch = 20_000

    /// The same for partial updates of attributes: every acknowledged UPDATE survives a SIGKILL, and
    /// each row holds either its last acknowledged value or that of the one update in flight.
    @Test(arguments: Store.allCases.filter(\.isAvailable))
    func killDashNineLosesNoAcknowledgedAttributeUpdate(store: Store) async throws {
        let storeArguments = try store.arguments()
        let port = Self.freePort()
        let first = try Self.startServer(storeArguments: storeArguments, port: port)
        let client = try await Self.connect(port: port)
        try await client.createCollection("c", dimension: 4, attributes: [try AttributeDefinition(name: "n", type: .int64)])
        let rows = 400
        try await client.add(collection: "c", batch: VectorBatch(
            dimension: 4, ids: (0..<Int64(rows)).map { $0 }, labels: Array(repeating: 0, count: rows),
            vectors: [Float](repeating: 1, count: rows * 4), attributes: Array(repeating: ["n": .int64(0)], count: rows)
        ))
        let progress = AckCounter()
        // Per id: the last acknowledged value, and the value of the update in flight when the server died.
        let outcome = try await withThrowingTaskGroup(of: ([Int64: Int64], [Int64: Int64]).self) { group in
            for writer in 0..<4 {
                group.addTask {
                    let c = try await Self.connect(port: port)
                    var acked: [Int64: Int64] = [:]
                    var value: Int64 = 0
                    while true {
                        value += 1
                        let ids = (0..<Int.random(in: 1...20)).map { _ in Int64(writer * 100 + Int.random(in: 0..<100)) }
                        let updates = Set(ids).map { RowUpdate(id: $0, set: ["n": .int64(value)]) }
                        do {
                            try await c.update(collection: "c", updates)
                        } catch {
                            return (acked, Dictionary(uniqueKeysWithValues: updates.map { ($0.id, value) }))
                        }
                        for u in updates { acked[u.id] = value }
                        progress.add(1)
                    }
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while progress.value < 200 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            kill(first.processIdentifier, SIGKILL)
            var acked: [Int64: Int64] = [:]
            var inFlight: [Int64: Int64] = [:]
            for try await (a, f) in group {
                acked.merge(a) { x, _ in x }
                inFlight.merge(f) { x, _ in x }
            }
            return (acked, inFlight)
        }
        first.waitUntilExit()
        #expect(progress.value >= 200, "too few updates got through before the kill to mean anything")
        let second = try Self.startServer(storeArguments: storeArguments, port: port)
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        let after = try await Self.connect(port: port)
        let stored = try await after.get(collection: "c", ids: (0..<Int64(rows)).map { $0 }, withVectors: false, withPayloads: false)
        for row in stored {
            let allowed = [outcome.0[row.id] ?? 0, outcome.1[row.id]].compactMap { $0 }
            #expect(allowed.contains { row.attributes["n"] == .int64($0) }, "id \(row.id): \(row.attributes), allowed \(allowed)")
        }
        #expect(stored.count == rows)
        await after.close()
    }

    @Test func sigtermFinishesRequestsInFlightAndExitsZero() async throws {
        let port = Self.freePort()
        let server = try Self.startServer(storeArguments: ["--data", TestDirectory.path("flatvec-term")], port: port)
        let client = try await Self.connect(port: port)
        try await client.createCollection("t", dimension: 64)
        let n = 20_000
        try await client.add(collection: "t", batch: VectorBatch(
            dimension: 64, ids: (0..<Int64(n)).map { $0 }, labels: Array(repeating: 0, count: n),
            vectors: (0..<(n * 64)).map { Float($0 % 17) / 17 }
        ))
        let queries = (0..<(128 * 64)).map { Float($0 % 13) / 13 }
        let inFlight = (0..<4).map { _ in
            Task { try await client.search(collection: "t", queries: queries, dimension: 64, options: SearchOptions(k: 3)) }
        }
        // After the first reply the server has read the others (sent together); they must be answered.
        _ = try await inFlight[0].value
        kill(server.processIdentifier, SIGTERM)
        for task in inFlight {
            #expect(try await task.value.count == 128)
        }
        server.waitUntilExit()
        #expect(server.terminationReason == .exit)
        #expect(server.terminationStatus == 0)
    }
}
