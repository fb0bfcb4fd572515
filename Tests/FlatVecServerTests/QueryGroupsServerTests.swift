import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Testing

/// Query groups and several hits per label through a real server: the same answers as the index
/// in process (itself checked against a brute force in ComposedSearchTests), one list per group,
/// range cuts counted in labels, and the refusals with their codes.
@Suite(.timeLimit(.minutes(5))) struct QueryGroupsServerTests {
    @Test func groupsAndGroupSizesAnswerAsTheIndex() async throws {
        try await withTestServer(configure: { $0.limits.maxRangeHits = 3 }) { server in
            let client = try await server.client()
            try await client.createCollection("g", dimension: 8)
            let local = try FlatIndex(dimension: 8)
            var random = SeededRandom(seed: 21)
            let ids = (0..<Int64(600)).map { $0 }
            let labels = ids.map { $0 % 41 }
            let vectors = ids.flatMap { _ in random.quantizedVector(8) }
            let batch = try VectorBatch(dimension: 8, ids: ids, labels: labels, vectors: vectors)
            _ = try await client.add(collection: "g", batch: batch)
            try local.add(batch)
            let queries = (0..<6).flatMap { _ in random.quantizedVector(8) }
            for aggregate in QueryGroups.Aggregate.allCases {
                let groups = QueryGroups(sizes: [4, 2], aggregate: aggregate)
                for byLabel in [false, true] {
                    var options = SearchOptions(k: 5, groupByLabel: byLabel)
                    if byLabel && aggregate == .max { options.groupSize = 3 }
                    let remote = try await client.search(collection: "g", queries: queries, dimension: 8, options: options, groups: groups)
                    let expected = try local.search(.vectors(queries), options: [options], groups: groups)
                    #expect(remote.count == 2)
                    #expect(remote == expected, "\(aggregate) by label \(byLabel)")
                }
            }
            // A range search with a group size: the server's limit (3) counts labels.
            var range = SearchOptions.range(minScore: -100, limit: 3)
            range.groupByLabel = true
            range.groupSize = 2
            var request = SearchRequest(collection: "g", dimension: 8, queries: queries, options: range)
            request.queryGroups = QueryGroups(sizes: [6])
            guard case .searched(let reply) = try await client.send(.search(request)) else {
                Issue.record("no search reply")
                return
            }
            #expect(reply.results.count == 1 && reply.truncated == [true])
            #expect(Set(reply.results[0].map(\.label)).count == 3 && reply.results[0].count == 6)
            // Refused: groups that do not add up, a group size under mean, filters differing in a group.
            do throws(FlatVecError) {
                _ = try await client.search(collection: "g", queries: queries, dimension: 8, options: SearchOptions(), groups: QueryGroups(sizes: [5]))
                Issue.record("groups of 5 over 6 queries were answered")
            } catch {
                #expect(error.code == .invalidArgument && error.message.contains("hold 5 vectors"), "\(error)")
            }
            var sized = SearchOptions(k: 2, groupByLabel: true)
            sized.groupSize = 2
            do throws(FlatVecError) {
                _ = try await client.search(collection: "g", queries: queries, dimension: 8, options: sized, groups: QueryGroups(sizes: [6], aggregate: .mean))
                Issue.record("a group size under mean was answered")
            } catch {
                #expect(error.code == .invalidArgument && error.message.contains("max aggregate"), "\(error)")
            }
            await client.close()
        }
    }
}
