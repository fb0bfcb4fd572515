@testable import FlatVecCore
import FlatVecTestSupport
import Testing

/// The near-duplicate sweep against a brute force over every pair, with every scan this CPU runs:
/// planted clusters and exact copies (ties at the threshold: `>=` is inclusive), filters, both
/// metrics, small pages, writes between pages, the per-row limit, and bad arguments.
@Suite struct DuplicateSweepTests {
    static let dimension = 16
    static let count = 1_200

    /// An index of quantised vectors (exact inner products) in many chunks: clusters of near copies
    /// and exact copies among random rows, with attributes.
    static func catalogue(_ choice: ScanChoice, metric: Metric) throws -> (FlatIndex, ReferenceIndex) {
        var random = SeededRandom(seed: 31)
        let index = try FlatIndex(
            dimension: dimension, metric: metric, configuration: choice.configuration(rowsPerChunk: 128),
            attributes: CatalogueAttributes.definitions
        )
        var reference = ReferenceIndex(dimension: dimension, metric: metric)
        var ids: [Int64] = [], labels: [Int64] = [], flat: [Float] = [], rowAttributes: [[String: AttributeValue]] = []
        var vectors: [[Float]] = []
        for i in 0..<count {
            var vector: [Float]
            if i % 7 == 6 {
                vector = vectors[max(0, i - 3 - (i % 50))]  // an exact copy of an earlier row (a tie)
            } else if i % 5 == 4 {
                vector = vectors[i - 1]
                vector[i % dimension] += 0.125  // a near copy
            } else {
                vector = random.quantizedVector(dimension)
            }
            vectors.append(vector)
            let attributes = random.catalogueAttributes()
            let id = Int64(i) * 3 + 2
            ids.append(id)
            labels.append(Int64(i % 11))
            flat += vector
            rowAttributes.append(attributes)
            reference.upsert(id: id, label: Int64(i % 11), vector: vector, attributes: attributes)
        }
        try index.add(VectorBatch(dimension: dimension, ids: ids, labels: labels, vectors: flat, attributes: rowAttributes))
        return (index, reference)
    }

    /// Every pair a < b of the reference's rows (matching `filter`) scoring at least `t`.
    static func bruteForce(_ reference: ReferenceIndex, minScore t: Float, filter: Filter? = nil) -> [Pair: Float] {
        let rows = reference.rows.filter { filter == nil || ReferenceIndex.evaluate(filter!, id: $0.key, row: $0.value) == true }
            .sorted { $0.key < $1.key }
        var pairs: [Pair: Float] = [:]
        for i in rows.indices {
            for j in (i + 1)..<rows.count {
                let s = reference.score(rows[i].value.vector, rows[j].value.vector)
                if s >= t { pairs[Pair(a: rows[i].key, b: rows[j].key)] = s }
            }
        }
        return pairs
    }

    struct Pair: Hashable {
        var a: Int64
        var b: Int64
    }

    /// Runs a sweep to its end in pages of `pageSize`, checking that no pair comes twice.
    static func drain(_ sweep: DuplicateSweep, pageSize: Int, between: (Int) throws -> Void = { _ in }) throws -> (pairs: [Pair: Float], last: DuplicatePage) {
        var pairs: [Pair: Float] = [:]
        var page: DuplicatePage
        var pages = 0
        repeat {
            page = try sweep.nextPage(maxPairs: pageSize, budget: .milliseconds(5))
            #expect(page.pairs.count <= pageSize)
            for pair in page.pairs {
                #expect(pair.a < pair.b)
                #expect(pairs.updateValue(pair.score, forKey: Pair(a: pair.a, b: pair.b)) == nil, "pair \(pair) listed twice")
            }
            pages += 1
            try between(pages)
        } while !page.finished
        return (pairs, page)
    }

    /// A threshold equal to the score of many pairs (copies of one another among them).
    static func threshold(_ reference: ReferenceIndex) -> Float {
        let all = bruteForce(reference, minScore: 0).values.sorted(by: >)
        return all[min(all.count - 1, 300)]
    }

    @Test(arguments: ScanChoice.all)
    func everyPairAtOrAboveTheThresholdOnce(choice: ScanChoice) throws {
        let (index, reference) = try Self.catalogue(choice, metric: .innerProduct)
        let t = Self.threshold(reference)
        let expected = Self.bruteForce(reference, minScore: t)
        #expect(expected.count > 300)
        #expect(expected.values.contains(t), "the threshold is a pair's score")
        for pageSize in [7, 100_000] {
            let (pairs, last) = try Self.drain(index.duplicateSweep(minScore: t), pageSize: pageSize)
            #expect(pairs == expected, "\(choice.name), pages of \(pageSize)")
            #expect(last.rowsDone == Self.count && last.rowsTotal == Self.count && last.truncatedRows == 0)
        }
        // With a filter, both rows of a pair match it.
        let filter = try Filter(parsing: "visible or stock > 3")
        let (filtered, _) = try Self.drain(index.duplicateSweep(minScore: t, filter: filter), pageSize: 50)
        #expect(filtered == Self.bruteForce(reference, minScore: t, filter: try filter.checked(against: CatalogueAttributes.definitions)))
    }

    @Test(arguments: ScanChoice.all)
    func cosinePairsMatchTheSearchOfEachRow(choice: ScanChoice) throws {
        let (index, _) = try Self.catalogue(choice, metric: .cosine)
        let t: Float = 0.8
        // The reference: a float32 range search by every stored id (the scores a search gives).
        let (float32, _) = try Self.catalogue(ScanChoice.all[0], metric: .cosine)
        let ids = (0..<Self.count).map { Int64($0) * 3 + 2 }
        let results = try float32.search(.storedIDs(ids, excludingThemselves: true), options: [.range(minScore: t, limit: Self.count)])
        var expected: [Pair: Float] = [:]
        for (id, hits) in zip(ids, results) {
            for hit in hits where id < hit.id { expected[Pair(a: id, b: hit.id)] = hit.score }
        }
        #expect(expected.count > 100)
        let (pairs, _) = try Self.drain(index.duplicateSweep(minScore: t), pageSize: 64)
        #expect(Set(pairs.keys) == Set(expected.keys), "\(choice.name)")
        for (pair, score) in pairs { #expect(abs(score - expected[pair]!) <= 1e-5) }
    }

    @Test(arguments: ScanChoice.all)
    func pairsPresentThroughoutSurviveWritesBetweenPages(choice: ScanChoice) throws {
        let (index, reference) = try Self.catalogue(choice, metric: .innerProduct)
        let t = Self.threshold(reference)
        let expected = Self.bruteForce(reference, minScore: t)
        var touched: Set<Int64> = []
        var random = SeededRandom(seed: 8)
        let (pairs, _) = try Self.drain(try index.duplicateSweep(minScore: t), pageSize: 20) { page in
            // Removals move the last rows into holes below; upserts replace rows; additions append.
            let victims = (0..<3).map { _ in Int64(Int.random(in: 0..<Self.count, using: &random)) * 3 + 2 }.filter { !touched.contains($0) }
            touched.formUnion(victims)
            _ = try? index.remove(ids: victims)
            let replaced = Int64(Int.random(in: 0..<Self.count, using: &random)) * 3 + 2
            touched.insert(replaced)
            let newID = Int64(100_000 + page)
            touched.insert(newID)
            try index.add(
                VectorBatch(
                    dimension: Self.dimension, ids: [replaced, newID], labels: [1, 1],
                    vectors: random.quantizedVector(Self.dimension) + random.quantizedVector(Self.dimension)
                )
            )
        }
        #expect(touched.count > 20)
        for (pair, score) in expected where !touched.contains(pair.a) && !touched.contains(pair.b) {
            #expect(pairs[pair] == score, "\(choice.name): pair \(pair) present throughout")
        }
        #expect(pairs.values.allSatisfy { $0 >= t })
    }

    @Test func aRowWithMorePartnersThanTheLimitListsItsBestAndCounts() throws {
        let index = try FlatIndex(dimension: 4, configuration: ScanChoice.all.last!.configuration(rowsPerChunk: 16))
        // Twenty copies of one vector: each row has 19 partners scoring 1.
        let copies: [Float] = (0..<20).flatMap { _ -> [Float] in [1, 0, 0, 0] }
        let others: [Float] = (20..<60).flatMap { i -> [Float] in [0, Float(i % 2) - 0.5, 0, 0] }
        let vectors = copies + others
        try index.add(VectorBatch(dimension: 4, ids: (0..<60).map { Int64($0) }, labels: Array(repeating: 0, count: 60), vectors: vectors))
        let (all, complete) = try Self.drain(index.duplicateSweep(minScore: 0.5), pageSize: 1_000)
        #expect(all.count == 190 && complete.truncatedRows == 0)
        let (cut, last) = try Self.drain(index.duplicateSweep(minScore: 0.5, partnerLimit: 5), pageSize: 1_000)
        #expect(last.truncatedRows > 0)
        #expect(cut.count < 190 && Set(cut.keys).isSubset(of: Set(all.keys)))
    }

    @Test func anEmptyIndexAndBadArguments() throws {
        let index = try FlatIndex(dimension: 4, attributes: CatalogueAttributes.definitions)
        let page = try index.duplicateSweep(minScore: 0.9).nextPage(maxPairs: 10)
        #expect(page.finished && page.pairs.isEmpty && page.rowsTotal == 0)
        #expect(throws: FlatVecError.self) { try index.duplicateSweep(minScore: .nan) }
        #expect(throws: FlatVecError.self) { try index.duplicateSweep(minScore: .infinity) }
        #expect(throws: FlatVecError.self) { try index.duplicateSweep(minScore: 0.9, partnerLimit: 0) }
        #expect(throws: FlatVecError.self) { try index.duplicateSweep(minScore: 0.9, filter: try Filter(parsing: "colour = 'red'")) }
    }
}
