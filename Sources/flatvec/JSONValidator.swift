/// Checks that bytes are exactly one JSON value (RFC 8259), for payload lines, without Foundation.
struct JSONValidator {
    private let bytes: [UInt8]
    private var i = 0

    /// Whether `bytes` hold one JSON value (surrounding whitespace allowed).
    static func isValid(_ bytes: [UInt8]) -> Bool {
        var v = JSONValidator(bytes: bytes)
        v.skipSpace()
        guard v.value(depth: 0) else { return false }
        v.skipSpace()
        return v.i == bytes.count
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipSpace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func literal(_ text: String) -> Bool {
        for b in text.utf8 {
            guard current == b else { return false }
            i += 1
        }
        return true
    }

    private mutating func value(depth: Int) -> Bool {
        guard depth < 512, let c = current else { return false }
        switch c {
        case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), keyed: true, depth: depth)
        case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), keyed: false, depth: depth)
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return number()
        }
    }

    private mutating func container(close: UInt8, keyed: Bool, depth: Int) -> Bool {
        i += 1
        skipSpace()
        if current == close {
            i += 1
            return true
        }
        while true {
            if keyed {
                guard current == UInt8(ascii: "\""), string() else { return false }
                skipSpace()
                guard current == UInt8(ascii: ":") else { return false }
                i += 1
                skipSpace()
            }
            guard value(depth: depth + 1) else { return false }
            skipSpace()
            if current == UInt8(ascii: ",") {
                i += 1
                skipSpace()
                continue
            }
            guard current == close else { return false }
            i += 1
            return true
        }
    }

    private mutating func string() -> Bool {
        i += 1
        while let c = current {
            i += 1
            switch c {
            case UInt8(ascii: "\""): return true
            case UInt8(ascii: "\\"):
                guard let e = current else { return false }
                i += 1
                if e == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let h = current, (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else { return false }
                        i += 1
                    }
                } else if !"\"\\/bfnrt".utf8.contains(e) {
                    return false
                }
            default:
                if c < 0x20 { return false }
            }
        }
        return false
    }

    private mutating func number() -> Bool {
        if current == UInt8(ascii: "-") { i += 1 }
        guard let first = current, first >= 0x30 && first <= 0x39 else { return false }
        if first == 0x30 { i += 1 } else { digits() }
        if current == UInt8(ascii: ".") {
            i += 1
            guard digits() else { return false }
        }
        if let e = current, e | 0x20 == UInt8(ascii: "e") {
            i += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
            guard digits() else { return false }
        }
        return true
    }

    @discardableResult
    private mutating func digits() -> Bool {
        let start = i
        while let c = current, c >= 0x30 && c <= 0x39 { i += 1 }
        return i > start
    }
}
