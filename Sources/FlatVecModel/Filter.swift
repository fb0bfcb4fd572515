/// A condition on a vector's id, label and attributes that a search applies before ranking.
///
/// A filtered search returns exactly the top `k` of the vectors that match: always `k` hits when at
/// least `k` vectors match. Comparisons follow SQL: a comparison with a missing value (`NULL`) is
/// neither true nor false, `not` keeps it unknown, and only rows for which the whole filter is true
/// match, so a filter selects the same rows as the same `WHERE` clause on the PostgreSQL mirror.
///
/// ```swift
/// let filter = try Filter(parsing: #"visible and category = "shoes" and price < 50"#)
/// let hits = try index.search(query, options: SearchOptions(k: 10, filter: filter))
/// ```
public indirect enum Filter: Sendable, Hashable {
    /// `field op value`.
    case comparison(FilterField, ComparisonOperator, AttributeValue)
    /// `field in (values...)`; for the id, an allow-list (`not` of it is a deny-list).
    case oneOf(FilterField, [AttributeValue])
    /// `field is null`: the vector has no value for the attribute (never true of the id or the label).
    case isNull(FilterField)
    /// All of the filters (true when empty).
    case and([Filter])
    /// Any of the filters (false when empty).
    case or([Filter])
    /// The negation (unknown stays unknown).
    case not(Filter)

    /// Most nodes (comparisons and connectives, not counting the values of `in` lists) in one filter.
    public static let maximumNodes = 1_000
    /// Deepest nesting of connectives.
    public static let maximumDepth = 32
    /// Most values in one `in` list.
    public static let maximumListValues = 1_000_000

    /// Vectors whose id is one of `ids` (an allow-list).
    /// - Parameter ids: The ids.
    /// - Returns: The filter.
    public static func ids(_ ids: [Int64]) -> Filter { .oneOf(.id, ids.map { .int64($0) }) }

    /// Vectors whose id is none of `ids` (a deny-list).
    /// - Parameter ids: The ids.
    /// - Returns: The filter.
    public static func excludingIDs(_ ids: [Int64]) -> Filter { .not(.ids(ids)) }

    /// Vectors whose label is one of `labels`.
    /// - Parameter labels: The labels.
    /// - Returns: The filter.
    public static func labels(_ labels: [Int64]) -> Filter { .oneOf(.label, labels.map { .int64($0) }) }
}

/// What a filter comparison reads.
public enum FilterField: Sendable, Hashable, CustomStringConvertible {
    /// The vector's id (an `int64`, never null).
    case id
    /// The vector's label (an `int64`, never null).
    case label
    /// A declared attribute.
    case attribute(String)

    /// The name in the filter grammar.
    public var description: String {
        switch self {
        case .id: "id"
        case .label: "label"
        case .attribute(let name): name
        }
    }
}

/// A comparison operator of a filter.
public enum ComparisonOperator: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `=`
    case equal = 1
    /// `!=` (also written `<>`)
    case notEqual = 2
    /// `<`
    case less = 3
    /// `<=`
    case lessOrEqual = 4
    /// `>`
    case greater = 5
    /// `>=`
    case greaterOrEqual = 6

    /// The operator as the grammar writes it.
    public var description: String {
        switch self {
        case .equal: "="
        case .notEqual: "!="
        case .less: "<"
        case .lessOrEqual: "<="
        case .greater: ">"
        case .greaterOrEqual: ">="
        }
    }

    /// Whether the operator needs an ordered type (`int64`, `float64`).
    public var needsOrder: Bool { self != .equal && self != .notEqual }
}
