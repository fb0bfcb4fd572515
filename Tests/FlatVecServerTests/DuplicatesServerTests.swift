import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Testing

/// The near-duplicate sweep through a real server: pages against a brute force, the cut at
/// `--max-range-hits`, ending a sweep, and every refused request.
@Suite(.timeLimit(.minutes(5))) struct DuplicatesServerTests {
    /// 300 quantised vectors of dimension 6 (exact scores), every fourth a copy of an earlier one.
    static func load(_ client: FlatVecClient, _ name: String = "d") async throws -> ReferenceIndex {
        try await client.createCollection(name, dimension: 6, attributes: [try AttributeDefinition(name: "visible", type: .bool)])
        var random = SeededRandom(seed: 12)
        var reference = ReferenceIndex(dimension: 6)
        var ids: [Int64] = [], vectors: [[Float]] = [], attributes: [[String: AttributeValue]] = []
        for i in 0..<300 {
            let v = i % 4 == 3 ? vectors[i / 2] : random.quantizedVector(6)
            let id = Int64(i) * 5
            let values: [String: AttributeValue] = ["visible": .bool(i % 3 != 0)]
            reference.upsert(id: id, label: 0, vector: v, attributes: values)
            ids.append(id)
            vectors.append(v)
            attributes.append(values)
        }
        _ = try await client.add(
            collection: name,
            batch: VectorBatch(dimension: 6, ids: ids, labels: ids.map { _ in 0 }, vectors: vectors.flatMap { $0 }, attributes: attributes)
        )
        return reference
    }

    static func bruteForce(_ reference: ReferenceIndex, _ t: Float, visibleOnly: Bool = false) -> Set<String> {
        let rows = reference.rows.filter { !visibleOnly || $0.value.attributes["visible"] == .bool(true) }.sorted { $0.key < $1.key }
        var pairs: Set<String> = []
        for i in rows.indices {
            for j in (i + 1)..<rows.count where reference.score(rows[i].value.vector, rows[j].value.vector) >= t {
                pairs.insert("\(rows[i].key)-\(rows[j].key)")
            }
        }
        return pairs
    }

    @Test func pagesListEveryPairOnceAsTheBruteForce() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            let reference = try await Self.load(client)
            let t: Float = 0.75
            let expected = Self.bruteForce(reference, t)
            #expect(expected.count > 60)
            var found: [String] = []
            var pages = 0
            let last = try await client.duplicates(collection: "d", minScore: t, maxPairs: 7) { page in
                #expect(page.pairs.count <= 7)
                found += page.pairs.map { "\($0.a)-\($0.b)" }
                pages += 1
            }
            #expect(pages >= expected.count / 7)
            #expect(found.count == Set(found).count, "a pair listed twice")
            #expect(Set(found) == expected)
            #expect(last.finished && last.rowsDone == 300 && last.rowsTotal == 300 && last.truncatedRows == 0)
            // The filter applies to both vectors of a pair.
            var visible: Set<String> = []
            try await client.duplicates(collection: "d", minScore: t, filter: try Filter(parsing: "visible")) { page in
                visible.formUnion(page.pairs.map { "\($0.a)-\($0.b)" })
            }
            #expect(visible == Self.bruteForce(reference, t, visibleOnly: true))
            await client.close()
        }
    }

    @Test func aRowWithMorePartnersThanTheLimitCounts() async throws {
        try await withTestServer(configure: { $0.limits.maxRangeHits = 3 }) { server in
            let client = try await server.client()
            try await client.createCollection("c", dimension: 2)
            _ = try await client.add(collection: "c", batch: VectorBatch(
                dimension: 2, ids: Array(0..<10), labels: Array(repeating: 0, count: 10), vectors: (0..<10).flatMap { _ in [Float(1), 0] }
            ))
            var pairs = 0
            let last = try await client.duplicates(collection: "c", minScore: 0.5) { pairs += $0.pairs.count }
            #expect(last.truncatedRows > 0 && pairs < 45, "\(last.truncatedRows) truncated, \(pairs) pairs")
            await client.close()
        }
    }

    static func expectRefused(_ client: FlatVecClient, _ request: DuplicatesRequest, _ code: FlatVecError.Code, _ text: String) async {
        do {
            _ = try await client.duplicatesPage(request)
            Issue.record("answered: \(request)")
        } catch {
            #expect(error.code == code && error.message.contains(text), "\(error)")
        }
    }

    @Test func anEndedDroppedOrForeignSweepIsRefused() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            _ = try await Self.load(client)
            _ = try await Self.load(client, "other")
            func refused(_ request: DuplicatesRequest, _ code: FlatVecError.Code, _ text: String) async {
                await Self.expectRefused(client, request, code, text)
            }
            await refused(DuplicatesRequest(collection: "d", minScore: .nan), .invalidArgument, "finite")
            await refused(DuplicatesRequest(collection: "d", minScore: 0.5, maxPairs: 0), .limitExceeded, "max_pairs")
            await refused(DuplicatesRequest(collection: "nope", minScore: 0.5), .unknownCollection, "nope")
            await refused(DuplicatesRequest(collection: "d", minScore: 0.5, cursor: 12_345), .invalidArgument, "no open duplicate sweep")
            await refused(DuplicatesRequest(collection: "d", minScore: 0.5, filter: try Filter(parsing: "colour = 'red'")), .invalidArgument, "colour")
            // A sweep read one page at a time: its cursor is for its own collection only.
            let first = try await client.duplicatesPage(DuplicatesRequest(collection: "d", minScore: -100, maxPairs: 1))
            #expect(first.cursor != 0 && first.page.pairs.count == 1)
            await refused(DuplicatesRequest(collection: "other", minScore: 0.5, cursor: first.cursor), .invalidArgument, "sweeps collection 'd'")
            let second = try await client.duplicatesPage(DuplicatesRequest(collection: "d", minScore: 0, cursor: first.cursor, maxPairs: 1))
            #expect(second.cursor == first.cursor && second.page.pairs != first.page.pairs)
            // Ended: its cursor is no more.
            let ended = try await client.duplicatesPage(DuplicatesRequest(collection: "d", minScore: 0, cursor: first.cursor, ending: true))
            #expect(ended.cursor == 0 && ended.page.pairs.isEmpty)
            await refused(DuplicatesRequest(collection: "d", minScore: 0.5, cursor: first.cursor), .invalidArgument, "no open duplicate sweep")
            // A collection dropped (and made again) under a sweep ends it.
            let open = try await client.duplicatesPage(DuplicatesRequest(collection: "other", minScore: -100, maxPairs: 1))
            try await client.dropCollection("other")
            _ = try await Self.load(client, "other")
            await refused(DuplicatesRequest(collection: "other", minScore: 0, cursor: open.cursor), .invalidArgument, "dropped or rebuilt")
            await refused(DuplicatesRequest(collection: "other", minScore: 0, cursor: open.cursor), .invalidArgument, "no open duplicate sweep")
            // A client whose page handler throws ends the sweep on the server: the next sweep of a
            // full table of 64 would fail otherwise, so open and abandon 70.
            struct Stop: Error {}
            for _ in 0..<70 {
                await #expect(throws: Stop.self) {
                    try await client.duplicates(collection: "d", minScore: -100, maxPairs: 1) { _ in throw Stop() }
                }
            }
            let after = try await client.duplicatesPage(DuplicatesRequest(collection: "d", minScore: 0.9, maxPairs: 10))
            #expect(after.page.rowsTotal == 300)
            await client.close()
        }
    }
}
