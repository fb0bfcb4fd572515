import FlatVecModel

extension ReferenceIndex {
    /// Same hits as the reference. Inner product on quantized data: every dot product is exact, so
    /// everything must match exactly. Cosine: normalising rounds, so the scores at each position must
    /// agree within 1e-5 (hits within 1e-5 of minScore aside) and the hits must be distinct (and of distinct labels when grouped); which of
    /// two hits within rounding of each other comes first, or makes the cut, is not compared. Stored
    /// vectors are not compared (the reference keeps none).
    public static func equivalent(_ got: [[SearchHit]], _ expected: [[SearchHit]], metric: Metric, options: SearchOptions? = nil) -> Bool {
        guard got.count == expected.count else { return false }
        for (gotHits, expectedHits) in zip(got, expected) {
            var g = gotHits
            var e = expectedHits
            // Under cosine a score within rounding of minScore (orthogonal quantized vectors score
            // exactly 0) may fall on either side of it.
            if metric == .cosine, let floor = options?.minScore {
                g.removeAll { abs($0.score - floor) <= 1e-5 }
                e.removeAll { abs($0.score - floor) <= 1e-5 }
            }
            guard g.count == e.count else { return false }
            if metric == .innerProduct {
                for (a, b) in zip(g, e) {
                    guard a.id == b.id, a.label == b.label, a.payload == b.payload, a.score == b.score else { return false }
                }
                continue
            }
            for (a, b) in zip(g, e) where abs(a.score - b.score) > 1e-5 { return false }
            guard Set(g.map(\.id)).count == g.count else { return false }
            if let options {
                if options.groupByLabel && Set(g.map(\.label)).count != g.count { return false }
                if let labels = options.labels, !g.allSatisfy({ labels.contains($0.label) }) { return false }
            }
        }
        return true
    }
}

extension SeededRandom {
    /// Random search options: k from 1 to 5,000, sometimes a label filter over `0 ..< labels`, a
    /// minScore, grouping, payloads and vectors.
    public mutating func searchOptions(labels: Int64) -> SearchOptions {
        var options = SearchOptions(k: [1, 3, 10, 57, 5_000][Int.random(in: 0..<5, using: &self)])
        if Bool.random(using: &self) {
            options.labels = Set((0..<Int.random(in: 1...4, using: &self)).map { _ in Int64.random(in: 0..<labels, using: &self) })
        }
        if Int.random(in: 0..<3, using: &self) == 0 { options.minScore = Float(Int.random(in: -8...8, using: &self)) }
        options.groupByLabel = Int.random(in: 0..<3, using: &self) == 0
        options.includePayloads = Bool.random(using: &self)
        options.includeVectors = Int.random(in: 0..<4, using: &self) == 0
        return options
    }
}

extension ReferenceIndex {
    /// Rows `rows` of a test catalogue: quantized vectors (every dot product exact in float32), id
    /// `7 * i + 3` (scattered), a random label in `0 ..< labels`, a JSON payload on two rows of three.
    /// Mirrors them here and returns the batch to add to the index under test.
    public mutating func quantizedBatch(rows: Range<Int>, labels: Int64, random: inout SeededRandom) -> VectorBatch {
        var ids: [Int64] = []
        var labelValues: [Int64] = []
        var vectors: [Float] = []
        var payloads: [[UInt8]?] = []
        for i in rows {
            let id = Int64(i) * 7 + 3
            let label = Int64.random(in: 0..<labels, using: &random)
            let v = random.quantizedVector(dimension)
            let payload: [UInt8]? = i % 3 == 0 ? nil : Array("{\"image\":\"img/\(id).jpg\"}".utf8)
            ids.append(id)
            labelValues.append(label)
            vectors += v
            payloads.append(payload)
            upsert(id: id, label: label, vector: v, payload: payload)
        }
        // The rows are valid by construction.
        return try! VectorBatch(dimension: dimension, ids: ids, labels: labelValues, vectors: vectors, payloads: payloads)
    }
}
