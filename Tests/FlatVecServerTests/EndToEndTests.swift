import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Testing

@Suite(.timeLimit(.minutes(5))) struct EndToEndTests {
    @Test func everyOperationOverLoopback() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            #expect(client.hello.role == .admin)
            #expect(client.hello.maxK == 10_000)
            _ = try await client.ping()

            try await client.createCollection("items", dimension: 4)
            try await client.createCollection("cos", dimension: 2, metric: .cosine)
            let list = try await client.listCollections()
            #expect(list.map(\.name) == ["cos", "items"])
            #expect(list[1].dimension == 4 && list[1].metric == .innerProduct && list[1].count == 0)

            let batch = try VectorBatch(
                dimension: 4, ids: [1, 2, 3], labels: [10, 10, 20],
                vectors: [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 1, 0],
                payloads: [Array(#"{"image":"a.jpg"}"#.utf8), nil, Array("c".utf8)]
            )
            let added = try await client.add(collection: "items", batch: batch)
            #expect(added == AddResponse(inserted: 3, replaced: 0))
            let replaced = try await client.add(collection: "items", batch: VectorBatch(id: 3, label: 30, vector: [0, 0, 2, 0], payload: "c2"))
            #expect(replaced == AddResponse(inserted: 0, replaced: 1))

            let hits = try await client.search(
                collection: "items", queries: [1, 1, 0, 0, 0, 0, 1, 0], dimension: 4,
                options: SearchOptions(k: 2, includePayloads: true, includeVectors: true)
            )
            #expect(hits.count == 2)
            #expect(hits[0].map(\.id) == [1, 2])
            #expect(hits[0][0].payloadString == #"{"image":"a.jpg"}"#)
            #expect(hits[0][0].vector == [1, 0, 0, 0])
            #expect(hits[1].first?.id == 3 && hits[1].first?.score == 2 && hits[1].first?.label == 30)

            let grouped = try await client.search(
                collection: "items", queries: [1, 1, 0, 0], dimension: 4, options: SearchOptions(k: 10, groupByLabel: true)
            )
            #expect(grouped[0].map(\.label) == [10, 30])
            let filtered = try await client.search(
                collection: "items", queries: [1, 1, 0, 0], dimension: 4, options: SearchOptions(k: 10, minScore: 0.5, labels: [10])
            )
            #expect(filtered[0].map(\.id) == [1, 2])

            let got = try await client.get(collection: "items", ids: [3, 1])
            #expect(got.map(\.id) == [3, 1])
            #expect(got[0].vector == [0, 0, 2, 0] && got[0].payload == Array("c2".utf8) && got[0].label == 30)
            let bare = try await client.get(collection: "items", ids: [2], withVectors: false, withPayloads: false)
            #expect(bare[0].vector.isEmpty && bare[0].payload == nil && bare[0].label == 10)

            #expect(try await client.remove(collection: "items", ids: [1, 2]) == 2)
            #expect(try await client.listCollections().first { $0.name == "items" }?.count == 1)

            let stats = try await client.stats()
            #expect(stats.collections.map(\.name) == ["cos", "items"])
            #expect(stats.openConnections >= 1)
            #expect(stats.operations.contains { $0.opcode == .search && $0.requests == 3 })
            #expect(!stats.blasLibrary.isEmpty)
            // How "items" was searched: int8 where this CPU has a fast int8 kernel (codes counted in
            // its memory, rows bounded by the three searches), float32 elsewhere.
            let items = try #require(stats.collections.first { $0.name == "items" })
            #expect(items.scan == FlatIndex.Configuration().effectiveScan)
            if items.scan == .int8 {
                #expect(items.codeBytes > 0 && items.codeBytes < items.memoryBytes)
                #expect(items.rowsBounded >= 4 && items.rowsRescored > 0)
            } else {
                #expect(items.codeBytes == 0 && items.rowsBounded == 0)
            }

            try await client.dropCollection("cos")
            #expect(try await client.listCollections().map(\.name) == ["items"])
            await client.close()
        }
    }

    @Test func pipelinedRequestsAllComeBackMatched() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            try await client.createCollection("p", dimension: 8)
            var random = SeededRandom(seed: 1)
            var reference = ReferenceIndex(dimension: 8)
            var vectors: [Float] = []
            for id in 0..<500 as Range<Int64> {
                let v = random.quantizedVector(8)
                reference.upsert(id: id, label: 0, vector: v)
                vectors += v
            }
            try await client.add(collection: "p", batch: VectorBatch(dimension: 8, ids: Array(0..<500), labels: Array(repeating: 0, count: 500), vectors: vectors))
            let queries = (0..<100).map { _ in random.quantizedVector(8) }
            let results = try await withThrowingTaskGroup(of: (Int, [Int64]).self) { group in
                for (i, q) in queries.enumerated() {
                    group.addTask {
                        let hits = try await client.search(collection: "p", queries: q, dimension: 8, options: SearchOptions(k: 5))
                        return (i, hits[0].map(\.id))
                    }
                }
                var all = [[Int64]](repeating: [], count: 100)
                for try await (i, ids) in group { all[i] = ids }
                return all
            }
            for (i, q) in queries.enumerated() {
                #expect(results[i] == reference.search(q, options: SearchOptions(k: 5)).map(\.id), "query \(i)")
            }
            await client.close()
        }
    }

    @Test func requestsOnAClosedConnectionFailInsteadOfWaiting() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            await client.close()
            do throws(FlatVecError) {
                _ = try await client.ping()
                Issue.record("a request on a closed connection succeeded")
            } catch {
                #expect(error.code == .unavailable)
            }
        }
    }
}
