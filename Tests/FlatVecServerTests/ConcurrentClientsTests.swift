import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Synchronization
import Testing

/// State the tasks of a test share.
final class SharedState: Sendable {
    let failures = Mutex<[String]>([])
    let writerDone = Atomic<Bool>(false)
}

@Suite(.timeLimit(.minutes(5))) struct ConcurrentClientsTests {
    /// Anchor i: 100 along axis i (i < d) or -100 along axis i - d.
    static func anchor(_ i: Int, _ d: Int) -> [Float] { (0..<d).map { $0 == i % d ? (i < d ? 100 : -100) : 0 } }

    /// 32 connections search while one adds and removes. Anchors are never removed, so every search
    /// must find each anchor it asks for as its top hit; churn rows come and go. Afterwards the server
    /// holds exactly the anchors and the churn rows the writer kept.
    @Test func thirtyTwoSearchersAndAWriter() async throws {
        try await withTestServer { server in
            let d = 16
            let admin = try await server.client()
            try await admin.createCollection("live", dimension: d)
            var random = SeededRandom(seed: 77)
            // Anchor i: 100 along axis i (i < 16) or -100 along axis i - 16; churn rows have components in [-1, 1].
            let anchors = 2 * d
            var ids: [Int64] = []
            var vectors: [Float] = []
            for i in 0..<anchors {
                ids.append(Int64(i))
                vectors += Self.anchor(i, d)
            }
            for i in 0..<3000 {
                ids.append(Int64(1_000 + i))
                vectors += random.quantizedVector(d)
            }
            try await admin.add(collection: "live", batch: VectorBatch(dimension: d, ids: ids, labels: Array(repeating: 0, count: ids.count), vectors: vectors))

            let shared = SharedState()
            let kept = try await withThrowingTaskGroup(of: Set<Int64>?.self) { group in
                group.addTask {
                    var random = SeededRandom(seed: 5)
                    var live = Set((0..<3000).map { Int64(1_000 + $0) })
                    var next: Int64 = 100_000
                    for step in 0..<300 {
                        if step % 2 == 0, let victim = live.randomElement(using: &random) {
                            try await admin.remove(collection: "live", ids: [victim])
                            live.remove(victim)
                        } else {
                            let n = Int.random(in: 1...20, using: &random)
                            let newIDs = (0..<n).map { next + Int64($0) }
                            next += Int64(n)
                            let v = (0..<(n * d)).map { _ in Float(Int.random(in: -8...8, using: &random)) / 8 }
                            try await admin.add(collection: "live", batch: VectorBatch(dimension: d, ids: newIDs, labels: Array(repeating: 0, count: n), vectors: v))
                            live.formUnion(newIDs)
                        }
                    }
                    shared.writerDone.store(true, ordering: .sequentiallyConsistent)
                    return live
                }
                for searcher in 0..<32 {
                    group.addTask {
                        let client = try await server.client()
                        var random = SeededRandom(seed: UInt64(1_000 + searcher))
                        var rounds = 0
                        while !shared.writerDone.load(ordering: .sequentiallyConsistent) || rounds < 3 {
                            rounds += 1
                            let which = (0..<4).map { _ in Int.random(in: 0..<anchors, using: &random) }
                            let queries = which.flatMap { Self.anchor($0, d).map { $0 / 100 } }
                            let results = try await client.search(collection: "live", queries: queries, dimension: d, options: SearchOptions(k: 3))
                            for (q, hits) in results.enumerated() where hits.first?.id != Int64(which[q]) {
                                shared.failures.withLock { $0.append("anchor \(which[q]): got \(hits.map(\.id))") }
                            }
                        }
                        await client.close()
                        return nil
                    }
                }
                var kept = Set<Int64>()
                for try await result in group { if let result { kept = result } }
                return kept
            }
            let failures = shared.failures.withLock { $0 }
            #expect(failures.isEmpty, "\(failures.prefix(3))")
            let all = try await admin.get(collection: "live", ids: Array(kept) + (0..<Int64(anchors)).map { $0 }, withVectors: false, withPayloads: false)
            #expect(all.count == kept.count + anchors)
            #expect(try await admin.listCollections().first?.count == UInt64(kept.count + anchors))
            await admin.close()
        }
    }

    @Test func gracefulShutdownFinishesRequestsInFlight() async throws {
        let server = try await TestServer.start()
        let client = try await server.client()
        try await client.createCollection("s", dimension: 128)
        var random = SeededRandom(seed: 1)
        let n = 20_000
        try await client.add(collection: "s", batch: VectorBatch(
            dimension: 128, ids: (0..<Int64(n)).map { $0 }, labels: Array(repeating: 0, count: n),
            vectors: (0..<(n * 128)).map { _ in Float(Int.random(in: -8...8, using: &random)) / 8 }
        ))
        let queries = (0..<(64 * 128)).map { _ in Float(Int.random(in: -8...8, using: &random)) / 8 }
        let inFlight = (0..<4).map { _ in
            Task { try await client.search(collection: "s", queries: queries, dimension: 128, options: SearchOptions(k: 5)) }
        }
        // Once the first reply is back the server has read the other three requests (they went out
        // together); stop it while they are queued or running: they must still be answered.
        _ = try await inFlight[0].value
        await server.stop()
        for task in inFlight {
            let results = try await task.value
            #expect(results.count == 64 && results.allSatisfy { $0.count == 5 })
        }
        do {
            _ = try await FlatVecClient.connect(host: "127.0.0.1", port: server.port)
            Issue.record("connected to a stopped server")
        } catch {
            #expect(error.code == .unavailable)
        }
    }
}
