import FlatVecCore

/// PostgreSQL's binary COPY format for rows `(id bigint, label bigint, payload text, embedding vector)`
/// followed by one column per attribute (`boolean`, `bigint`, `double precision`, `text`).
/// pgvector's binary form of a vector: int16 dimension, int16 unused (0), then float4 values; all big-endian.
enum CopyBinaryEncoder {
    static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]

    static func encode(_ batch: VectorBatch, attributes: [AttributeDefinition] = []) -> [UInt8] {
        var out = signature
        out.reserveCapacity(19 + batch.count * (2 + 12 + 12 + 4 + 8 + batch.dimension * 4) + 2)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) } }
        put(Int32(0))
        put(Int32(0))
        for i in 0..<batch.count {
            put(Int16(4 + attributes.count))
            put(Int32(8))
            put(batch.ids[i])
            put(Int32(8))
            put(batch.labels[i])
            if let payload = batch.payloads.isEmpty ? nil : batch.payloads[i] {
                put(Int32(payload.count))
                out.append(contentsOf: payload)
            } else {
                put(Int32(-1))
            }
            appendVector(of: batch, row: i, to: &out)
            let values = batch.attributes.isEmpty ? [:] : batch.attributes[i]
            for definition in attributes {
                switch values[definition.name] {
                case nil:
                    put(Int32(-1))
                case .bool(let b):
                    put(Int32(1))
                    out.append(b ? 1 : 0)
                case .int64(let v):
                    put(Int32(8))
                    put(v)
                case .float64(let d):
                    put(Int32(8))
                    put(d.bitPattern)
                case .keyword(let k):
                    let bytes = Array(k.utf8)
                    put(Int32(bytes.count))
                    out.append(contentsOf: bytes)
                }
            }
        }
        put(Int16(-1))
        return out
    }

    /// Appends row `i`'s vector as a binary field: its int32 byte length, then pgvector's binary form
    /// (the same in a COPY row and in an array element).
    static func appendVector(of batch: VectorBatch, row i: Int, to out: inout [UInt8]) {
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) } }
        put(Int32(4 + 4 * batch.dimension))
        put(Int16(batch.dimension))
        put(Int16(0))
        for v in batch.vectors[(i * batch.dimension)..<((i + 1) * batch.dimension)] { put(v.bitPattern) }
    }

    /// The batch's vectors as a one-dimensional `vector[]` in PostgreSQL's binary array form (for a
    /// binary query parameter): int32 dimensions (1), int32 flags (0: no nulls), the element type's
    /// OID (`vector`'s, which differs per database), int32 length and int32 lower bound (1), then each
    /// element as an int32 byte length and pgvector's binary form.
    static func vectorArray(_ batch: VectorBatch, vectorOID: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(20 + batch.count * (8 + batch.dimension * 4))
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) } }
        put(Int32(1))
        put(Int32(0))
        put(vectorOID)
        put(Int32(batch.count))
        put(Int32(1))
        for i in 0..<batch.count {
            appendVector(of: batch, row: i, to: &out)
        }
        return out
    }
}

/// Parses a binary COPY stream of `(id, label, payload, embedding, attributes...)` rows as it arrives.
struct CopyBinaryDecoder {
    let dimension: Int
    let attributes: [AttributeDefinition]
    private var buffer: [UInt8] = []
    private var offset = 0
    private var headerDone = false
    private var ids: [Int64] = []
    private var labels: [Int64] = []
    private var payloads: [[UInt8]?] = []
    private var vectors: [Float] = []
    private var values: [[String: AttributeValue]] = []
    /// Rows the index cannot hold, with the reason: skipped, not loaded.
    private(set) var skipped: [(id: Int64, reason: String)] = []

    init(dimension: Int, attributes: [AttributeDefinition] = []) {
        self.dimension = dimension
        self.attributes = attributes
    }

    var pendingRows: Int { ids.count }

    private func be<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
        buffer.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }

    mutating func feed(_ chunk: UnsafeRawBufferPointer) throws(FlatVecError) {
        if offset > 0 && offset > buffer.count / 2 {
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer.append(contentsOf: chunk)
        if !headerDone {
            guard buffer.count - offset >= 19 else { return }
            guard Array(buffer[offset..<(offset + 11)]) == CopyBinaryEncoder.signature else {
                throw FlatVecError(.corruptData, "COPY stream has no binary signature")
            }
            let extensionLength = Int(be(offset + 15, Int32.self))
            guard buffer.count - offset >= 19 + extensionLength else { return }
            offset += 19 + extensionLength
            headerDone = true
        }
        while true {
            guard buffer.count - offset >= 2 else { return }
            let fields = be(offset, Int16.self)
            if fields == -1 {
                offset += 2
                return
            }
            let expected = 4 + attributes.count
            guard fields == expected else { throw FlatVecError(.corruptData, "COPY row has \(fields) fields, expected \(expected)") }
            // Walk the fields without consuming until the row is complete.
            var p = offset + 2
            var spans: [(Int, Int)] = []
            for _ in 0..<expected {
                guard buffer.count - p >= 4 else { return }
                let length = Int(be(p, Int32.self))
                p += 4
                if length < 0 {
                    spans.append((p, -1))
                    continue
                }
                guard buffer.count - p >= length else { return }
                spans.append((p, length))
                p += length
            }
            guard spans[0].1 == 8, spans[1].1 == 8, spans[3].1 >= 4 else {
                throw FlatVecError(.corruptData, "COPY row has unexpected field sizes (id, label and embedding must be present)")
            }
            guard spans[3].1 == 4 + 4 * dimension else {
                // Possible only if another program changed the column type: skip the row, load the rest.
                let id = be(spans[0].0, Int64.self)
                skipped.append((id, "embedding has dimension \((spans[3].1 - 4) / 4), the collection has dimension \(dimension)"))
                offset = p
                continue
            }
            var row: [String: AttributeValue] = [:]
            for (a, definition) in attributes.enumerated() {
                let (start, length) = spans[4 + a]
                guard length >= 0 else { continue }
                switch definition.type {
                case .bool:
                    guard length == 1 else { throw FlatVecError(.corruptData, "COPY boolean of \(definition.name) is \(length) bytes") }
                    row[definition.name] = .bool(buffer[start] != 0)
                case .int64:
                    guard length == 8 else { throw FlatVecError(.corruptData, "COPY bigint of \(definition.name) is \(length) bytes") }
                    row[definition.name] = .int64(be(start, Int64.self))
                case .float64:
                    guard length == 8 else { throw FlatVecError(.corruptData, "COPY double of \(definition.name) is \(length) bytes") }
                    row[definition.name] = .float64(Double(bitPattern: be(start, UInt64.self)))
                case .keyword:
                    row[definition.name] = .keyword(String(decoding: buffer[start..<(start + length)], as: UTF8.self))
                }
            }
            values.append(row)
            ids.append(be(spans[0].0, Int64.self))
            labels.append(be(spans[1].0, Int64.self))
            payloads.append(spans[2].1 < 0 ? nil : Array(buffer[spans[2].0..<(spans[2].0 + spans[2].1)]))
            let start = spans[3].0 + 4
            for j in 0..<dimension { vectors.append(Float(bitPattern: be(start + 4 * j, UInt32.self))) }
            offset = p
        }
    }

    /// Adds the rows decoded so far to `index`: as stored when they are already what the index would
    /// store (exact bytes survive a restart), normalised under cosine when another program wrote them.
    mutating func flush(into index: FlatIndex) throws(FlatVecError) {
        guard !ids.isEmpty else { return }
        let batch = try VectorBatch(
            dimension: dimension, ids: ids, labels: labels, vectors: vectors, payloads: payloads,
            attributes: attributes.isEmpty ? [] : values
        )
        do {
            try Self.load(batch, into: index)
        } catch {
            // Some row cannot be held (zero under cosine, a norm that overflows, a payload too long):
            // load the rows one by one and skip only the bad ones.
            for i in 0..<batch.count {
                do {
                    try Self.load(Self.subset(batch, [i]), into: index)
                } catch {
                    skipped.append((batch.ids[i], error.description))
                }
            }
        }
        ids.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
        payloads.removeAll(keepingCapacity: true)
        vectors.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    private static func load(_ batch: VectorBatch, into index: FlatIndex) throws(FlatVecError) {
        let dimension = batch.dimension
        if index.metric == .cosine {
            var exact: [Int] = []
            var other: [Int] = []
            for i in 0..<batch.count {
                let norm = batch.vectors[(i * dimension)..<((i + 1) * dimension)].reduce(0.0) { $0 + Double($1) * Double($1) }
                if abs(norm - 1) < 1e-5 { exact.append(i) } else { other.append(i) }
            }
            // Validate both parts before changing the index, so a failure leaves it as it was.
            let exactBatch = try subset(batch, exact)
            let otherBatch = try index.validate(subset(batch, other))
            if !exact.isEmpty { try index.restore(exactBatch) }
            if !other.isEmpty { index.add(otherBatch) }
        } else {
            try index.restore(batch)
        }
    }

    private static func subset(_ batch: VectorBatch, _ rows: [Int]) throws(FlatVecError) -> VectorBatch {
        try VectorBatch(
            dimension: batch.dimension,
            ids: rows.map { batch.ids[$0] },
            labels: rows.map { batch.labels[$0] },
            vectors: rows.flatMap { batch.vectors[($0 * batch.dimension)..<(($0 + 1) * batch.dimension)] },
            payloads: batch.payloads.isEmpty ? [] : rows.map { batch.payloads[$0] },
            attributes: batch.attributes.isEmpty ? [] : rows.map { batch.attributes[$0] }
        )
    }
}
