import Testing
@testable import FlatVecCore

@Suite struct SearchCorrectnessTests {
    /// Fills both indexes with `count` quantized vectors, ids scattered, labels in 0..<labels.
    static func populate(
        _ index: FlatIndex,
        _ reference: inout ReferenceIndex,
        count: Int,
        labels: Int64 = 50,
        random: inout SeededRandom
    ) throws {
        var start = 0
        while start < count {
            let n = min(997, count - start)
            try index.add(reference.quantizedBatch(rows: start..<(start + n), labels: labels, random: &random))
            start += n
        }
    }

    static func expectSame(_ got: [[SearchHit]], _ expected: [[SearchHit]], _ context: String) {
        #expect(got.count == expected.count, "\(context): query count")
        for (q, (g, e)) in zip(got, expected).enumerated() {
            #expect(g == e, "\(context): query \(q) differs")
            if g != e { return }
        }
    }

    @Test(arguments: [1, 3, 17, 512, 1536])
    func searchMatchesBruteForce(dimension: Int) throws {
        var random = SeededRandom(seed: UInt64(dimension))
        let index = try FlatIndex(dimension: dimension)
        var reference = ReferenceIndex(dimension: dimension)
        let count = dimension >= 512 ? 2600 : 5000
        try Self.populate(index, &reference, count: count, random: &random)
        for nq in dimension >= 512 ? [1, 3, 12] : [1, 3, 40] {
            let queries = (0..<nq).map { _ in random.quantizedVector(dimension) }
            for k in [1, 10, count + 5] {
                let options = SearchOptions(k: k, includePayloads: true)
                let got = try index.search(batch: queries.flatMap { $0 }, options: options)
                let expected = queries.map { reference.search($0, options: options) }
                Self.expectSame(got, expected, "d=\(dimension) nq=\(nq) k=\(k)")
            }
        }
    }

    /// Every plan (one thread or two, chunks or queries split) with every kernel plan (the CPU's, and
    /// the others where the CPU runs them: AVX2's tiled blocks up to 64 then sgemm, sgemm only).
    @Test(arguments: [1, 2], [KernelPlan.current, .avx2, .blas])
    func searchIsExactOnEveryExecutionPath(threads: Int, plan: KernelPlan) throws {
        var random = SeededRandom(seed: 99)
        let d = 64
        var configuration = FlatIndex.Configuration(searchThreads: threads)
        // A plan with the tiled kernel needs a vector variant of it (the plan picks the CPU's best).
        configuration.kernelPlan = plan.tiled > 0 && KernelPlan.current == .blas ? .blas : plan
        configuration.rowsPerChunk = 1_024
        let index = try FlatIndex(dimension: d, configuration: configuration)
        var reference = ReferenceIndex(dimension: d)
        // Several chunks, so the chunk-parallel path runs.
        try Self.populate(index, &reference, count: 6_000, random: &random)
        for nq in [1, 2, 3, 5, 17, 70, 129] {
            let queries = (0..<nq).map { _ in random.quantizedVector(d) }
            let options = SearchOptions(k: 25)
            let got = try index.search(batch: queries.flatMap { $0 }, options: options)
            Self.expectSame(got, queries.map { reference.search($0, options: options) }, "threads=\(threads) plan=\(plan) nq=\(nq)")
        }
    }

    @Test func emptyIndexReturnsNoHits() throws {
        let index = try FlatIndex(dimension: 8)
        let hits = try index.search(batch: [Float](repeating: 1, count: 16), options: SearchOptions(k: 5))
        #expect(hits == [[], []])
        #expect(try index.search(batch: [], options: SearchOptions(k: 5)).isEmpty)
    }

    @Test func tiesBreakBySmallerID() throws {
        let index = try FlatIndex(dimension: 4)
        let v: [Float] = [1, 0, 0, 0]
        for id in [50, 7, 99, 3, 20, 64] as [Int64] { try index.add(id: id, vector: v) }
        try index.add(id: 1, vector: [0.5, 0, 0, 0])
        let hits = try index.search([1, 0, 0, 0], options: SearchOptions(k: 4))
        #expect(hits.map(\.id) == [3, 7, 20, 50])
        let all = try index.search([1, 0, 0, 0], options: SearchOptions(k: 100))
        #expect(all.map(\.id) == [3, 7, 20, 50, 64, 99, 1])
    }

    @Test func tiesAcrossChunksMatchReference() throws {
        var random = SeededRandom(seed: 5)
        let d = 3
        let index = try FlatIndex(dimension: d)
        var reference = ReferenceIndex(dimension: d)
        // Values in {-1, 0, 1}: thousands of exact ties across many chunks.
        var ids: [Int64] = []
        var vectors: [Float] = []
        for i in 0..<30_000 {
            let v = (0..<d).map { _ in Float(Int.random(in: -1...1, using: &random)) }
            ids.append(Int64(30_000 - i))
            vectors += v
            reference.upsert(id: Int64(30_000 - i), label: 0, vector: v)
        }
        try index.add(VectorBatch(dimension: d, ids: ids, labels: Array(repeating: 0, count: ids.count), vectors: vectors))
        for k in [1, 10, 500] {
            let q: [Float] = [1, 1, 0]
            #expect(try index.search(q, options: SearchOptions(k: k)) == reference.search(q, options: SearchOptions(k: k)))
        }
    }

    @Test func removedIDsAreNeverReturnedAndReplacedIDsReturnTheirNewVector() throws {
        var random = SeededRandom(seed: 11)
        let d = 17
        let index = try FlatIndex(dimension: d)
        var reference = ReferenceIndex(dimension: d)
        try Self.populate(index, &reference, count: 9000, random: &random)
        let allIDs = reference.rows.keys.sorted()
        var removed: [Int64] = []
        for (i, id) in allIDs.enumerated() where i % 3 == 0 { removed.append(id) }
        try index.remove(ids: removed)
        for id in removed { reference.remove(id: id) }
        // Replace some survivors: new vector, label and payload.
        for id in allIDs.filter({ !removed.contains($0) }).prefix(500) {
            let v = random.quantizedVector(d)
            try index.add(id: id, label: 999, vector: v, payload: "new")
            reference.upsert(id: id, label: 999, vector: v, payload: Array("new".utf8))
        }
        #expect(index.count == reference.rows.count)
        let removedSet = Set(removed)
        for _ in 0..<20 {
            let q = random.quantizedVector(d)
            let options = SearchOptions(k: 50, includePayloads: true)
            let got = try index.search(q, options: options)
            #expect(got == reference.search(q, options: options))
            #expect(got.allSatisfy { !removedSet.contains($0.id) })
        }
        #expect(index.allRows() == reference.allRows())
    }

    @Test func groupByLabelReturnsBestHitPerLabel() throws {
        var random = SeededRandom(seed: 21)
        let d = 32
        let index = try FlatIndex(dimension: d)
        var reference = ReferenceIndex(dimension: d)
        try Self.populate(index, &reference, count: 12_000, labels: 300, random: &random)
        for k in [1, 10, 400] {
            let queries = (0..<6).map { _ in random.quantizedVector(d) }
            let options = SearchOptions(k: k, groupByLabel: true)
            let got = try index.search(batch: queries.flatMap { $0 }, options: options)
            Self.expectSame(got, queries.map { reference.search($0, options: options) }, "groupByLabel k=\(k)")
            for hits in got { #expect(Set(hits.map(\.label)).count == hits.count) }
        }
    }

    @Test func labelFilterAndMinScore() throws {
        var random = SeededRandom(seed: 31)
        let d = 24
        let index = try FlatIndex(dimension: d)
        var reference = ReferenceIndex(dimension: d)
        try Self.populate(index, &reference, count: 10_000, labels: 100, random: &random)
        let q = random.quantizedVector(d)
        let cases: [SearchOptions] = [
            SearchOptions(k: 20, labels: [3, 17, 42]),
            SearchOptions(k: 20, labels: [12345]),
            SearchOptions(k: 10_000, minScore: 2.5),
            SearchOptions(k: 5, minScore: 1000),
            SearchOptions(k: 30, minScore: 0.5, labels: Set(0..<50), groupByLabel: true),
        ]
        for options in cases {
            let got = try index.search(q, options: options)
            #expect(got == reference.search(q, options: options), "\(options)")
            if let minScore = options.minScore { #expect(got.allSatisfy { $0.score >= minScore }) }
            if let labels = options.labels { #expect(got.allSatisfy { labels.contains($0.label) }) }
        }
        #expect(try index.search(q, options: SearchOptions(k: 5, minScore: 1000)).isEmpty)
    }

    @Test func cosineNormalisesVectorsAndQueries() throws {
        var random = SeededRandom(seed: 41)
        let d = 48
        let index = try FlatIndex(dimension: d, metric: .cosine)
        var reference = ReferenceIndex(dimension: d, metric: .cosine)
        for i in 0..<3000 {
            let v = random.uniformVector(d).map { $0 * Float(i % 7 + 1) }
            try index.add(id: Int64(i), vector: v)
            reference.upsert(id: Int64(i), label: 0, vector: v)
        }
        for _ in 0..<10 {
            let q = random.uniformVector(d).map { $0 * 40 }
            let got = try index.search(q, options: SearchOptions(k: 10))
            let expected = reference.search(q, options: SearchOptions(k: 10))
            #expect(got.count == 10)
            for (g, e) in zip(got, expected) {
                #expect(abs(g.score - e.score) < 1e-5)
                #expect(g.score <= 1.0001)
            }
            // Same ids unless two reference scores are within rounding of each other.
            let gap = zip(expected, expected.dropFirst()).map { $0.score - $1.score }.min() ?? 1
            if gap > 1e-5 { #expect(got.map(\.id) == expected.map(\.id)) }
        }
        let stored = try index.get(ids: [5])[0].vector
        let norm = stored.reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm - 1) < 1e-5)
    }
}
