#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The values of one attribute for the rows of one chunk: a presence byte and a 64-bit word per row.
///
/// Words hold `bool` as 0 or 1, `int64` as itself, `float64` as its bit pattern and `keyword` as
/// its number in the index's ``KeywordDictionary``, so a filter compares integers, never strings.
/// Zeroed memory is "no value", so a new column (a new attribute) costs nothing to fill.
final class AttributeColumn: @unchecked Sendable {
    // @unchecked: like its chunk, read and written only under FlatIndex's reader/writer lock.
    let capacity: Int
    /// 1 where the row has a value, 0 where it is null.
    let present: UnsafeMutablePointer<UInt8>
    /// The encoded value of each row (0 where null).
    let words: UnsafeMutablePointer<Int64>

    init(capacity: Int) {
        self.capacity = capacity
        guard let p = calloc(max(capacity, 1), 1), let w = calloc(max(capacity, 1), 8) else {
            fatalError("FlatVec: out of memory allocating an attribute column of \(capacity) rows")
        }
        present = p.assumingMemoryBound(to: UInt8.self)
        words = w.assumingMemoryBound(to: Int64.self)
    }

    deinit {
        free(present)
        free(words)
    }

    @inline(__always)
    func set(_ offset: Int, word: Int64?) {
        if let word {
            present[offset] = 1
            words[offset] = word
        } else {
            present[offset] = 0
            words[offset] = 0
        }
    }

    @inline(__always)
    func word(at offset: Int) -> Int64? { present[offset] == 0 ? nil : words[offset] }

    var bytes: Int { capacity * 9 }

    /// A column of `capacity` rows holding this one's first `rows` values.
    func copy(capacity newCapacity: Int, rows: Int) -> AttributeColumn {
        let copy = AttributeColumn(capacity: newCapacity)
        copy.present.update(from: present, count: rows)
        copy.words.update(from: words, count: rows)
        return copy
    }
}

/// The distinct strings of one `keyword` attribute, numbered in order of first use.
///
/// Numbers are never reused while the index lives (a dropped string keeps its number), so a filter
/// bound to the dictionary stays valid until a new string is added.
struct KeywordDictionary {
    private(set) var numbers: [String: Int64] = [:]
    private(set) var strings: [String] = []
    private(set) var bytes = 0

    /// The number of `string`, adding it if new.
    mutating func number(of string: String) -> Int64 {
        if let number = numbers[string] { return number }
        let number = Int64(strings.count)
        numbers[string] = number
        strings.append(string)
        bytes += string.utf8.count + 48
        return number
    }

    /// The number of `string`, or nil if no row ever had it.
    func existingNumber(of string: String) -> Int64? { numbers[string] }

    func string(_ number: Int64) -> String { strings[Int(number)] }
}
