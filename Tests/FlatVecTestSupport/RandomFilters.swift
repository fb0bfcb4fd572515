import FlatVecModel

/// The attributes of the catalogues that filter tests build: one of each type.
public enum CatalogueAttributes {
    public static let definitions: [AttributeDefinition] = [
        try! AttributeDefinition(name: "visible", type: .bool),
        try! AttributeDefinition(name: "stock", type: .int64),
        try! AttributeDefinition(name: "price", type: .float64),
        try! AttributeDefinition(name: "category", type: .keyword),
    ]
    /// Keywords rows take ("a\"b" tests escaping); "socks" is never stored.
    public static let categories = ["shoes", "boots", "hats", "bags", "a\"b"]
}

extension SeededRandom {
    /// Attribute values of one row: each attribute null about one time in six.
    public mutating func catalogueAttributes() -> [String: AttributeValue] {
        var values: [String: AttributeValue] = [:]
        if Int.random(in: 0..<6, using: &self) > 0 { values["visible"] = .bool(Bool.random(using: &self)) }
        if Int.random(in: 0..<6, using: &self) > 0 { values["stock"] = .int64(Int64.random(in: -3..<20, using: &self)) }
        if Int.random(in: 0..<6, using: &self) > 0 { values["price"] = .float64(Double(Int.random(in: -4..<400, using: &self)) / 4) }
        if Int.random(in: 0..<6, using: &self) > 0 {
            values["category"] = .keyword(CatalogueAttributes.categories.randomElement(using: &self)!)
        }
        return values
    }

    /// A random value as the parser would read it, for an attribute of `type`.
    public mutating func filterValue(_ type: AttributeType) -> AttributeValue {
        switch type {
        case .bool: return .bool(Bool.random(using: &self))
        case .int64: return .int64(Int64.random(in: -4..<22, using: &self))
        case .float64:
            return Bool.random(using: &self)
                ? .float64(Double(Int.random(in: -8..<410, using: &self)) / 4) : .int64(Int64.random(in: -2..<102, using: &self))
        case .keyword: return .keyword((CatalogueAttributes.categories + ["socks"]).randomElement(using: &self)!)
        }
    }

    /// A random filter over the catalogue's attributes, the id (among `ids`) and the label (in
    /// `0 ..< labels`): every operator, nulls, nested `and` / `or` / `not` up to `depth` levels.
    public mutating func filter(ids: [Int64], labels: Int64, depth: Int = 3) -> Filter {
        if depth > 0 && Int.random(in: 0..<3, using: &self) == 0 {
            let parts = (0..<Int.random(in: 2...3, using: &self)).map { _ in filter(ids: ids, labels: labels, depth: depth - 1) }
            switch Int.random(in: 0..<3, using: &self) {
            case 0: return .and(parts)
            case 1: return .or(parts)
            default: return .not(parts[0])
            }
        }
        let attributes = CatalogueAttributes.definitions
        switch Int.random(in: 0..<12, using: &self) {
        case 0:
            let some = (0..<Int.random(in: 1...6, using: &self)).map { _ in
                Bool.random(using: &self) ? ids.randomElement(using: &self) ?? 0 : Int64.random(in: -5..<100_000, using: &self)
            }
            return Bool.random(using: &self) ? .ids(some) : .excludingIDs(some)
        case 1:
            let op = ComparisonOperator.allCases.randomElement(using: &self)!
            return .comparison(.id, op, .int64(ids.randomElement(using: &self) ?? 0))
        case 2:
            if Bool.random(using: &self) {
                return .comparison(.label, [.equal, .notEqual, .less].randomElement(using: &self)!, .int64(Int64.random(in: 0..<labels, using: &self)))
            }
            return .labels((0..<Int.random(in: 1...4, using: &self)).map { _ in Int64.random(in: 0..<labels, using: &self) })
        case 3:
            return .isNull(.attribute(attributes.randomElement(using: &self)!.name))
        case 4:
            return .and([])
        case 5:
            let definition = attributes.randomElement(using: &self)!
            let count = Int.random(in: 1...(definition.type == .int64 ? 30 : 4), using: &self)
            return .oneOf(.attribute(definition.name), (0..<count).map { _ in filterValue(definition.type) })
        default:
            let definition = attributes.randomElement(using: &self)!
            let op = definition.type.isOrdered
                ? ComparisonOperator.allCases.randomElement(using: &self)! : [.equal, .notEqual].randomElement(using: &self)!
            return .comparison(.attribute(definition.name), op, filterValue(definition.type))
        }
    }
}
