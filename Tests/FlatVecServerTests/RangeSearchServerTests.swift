import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Testing

/// Range searches through a real server: `k = 0` with `min_score`, cut at `--max-range-hits` with the
/// reply saying so, refused without a threshold.
@Suite(.timeLimit(.minutes(5))) struct RangeSearchServerTests {
    @Test func everyHitAboveTheThresholdUpToTheServersLimit() async throws {
        try await withTestServer(configure: { $0.limits.maxRangeHits = 40 }) { server in
            let client = try await server.client()
            try await client.createCollection("r", dimension: 8)
            var random = SeededRandom(seed: 3)
            var reference = ReferenceIndex(dimension: 8)
            var ids: [Int64] = [], vectors: [Float] = []
            for id in 0..<Int64(400) {
                let v = random.quantizedVector(8)
                reference.upsert(id: id, label: id % 4, vector: v)
                ids.append(id)
                vectors += v
            }
            _ = try await client.add(collection: "r", batch: VectorBatch(dimension: 8, ids: ids, labels: ids.map { $0 % 4 }, vectors: vectors))
            let queries = (0..<3).map { _ in random.quantizedVector(8) }
            // Thresholds at the 10th, 40th and 41st best score: 10 hits, exactly the limit, and one over it.
            let thresholds = [10, 40, 41].enumerated().map { q, rank in
                reference.search(queries[q], options: SearchOptions(k: rank))[rank - 1].score
            }
            for (q, query) in queries.enumerated() {
                let results = try await client.rangeSearch(collection: "r", queries: query, dimension: 8, minScore: thresholds[q])
                let all = reference.search(query, options: SearchOptions(k: 400, minScore: thresholds[q]))
                #expect(results.count == 1)
                #expect(results[0].hits.map(\.id) == Array(all.prefix(40)).map(\.id), "query \(q)")
                #expect(results[0].truncated == (all.count > 40), "query \(q): \(all.count) reach the threshold")
            }
            // Filters and labels apply to range searches too.
            var options = SearchOptions(labels: [1])
            options.filter = .comparison(.id, .less, .int64(200))
            let filtered = try await client.rangeSearch(collection: "r", queries: queries[0], dimension: 8, minScore: -100, options: options)
            #expect(filtered[0].hits.map(\.id) == Array(reference.search(queries[0], options: SearchOptions(k: 400, labels: [1], filter: options.filter)).prefix(40)).map(\.id))
            #expect(filtered[0].truncated)
            // k = 0 without min_score is refused.
            var noThreshold = SearchOptions(k: 10)
            noThreshold.range = true
            do throws(FlatVecError) {
                _ = try await client.search(SearchRequest(collection: "r", dimension: 8, queries: queries[0], options: noThreshold))
                Issue.record("a range search without a threshold was answered")
            } catch {
                #expect(error.code == .invalidArgument && error.message.contains("min_score"), "\(error)")
            }
            await client.close()
        }
    }
}
