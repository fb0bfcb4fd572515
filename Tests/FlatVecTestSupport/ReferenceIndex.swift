import FlatVecModel

/// The obvious implementation of exact search, the one reference every test compares against:
/// a dictionary and a full sort (higher score first, then the smaller id).
public struct ReferenceIndex {
    public struct Row {
        public var label: Int64
        public var vector: [Float]
        public var payload: [UInt8]?
        public var attributes: [String: AttributeValue] = [:]

        public init(label: Int64, vector: [Float], payload: [UInt8]?, attributes: [String: AttributeValue] = [:]) {
            self.label = label
            self.vector = vector
            self.payload = payload
            self.attributes = attributes
        }
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

    public mutating func upsert(
        id: Int64, label: Int64, vector: [Float], payload: [UInt8]? = nil, attributes: [String: AttributeValue] = [:]
    ) {
        rows[id] = Row(
            label: label, vector: metric == .cosine ? Self.normalised(vector) : vector, payload: payload,
            attributes: attributes
        )
    }

    /// Applies a partial update to a stored row.
    public mutating func apply(_ update: RowUpdate) {
        guard var row = rows[update.id] else { return }
        if let label = update.label { row.label = label }
        switch update.payload {
        case .keep: break
        case .set(let payload): row.payload = payload
        case .clear: row.payload = nil
        }
        for name in update.clear { row.attributes[name] = nil }
        for (name, value) in update.set { row.attributes[name] = value }
        rows[update.id] = row
    }

    /// SQL's three-valued logic, row by row: nil is unknown.
    public static func evaluate(_ filter: Filter, id: Int64, row: Row) -> Bool? {
        func fieldValue(_ field: FilterField) -> AttributeValue? {
            switch field {
            case .id: .int64(id)
            case .label: .int64(row.label)
            case .attribute(let name): row.attributes[name]
            }
        }
        func number(_ value: AttributeValue) -> Double? {
            switch value {
            case .int64(let i): Double(i)
            case .float64(let d): d
            default: nil
            }
        }
        func order<T: Comparable>(_ x: T, _ op: ComparisonOperator, _ y: T) -> Bool {
            switch op {
            case .equal: x == y
            case .notEqual: x != y
            case .less: x < y
            case .lessOrEqual: x <= y
            case .greater: x > y
            case .greaterOrEqual: x >= y
            }
        }
        func compare(_ a: AttributeValue, _ op: ComparisonOperator, _ b: AttributeValue) -> Bool {
            if case .int64(let x) = a, case .int64(let y) = b { return order(x, op, y) }
            if let x = number(a), let y = number(b) { return order(x, op, y) }
            switch op {
            case .equal: return a == b
            case .notEqual: return a != b
            default: fatalError("order comparison of \(a) and \(b)")
            }
        }
        switch filter {
        case .comparison(let field, let op, let value):
            guard let stored = fieldValue(field) else { return nil }
            return compare(stored, op, value)
        case .oneOf(let field, let values):
            guard let stored = fieldValue(field) else { return nil }
            return values.contains { compare(stored, .equal, $0) }
        case .isNull(let field):
            return fieldValue(field) == nil
        case .and(let parts), .or(let parts):
            // and: any false decides, else unknown if any is; or: the same with true.
            var decisive = false
            if case .or = filter { decisive = true }
            var result: Bool? = !decisive
            for part in parts {
                let v = evaluate(part, id: id, row: row)
                if v == decisive { return decisive }
                if v == nil { result = nil }
            }
            return result
        case .not(let inner):
            return evaluate(inner, id: id, row: row).map { !$0 }
        }
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
            if let filter = options.filter, Self.evaluate(filter, id: id, row: row) != true { continue }
            if id == options.excludingID { continue }
            let s = score(row.vector, query)
            if let minScore = options.minScore, s < minScore { continue }
            hits.append(
                SearchHit(
                    id: id, label: row.label, score: s, payload: options.includePayloads ? row.payload : nil,
                    attributes: options.includeAttributes ? row.attributes : nil
                )
            )
        }
        hits.sort { $0.ranks(before: $1) }
        if options.groupByLabel {
            var seen = Set<Int64>()
            hits = hits.filter { seen.insert($0.label).inserted }
        }
        return Array(hits.prefix(options.k))
    }
}
