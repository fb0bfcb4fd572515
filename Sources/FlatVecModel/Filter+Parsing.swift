extension Filter {
    /// Parses a filter written in FlatVec's filter grammar.
    ///
    /// ```
    /// filter     := or
    /// or         := and ("or" and)*
    /// and        := unary ("and" unary)*
    /// unary      := "not" unary | "(" filter ")" | "true" | "false" | condition
    /// condition  := field op value
    ///             | field ["not"] "in" "(" value ("," value)* ")"
    ///             | field "is" ["not"] "null"
    ///             | field                              -- a bool attribute that is true
    /// field      := "id" | "label" | attribute name
    /// op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    /// value      := "true" | "false" | integer | decimal (with optional exponent)
    ///             | "double-quoted" | 'single-quoted'  (backslash escapes \" \' \\ only)
    /// ```
    /// Words and names are case-insensitive, as PostgreSQL's unquoted identifiers are (`ID`, `Visible`
    /// and `visible` are one field). An integer is an `int64` (out of its range: an error), a number
    /// with `.` or an exponent a `float64` (an integer compares with a `float64` attribute as the same
    /// number, if it has an exact one). Parentheses nest at most ``Filter/maximumDepth`` deep; the
    /// filter they denote has the tree's limits (proto-spec/FILTERS.md). Example:
    /// `visible and category in ("shoes", "boots") and not price >= 100`.
    /// - Parameter text: The filter.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming the offset and what was expected there.
    public init(parsing text: String) throws(FlatVecError) {
        var parser = try FilterParser(text)
        self = try parser.parseFilter()
    }
}

/// A recursive-descent parser of the filter grammar.
struct FilterParser {
    enum Token: Equatable {
        case word(String)
        case integer(Int64)
        case decimal(Double)
        case string(String)
        case symbol(String)
        case end
    }

    private let tokens: [(token: Token, offset: Int)]
    private var position = 0
    private var parentheses = 0
    private var nodes = 0

    init(_ text: String) throws(FlatVecError) {
        tokens = try Self.tokenize(Array(text.utf8))
    }

    mutating func parseFilter() throws(FlatVecError) -> Filter {
        let filter = try parseOr()
        guard case .end = current else { throw failure("expected and, or or the end of the filter") }
        return filter
    }

    private var current: Token { tokens[position].token }

    private func failure(_ message: String) -> FlatVecError {
        let shown: String
        switch current {
        case .end: shown = "the end"
        case .word(let word): shown = "\"\(word)\""
        case .integer(let value): shown = "\(value)"
        case .decimal(let value): shown = "\(value)"
        case .string(let value): shown = AttributeValue.quoted(value)
        case .symbol(let symbol): shown = "'\(symbol)'"
        }
        return FlatVecError(.invalidArgument, "filter: \(message), found \(shown) at offset \(tokens[position].offset)")
    }

    private func isWord(_ word: String) -> Bool {
        if case .word(let w) = current { return w.lowercased() == word }
        return false
    }

    private mutating func countNode() throws(FlatVecError) {
        nodes += 1
        try Filter.checkNodes(nodes)
    }

    private mutating func parseOr() throws(FlatVecError) -> Filter {
        try parseJoined("or", combine: Filter.or) { (parser) throws(FlatVecError) in try parser.parseAnd() }
    }

    private mutating func parseAnd() throws(FlatVecError) -> Filter {
        try parseJoined("and", combine: Filter.and) { (parser) throws(FlatVecError) in try parser.parseUnary() }
    }

    /// `part (word part)*`: the part alone, or the parts combined.
    private mutating func parseJoined(
        _ word: String, combine: ([Filter]) -> Filter, part: (inout FilterParser) throws(FlatVecError) -> Filter
    ) throws(FlatVecError) -> Filter {
        var parts = [try part(&self)]
        while isWord(word) {
            position += 1
            parts.append(try part(&self))
        }
        if parts.count == 1 { return parts[0] }
        try countNode()
        return combine(parts)
    }

    private mutating func parseUnary() throws(FlatVecError) -> Filter {
        if isWord("not") {
            position += 1
            try countNode()
            return .not(try parseUnary())
        }
        if current == .symbol("(") {
            parentheses += 1
            defer { parentheses -= 1 }
            guard parentheses <= Filter.maximumDepth else {
                throw failure("parentheses nested deeper than \(Filter.maximumDepth)")
            }
            position += 1
            let inner = try parseOr()
            guard current == .symbol(")") else { throw failure("expected ')'") }
            position += 1
            return inner
        }
        if isWord("true") || isWord("false") {
            let value = isWord("true")
            position += 1
            try countNode()
            return value ? .and([]) : .or([])
        }
        return try parseCondition()
    }

    private mutating func parseCondition() throws(FlatVecError) -> Filter {
        guard case .word(let name) = current else { throw failure("expected an attribute, id, label, not or '('") }
        let lowered = name.lowercased()
        guard !["and", "or", "in", "is", "null"].contains(lowered) else {
            throw failure("expected an attribute, id, label, not or '('")
        }
        // Names fold to lower case, as PostgreSQL's unquoted identifiers do.
        let field: FilterField = lowered == "id" ? .id : lowered == "label" ? .label : .attribute(lowered)
        position += 1
        try countNode()
        if case .symbol(let symbol) = current, let op = Self.comparisonOperator(symbol) {
            position += 1
            return .comparison(field, op, try parseValue(after: symbol))
        }
        if isWord("is") {
            position += 1
            var negated = false
            if isWord("not") {
                negated = true
                position += 1
            }
            guard isWord("null") else { throw failure("expected null after is") }
            position += 1
            return negated ? .not(.isNull(field)) : .isNull(field)
        }
        var negated = false
        if isWord("not") {
            negated = true
            position += 1
            guard isWord("in") else { throw failure("expected in after \(field) not") }
        }
        if isWord("in") {
            position += 1
            guard current == .symbol("(") else { throw failure("expected '(' after in") }
            position += 1
            var values = [try parseValue(after: "in (")]
            while current == .symbol(",") {
                position += 1
                values.append(try parseValue(after: ","))
                try Filter.checkListValues(values.count)
            }
            guard current == .symbol(")") else { throw failure("expected ',' or ')' in the in list of \(field)") }
            position += 1
            return negated ? .not(.oneOf(field, values)) : .oneOf(field, values)
        }
        // A bare name: a bool attribute that is true.
        return .comparison(field, .equal, .bool(true))
    }

    private mutating func parseValue(after what: String) throws(FlatVecError) -> AttributeValue {
        defer { position += 1 }
        switch current {
        case .integer(let value): return .int64(value)
        case .decimal(let value): return .float64(value)
        case .string(let value): return .keyword(value)
        case .word(let word) where word.lowercased() == "true": return .bool(true)
        case .word(let word) where word.lowercased() == "false": return .bool(false)
        default: throw failure("expected a value (number, quoted string, true or false) after \(what)")
        }
    }

    private static func comparisonOperator(_ symbol: String) -> ComparisonOperator? {
        switch symbol {
        case "=": .equal
        case "!=", "<>": .notEqual
        case "<": .less
        case "<=": .lessOrEqual
        case ">": .greater
        case ">=": .greaterOrEqual
        default: nil
        }
    }

    private static func tokenize(_ bytes: [UInt8]) throws(FlatVecError) -> [(token: Token, offset: Int)] {
        var tokens: [(token: Token, offset: Int)] = []
        var i = 0
        func isWordByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
        }
        while i < bytes.count {
            let b = bytes[i]
            let start = i
            switch b {
            case 0x20, 0x09, 0x0A, 0x0D:
                i += 1
            case 0x22, 0x27:  // " or '
                let quote = b
                var value: [UInt8] = []
                i += 1
                var closed = false
                while i < bytes.count {
                    if bytes[i] == 0x5C, i + 1 < bytes.count {
                        // Only \" \' and \\: any other escape is a mistake, not a letter.
                        guard [0x22, 0x27, 0x5C].contains(bytes[i + 1]) else {
                            throw FlatVecError(
                                .invalidArgument,
                                "filter: unknown escape '\\\(String(decoding: [bytes[i + 1]], as: UTF8.self))' at offset \(i) (only \\\" \\' and \\\\)"
                            )
                        }
                        value.append(bytes[i + 1])
                        i += 2
                    } else if bytes[i] == quote {
                        closed = true
                        i += 1
                        break
                    } else {
                        value.append(bytes[i])
                        i += 1
                    }
                }
                guard closed else {
                    throw FlatVecError(.invalidArgument, "filter: string starting at offset \(start) is not closed")
                }
                tokens.append((.string(String(decoding: value, as: UTF8.self)), start))
            case 0x28, 0x29, 0x2C:  // ( ) ,
                tokens.append((.symbol(String(UnicodeScalar(b))), start))
                i += 1
            case 0x3D, 0x21, 0x3C, 0x3E:  // = ! < >
                var symbol = String(UnicodeScalar(b))
                if i + 1 < bytes.count, [0x3D, 0x3E].contains(bytes[i + 1]), !(b == 0x3E && bytes[i + 1] == 0x3E) {
                    let pair = symbol + String(UnicodeScalar(bytes[i + 1]))
                    if ["==", "!=", "<=", ">=", "<>"].contains(pair) {
                        symbol = pair
                        i += 1
                    }
                }
                guard symbol != "==" else {
                    throw FlatVecError(.invalidArgument, "filter: '==' at offset \(start) is not an operator; equality is '='")
                }
                guard symbol != "!" else {
                    throw FlatVecError(.invalidArgument, "filter: '!' at offset \(start) must be followed by '='")
                }
                tokens.append((.symbol(symbol), start))
                i += 1
            case 0x2D, 0x2B, 0x2E, 0x30...0x39:  // - + . digits
                var j = i + 1
                var isDecimal = b == 0x2E
                while j < bytes.count {
                    let c = bytes[j]
                    if c >= 0x30 && c <= 0x39 {
                        j += 1
                    } else if c == 0x2E || c == 0x65 || c == 0x45 {
                        isDecimal = true
                        j += 1
                        if (c == 0x65 || c == 0x45), j < bytes.count, bytes[j] == 0x2D || bytes[j] == 0x2B { j += 1 }
                    } else {
                        break
                    }
                }
                let text = String(decoding: bytes[i..<j], as: UTF8.self)
                if !isDecimal, let value = Int64(text) {
                    tokens.append((.integer(value), start))
                } else if !isDecimal, text.contains(where: \.isNumber) {
                    throw FlatVecError(
                        .invalidArgument, "filter: the integer \(text) at offset \(start) is outside int64 (-2^63 to 2^63-1)"
                    )
                } else if let value = Double(text), value.isFinite {
                    tokens.append((.decimal(value), start))
                } else {
                    throw FlatVecError(.invalidArgument, "filter: \"\(text)\" at offset \(start) is not a finite number")
                }
                i = j
            default:
                guard isWordByte(b) else {
                    throw FlatVecError(
                        .invalidArgument, "filter: unexpected character '\(String(decoding: [b], as: UTF8.self))' at offset \(start)"
                    )
                }
                var j = i
                while j < bytes.count, isWordByte(bytes[j]) { j += 1 }
                tokens.append((.word(String(decoding: bytes[i..<j], as: UTF8.self)), start))
                i = j
            }
        }
        tokens.append((.end, bytes.count))
        return tokens
    }
}
