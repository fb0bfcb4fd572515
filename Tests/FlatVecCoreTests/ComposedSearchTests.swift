@testable import FlatVecCore
import FlatVecTestSupport
import Testing

/// Query groups (max and mean over several query vectors) and several hits per label, against a
/// brute force over every vector of each group, with every scan this CPU runs: ties (exact copies),
/// filters, labels, min_score, range searches, "more like these" and the refusals.
@Suite struct ComposedSearchTests {
    static let dimension = 16
    static let count = 1_500

    static func catalogue(_ choice: ScanChoice) throws -> (FlatIndex, ReferenceIndex) {
        var random = SeededRandom(seed: 44)
        let index = try FlatIndex(
            dimension: dimension, configuration: choice.configuration(rowsPerChunk: 256), attributes: CatalogueAttributes.definitions
        )
        var reference = ReferenceIndex(dimension: dimension)
        var ids: [Int64] = [], labels: [Int64] = [], flat: [Float] = [], attributes: [[String: AttributeValue]] = []
        var vectors: [[Float]] = []
        for i in 0..<count {
            let vector = i % 9 == 8 ? vectors[i / 3] : random.quantizedVector(dimension)
            vectors.append(vector)
            let row = random.catalogueAttributes()
            let id = Int64(i) * 7 + 3
            let label = Int64(i % 97)
            ids.append(id)
            labels.append(label)
            flat += vector
            attributes.append(row)
            reference.upsert(id: id, label: label, vector: vector, attributes: row)
        }
        try index.add(VectorBatch(dimension: dimension, ids: ids, labels: labels, vectors: flat, attributes: attributes))
        return (index, reference)
    }

    /// The brute force: one ranking of the group `queries` under `options` and `aggregate`.
    static func expected(
        _ reference: ReferenceIndex, _ queries: [[Float]], _ options: SearchOptions, _ aggregate: QueryGroups.Aggregate,
        excluding: Set<Int64> = []
    ) -> [SearchHit] {
        let rows = reference.rows.filter { id, row in
            !excluding.contains(id) && (options.labels?.contains(row.label) ?? true)
                && (options.filter.map { ReferenceIndex.evaluate($0, id: id, row: row) == true } ?? true)
        }
        // Each row's score per query vector.
        let scores = rows.mapValues { row in queries.map { reference.score($0, row.vector) } }
        let g = Float(queries.count)
        func sum(_ values: [Float]) -> Float { values.reduce(0, +) }
        var hits: [SearchHit]
        if !options.groupByLabel {
            hits = scores.map { id, s in
                SearchHit(id: id, label: rows[id]!.label, score: aggregate == .max ? s.max()! : sum(s) / g)
            }
        } else {
            var byLabel: [Int64: [Int64]] = [:]
            for (id, row) in rows { byLabel[row.label, default: []].append(id) }
            hits = byLabel.map { label, ids in
                // The representative: the best single score over all vectors, then the smaller id.
                let best = ids.min { a, b in
                    let sa = scores[a]!.max()!, sb = scores[b]!.max()!
                    return sa > sb || (sa == sb && a < b)
                }!
                let score = aggregate == .max
                    ? scores[best]!.max()!
                    : sum((0..<queries.count).map { j in ids.map { scores[$0]![j] }.max()! }) / g
                return SearchHit(id: best, label: label, score: score)
            }
        }
        hits = hits.filter { options.minScore == nil || $0.score >= options.minScore! }.sorted { $0.ranks(before: $1) }
        let limit = options.range ? options.k + 1 : options.k
        hits = Array(hits.prefix(limit))
        guard options.groupByLabel && options.groupSize > 1 else { return hits }
        return hits.flatMap { top in
            rows.filter { $0.value.label == top.label }.map { id, row in SearchHit(id: id, label: row.label, score: scores[id]!.max()!) }
                .filter { options.minScore == nil || $0.score >= options.minScore! }
                .sorted { $0.ranks(before: $1) }.prefix(options.groupSize)
        }
    }

    @Test(arguments: ScanChoice.all)
    func groupsRankAsTheBruteForce(choice: ScanChoice) throws {
        let (index, reference) = try Self.catalogue(choice)
        var random = SeededRandom(seed: 2)
        let filter = try Filter(parsing: "visible or stock > 3").checked(against: CatalogueAttributes.definitions)
        for round in 0..<24 {
            let aggregate: QueryGroups.Aggregate = round % 2 == 0 ? .max : .mean
            let sizes = [[3, 1, 8], [2], [5, 5]][round % 3]
            // Queries near one stored vector (a burst of frames of one item), and random ones.
            let anchor = reference.rows[Int64((round * 37) % Self.count) * 7 + 3]!.vector
            let queries = sizes.flatMap { n in
                (0..<n).map { j in round % 4 < 2 ? anchor.enumerated().map { $1 + (($0 + j) % 5 == 0 ? 0.125 : 0) } : random.quantizedVector(Self.dimension) }
            }
            var options = SearchOptions(k: [1, 5, 12][round % 3], groupByLabel: round % 5 != 0)
            if round % 3 == 1 { options.filter = filter }
            if round % 7 == 3 { options.labels = Set((0..<40).map { Int64($0) }) }
            if round % 6 == 5 { options.minScore = 0.25 }
            if round % 8 == 6 && aggregate == .max && options.groupByLabel { options.groupSize = 3 }
            let groups = QueryGroups(sizes: sizes, aggregate: aggregate)
            let results = try index.search(.vectors(queries.flatMap { $0 }), options: [options], groups: groups)
            #expect(results.count == sizes.count)
            for (g, range) in groups.ranges.enumerated() {
                let want = Self.expected(reference, Array(queries[range]), options, aggregate)
                #expect(results[g].map(\.id) == want.map(\.id), "\(choice.name) round \(round) group \(g) \(aggregate)")
                #expect(results[g].map(\.score) == want.map(\.score), "\(choice.name) round \(round) group \(g)")
                #expect(results[g].map(\.label) == want.map(\.label))
            }
        }
    }

    @Test(arguments: ScanChoice.all)
    func rangeSearchesAndSeveralHitsPerLabel(choice: ScanChoice) throws {
        let (index, reference) = try Self.catalogue(choice)
        var random = SeededRandom(seed: 3)
        for round in 0..<8 {
            let queries = (0..<4).map { _ in random.quantizedVector(Self.dimension) }
            let aggregate: QueryGroups.Aggregate = round % 2 == 0 ? .max : .mean
            var options = SearchOptions.range(minScore: [0.5, 0.9][round / 4], limit: [3, 1_000][round % 2 == 0 ? 0 : 1])
            options.groupByLabel = round % 4 >= 2
            if aggregate == .max && options.groupByLabel { options.groupSize = 2 }
            let results = try index.search(.vectors(queries.flatMap { $0 }), options: [options], groups: QueryGroups(sizes: [4], aggregate: aggregate))
            let want = Self.expected(reference, queries, options, aggregate)
            #expect(results[0].map(\.id) == want.map(\.id), "\(choice.name) round \(round)")
            let (cut, truncated) = options.cut(results[0])
            let (wantCut, wantTruncated) = options.cut(want)
            #expect(cut.map(\.id) == wantCut.map(\.id) && truncated == wantTruncated)
        }
        // One query with a group size, no groups.
        var options = SearchOptions(k: 4, groupByLabel: true)
        options.groupSize = 5
        let query = random.quantizedVector(Self.dimension)
        let hits = try index.search(.vectors(query), options: [options], groups: nil)[0]
        #expect(hits.map(\.id) == Self.expected(reference, [query], options, .max).map(\.id))
        #expect(Set(hits.map(\.label)).count == 4 && hits.count > 4)
    }

    /// Under cosine, with unit vectors whose coordinates are 0, ±0.5 or ±1 (normalising leaves them
    /// as they are and every score is exact), so the brute force is exact too.
    @Test(arguments: ScanChoice.all)
    func cosineGroupsRankAsTheBruteForce(choice: ScanChoice) throws {
        var random = SeededRandom(seed: 71)
        func unit() -> [Float] {
            var v = [Float](repeating: 0, count: Self.dimension)
            if Int.random(in: 0..<4, using: &random) == 0 {
                v[Int.random(in: 0..<Self.dimension, using: &random)] = Bool.random(using: &random) ? 1 : -1
            } else {
                for i in Array(0..<Self.dimension).shuffled(using: &random).prefix(4) { v[i] = Bool.random(using: &random) ? 0.5 : -0.5 }
            }
            return v
        }
        let index = try FlatIndex(dimension: Self.dimension, metric: .cosine, configuration: choice.configuration(rowsPerChunk: 128))
        var reference = ReferenceIndex(dimension: Self.dimension, metric: .cosine)
        let vectors = (0..<800).map { _ in unit() }
        let ids = (0..<800).map { Int64($0) * 3 }
        try index.add(VectorBatch(dimension: Self.dimension, ids: ids, labels: ids.map { $0 % 53 }, vectors: vectors.flatMap { $0 }))
        for (id, v) in zip(ids, vectors) { reference.upsert(id: id, label: id % 53, vector: v) }
        for round in 0..<12 {
            let aggregate: QueryGroups.Aggregate = round % 2 == 0 ? .max : .mean
            let queries = (0..<4).map { _ in unit() }
            var options = SearchOptions(k: [1, 6, 10][round % 3], groupByLabel: round % 4 >= 2)
            if round % 5 == 4 { options.minScore = 0.25 }
            let hits = try index.search(.vectors(queries.flatMap { $0 }), options: [options], groups: QueryGroups(sizes: [4], aggregate: aggregate))[0]
            let want = Self.expected(reference, queries, options, aggregate)
            #expect(hits.map(\.id) == want.map(\.id), "\(choice.name) round \(round) \(aggregate)")
            #expect(hits.map(\.score) == want.map(\.score), "\(choice.name) round \(round)")
        }
    }

    @Test func moreLikeTheseLeavesTheGroupOut() throws {
        let (index, reference) = try Self.catalogue(ScanChoice.all.last!)
        let ids: [Int64] = [3, 10, 17]
        let queries = ids.map { reference.rows[$0]!.vector }
        for aggregate in QueryGroups.Aggregate.allCases {
            let options = SearchOptions(k: 6)
            let hits = try index.search(.storedIDs(ids, excludingThemselves: true), options: [options], groups: QueryGroups(sizes: [3], aggregate: aggregate))[0]
            #expect(hits.map(\.id) == Self.expected(reference, queries, options, aggregate, excluding: Set(ids)).map(\.id))
            #expect(Set(hits.map(\.id)).isDisjoint(with: ids))
        }
    }

    @Test func refusals() throws {
        let (index, _) = try Self.catalogue(ScanChoice.all[0])
        let queries = [Float](repeating: 0.5, count: 2 * Self.dimension)
        func refused(_ options: [SearchOptions], _ groups: QueryGroups?, _ text: String) {
            #expect { try index.search(.vectors(queries), options: options, groups: groups) } throws: { error in
                (error as? FlatVecError)?.message.contains(text) == true
            }
        }
        refused([SearchOptions()], QueryGroups(sizes: [3]), "hold 3 vectors, the request has 2")
        refused([SearchOptions()], QueryGroups(sizes: [2, 0]), "needs at least 1")
        var sized = SearchOptions(k: 3, groupByLabel: true)
        sized.groupSize = 0
        refused([sized], nil, "group_size 0 is not a number of hits per label")
        sized.groupSize = 1_001
        refused([sized], nil, "group_size 1001")
        sized.groupSize = 2
        refused([sized], QueryGroups(sizes: [2], aggregate: .mean), "max aggregate")
        sized.groupByLabel = false
        refused([sized], nil, "needs group_by_label")
        var many = SearchOptions(k: 10_000, groupByLabel: true)
        many.groupSize = 11
        refused([many], nil, "more than 100000 hits")
        refused([SearchOptions(filter: .comparison(.attribute("visible"), .equal, .bool(true))), SearchOptions()], QueryGroups(sizes: [2]), "different filters")
    }
}
