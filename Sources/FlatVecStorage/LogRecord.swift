import FlatVecCore

/// One record of the local store's log, and its byte format (proto-spec/LOG.md, version 1).
///
/// A record body is a type byte followed by the fields below; integers are little-endian, a string
/// is a `u32` byte length and UTF-8, an optional byte string is a `u32` length (`0xFFFFFFFF` for
/// none) and the bytes. The log adds a length and a CRC-32C around each body (``WriteAheadLog``).
enum LogRecord: Equatable {
    /// `1, string name, u32 dimension, u8 metric`
    case create(name: String, dimension: Int, metric: Metric)
    /// `2, string name`
    case drop(name: String)
    /// `3, string collection, u32 n, u32 dimension, u8 flags (bit 0: payloads), i64 ids[n],
    /// i64 labels[n], f32 vectors[n * dimension], n × bytes? payload (if bit 0)`
    case add(collection: String, batch: VectorBatch)
    /// `4, string collection, u32 n, i64 ids[n]`
    case remove(collection: String, ids: [Int64])

    /// The first byte of every record body.
    enum Kind: UInt8 {
        case create = 1
        case drop = 2
        case add = 3
        case remove = 4
    }

    /// The record's body.
    func encoded() -> [UInt8] {
        var out = Writer()
        switch self {
        case .create(let name, let dimension, let metric):
            out.u8(Kind.create.rawValue)
            out.string(name)
            out.u32(UInt32(dimension))
            out.u8(metric.rawValue)
        case .drop(let name):
            out.u8(Kind.drop.rawValue)
            out.string(name)
        case .add(let collection, let batch):
            out.bytes.reserveCapacity(64 + collection.utf8.count + batch.count * (16 + 4 * batch.dimension))
            out.u8(Kind.add.rawValue)
            out.string(collection)
            out.u32(UInt32(batch.count))
            out.u32(UInt32(batch.dimension))
            out.u8(batch.payloads.isEmpty ? 0 : 1)
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
        case .remove(let collection, let ids):
            out.u8(Kind.remove.rawValue)
            out.string(collection)
            out.u32(UInt32(ids.count))
            out.array(ids)
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
            record = .create(name: name, dimension: dimension, metric: metric)
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
            let bits: [UInt32] = try r.array(n * dimension)
            var payloads: [[UInt8]?] = []
            if flags & 1 != 0 {
                payloads.reserveCapacity(n)
                for _ in 0..<n {
                    let length = try r.u32()
                    payloads.append(length == 0xFFFF_FFFF ? nil : try r.take(Int(length)))
                }
            }
            record = .add(collection: collection, batch: try VectorBatch(
                dimension: dimension, ids: ids, labels: labels, vectors: bits.map(Float.init(bitPattern:)), payloads: payloads
            ))
        case .remove:
            let collection = try r.string()
            let n = Int(try r.u32())
            record = .remove(collection: collection, ids: try r.array(n))
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
        mutating func array<T: FixedWidthInteger>(_ n: Int) throws(FlatVecError) -> [T] {
            let size = MemoryLayout<T>.size
            guard n >= 0, n <= remaining / size else { throw FlatVecError(.corruptData, "record ends early") }
            let values = bytes.withUnsafeBytes { raw in
                (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset + $0 * size, as: T.self)) }
            }
            offset += n * size
            return values
        }
    }
}
