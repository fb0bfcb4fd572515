import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServerTestSupport
import FlatVecTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM of the real `flatvec serve` under pipelined load.
@Suite(.timeLimit(.minutes(5))) struct ShutdownTests {
    @Test func sigtermAnswersEveryRequestItReadAndLosesNoReply() async throws {
        let directory = TestDirectory.path("flatvec-sigterm")
        let port = CrashRecoveryTests.freePort()
        let server = try CrashRecoveryTests.startServer(storeArguments: ["--data", directory], port: port)
        let admin = try await CrashRecoveryTests.connect(port: port)
        try await admin.createCollection("s", dimension: 8)
        await admin.close()

        let raw = try RawConnection(port: port)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let total = 1_000
        let sender = Thread {
            for id in 0..<total {
                raw.send(.add(AddRequest(collection: "s", batch: VectorBatch(id: Int64(id), label: 0, vector: [1, 2, 3, 4, 5, 6, 7, Float(id)]))), id: UInt64(id))
            }
        }
        sender.start()
        try await Task.sleep(for: .milliseconds(20))
        kill(server.processIdentifier, SIGTERM)
        // Poll rather than block: waitUntilExit would hold one of the few threads async tests share
        // for as long as the server lingers for this (deliberately silent) client.
        while server.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(server.terminationReason == .exit && server.terminationStatus == 0)

        // Only now does the client read: every reply the server sent must be there, in order, and
        // the connection must end with a clean EOF (a reset would have dropped replies).
        var acknowledged: [Int64] = []
        var other: [String] = []
        while let reply = raw.readResponse() {
            #expect(reply.header.requestID == UInt64(acknowledged.count + other.count))
            if case .added = reply.response {
                acknowledged.append(Int64(reply.header.requestID))
            } else {
                other.append("\(reply.response)")
            }
        }
        #expect(raw.lastReadError == 0, "the connection was reset (errno \(raw.lastReadError)) after \(acknowledged.count) replies")
        #expect(other.isEmpty, "\(other.prefix(3))")
        #expect(!acknowledged.isEmpty)

        // Exactly the acknowledged adds are durable: none lost, none executed without a reply.
        let restarted = try CrashRecoveryTests.startServer(storeArguments: ["--data", directory], port: port)
        defer {
            kill(restarted.processIdentifier, SIGTERM)
            restarted.waitUntilExit()
        }
        let client = try await CrashRecoveryTests.connect(port: port)
        let count = try await client.listCollections().first { $0.name == "s" }?.count ?? 0
        #expect(count == UInt64(acknowledged.count))
        if !acknowledged.isEmpty {
            let rows = try await client.get(collection: "s", ids: acknowledged)
            #expect(rows.map(\.id) == acknowledged)
        }
        await client.close()
    }
}
