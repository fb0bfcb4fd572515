import FlatVecCore

/// Reads attribute values from JSON lines: one flat object per vector, e.g.
/// `{"category": "shoes", "visible": true, "price": 49.5, "stock": 3}`; an empty line or `{}` for none.
///
/// Strings are keywords, `true`/`false` bools, numbers without `.` or an exponent int64s, other
/// numbers float64s, `null` leaves the attribute without a value. Whether the values fit the
/// collection's attributes is checked by the server.
enum AttributeLines {
    static func parse(_ line: [UInt8], lineNumber: Int) throws(FlatVecError) -> [String: AttributeValue] {
        var parser = Parser(bytes: line, lineNumber: lineNumber)
        return try parser.object()
    }

    private struct Parser {
        let bytes: [UInt8]
        let lineNumber: Int
        var i = 0

        func failure(_ what: String) -> FlatVecError {
            FlatVecError(.invalidArgument, "line \(lineNumber), byte \(i + 1): \(what)")
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func object() throws(FlatVecError) -> [String: AttributeValue] {
            skipSpace()
            if i == bytes.count { return [:] }
            guard bytes[i] == UInt8(ascii: "{") else { throw failure("expected a JSON object") }
            i += 1
            var values: [String: AttributeValue] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
            } else {
                while true {
                    skipSpace()
                    let name = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw failure("expected ':' after \"\(name)\"") }
                    i += 1
                    skipSpace()
                    guard values[name] == nil else { throw failure("attribute \"\(name)\" appears twice") }
                    if let value = try value(of: name) { values[name] = value }
                    skipSpace()
                    guard i < bytes.count else { throw failure("the object is not closed") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "}") else { throw failure("expected ',' or '}'") }
                    i += 1
                    break
                }
            }
            skipSpace()
            guard i == bytes.count else { throw failure("text after the object") }
            return values
        }

        mutating func value(of name: String) throws(FlatVecError) -> AttributeValue? {
            guard i < bytes.count else { throw failure("expected a value for \"\(name)\"") }
            switch bytes[i] {
            case UInt8(ascii: "\""): return .keyword(try string())
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                for (word, value) in [("true", AttributeValue.bool(true)), ("false", .bool(false)), ("null", nil)] {
                    let w = Array(word.utf8)
                    if bytes.count - i >= w.count, Array(bytes[i..<(i + w.count)]) == w {
                        i += w.count
                        return value
                    }
                }
                throw failure("expected true, false or null for \"\(name)\"")
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                throw failure("\"\(name)\" is an object or array; attributes are strings, numbers or booleans")
            default:
                let start = i
                while i < bytes.count, !",} \t".utf8.contains(bytes[i]) { i += 1 }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                if !text.contains(where: { ".eE".contains($0) }), let integer = Int64(text) { return .int64(integer) }
                guard let number = Double(text), number.isFinite else { throw failure("\"\(text)\" is not a number (\"\(name)\")") }
                return .float64(number)
            }
        }

        mutating func string() throws(FlatVecError) -> String {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw failure("expected a string") }
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                if b == UInt8(ascii: "\"") {
                    guard let s = String(validating: out, as: UTF8.self) else { throw failure("a string is not UTF-8") }
                    return s
                }
                guard b == UInt8(ascii: "\\") else {
                    out.append(b)
                    continue
                }
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard bytes.count - i >= 4, var scalar = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                        throw failure("a \\u escape needs 4 hex digits")
                    }
                    i += 4
                    if (0xD800..<0xDC00).contains(scalar), bytes.count - i >= 6, bytes[i] == UInt8(ascii: "\\"),
                        let low = UInt32(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16), (0xDC00..<0xE000).contains(low)
                    {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw failure("\\u\(String(scalar, radix: 16)) is not a character") }
                    out += Array(String(Character(u)).utf8)
                default: out.append(e)
                }
            }
            throw failure("a string is not closed")
        }
    }
}
