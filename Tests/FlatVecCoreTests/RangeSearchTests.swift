@testable import FlatVecCore
import Testing

/// Range searches (every hit scoring at least a threshold, best first, up to a limit) against a
/// brute force, with every scan this CPU runs: thresholds equal to stored scores (`>=` is inclusive),
/// filters, labels, grouping, both metrics, batches, and the cut at the limit.
@Suite struct RangeSearchTests {
    static let dimension = 24
    static let count = 3_000

    /// An index and a reference holding the same quantised vectors (exact scores, many ties), with
    /// attributes and labels.
    static func catalogue(_ choice: ScanChoice, metric: Metric) throws -> (FlatIndex, ReferenceIndex) {
        var random = SeededRandom(seed: 77)
        let index = try FlatIndex(
            dimension: dimension, metric: metric, configuration: choice.configuration(rowsPerChunk: 512),
            attributes: CatalogueAttributes.definitions
        )
        var reference = ReferenceIndex(dimension: dimension, metric: metric)
        var ids: [Int64] = [], labels: [Int64] = [], vectors: [Float] = [], attributes: [[String: AttributeValue]] = []
        for i in 0..<count {
            // Every tenth row repeats an earlier one: exact ties.
            let vector = i % 10 == 9 ? Array(vectors[((i - 5) * dimension)..<((i - 4) * dimension)]) : random.quantizedVector(dimension)
            let row = random.catalogueAttributes()
            ids.append(Int64(i) * 2 + 1)
            labels.append(Int64(i % 37))
            vectors += vector
            attributes.append(row)
            reference.upsert(id: Int64(i) * 2 + 1, label: Int64(i % 37), vector: vector, attributes: row)
        }
        try index.add(VectorBatch(dimension: dimension, ids: ids, labels: labels, vectors: vectors, attributes: attributes))
        return (index, reference)
    }

    /// The threshold at the `rank`-th best score of `query`: some stored rows score exactly it.
    static func threshold(_ reference: ReferenceIndex, _ query: [Float], rank: Int) -> Float {
        reference.search(query, options: SearchOptions(k: rank))[rank - 1].score
    }

    @Test(arguments: ScanChoice.all)
    func everyHitAtOrAboveTheThresholdBestFirst(choice: ScanChoice) throws {
        for metric in Metric.allCases {
            let (index, reference) = try Self.catalogue(choice, metric: metric)
            let (float32, _) = try Self.catalogue(ScanChoice.all[0], metric: metric)
            var random = SeededRandom(seed: 5)
            for round in 0..<12 {
                let query = round % 3 == 0 ? try index.get(ids: [Int64(round * 40 + 1)])[0].vector : random.quantizedVector(Self.dimension)
                let t = Self.threshold(reference, query, rank: [1, 7, 60, 400][round % 4])
                var options = SearchOptions.range(minScore: t, limit: 10_000)
                if round % 4 == 1 { options.filter = try Filter(parsing: "visible or stock > 3") }
                if round % 4 == 2 { options.labels = [1, 2, 3, 5, 8, 13] }
                if round % 6 == 5 { options.groupByLabel = true }
                let plain = SearchOptions(
                    k: Self.count, minScore: t, labels: options.labels, groupByLabel: options.groupByLabel,
                    filter: try options.filter?.checked(against: CatalogueAttributes.definitions)
                )
                // Under cosine the brute force normalises in another order than the index does, so the
                // reference is the index's own float32 path, searching one query with k = every row.
                let expected = metric == .innerProduct ? reference.search(query, options: plain) : try float32.search(query, options: plain)
                let (hits, truncated) = options.cut(try index.search(.vectors(query), options: [options])[0])
                #expect(!truncated)
                #expect(hits.map(\.id) == expected.map(\.id), "\(choice.name) \(metric) round \(round)")
                if metric == .innerProduct {
                    #expect(hits.map(\.score) == expected.map(\.score), "\(choice.name) round \(round)")
                }
                #expect(hits.allSatisfy { $0.score >= t })
            }
        }
    }

    @Test(arguments: ScanChoice.all)
    func aLimitCutsTheBestHitsAndSaysSo(choice: ScanChoice) throws {
        let (index, reference) = try Self.catalogue(choice, metric: .innerProduct)
        var random = SeededRandom(seed: 9)
        // A batch of 20 queries (a listing int8 batch), each with its own threshold and limit.
        let queries = (0..<20).map { _ in random.quantizedVector(Self.dimension) }
        let options = queries.enumerated().map { i, query in
            SearchOptions.range(minScore: Self.threshold(reference, query, rank: 30), limit: [5, 29, 30, 31, 100][i % 5])
        }
        let results = try index.search(.vectors(queries.flatMap { $0 }), options: options)
        for (i, query) in queries.enumerated() {
            let all = reference.search(query, options: SearchOptions(k: Self.count, minScore: options[i].minScore))
            let (hits, truncated) = options[i].cut(results[i])
            #expect(hits.map(\.id) == Array(all.prefix(options[i].k)).map(\.id), "query \(i)")
            #expect(truncated == (all.count > options[i].k), "query \(i): \(all.count) match, limit \(options[i].k)")
        }
    }

    @Test func aRangeSearchNeedsAThresholdAndALimitInRange() throws {
        let index = try FlatIndex(dimension: 2)
        try index.add(id: 1, vector: [1, 0])
        var noThreshold = SearchOptions(k: 10)
        noThreshold.range = true
        #expect(throws: FlatVecError(.invalidArgument, "a range search needs a minimum score")) {
            try index.search([1, 0], options: noThreshold)
        }
        #expect(throws: FlatVecError.self) { try index.search([1, 0], options: .range(minScore: .nan)) }
        for limit in [0, FlatVecLimits.maximumRangeHits + 1] {
            do {
                _ = try index.search([1, 0], options: .range(minScore: 0, limit: limit))
                Issue.record("limit \(limit) accepted")
            } catch {
                #expect(error.code == .limitExceeded)
            }
        }
        // An empty index, and a threshold nothing reaches: no hits, not cut.
        #expect(SearchOptions.range(minScore: 2).cut(try index.search([1, 0], options: .range(minScore: 2))) .hits.isEmpty)
        #expect(try FlatIndex(dimension: 2).search([1, 0], options: .range(minScore: -1)).isEmpty)
        // The largest limit is accepted.
        #expect(try index.search([1, 0], options: .range(minScore: -1, limit: FlatVecLimits.maximumRangeHits)).map(\.id) == [1])
    }
}
