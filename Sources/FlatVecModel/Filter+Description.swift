extension Filter: CustomStringConvertible {
    /// The filter in the grammar that ``Filter/init(parsing:)`` reads (parsing it gives the filter back).
    public var description: String { render(parentPrecedence: 0) }

    /// 1 = or, 2 = and, 3 = not and leaves.
    private var precedence: Int {
        switch self {
        case .or(let parts): parts.count == 1 ? parts[0].precedence : 1
        case .and(let parts): parts.count == 1 ? parts[0].precedence : 2
        default: 3
        }
    }

    private func render(parentPrecedence: Int) -> String {
        let text: String
        switch self {
        case .comparison(let field, let op, let value):
            text = "\(field) \(op) \(value)"
        case .oneOf(let field, let values):
            text = "\(field) in (\(values.map(\.description).joined(separator: ", ")))"
        case .isNull(let field):
            text = "\(field) is null"
        case .and(let parts):
            if parts.isEmpty { return "true" }
            if parts.count == 1 { return parts[0].render(parentPrecedence: parentPrecedence) }
            text = parts.map { $0.render(parentPrecedence: 2) }.joined(separator: " and ")
        case .or(let parts):
            if parts.isEmpty { return "false" }
            if parts.count == 1 { return parts[0].render(parentPrecedence: parentPrecedence) }
            text = parts.map { $0.render(parentPrecedence: 1) }.joined(separator: " or ")
        case .not(let inner):
            text = "not " + inner.render(parentPrecedence: 3)
        }
        return precedence < parentPrecedence ? "(\(text))" : text
    }
}
