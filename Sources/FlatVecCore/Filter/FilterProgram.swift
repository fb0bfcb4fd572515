import CFlatVecKernels

/// A checked ``Filter`` bound to the current attributes of an index: attribute names resolved to
/// column slots and keyword strings to dictionary numbers, so evaluating it compares integers.
///
/// Evaluation is column at a time over the rows of one chunk, in SQL's three-valued logic: every
/// node writes one byte per row, 0 (false), 1 (unknown: a comparison with null) or 2 (true). Then
/// `and` is the minimum, `or` the maximum and `not` is `2 - x`, and a row matches when the root is 2.
/// A program is valid while ``ChunkedRows/attributeEpoch`` is unchanged; callers bind again after.
struct FilterProgram {
    // filter_kernels.c writes these bytes too.
    static let falseByte: UInt8 = 0
    static let unknownByte: UInt8 = 1
    static let trueByte: UInt8 = 2

    indirect enum Node {
        case constant(UInt8)
        /// Compares the words of attribute `slot` (numbers: `float` says whether they are doubles).
        case compare(slot: Int, float: Bool, op: ComparisonOperator, word: Int64)
        case compareID(ComparisonOperator, Int64)
        case compareLabel(ComparisonOperator, Int64)
        /// One of a few words (linear search beats hashing up to about 16).
        case oneOfFew(slot: Int, words: [Int64])
        case oneOfMany(slot: Int, words: Set<Int64>)
        case labelIn(Set<Int64>)
        /// Sorted, distinct ids.
        case idIn([Int64], Set<Int64>)
        case isNull(slot: Int)
        /// `byte` where the attribute has a value, unknown where it is null.
        case presentAs(slot: Int, byte: UInt8)
        case and([Node])
        case or([Node])
        case not(Node)
    }

    let root: Node
    let epoch: UInt64

    /// Binds a checked filter (see ``Filter/checked(against:)``) to `rows`' current state.
    init(_ filter: Filter, rows: ChunkedRows) {
        root = Self.bind(filter, rows: rows)
        epoch = rows.attributeEpoch
    }

    private static func bind(_ filter: Filter, rows: ChunkedRows) -> Node {
        switch filter {
        case .and(let parts): return .and(parts.map { bind($0, rows: rows) })
        case .or(let parts): return .or(parts.map { bind($0, rows: rows) })
        case .not(let inner): return .not(bind(inner, rows: rows))
        case .isNull(let field):
            guard case .attribute(let name) = field else { return .constant(falseByte) }
            // An attribute dropped since the filter was checked: no row has a value any more.
            guard let slot = rows.slot(of: name) else { return .constant(trueByte) }
            return .isNull(slot: slot)
        case .comparison(let field, let op, let value):
            switch field {
            case .id: return .compareID(op, value.int64Value ?? 0)
            case .label: return .compareLabel(op, value.int64Value ?? 0)
            case .attribute(let name):
                guard let slot = rows.slot(of: name) else { return .constant(unknownByte) }
                guard let word = word(of: value, slot: slot, rows: rows) else {
                    // A keyword no row has: `=` is false for every row with a value, `!=` true.
                    return .presentAs(slot: slot, byte: op == .equal ? falseByte : trueByte)
                }
                return .compare(slot: slot, float: rows.schema[slot].type == .float64, op: op, word: word)
            }
        case .oneOf(let field, let values):
            switch field {
            case .id:
                let ids = Set(values.compactMap(\.int64Value))
                return .idIn(ids.sorted(), ids)
            case .label:
                return .labelIn(Set(values.compactMap(\.int64Value)))
            case .attribute(let name):
                guard let slot = rows.slot(of: name) else { return .constant(unknownByte) }
                let words = Set(values.compactMap { word(of: $0, slot: slot, rows: rows) })
                if words.isEmpty { return .presentAs(slot: slot, byte: falseByte) }
                return words.count <= 16 ? .oneOfFew(slot: slot, words: Array(words)) : .oneOfMany(slot: slot, words: words)
            }
        }
    }

    /// The word a filter value compares as, or nil for a keyword no row has ever had.
    private static func word(of value: AttributeValue, slot: Int, rows: ChunkedRows) -> Int64? {
        switch (value, rows.schema[slot].type) {
        case (.bool(let b), _): return b ? 1 : 0
        case (.int64(let i), .float64): return Int64(bitPattern: Double(i).bitPattern)
        case (.int64(let i), _): return i
        case (.float64(let d), _): return Int64(bitPattern: (d == 0 ? 0.0 : d).bitPattern)
        case (.keyword(let s), _): return rows.dictionaries[rows.schema[slot].name]?.existingNumber(of: s)
        }
    }

    /// Evaluates the filter for rows `0 ..< n` of `chunk` (chunk number `chunkIndex` of `rows`) into
    /// `out`, and returns how many rows match.
    func evaluate(chunk: VectorChunk, chunkIndex: Int, rows n: Int, in rows: ChunkedRows, into out: UnsafeMutablePointer<UInt8>) -> Int {
        Self.evaluate(root, chunk: chunk, chunkIndex: chunkIndex, n: n, rows: rows, out: out)
        var matches = 0
        for r in 0..<n { matches &+= out[r] == Self.trueByte ? 1 : 0 }
        return matches
    }

    private static func evaluate(
        _ node: Node, chunk: VectorChunk, chunkIndex: Int, n: Int, rows: ChunkedRows, out: UnsafeMutablePointer<UInt8>
    ) {
        switch node {
        case .constant(let byte):
            out.update(repeating: byte, count: n)
        case .compare(let slot, let float, let op, let word):
            // Branch-free C loops the compiler vectorises (the bytes are this type's false, unknown, true).
            let column = chunk.attributes[slot]
            if float {
                column.words.withMemoryRebound(to: Double.self, capacity: n) { doubles in
                    fv_filter_compare_f64(doubles, column.present, n, Int32(op.rawValue), Double(bitPattern: UInt64(bitPattern: word)), out)
                }
            } else {
                fv_filter_compare_i64(column.words, column.present, n, Int32(op.rawValue), word, out)
            }
        case .compareID(let op, let value):
            compareAll(chunk.ids, n: n, out: out, op: op, value)
        case .compareLabel(let op, let value):
            compareAll(chunk.labels, n: n, out: out, op: op, value)
        case .oneOfFew(let slot, let words):
            let column = chunk.attributes[slot]
            for r in 0..<n {
                out[r] = column.present[r] == 0 ? unknownByte : (words.contains(column.words[r]) ? trueByte : falseByte)
            }
        case .oneOfMany(let slot, let words):
            let column = chunk.attributes[slot]
            for r in 0..<n {
                out[r] = column.present[r] == 0 ? unknownByte : (words.contains(column.words[r]) ? trueByte : falseByte)
            }
        case .labelIn(let labels):
            for r in 0..<n { out[r] = labels.contains(chunk.labels[r]) ? trueByte : falseByte }
        case .idIn(let sorted, let set):
            if sorted.count < n {
                // Few ids: find their rows through the id map instead of hashing every row's id.
                out.update(repeating: falseByte, count: n)
                let first = chunkIndex * rows.rowsPerChunk
                for id in sorted {
                    if let row = rows.row(of: id), row >= first, row < first + n { out[row - first] = trueByte }
                }
            } else {
                for r in 0..<n { out[r] = set.contains(chunk.ids[r]) ? trueByte : falseByte }
            }
        case .isNull(let slot):
            let present = chunk.attributes[slot].present
            for r in 0..<n { out[r] = present[r] == 0 ? trueByte : falseByte }
        case .presentAs(let slot, let byte):
            let present = chunk.attributes[slot].present
            for r in 0..<n { out[r] = present[r] == 0 ? unknownByte : byte }
        case .and(let parts), .or(let parts):
            var isAnd = false
            if case .and = node { isAnd = true }
            guard let first = parts.first else {
                out.update(repeating: isAnd ? trueByte : falseByte, count: n)
                return
            }
            evaluate(first, chunk: chunk, chunkIndex: chunkIndex, n: n, rows: rows, out: out)
            guard parts.count > 1 else { return }
            let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
            defer { scratch.deallocate() }
            for part in parts.dropFirst() {
                evaluate(part, chunk: chunk, chunkIndex: chunkIndex, n: n, rows: rows, out: scratch)
                if isAnd {
                    for r in 0..<n { out[r] = min(out[r], scratch[r]) }
                } else {
                    for r in 0..<n { out[r] = max(out[r], scratch[r]) }
                }
            }
        case .not(let inner):
            evaluate(inner, chunk: chunk, chunkIndex: chunkIndex, n: n, rows: rows, out: out)
            for r in 0..<n { out[r] = trueByte &- out[r] }
        }
    }

    @inline(__always)
    private static func compareAll(
        _ values: UnsafeMutablePointer<Int64>, n: Int, out: UnsafeMutablePointer<UInt8>, op: ComparisonOperator, _ value: Int64
    ) {
        withComparison(op, value) { test in
            for r in 0..<n { out[r] = test(values[r]) ? trueByte : falseByte }
        }
    }

    /// Calls `fill` with the test `x op value`, one closure per operator so each loop is specialised.
    @inline(__always)
    private static func withComparison<T: Comparable>(_ op: ComparisonOperator, _ value: T, _ fill: ((T) -> Bool) -> Void) {
        switch op {
        case .equal: fill { $0 == value }
        case .notEqual: fill { $0 != value }
        case .less: fill { $0 < value }
        case .lessOrEqual: fill { $0 <= value }
        case .greater: fill { $0 > value }
        case .greaterOrEqual: fill { $0 >= value }
        }
    }
}
