import FlatVecModel
import NIOCore

/// The wire form of attributes, attribute values and filters (PROTOCOL.md 4.5).
extension ByteBuffer {
    /// `u8 type, string name`.
    mutating func writeAttributeDefinition(_ definition: AttributeDefinition) {
        writeU8(definition.type.rawValue)
        writeFlatVecString(definition.name)
    }

    mutating func readAttributeDefinition() throws(FlatVecError) -> AttributeDefinition {
        let raw = try readU8("attribute type")
        guard let type = AttributeType(rawValue: raw) else { throw FlatVecError(.invalidArgument, "unknown attribute type \(raw)") }
        let name = try readString("attribute name", maxBytes: AttributeDefinition.maximumNameLength)
        return try AttributeDefinition(name: name, type: type)
    }

    /// `u8 m, m × (u8 type, string name)`.
    mutating func writeAttributeDefinitions(_ definitions: [AttributeDefinition]) {
        writeU8(UInt8(definitions.count))
        for definition in definitions { writeAttributeDefinition(definition) }
    }

    mutating func readAttributeDefinitions() throws(FlatVecError) -> [AttributeDefinition] {
        let count = Int(try readU8("attribute count"))
        var definitions: [AttributeDefinition] = []
        for _ in 0..<count { definitions.append(try readAttributeDefinition()) }
        try AttributeDefinition.checkSchema(definitions)
        return definitions
    }

    /// `u8 type`, then bool `u8` (0 or 1), int64 `i64`, float64 `u64` (IEEE-754 bits) or keyword `string`.
    mutating func writeAttributeValue(_ value: AttributeValue) {
        writeU8(value.type.rawValue)
        switch value {
        case .bool(let b): writeU8(b ? 1 : 0)
        case .int64(let i): writeI64(i)
        case .float64(let d): writeU64(d.bitPattern)
        case .keyword(let k): writeFlatVecString(k)
        }
    }

    mutating func readAttributeValue(_ field: String) throws(FlatVecError) -> AttributeValue {
        let raw = try readU8("\(field) type")
        switch AttributeType(rawValue: raw) {
        case .bool:
            let b = try readU8(field)
            guard b <= 1 else { throw FlatVecError(.invalidArgument, "\(field) is a bool of \(b), not 0 or 1") }
            return .bool(b == 1)
        case .int64: return .int64(try readI64(field))
        case .float64:
            let d = Double(bitPattern: try readU64(field))
            guard !d.isNaN else { throw FlatVecError(.invalidArgument, "\(field) is NaN") }
            return .float64(d)
        case .keyword: return .keyword(try readString(field, maxBytes: AttributeValue.maximumKeywordBytes))
        case nil: throw FlatVecError(.invalidArgument, "\(field) has unknown type \(raw)")
        }
    }

    /// `u8 c, c × (string name, value)`, names in ascending order.
    mutating func writeAttributeValues(_ values: [String: AttributeValue]) {
        writeU8(UInt8(values.count))
        for (name, value) in values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            writeFlatVecString(name)
            writeAttributeValue(value)
        }
    }

    mutating func readAttributeValues() throws(FlatVecError) -> [String: AttributeValue] {
        let count = Int(try readU8("attribute value count"))
        var values: [String: AttributeValue] = [:]
        var previous: String?
        for _ in 0..<count {
            let name = try readString("attribute name", maxBytes: AttributeDefinition.maximumNameLength)
            guard values[name] == nil else { throw FlatVecError(.invalidArgument, "attribute \(name) is given twice") }
            if let previous, !previous.utf8.lexicographicallyPrecedes(name.utf8) {
                throw FlatVecError(.invalidArgument, "attribute values are not in ascending name order: \(name) follows \(previous)")
            }
            previous = name
            values[name] = try readAttributeValue("value of \(name)")
        }
        return values
    }

    /// A filter in prefix form; see PROTOCOL.md 4.5.
    mutating func writeFilter(_ filter: Filter) {
        switch filter {
        case .comparison(let field, let op, let value):
            writeU8(FilterTag.comparison)
            writeFilterField(field)
            writeU8(op.rawValue)
            writeAttributeValue(value)
        case .oneOf(let field, let values):
            writeU8(FilterTag.oneOf)
            writeFilterField(field)
            writeCount(values.count)
            for value in values { writeAttributeValue(value) }
        case .isNull(let field):
            writeU8(FilterTag.isNull)
            writeFilterField(field)
        case .and(let parts), .or(let parts):
            if case .and = filter { writeU8(FilterTag.and) } else { writeU8(FilterTag.or) }
            writeU16(UInt16(parts.count))
            for part in parts { writeFilter(part) }
        case .not(let inner):
            writeU8(FilterTag.not)
            writeFilter(inner)
        }
    }

    private mutating func writeFilterField(_ field: FilterField) {
        switch field {
        case .id: writeU8(1)
        case .label: writeU8(2)
        case .attribute(let name):
            writeU8(3)
            writeFlatVecString(name)
        }
    }

    /// Reads a filter; `nodes` counts nodes across the whole request (bounded by ``Filter/maximumNodes``
    /// per filter), `depth` the nesting.
    mutating func readFilter(depth: Int = 0, nodes: inout Int) throws(FlatVecError) -> Filter {
        nodes += 1
        try Filter.checkNodes(nodes)
        try Filter.checkDepth(depth)
        let tag = try readU8("filter node")
        switch tag {
        case FilterTag.comparison:
            let field = try readFilterField()
            let raw = try readU8("filter operator")
            guard let op = ComparisonOperator(rawValue: raw) else { throw FlatVecError(.invalidArgument, "filter: unknown operator \(raw)") }
            return .comparison(field, op, try readAttributeValue("filter value"))
        case FilterTag.oneOf:
            let field = try readFilterField()
            let count = try readCount("filter in-list count", limit: UInt32(Filter.maximumListValues), bytesEach: 2)
            guard count > 0 else { throw FlatVecError(.invalidArgument, "filter: an in list of \(field) with no values") }
            var values: [AttributeValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readAttributeValue("filter in-list value")) }
            return .oneOf(field, values)
        case FilterTag.isNull:
            return .isNull(try readFilterField())
        case FilterTag.and, FilterTag.or:
            let count = Int(try readU16("filter part count"))
            var parts: [Filter] = []
            for _ in 0..<count { parts.append(try readFilter(depth: depth + 1, nodes: &nodes)) }
            return tag == FilterTag.and ? .and(parts) : .or(parts)
        case FilterTag.not:
            return .not(try readFilter(depth: depth + 1, nodes: &nodes))
        case FilterTag.text:
            return try Filter(parsing: try readString("filter text", maxBytes: 1 << 20))
        default:
            throw FlatVecError(.invalidArgument, "filter: unknown node type \(tag)")
        }
    }

    private mutating func readFilterField() throws(FlatVecError) -> FilterField {
        let raw = try readU8("filter field")
        switch raw {
        case 1: return .id
        case 2: return .label
        case 3: return .attribute(try readString("filter attribute", maxBytes: AttributeDefinition.maximumNameLength))
        default: throw FlatVecError(.invalidArgument, "filter: unknown field kind \(raw)")
        }
    }
}

/// The first byte of each filter node on the wire.
enum FilterTag {
    static let none: UInt8 = 0
    static let comparison: UInt8 = 1
    static let oneOf: UInt8 = 2
    static let isNull: UInt8 = 3
    static let and: UInt8 = 4
    static let or: UInt8 = 5
    static let not: UInt8 = 6
    static let text: UInt8 = 7
}
