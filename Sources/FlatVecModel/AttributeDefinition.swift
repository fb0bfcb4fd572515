/// A named, typed attribute of a collection (for example `category: keyword`).
///
/// Names are lower-case ASCII identifiers, so they are also plain PostgreSQL column names:
/// `SELECT id FROM "fv_products" WHERE visible AND category = 'shoes'` needs no quoting.
public struct AttributeDefinition: Sendable, Hashable, CustomStringConvertible {
    /// Most attributes one collection may declare.
    public static let maximumCount = 64
    /// Longest name, in bytes (PostgreSQL's identifier limit).
    public static let maximumNameLength = 63
    /// Names an attribute may not take: the built-in fields, the mirror's own columns and the
    /// words of the filter grammar.
    public static let reservedNames: Set<String> = [
        "id", "label", "embedding", "payload", "and", "or", "not", "in", "is", "null", "true", "false",
    ]

    /// The attribute's name.
    public let name: String
    /// The attribute's type.
    public let type: AttributeType

    /// Creates a definition, checking the name.
    /// - Parameters:
    ///   - name: 1 to 63 characters of `a-z`, `0-9` and `_`, not starting with a digit, not reserved.
    ///   - type: The type of its values.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming what is wrong with the name.
    public init(name: String, type: AttributeType) throws(FlatVecError) {
        try Self.checkName(name)
        self.name = name
        self.type = type
    }

    /// Parses `name:type` (the CLI's `--attr category:keyword`).
    /// - Parameter text: The definition.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` for a malformed definition.
    public init(parsing text: String) throws(FlatVecError) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw FlatVecError(.invalidArgument, "attribute \"\(text)\" is not NAME:TYPE (for example category:keyword)")
        }
        guard let type = AttributeType(name: String(parts[1])) else {
            throw FlatVecError(
                .invalidArgument,
                "attribute \"\(parts[0])\" has unknown type \"\(parts[1])\" (bool, int64, float64 or keyword)"
            )
        }
        try self.init(name: String(parts[0]), type: type)
    }

    /// `name:type`.
    public var description: String { "\(name):\(type)" }

    /// Checks an attribute name.
    /// - Parameter name: The name.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming what is wrong.
    public static func checkName(_ name: String) throws(FlatVecError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumNameLength else {
            throw FlatVecError(.invalidArgument, "attribute name \"\(name)\" must be 1 to \(maximumNameLength) bytes long")
        }
        let valid = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        guard valid, !(bytes[0] >= 0x30 && bytes[0] <= 0x39) else {
            throw FlatVecError(
                .invalidArgument,
                "attribute name \"\(name)\" must be lower-case letters, digits and _, not starting with a digit"
            )
        }
        guard !reservedNames.contains(name) else {
            throw FlatVecError(.invalidArgument, "attribute name \"\(name)\" is reserved")
        }
    }

    /// Checks a list of definitions declared together: valid names, no name twice, at most ``maximumCount``.
    /// - Parameter definitions: The definitions.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` or ``FlatVecError/Code/limitExceeded``.
    public static func checkSchema(_ definitions: [AttributeDefinition]) throws(FlatVecError) {
        guard definitions.count <= maximumCount else {
            throw FlatVecError(.limitExceeded, "\(definitions.count) attributes, more than \(maximumCount)")
        }
        var seen = Set<String>()
        for definition in definitions where !seen.insert(definition.name).inserted {
            throw FlatVecError(.invalidArgument, "attribute \"\(definition.name)\" is declared twice")
        }
    }
}
