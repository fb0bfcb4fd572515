import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import NIOCore
import Synchronization
import Testing

/// What the tasks of one test share.
final class SearchProgress: Sendable {
    let failures = Mutex<[String]>([])
    let largeDone = Atomic<Bool>(false)
    let answeredWhileLarge = Mutex<[Int]>(Array(repeating: 0, count: 32))
}

/// Through real sockets: the searches of many connections share scans, each answered exactly.
@Suite(.timeLimit(.minutes(5))) struct SearchCoalescingServerTests {
    /// Fills `name` with quantized vectors (exact dot products) through the client, mirrored in `reference`.
    static func fill(
        _ client: FlatVecClient, _ name: String, _ reference: inout ReferenceIndex, count: Int, labels: Int64, random: inout SeededRandom
    ) async throws {
        var start = 0
        while start < count {
            let n = min(1_000, count - start)
            try await client.add(collection: name, batch: reference.quantizedBatch(rows: start..<(start + n), labels: labels, random: &random))
            start += n
        }
    }

    /// An admin client and collection "c" (inner product) holding `count` quantized vectors, mirrored in the returned reference.
    static func loaded(
        _ server: TestServer, dimension d: Int, count: Int, seed: UInt64
    ) async throws -> (admin: FlatVecClient, reference: ReferenceIndex, random: SeededRandom) {
        let admin = try await server.client()
        try await admin.createCollection("c", dimension: d)
        var random = SeededRandom(seed: seed)
        var reference = ReferenceIndex(dimension: d)
        try await fill(admin, "c", &reference, count: count, labels: 10, random: &random)
        return (admin, reference, random)
    }

    /// 64 connections at once, each sending searches with its own k, label filter, minScore,
    /// grouping and payload/vector flags, on an inner-product and a cosine collection: every answer
    /// equals the brute-force reference, and the searches shared scans.
    @Test func sixtyFourConnectionsWithMixedOptionsGetExactAnswers() async throws {
        try await withTestServer { server in
            let d = 32
            let admin = try await server.client()
            var random = SeededRandom(seed: 2024)
            var references: [String: ReferenceIndex] = [:]
            for (name, metric) in [("ip", Metric.innerProduct), ("cos", Metric.cosine)] {
                try await admin.createCollection(name, dimension: d, metric: metric)
                var reference = ReferenceIndex(dimension: d, metric: metric)
                try await Self.fill(admin, name, &reference, count: 12_000, labels: 40, random: &random)
                references[name] = reference
            }
            struct Case: Sendable {
                let collection: String
                let queries: [Float]
                let options: SearchOptions
                let expected: [[SearchHit]]
            }
            var perConnection: [[Case]] = []
            for c in 0..<64 {
                var cases: [Case] = []
                for _ in 0..<3 {
                    let name = c % 2 == 0 ? "ip" : "cos"
                    let nq = Int.random(in: 0..<5, using: &random) == 0 ? 4 : 1
                    let queries = (0..<nq).map { _ in random.quantizedVector(d) }
                    let options = random.searchOptions(labels: 40)
                    cases.append(Case(collection: name, queries: queries.flatMap { $0 }, options: options,
                                      expected: queries.map { references[name]!.search($0, options: options) }))
                }
                perConnection.append(cases)
            }
            let progress = SearchProgress()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (c, cases) in perConnection.enumerated() {
                    group.addTask {
                        let client = try await server.client()
                        for (i, item) in cases.enumerated() {
                            let got = try await client.search(collection: item.collection, queries: item.queries, dimension: d, options: item.options)
                            let metric: Metric = item.collection == "ip" ? .innerProduct : .cosine
                            if !ReferenceIndex.equivalent(got, item.expected, metric: metric, options: item.options) {
                                progress.failures.withLock {
                                    $0.append("connection \(c) search \(i) on \(item.collection) \(item.options): got \(got.map { $0.map { "\($0.id)/\($0.label)/\($0.score)" } }) expected \(item.expected.map { $0.map { "\($0.id)/\($0.label)/\($0.score)" } })")
                                }
                            }
                            let vectorsPresent = got.allSatisfy { $0.allSatisfy { ($0.vector != nil) == item.options.includeVectors } }
                            if !vectorsPresent { progress.failures.withLock { $0.append("connection \(c) search \(i): vectors not as asked") } }
                        }
                        await client.close()
                    }
                }
                try await group.waitForAll()
            }
            let found = progress.failures.withLock { $0 }
            #expect(found.isEmpty, "\(found.count) wrong answers, first: \(found.prefix(3))")
            var searches = 0
            var scans = 0
            for name in ["ip", "cos"] {
                let counters = try server.executor.registry.collection(named: name).index.statistics.searching
                searches += counters.searches
                scans += counters.scans
            }
            #expect(searches == 192)
            #expect(scans < searches, "64 connections searching at once should have shared scans (\(scans) scans for \(searches) searches)")
            await admin.close()
        }
    }

    /// A 1,000-query request and 32 single-query connections at once: the single queries keep being
    /// answered while the large request is scanned in turns, and the large request finishes, exact.
    @Test func aLargeRequestAndThirtyTwoSingleQueryClientsBothProgress() async throws {
        try await withTestServer { server in
            let d = 64
            var (admin, reference, random) = try await Self.loaded(server, dimension: d, count: 40_000, seed: 31)
            let large = (0..<1_000).map { _ in random.quantizedVector(d) }
            let singles = (0..<32).map { _ in random.quantizedVector(d) }
            let options = SearchOptions(k: 5)
            // The reference is slow in a debug build: check every 25th query of the large request.
            let sample = Array(stride(from: 0, to: large.count, by: 25))
            let expectedLarge = sample.map { reference.search(large[$0], options: options) }
            let expectedSingles = singles.map { [reference.search($0, options: options)] }
            let progress = SearchProgress()
            let bigClient = try await server.client()
            let smallClients = try await withThrowingTaskGroup(of: FlatVecClient.self) { group in
                for _ in 0..<32 { group.addTask { try await server.client() } }
                var all: [FlatVecClient] = []
                for try await c in group { all.append(c) }
                return all
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let got = try await bigClient.search(collection: "c", queries: large.flatMap { $0 }, dimension: d, options: options)
                    progress.largeDone.store(true, ordering: .sequentiallyConsistent)
                    if sample.map({ got[$0] }) != expectedLarge || got.count != large.count { progress.failures.withLock { $0.append("large request") } }
                }
                for (c, client) in smallClients.enumerated() {
                    group.addTask {
                        let expected = expectedSingles[c]
                        // Until the large request is answered (and at least twice).
                        var rounds = 0
                        while !progress.largeDone.load(ordering: .sequentiallyConsistent) || rounds < 2 {
                            let got = try await client.search(collection: "c", queries: singles[c], dimension: d, options: options)
                            if got != expected { progress.failures.withLock { $0.append("single \(c)") } }
                            if !progress.largeDone.load(ordering: .sequentiallyConsistent) { progress.answeredWhileLarge.withLock { $0[c] += 1 } }
                            rounds += 1
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(progress.failures.withLock { $0 }.isEmpty, "\(progress.failures.withLock { $0 })")
            // Every single-query client got answers while the large request was still being scanned.
            let answered = progress.answeredWhileLarge.withLock { $0 }
            #expect(answered.allSatisfy { $0 >= 1 }, "answers per client while the large request ran: \(answered)")
            let counters = try server.executor.registry.collection(named: "c").index.statistics.searching
            #expect(counters.largestScan <= 256)
            for client in smallClients { await client.close() }
            await bigClient.close()
            await admin.close()
        }
    }

    /// A connection that sends a search and closes while a long scan runs: its search is dropped
    /// unscanned, and the searches of the other connections are answered exactly.
    @Test func aConnectionThatClosesWithASearchQueuedDoesNotDisturbTheOthers() async throws {
        try await withTestServer { server in
            let d = 64
            var (admin, reference, random) = try await Self.loaded(server, dimension: d, count: 40_000, seed: 32)
            let options = SearchOptions(k: 3)
            let index = try server.executor.registry.collection(named: "c").index
            var dropped = 0
            // The close races the scan in front of it, so try a few times: each round the long
            // request's scans last tens of milliseconds, the close takes well under one.
            for round in 0..<5 where dropped == 0 {
                let large = (0..<2_000).map { _ in random.quantizedVector(d) }
                let other = random.quantizedVector(d)
                let bigClient = try await server.client()
                let otherClient = try await server.client()
                let bigTask = Task { try await bigClient.search(collection: "c", queries: large.flatMap { $0 }, dimension: d, options: options) }
                // Wait until the long request is being scanned.
                let scansBefore = index.statistics.searching.scans
                while index.statistics.searching.scans == scansBefore {
                    try await Task.sleep(for: .milliseconds(1))
                }
                let before = index.statistics.searching.dropped
                let quitter = try RawConnection(port: server.port)
                quitter.send(.hello(HelloRequest()), id: 1)
                _ = quitter.readResponse()
                quitter.send(.search(SearchRequest(collection: "c", dimension: UInt32(d), queries: random.quantizedVector(d), options: options)), id: 2)
                quitter.closeNow()
                let got = try await otherClient.search(collection: "c", queries: other, dimension: d, options: options)
                #expect(got == [reference.search(other, options: options)], "round \(round): the other connection's search")
                let bigHits = try await bigTask.value
                #expect(bigHits.count == large.count)
                for q in stride(from: 0, to: large.count, by: 100) {
                    #expect(bigHits[q] == reference.search(large[q], options: options), "round \(round): query \(q) of the long request")
                }
                dropped += index.statistics.searching.dropped - before
                await bigClient.close()
                await otherClient.close()
            }
            #expect(dropped >= 1, "the closed connection's search should have been dropped unscanned")
            // The server still answers.
            let q = random.quantizedVector(d)
            #expect(try await admin.search(collection: "c", queries: q, dimension: d, options: options) == [reference.search(q, options: options)])
            await admin.close()
        }
    }

    /// Searches pipelined on one connection run together and share scans, yet the replies come in
    /// request order and an ADD sent between them splits them: the searches before it do not see
    /// the added vector, the searches after it do.
    @Test func pipelinedSearchesShareScansAndAWriteBetweenThemKeepsItsPlace() async throws {
        try await withTestServer { server in
            let d = 32
            let (admin, _, _) = try await Self.loaded(server, dimension: d, count: 30_000, seed: 33)
            let probe = (0..<d).map { $0 == 0 ? Float(100) : 0 }
            let options = SearchOptions(k: 1)
            let connection = try RawConnection(port: server.port)
            connection.send(.hello(HelloRequest()), id: 1)
            _ = connection.readResponse()
            let index = try server.executor.registry.collection(named: "c").index
            let scansBefore = index.statistics.searching.scans
            var bytes: [UInt8] = []
            func frame(_ request: Request, _ id: UInt64) {
                var buffer = ByteBufferAllocator().buffer(capacity: 64)
                FrameEncoder().encode(request, requestID: id, into: &buffer)
                bytes += Array(buffer.readableBytesView)
            }
            let search = Request.search(SearchRequest(collection: "c", dimension: UInt32(d), queries: probe, options: options))
            for id in 10..<40 { frame(search, UInt64(id)) }
            frame(.add(AddRequest(collection: "c", batch: VectorBatch(id: 999_999, label: 1, vector: probe))), 40)
            for id in 41..<71 { frame(search, UInt64(id)) }
            connection.send(bytes)  // all 61 requests in one write
            for id in 10..<71 {
                let reply = try #require(connection.readResponse(), "no reply for request \(id)")
                #expect(reply.header.requestID == UInt64(id), "replies out of order")
                guard id != 40, case .searched(let result) = reply.response else { continue }
                let top = result.results.first?.first?.id
                if id < 40 {
                    #expect(top != 999_999, "search \(id), sent before the ADD, saw it")
                } else {
                    #expect(top == 999_999, "search \(id), sent after the ADD, missed it")
                }
            }
            let scans = index.statistics.searching.scans - scansBefore
            #expect(scans < 60, "60 pipelined searches ran \(scans) scans: none were shared")
            await admin.close()
        }
    }
}
