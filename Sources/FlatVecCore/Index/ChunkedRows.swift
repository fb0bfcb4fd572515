/// The rows of an index in fixed-size chunks, with the id -> row map.
///
/// Row `r` lives in chunk `r / rowsPerChunk` at offset `r % rowsPerChunk`. Rows are dense: a
/// removal moves the last row into the hole. Every chunk but a lone first one holds `rowsPerChunk`
/// rows; the first starts with room for what it is given (16 rows at least) and doubles until full.
///
/// Chunks are shared, copy on write, with the segment views a compaction writes out
/// (``FlatIndex/segmentView()``): a chunk is written to only through ``writableChunk(_:)``, which
/// copies it first if a view still holds it. Not thread-safe: ``FlatIndex`` guards it.
struct ChunkedRows {
    let dimension: Int
    let rowsPerChunk: Int
    private(set) var chunks: [VectorChunk] = []
    private(set) var count = 0
    private(set) var idMap = IDMap()
    private(set) var payloadBytes = 0
    /// Supplies new chunks with their pages already faulted in.
    let reserve: ChunkReserve
    /// Bumped whenever a row moves to a new position; a search that sees it change dedupes ids.
    private(set) var moveEpoch: UInt64 = 0
    /// The attributes, in the order of every chunk's columns.
    private(set) var schema: [AttributeDefinition] = []
    /// The strings of each `keyword` attribute, by name.
    private(set) var dictionaries: [String: KeywordDictionary] = [:]
    /// Bumped whenever the schema changes or a keyword dictionary grows: filters bound to the
    /// previous state must be bound again.
    private(set) var attributeEpoch: UInt64 = 0
    /// Bumped whenever an attribute is added or dropped (chunks copied before change keep the old columns).
    private(set) var schemaEpoch: UInt64 = 0

    init(dimension: Int, rowsPerChunk: Int? = nil, codes: Bool = false) {
        self.dimension = dimension
        self.rowsPerChunk = rowsPerChunk ?? ChunkedRows.rowsPerChunk(dimension: dimension)
        precondition(self.rowsPerChunk % 16 == 0, "int8 codes come in blocks of 16 rows")
        reserve = ChunkReserve(capacity: self.rowsPerChunk, dimension: dimension, codes: codes)
    }

    /// Rows of the smallest first chunk.
    static let smallestChunk = 16

    /// About 4 MiB of vectors per chunk, a power of two between 64 and 8192 rows.
    static func rowsPerChunk(dimension: Int) -> Int {
        let target = (4 << 20) / (4 * max(dimension, 1))
        var rows = 64
        while rows * 2 <= target && rows < 8192 { rows *= 2 }
        return rows
    }

    /// Number of rows stored in chunk `index` now (0 if the chunk is gone or past the end).
    @inline(__always)
    func rows(inChunk index: Int) -> Int {
        let start = index * rowsPerChunk
        return max(0, min(rowsPerChunk, count - start))
    }

    /// Number of chunks that hold rows now.
    var occupiedChunkCount: Int { (count + rowsPerChunk - 1) / rowsPerChunk }

    @inline(__always)
    func location(of row: Int) -> (chunk: VectorChunk, offset: Int) {
        (chunks[row / rowsPerChunk], row % rowsPerChunk)
    }

    func row(of id: Int64) -> Int? { idMap.row(of: id) }

    /// Bytes of the process's own memory: chunks not mapped from segments, every chunk's attribute
    /// columns, the id map, payloads and keyword strings.
    var memoryBytes: Int {
        chunks.reduce(0) { $0 + $1.ownBytes + $1.attributeBytes } + idMap.memoryBytes + payloadBytes + dictionaryBytes
    }

    /// Bytes of the chunks mapped from segment files.
    var mappedBytes: Int { chunks.reduce(0) { $0 + ($1.isMapped ? $1.layout.bytes : 0) } }

    /// Bytes of the segment files that hold chunks as they are now.
    var segmentBytes: Int { chunks.reduce(0) { $0 + ($1.segment?.bytes ?? 0) } }

    /// Bytes of int8 codes and their figures (included in ``memoryBytes``).
    var codeBytes: Int { chunks.reduce(0) { $0 + $1.codeBytes } }

    /// Chunk `index`, ready to be written: copied first if a segment view still holds it, and no
    /// longer the image of a segment file. Callers hold no other reference to the chunk while they
    /// call it (one would force a copy).
    mutating func writableChunk(_ index: Int) -> VectorChunk {
        if !isKnownUniquelyReferenced(&chunks[index]) {
            chunks[index] = chunks[index].copy(rows: rows(inChunk: index))
        }
        chunks[index].segment = nil
        return chunks[index]
    }

    /// The capacity of a first chunk meant for `rows` rows: a power of two from ``smallestChunk``, at most `rowsPerChunk`.
    private func firstChunkCapacity(for rows: Int) -> Int {
        var capacity = Self.smallestChunk
        while capacity < rows && capacity < rowsPerChunk { capacity *= 2 }
        return min(capacity, rowsPerChunk)
    }

    /// Makes room for `total` rows at once when they fit a first chunk smaller than a full one (a
    /// batch grows it once, not once per doubling).
    mutating func reserve(rows total: Int) {
        guard chunks.count <= 1, total > 0 else { return }
        let capacity = firstChunkCapacity(for: total)
        if chunks.isEmpty {
            chunks.append(makeChunk(capacity: capacity))
        } else if chunks[0].capacity < capacity {
            grow(to: capacity)
        }
    }

    /// A new empty chunk of `capacity` rows with this index's attribute columns; a full one from the
    /// reserve (its pages already faulted in).
    private func makeChunk(capacity: Int) -> VectorChunk {
        let chunk = capacity == rowsPerChunk
            ? reserve.take() : VectorChunk(capacity: capacity, dimension: dimension, codes: reserve.codes)
        chunk.attributes = schema.map { _ in AttributeColumn(capacity: capacity) }
        return chunk
    }

    /// Replaces the lone first chunk by a copy of `capacity` rows.
    private mutating func grow(to capacity: Int) {
        chunks[0] = chunks[0].copy(capacity: capacity, rows: rows(inChunk: 0))
    }

    /// Appends a chunk loaded whole (a mapped segment) holding `rows` rows, after the last full chunk.
    /// - Returns: An id the chunk holds that the index already has (then the index is unusable), or nil.
    mutating func install(_ chunk: VectorChunk, rows: Int) -> Int64? {
        precondition(count % rowsPerChunk == 0 && chunks.count == count / rowsPerChunk, "a chunk installed after a partial one")
        for r in 0..<rows where !idMap.insertIfAbsent(chunk.ids[r], row: count + r) {
            return chunk.ids[r]
        }
        chunks.append(chunk)
        count += rows
        for r in 0..<rows { payloadBytes += chunk.payloads[r]?.count ?? 0 }
        return nil
    }

    /// Makes room in the id map for `total` ids while it is empty.
    mutating func reserveIDs(_ total: Int) { idMap.reserve(total) }

    /// Puts `chunk` (the same rows, another home) in place of chunk `index`.
    mutating func replaceChunk(_ index: Int, with chunk: VectorChunk) {
        chunks[index] = chunk
    }

    /// Upserts one prepared row: overwrites in place if the id exists, else appends.
    /// - Parameter attributes: The row's attribute values (absent ones become null); values whose
    ///   attribute no longer exists, or changed type since they were checked, are dropped.
    mutating func upsert(
        id: Int64, label: Int64, vector: UnsafePointer<Float>, payload: [UInt8]?,
        attributes: [String: AttributeValue]? = nil
    ) {
        if let row = idMap.row(of: id) {
            let chunk = writableChunk(row / rowsPerChunk)
            let offset = row % rowsPerChunk
            chunk.setVector(at: offset, from: vector)
            chunk.labels[offset] = label
            payloadBytes += (payload?.count ?? 0) - (chunk.payloads[offset]?.count ?? 0)
            chunk.payloads[offset] = payload
            replaceAttributes(chunk: chunk, offset: offset, with: attributes)
            return
        }
        let row = count
        let offset = row % rowsPerChunk
        if offset == 0 && row / rowsPerChunk == chunks.count {
            chunks.append(makeChunk(capacity: chunks.isEmpty ? firstChunkCapacity(for: 1) : rowsPerChunk))
        } else if offset == chunks[row / rowsPerChunk].capacity {
            grow(to: firstChunkCapacity(for: offset * 2))
        }
        // A new row goes past every reader's count: the chunk is written in place even if a segment
        // view or a listing scan holds it (they read only the rows they counted).
        let chunk = chunks[row / rowsPerChunk]
        chunk.segment = nil
        replaceAttributes(chunk: chunk, offset: offset, with: attributes)
        chunk.setVector(at: offset, from: vector)
        chunk.ids[offset] = id
        chunk.labels[offset] = label
        chunk.payloads[offset] = payload
        payloadBytes += payload?.count ?? 0
        idMap.set(id, row: row)
        count += 1
    }

    /// Removes the row of `id` (which must exist) by moving the last row into its place.
    mutating func remove(id: Int64) {
        guard let row = idMap.row(of: id) else { preconditionFailure("remove of an absent id") }
        let last = count - 1
        let (chunkIndex, offset) = (row / rowsPerChunk, row % rowsPerChunk)
        let lastIndex = last / rowsPerChunk
        let lastChunk = writableChunk(lastIndex)
        let chunk = chunkIndex == lastIndex ? lastChunk : writableChunk(chunkIndex)
        payloadBytes -= chunk.payloads[offset]?.count ?? 0
        if row != last {
            let lastOffset = last % rowsPerChunk
            chunk.copyVector(at: offset, from: lastChunk, offset: lastOffset)
            let movedID = lastChunk.ids[lastOffset]
            chunk.ids[offset] = movedID
            chunk.labels[offset] = lastChunk.labels[lastOffset]
            chunk.payloads[offset] = lastChunk.payloads[lastOffset]
            lastChunk.payloads[lastOffset] = nil
            for (column, lastColumn) in zip(chunk.attributes, lastChunk.attributes) {
                column.set(offset, word: lastColumn.word(at: lastOffset))
                lastColumn.set(lastOffset, word: nil)
            }
            idMap.set(movedID, row: row)
            moveEpoch &+= 1
        } else {
            chunk.payloads[offset] = nil
            for column in chunk.attributes { column.set(offset, word: nil) }
        }
        idMap.remove(id)
        count = last
        // Keep one spare chunk past the end so add/remove at a boundary does not thrash the allocator.
        while chunks.count > occupiedChunkCount + 1 {
            chunks.removeLast()
        }
        lastChunk.payloads[last % rowsPerChunk] = nil
    }
}

extension ChunkedRows {
    /// The slot of attribute `name` in ``schema``.
    func slot(of name: String) -> Int? { schema.firstIndex { $0.name == name } }

    /// Declares a new attribute: every row has no value for it.
    mutating func addAttribute(_ definition: AttributeDefinition) {
        schema.append(definition)
        schemaEpoch &+= 1
        if definition.type == .keyword { dictionaries[definition.name] = KeywordDictionary() }
        for index in chunks.indices {
            let chunk = writableChunk(index)
            chunk.attributes.append(AttributeColumn(capacity: chunk.capacity))
        }
        attributeEpoch &+= 1
    }

    /// Sets the strings of keyword attribute `name` as a snapshot numbered them.
    mutating func restoreDictionary(_ dictionary: KeywordDictionary, of name: String) {
        dictionaries[name] = dictionary
        attributeEpoch &+= 1
    }

    /// Forgets an attribute and its values.
    mutating func dropAttribute(at slot: Int) {
        let name = schema.remove(at: slot).name
        schemaEpoch &+= 1
        dictionaries[name] = nil
        for index in chunks.indices { writableChunk(index).attributes.remove(at: slot) }
        attributeEpoch &+= 1
    }

    /// The word stored for `value` in attribute `slot`, or nil when the value does not fit the
    /// attribute (its type changed since the value was checked).
    mutating func word(for value: AttributeValue, slot: Int) -> Int64? {
        let definition = schema[slot]
        switch (value, definition.type) {
        case (.bool(let b), .bool): return b ? 1 : 0
        case (.int64(let i), .int64): return i
        case (.int64(let i), .float64): return Int64(bitPattern: Double(i).bitPattern)
        // -0.0 is stored as 0.0, so equal numbers have equal words (as `in` compares them).
        case (.float64(let d), .float64): return Int64(bitPattern: (d == 0 ? 0.0 : d).bitPattern)
        case (.keyword(let string), .keyword):
            let before = dictionaries[definition.name]!.strings.count
            let number = dictionaries[definition.name]!.number(of: string)
            if dictionaries[definition.name]!.strings.count != before { attributeEpoch &+= 1 }
            return number
        default: return nil
        }
    }

    /// The value of attribute `slot` that `word` encodes.
    func value(of word: Int64, slot: Int) -> AttributeValue {
        let definition = schema[slot]
        switch definition.type {
        case .bool: return .bool(word != 0)
        case .int64: return .int64(word)
        case .float64: return .float64(Double(bitPattern: UInt64(bitPattern: word)))
        case .keyword: return .keyword(dictionaries[definition.name]!.string(word))
        }
    }

    /// The attribute values of the row at `offset` of `chunk` (nulls omitted).
    func attributes(chunk: VectorChunk, offset: Int) -> [String: AttributeValue] {
        var values: [String: AttributeValue] = [:]
        for (slot, column) in chunk.attributes.enumerated() {
            if let word = column.word(at: offset) { values[schema[slot].name] = value(of: word, slot: slot) }
        }
        return values
    }

    /// Sets every attribute of a row: the given values, null for the rest.
    mutating func replaceAttributes(chunk: VectorChunk, offset: Int, with values: [String: AttributeValue]?) {
        for slot in schema.indices {
            var encoded: Int64?
            if let value = values?[schema[slot].name] { encoded = word(for: value, slot: slot) }
            chunk.attributes[slot].set(offset, word: encoded)
        }
    }

    /// Applies one checked update to the row of its id (which must exist).
    mutating func apply(_ update: RowUpdate) {
        guard let row = idMap.row(of: update.id) else { preconditionFailure("update of an absent id") }
        let chunk = writableChunk(row / rowsPerChunk)
        let offset = row % rowsPerChunk
        if let label = update.label { chunk.labels[offset] = label }
        switch update.payload {
        case .keep: break
        case .set(let payload):
            payloadBytes += payload.count - (chunk.payloads[offset]?.count ?? 0)
            chunk.payloads[offset] = payload
        case .clear:
            payloadBytes -= chunk.payloads[offset]?.count ?? 0
            chunk.payloads[offset] = nil
        }
        for name in update.clear {
            if let slot = slot(of: name) { chunk.attributes[slot].set(offset, word: nil) }
        }
        for (name, value) in update.set {
            if let slot = slot(of: name), let encoded = word(for: value, slot: slot) {
                chunk.attributes[slot].set(offset, word: encoded)
            }
        }
    }

    /// Bytes of the keyword dictionaries.
    var dictionaryBytes: Int { dictionaries.values.reduce(0) { $0 + $1.bytes } }
}
