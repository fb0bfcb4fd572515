/// The type of a collection's attribute.
///
/// Each type maps to one PostgreSQL column type in the pgvector mirror.
public enum AttributeType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `true` or `false` (PostgreSQL `boolean`).
    case bool = 1
    /// A signed 64-bit integer (PostgreSQL `bigint`).
    case int64 = 2
    /// A 64-bit float, never NaN (PostgreSQL `double precision`).
    case float64 = 3
    /// A UTF-8 string such as a category or a store code, compared for equality only (PostgreSQL `text`).
    case keyword = 4

    /// The name used in the CLI, the filter grammar and error messages.
    public var description: String {
        switch self {
        case .bool: "bool"
        case .int64: "int64"
        case .float64: "float64"
        case .keyword: "keyword"
        }
    }

    /// Parses a type name (`bool`, `int64`, `float64` or `keyword`).
    /// - Parameter name: The name.
    public init?(name: String) {
        guard let type = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = type
    }

    /// Whether `<`, `<=`, `>` and `>=` apply to values of this type.
    public var isOrdered: Bool { self == .int64 || self == .float64 }
}
