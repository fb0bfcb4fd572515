extension Filter {
    /// Checks the filter against a collection's attributes and returns it with every value in the
    /// type it is compared as (`int64` literals widened to `float64` for `float64` attributes).
    /// - Parameter attributes: The collection's attributes.
    /// - Returns: The filter ready to evaluate.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming the condition at fault: an unknown
    ///   attribute, a value of the wrong type, an order comparison on a `bool` or `keyword`;
    ///   ``FlatVecError/Code/limitExceeded`` for a filter too large or too deep.
    public func checked(against attributes: [AttributeDefinition]) throws(FlatVecError) -> Filter {
        var nodes = 0
        return try checked(against: attributes, depth: 0, nodes: &nodes)
    }

    private func checked(
        against attributes: [AttributeDefinition], depth: Int, nodes: inout Int
    ) throws(FlatVecError) -> Filter {
        nodes += 1
        try Self.checkNodes(nodes)
        try Self.checkDepth(depth)
        switch self {
        case .comparison(let field, let op, let value):
            let type = try Self.type(of: field, in: attributes, condition: self)
            if op.needsOrder && !type.isOrdered {
                throw FlatVecError(
                    .invalidArgument,
                    "filter: \(field) is \(type), which compares with =, != and in only, in `\(self)`"
                )
            }
            return .comparison(field, op, try Self.convert(value, to: type, field: field, condition: self))
        case .oneOf(let field, let values):
            try Self.checkListValues(values.count)
            guard !values.isEmpty else {
                // PostgreSQL has no empty IN: the text grammar cannot say it, and the tree may not.
                throw FlatVecError(.invalidArgument, "filter: an in list of \(field) with no values")
            }
            let type = try Self.type(of: field, in: attributes, condition: self)
            var converted: [AttributeValue] = []
            converted.reserveCapacity(values.count)
            for value in values {
                converted.append(try Self.convert(value, to: type, field: field, condition: self))
            }
            return .oneOf(field, converted)
        case .isNull(let field):
            _ = try Self.type(of: field, in: attributes, condition: self)
            return self
        case .and(let parts):
            var checkedParts: [Filter] = []
            for part in parts { checkedParts.append(try part.checked(against: attributes, depth: depth + 1, nodes: &nodes)) }
            return .and(checkedParts)
        case .or(let parts):
            var checkedParts: [Filter] = []
            for part in parts { checkedParts.append(try part.checked(against: attributes, depth: depth + 1, nodes: &nodes)) }
            return .or(checkedParts)
        case .not(let inner):
            return .not(try inner.checked(against: attributes, depth: depth + 1, nodes: &nodes))
        }
    }

    private static func type(
        of field: FilterField, in attributes: [AttributeDefinition], condition: Filter
    ) throws(FlatVecError) -> AttributeType {
        switch field {
        case .id, .label:
            return .int64
        case .attribute(let name):
            guard let definition = attributes.first(where: { $0.name == name }) else {
                let known = attributes.isEmpty ? "the collection has no attributes" : "known: " + attributes.map(\.name).joined(separator: ", ")
                throw FlatVecError(.invalidArgument, "filter: unknown attribute \"\(name)\" in `\(condition)` (\(known))")
            }
            return definition.type
        }
    }

    private static func convert(
        _ value: AttributeValue, to type: AttributeType, field: FilterField, condition: Filter
    ) throws(FlatVecError) -> AttributeValue {
        switch (value, type) {
        case (.int64(let integer), .float64):
            guard let exact = AttributeValue.exactDouble(integer) else {
                throw FlatVecError(
                    .invalidArgument, "filter: \(field) is float64, and the int64 \(integer) has no exact float64 (beyond 2^53), in `\(condition)`"
                )
            }
            return .float64(exact)
        case (.float64(let number), .float64) where number.isNaN:
            throw FlatVecError(.invalidArgument, "filter: NaN compared with \(field) in `\(condition)`")
        default:
            guard value.type == type else {
                throw FlatVecError(
                    .invalidArgument,
                    "filter: \(field) is \(type), compared with the \(value.type) value \(value) in `\(condition)`"
                )
            }
            return value
        }
    }
}

extension Filter {
    /// Throws ``FlatVecError/Code/limitExceeded`` past ``maximumNodes`` nodes (for parsers and decoders).
    /// - Parameter nodes: Nodes counted so far.
    public static func checkNodes(_ nodes: Int) throws(FlatVecError) {
        guard nodes <= maximumNodes else {
            throw FlatVecError(.limitExceeded, "filter: more than \(maximumNodes) conditions and connectives")
        }
    }

    /// Throws ``FlatVecError/Code/limitExceeded`` past ``maximumDepth`` levels of nesting.
    /// - Parameter depth: The current nesting.
    public static func checkDepth(_ depth: Int) throws(FlatVecError) {
        guard depth <= maximumDepth else {
            throw FlatVecError(.limitExceeded, "filter: nested deeper than \(maximumDepth) levels")
        }
    }

    /// Throws ``FlatVecError/Code/limitExceeded`` for an `in` list longer than ``maximumListValues``.
    /// - Parameter count: The list's length.
    public static func checkListValues(_ count: Int) throws(FlatVecError) {
        guard count <= maximumListValues else {
            throw FlatVecError(.limitExceeded, "filter: an in list of \(count) values, more than \(maximumListValues)")
        }
    }
}

extension AttributeValue {
    /// The integer, if this is an `int64`.
    public var int64Value: Int64? {
        if case .int64(let value) = self { return value }
        return nil
    }
}
