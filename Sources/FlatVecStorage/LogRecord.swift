import FlatVecCore

/// One record of the local store's log, and its byte format (proto-spec/LOG.md, version 1).
///
/// A record body is a type byte followed by the fields below; integers are little-endian, a string
/// is a `u32` byte length and UTF-8, an optional byte string is a `u32` length (`0xFFFFFFFF` for
/// none) and the bytes. The log adds a length and a CRC-32C around each body (``WriteAheadLog``).
enum LogRecord: Equatable {
    /// `1, string name, u32 dimension, u8 metric` and, when the collection has attributes,
    /// `u8 m, m × (u8 type, string name)` (a record that ends after the metric has none)
    case create(name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition])
    /// `2, string name`
    case drop(name: String)
    /// `3, string collection, u32 n, u32 dimension, u8 flags (bit 0: payloads, bit 1: attributes),
    /// i64 ids[n], i64 labels[n], f32 vectors[n * dimension], n × bytes? payload (if bit 0),
    /// n × values (if bit 1)`, where values are `u8 c, c × (string name, value)` and a value is
    /// `u8 type` then bool `u8`, int64 `i64`, float64 `u64` bits or keyword `string`
    case add(collection: String, batch: VectorBatch)
    /// `4, string collection, u32 n, i64 ids[n]`
    case remove(collection: String, ids: [Int64])
    /// `5, string collection, u8 type, string name`
    case addAttribute(collection: String, definition: AttributeDefinition)
    /// `6, string collection, string name`
    case dropAttribute(collection: String, name: String)
    /// `7, string collection, u32 n, n × (i64 id, u8 flags (bit 0: label, bit 1: set payload, bit 2:
    /// clear payload), i64 label (if bit 0), bytes payload (if bit 1), values set, u8 c, c × string cleared)`
    case update(collection: String, updates: [RowUpdate])
    /// `8, u64 stage, u32 part, bytes`: part `part` (from 0) of the body of an ADD record written
    /// ahead of its commit, the bytes running to the end of the record; `stage` is unique within its log
    case stagedPart(stage: UInt64, part: Int, bytes: [UInt8])
    /// `9, u64 stage, u32 parts`: the ADD record whose body is parts `0..<parts` of `stage`
    /// concatenated, applied here in the log's order
    case commitStaged(stage: UInt64, parts: Int)

    /// The first byte of every record body.
    enum Kind: UInt8 {
        case create = 1
        case drop = 2
        case add = 3
        case remove = 4
        case addAttribute = 5
        case dropAttribute = 6
        case update = 7
        case stagedPart = 8
        case commitStaged = 9
    }

    /// The record's body.
    func encoded() -> [UInt8] {
        var out = Writer()
        switch self {
        case .create(let name, let dimension, let metric, let attributes):
            out.u8(Kind.create.rawValue)
            out.string(name)
            out.u32(UInt32(dimension))
            out.u8(metric.rawValue)
            if !attributes.isEmpty {
                out.u8(UInt8(attributes.count))
                for definition in attributes {
                    out.u8(definition.type.rawValue)
                    out.string(definition.name)
                }
            }
        case .drop(let name):
            out.u8(Kind.drop.rawValue)
            out.string(name)
        case .add(let collection, let batch):
            out.bytes.reserveCapacity(64 + collection.utf8.count + batch.count * (16 + 4 * batch.dimension))
            out.u8(Kind.add.rawValue)
            out.string(collection)
            out.u32(UInt32(batch.count))
            out.u32(UInt32(batch.dimension))
            out.u8((batch.payloads.isEmpty ? 0 : 1) | (batch.attributes.isEmpty ? 0 : 2))
            out.array(batch.ids)
            out.array(batch.labels)
            out.floats(batch.vectors)
            for payload in batch.payloads {
                if let payload {
                    out.u32(UInt32(payload.count))
                    out.bytes += payload
                } else {
                    out.u32(0xFFFF_FFFF)
                }
            }
            for values in batch.attributes { out.values(values) }
        case .remove(let collection, let ids):
            out.u8(Kind.remove.rawValue)
            out.string(collection)
            out.u32(UInt32(ids.count))
            out.array(ids)
        case .addAttribute(let collection, let definition):
            out.u8(Kind.addAttribute.rawValue)
            out.string(collection)
            out.u8(definition.type.rawValue)
            out.string(definition.name)
        case .dropAttribute(let collection, let name):
            out.u8(Kind.dropAttribute.rawValue)
            out.string(collection)
            out.string(name)
        case .update(let collection, let updates):
            out.u8(Kind.update.rawValue)
            out.string(collection)
            out.u32(UInt32(updates.count))
            for update in updates {
                out.array([update.id])
                var flags: UInt8 = update.label == nil ? 0 : 1
                switch update.payload {
                case .keep: break
                case .set: flags |= 2
                case .clear: flags |= 4
                }
                out.u8(flags)
                if let label = update.label { out.array([label]) }
                if case .set(let payload) = update.payload {
                    out.u32(UInt32(payload.count))
                    out.bytes += payload
                }
                out.values(update.set)
                out.u8(UInt8(update.clear.count))
                for name in update.clear.sorted() { out.string(name) }
            }
        case .stagedPart(let stage, let part, let bytes):
            out.bytes.reserveCapacity(13 + bytes.count)
            out.u8(Kind.stagedPart.rawValue)
            out.array([stage])
            out.u32(UInt32(part))
            out.bytes += bytes
        case .commitStaged(let stage, let parts):
            out.u8(Kind.commitStaged.rawValue)
            out.array([stage])
            out.u32(UInt32(parts))
        }
        return out.bytes
    }

    /// Decodes a body that passed its checksum.
    /// - Throws: ``FlatVecError/Code/corruptData`` naming what does not parse.
    static func decode(_ body: [UInt8]) throws(FlatVecError) -> LogRecord {
        var r = Reader(bytes: body)
        let raw = try r.u8()
        guard let kind = Kind(rawValue: raw) else { throw FlatVecError(.corruptData, "unknown record type \(raw)") }
        let record: LogRecord
        switch kind {
        case .create:
            let name = try r.string()
            let dimension = Int(try r.u32())
            let rawMetric = try r.u8()
            guard let metric = Metric(rawValue: rawMetric) else { throw FlatVecError(.corruptData, "unknown metric \(rawMetric)") }
            var attributes: [AttributeDefinition] = []
            if r.remaining > 0 {
                for _ in 0..<Int(try r.u8()) { attributes.append(try r.definition()) }
            }
            record = .create(name: name, dimension: dimension, metric: metric, attributes: attributes)
        case .drop:
            record = .drop(name: try r.string())
        case .add:
            let collection = try r.string()
            let n = Int(try r.u32())
            let dimension = Int(try r.u32())
            let flags = try r.u8()
            guard dimension >= 1, dimension <= FlatVecLimits.maximumDimension,
                  n.multipliedReportingOverflow(by: 16 + 4 * dimension).partialValue <= r.remaining
            else { throw FlatVecError(.corruptData, "ADD record of \(n) vectors of dimension \(dimension) is longer than its body") }
            let ids: [Int64] = try r.array(n)
            let labels: [Int64] = try r.array(n)
            let vectors = try r.floats(n * dimension)
            var payloads: [[UInt8]?] = []
            if flags & 1 != 0 {
                payloads.reserveCapacity(n)
                for _ in 0..<n {
                    let length = try r.u32()
                    payloads.append(length == 0xFFFF_FFFF ? nil : try r.take(Int(length)))
                }
            }
            var attributes: [[String: AttributeValue]] = []
            if flags & 2 != 0 {
                attributes.reserveCapacity(n)
                for _ in 0..<n { attributes.append(try r.values()) }
            }
            record = .add(collection: collection, batch: try VectorBatch(
                dimension: dimension, ids: ids, labels: labels, vectors: vectors, payloads: payloads,
                attributes: attributes
            ))
        case .remove:
            let collection = try r.string()
            let n = Int(try r.u32())
            record = .remove(collection: collection, ids: try r.array(n))
        case .addAttribute:
            let collection = try r.string()
            record = .addAttribute(collection: collection, definition: try r.definition())
        case .dropAttribute:
            let collection = try r.string()
            record = .dropAttribute(collection: collection, name: try r.string())
        case .update:
            let collection = try r.string()
            let n = Int(try r.u32())
            guard n <= r.remaining / 9 else { throw FlatVecError(.corruptData, "UPDATE record of \(n) rows is longer than its body") }
            var updates: [RowUpdate] = []
            updates.reserveCapacity(n)
            for _ in 0..<n {
                var update = RowUpdate(id: (try r.array(1) as [Int64])[0])
                let flags = try r.u8()
                if flags & 1 != 0 { update.label = (try r.array(1) as [Int64])[0] }
                if flags & 2 != 0 { update.payload = .set(try r.take(Int(try r.u32()))) }
                if flags & 4 != 0 { update.payload = .clear }
                update.set = try r.values()
                for _ in 0..<Int(try r.u8()) { update.clear.insert(try r.string()) }
                updates.append(update)
            }
            record = .update(collection: collection, updates: updates)
        case .stagedPart:
            let stage: UInt64 = (try r.array(1) as [UInt64])[0]
            let part = Int(try r.u32())
            record = .stagedPart(stage: stage, part: part, bytes: try r.take(r.remaining))
        case .commitStaged:
            let stage: UInt64 = (try r.array(1) as [UInt64])[0]
            record = .commitStaged(stage: stage, parts: Int(try r.u32()))
        }
        guard r.remaining == 0 else { throw FlatVecError(.corruptData, "\(r.remaining) bytes after the record") }
        return record
    }

    private struct Writer {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func string(_ s: String) {
            u32(UInt32(s.utf8.count))
            bytes += s.utf8
        }
        /// Fixed-width little-endian values: one copy of the array's bytes on a little-endian host.
        mutating func array<T: FixedWidthInteger>(_ values: [T]) {
            #if _endian(little)
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
            #else
            for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
            #endif
        }
        mutating func values(_ values: [String: AttributeValue]) {
            u8(UInt8(values.count))
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                string(name)
                u8(value.type.rawValue)
                switch value {
                case .bool(let b): u8(b ? 1 : 0)
                case .int64(let i): array([i])
                case .float64(let d): array([d.bitPattern])
                case .keyword(let k): string(k)
                }
            }
        }
        mutating func floats(_ values: [Float]) {
            #if _endian(little)
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
            #else
            array(values.map(\.bitPattern))
            #endif
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var remaining: Int { bytes.count - offset }

        mutating func take(_ n: Int) throws(FlatVecError) -> [UInt8] {
            guard n >= 0, n <= remaining else { throw FlatVecError(.corruptData, "record ends early") }
            defer { offset += n }
            return Array(bytes[offset..<(offset + n)])
        }
        mutating func u8() throws(FlatVecError) -> UInt8 { try take(1)[0] }
        mutating func u32() throws(FlatVecError) -> UInt32 {
            let b = try take(4)
            return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        }
        mutating func string() throws(FlatVecError) -> String {
            let b = try take(Int(try u32()))
            guard let s = String(validating: b, as: UTF8.self) else { throw FlatVecError(.corruptData, "a name is not UTF-8") }
            return s
        }
        mutating func definition() throws(FlatVecError) -> AttributeDefinition {
            let raw = try u8()
            guard let type = AttributeType(rawValue: raw) else { throw FlatVecError(.corruptData, "unknown attribute type \(raw)") }
            let name = try string()
            do {
                return try AttributeDefinition(name: name, type: type)
            } catch {
                throw FlatVecError(.corruptData, error.message)
            }
        }
        mutating func values() throws(FlatVecError) -> [String: AttributeValue] {
            var values: [String: AttributeValue] = [:]
            for _ in 0..<Int(try u8()) {
                let name = try string()
                let raw = try u8()
                switch AttributeType(rawValue: raw) {
                case .bool: values[name] = .bool(try u8() != 0)
                case .int64: values[name] = .int64((try array(1) as [Int64])[0])
                case .float64: values[name] = .float64(Double(bitPattern: (try array(1) as [UInt64])[0]))
                case .keyword: values[name] = .keyword(try string())
                case nil: throw FlatVecError(.corruptData, "unknown attribute type \(raw)")
                }
            }
            return values
        }
        mutating func array<T: FixedWidthInteger>(_ n: Int) throws(FlatVecError) -> [T] {
            let values: [T] = try copy(n)
            #if _endian(little)
            return values
            #else
            return values.map { T(littleEndian: $0) }
            #endif
        }
        /// `n` little-endian IEEE-754 floats.
        mutating func floats(_ n: Int) throws(FlatVecError) -> [Float] {
            #if _endian(little)
            return try copy(n)
            #else
            return (try array(n) as [UInt32]).map(Float.init(bitPattern:))
            #endif
        }
        /// The next `n` values' bytes as they are, in one copy.
        private mutating func copy<T>(_ n: Int) throws(FlatVecError) -> [T] {
            let size = MemoryLayout<T>.size
            guard n >= 0, n <= remaining / size else { throw FlatVecError(.corruptData, "record ends early") }
            let start = offset
            let values = [T](unsafeUninitializedCapacity: n) { buffer, count in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + n * size)]))
                }
                count = n
            }
            offset += n * size
            return values
        }
    }
}
