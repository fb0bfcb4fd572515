import FlatVecModel

/// The obvious implementation of exact search, the one reference every test compares against:
/// a dictionary and a full sort (higher score first, then the smaller id).
public struct ReferenceIndex {
    public struct Row {
        public var label: Int64
        public var vector: [Float]
        public var payload: [UInt8]?
    }

    public let dimension: Int
    public let metric: Metric
    public var rows: [Int64: Row] = [:]

    public init(dimension: Int, metric: Metric = .innerProduct) {
        self.dimension = dimension
        self.metric = metric
    }

    public static func normalised(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return v.map { Float(Double($0) / norm) }
    }

    public mutating func upsert(id: Int64, label: Int64, vector: [Float], payload: [UInt8]? = nil) {
        rows[id] = Row(label: label, vector: metric == .cosine ? Self.normalised(vector) : vector, payload: payload)
    }

    public mutating func remove(id: Int64) { rows[id] = nil }

    public func score(_ a: [Float], _ b: [Float]) -> Float {
        var s: Float = 0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }

    public func search(_ rawQuery: [Float], options: SearchOptions) -> [SearchHit] {
        let query = metric == .cosine ? Self.normalised(rawQuery) : rawQuery
        var hits: [SearchHit] = []
        for (id, row) in rows {
            if let labels = options.labels, !labels.contains(row.label) { continue }
            let s = score(row.vector, query)
            if let minScore = options.minScore, s < minScore { continue }
            hits.append(SearchHit(id: id, label: row.label, score: s, payload: options.includePayloads ? row.payload : nil))
        }
        hits.sort { $0.ranks(before: $1) }
        if options.groupByLabel {
            var seen = Set<Int64>()
            hits = hits.filter { seen.insert($0.label).inserted }
        }
        return Array(hits.prefix(options.k))
    }
}
