/// The value of one attribute of one vector. A missing value (SQL `NULL`) is the absence of an entry.
public enum AttributeValue: Sendable, Hashable, CustomStringConvertible {
    /// A `bool` value.
    case bool(Bool)
    /// An `int64` value.
    case int64(Int64)
    /// A `float64` value (never NaN).
    case float64(Double)
    /// A `keyword` value.
    case keyword(String)

    /// Longest keyword, in UTF-8 bytes.
    public static let maximumKeywordBytes = 1_024

    /// The type of the value.
    public var type: AttributeType {
        switch self {
        case .bool: .bool
        case .int64: .int64
        case .float64: .float64
        case .keyword: .keyword
        }
    }

    /// The value as the filter grammar writes it (`true`, `42`, `0.5`, `"shoes"`).
    public var description: String {
        switch self {
        case .bool(let value): value ? "true" : "false"
        case .int64(let value): String(value)
        case .float64(let value):
            value.isInfinite ? (value < 0 ? "-1e999" : "1e999") : (value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value)).0" : "\(value)")
        case .keyword(let value): Self.quoted(value)
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    /// `value` as a `float64`, if it has an exact one (every integer up to 2^53 in magnitude does,
    /// larger ones only some): an int64 given for a float64 attribute is never rounded silently.
    /// - Parameter value: The integer.
    /// - Returns: The same number as a `Double`, or nil.
    public static func exactDouble(_ value: Int64) -> Double? {
        let double = Double(value)
        return Int64(exactly: double) == value ? double : nil
    }

    /// The value stored for an attribute of type `type`: itself, or an `int64` widened to `float64`.
    /// - Parameters:
    ///   - type: The attribute's type.
    ///   - name: The attribute's name, for the error.
    /// - Returns: The value to store or compare (`-0.0` becomes `0.0`).
    /// - Throws: ``FlatVecError/Code/invalidArgument`` for a value of another type, a NaN or a keyword
    ///   that is too long.
    public func converted(to type: AttributeType, attribute name: String) throws(FlatVecError) -> AttributeValue {
        switch (self, type) {
        case (.int64(let value), .float64):
            guard let exact = Self.exactDouble(value) else {
                throw FlatVecError(
                    .invalidArgument, "attribute \(name) is float64, and the int64 \(value) has no exact float64 (beyond 2^53)"
                )
            }
            return .float64(exact)
        case (.float64(let value), .float64):
            guard !value.isNaN else { throw FlatVecError(.invalidArgument, "attribute \(name) cannot be NaN") }
            // -0.0 is stored as 0.0: equal numbers, one value (as SQL compares them).
            return .float64(value == 0 ? 0 : value)
        case (.keyword(let value), .keyword):
            guard !value.utf8.contains(0) else {
                throw FlatVecError(.invalidArgument, "keyword of attribute \(name) contains a NUL character")
            }
            guard value.utf8.count <= Self.maximumKeywordBytes else {
                throw FlatVecError(
                    .limitExceeded,
                    "keyword of attribute \(name) is \(value.utf8.count) bytes, more than \(Self.maximumKeywordBytes)"
                )
            }
            return self
        case (.bool, .bool), (.int64, .int64):
            return self
        default:
            throw FlatVecError(.invalidArgument, "attribute \(name) is \(type), not \(self.type) (value \(self))")
        }
    }
}
