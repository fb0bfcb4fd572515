import FlatVecModel
import NIOCore

/// A malformed payload: the frame was well delimited but a field inside it was not.
func malformed(_ what: String) -> FlatVecError { FlatVecError(.badFrame, what) }

extension ByteBuffer {
    /// A little-endian integer, or a `bad_frame` error naming the field the payload ended inside.
    mutating func readLE<T: FixedWidthInteger>(_ field: String, as type: T.Type = T.self) throws(FlatVecError) -> T {
        guard let v = readInteger(endianness: .little, as: T.self) else { throw malformed("payload ends inside \(field)") }
        return v
    }

    mutating func readU8(_ field: String) throws(FlatVecError) -> UInt8 { try readLE(field) }
    mutating func readU16(_ field: String) throws(FlatVecError) -> UInt16 { try readLE(field) }
    mutating func readU32(_ field: String) throws(FlatVecError) -> UInt32 { try readLE(field) }
    mutating func readU64(_ field: String) throws(FlatVecError) -> UInt64 { try readLE(field) }
    mutating func readI64(_ field: String) throws(FlatVecError) -> Int64 { try readLE(field) }

    mutating func readF32(_ field: String) throws(FlatVecError) -> Float {
        Float(bitPattern: try readU32(field))
    }

    /// A u32 count, checked against `limit` and against the bytes left (`bytesEach` per element),
    /// so no count can make the reader allocate more than the frame holds.
    mutating func readCount(_ field: String, limit: UInt32, bytesEach: Int) throws(FlatVecError) -> Int {
        let n = try readU32(field)
        guard n <= limit else { throw FlatVecError(.limitExceeded, "\(field) \(n) exceeds the limit \(limit)") }
        let (needed, overflow) = Int(n).multipliedReportingOverflow(by: bytesEach)
        guard !overflow, needed <= readableBytes else {
            throw malformed("\(field) \(n) needs \(needed) more bytes, the payload has \(readableBytes)")
        }
        return Int(n)
    }

    /// A UTF-8 string: u32 byte length, then the bytes.
    mutating func readString(_ field: String, maxBytes: Int = 1 << 20) throws(FlatVecError) -> String {
        let n = try readU32("\(field) length")
        guard n <= maxBytes else { throw FlatVecError(.limitExceeded, "\(field) is \(n) bytes, more than \(maxBytes)") }
        guard let bytes = readBytes(length: Int(n)) else { throw malformed("payload ends inside \(field)") }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw FlatVecError(.invalidArgument, "\(field) is not valid UTF-8") }
        return s
    }

    /// A u8 of flags whose bits outside `known` are reserved and must be zero.
    /// - Throws: ``FlatVecError/Code/unsupportedFeature`` naming the lowest reserved bit that is set.
    mutating func readFlags(_ field: String, known: UInt8) throws(FlatVecError) -> UInt8 {
        let flags = try readU8(field)
        try Self.checkReserved(UInt64(flags), known: UInt64(known), field: field)
        return flags
    }

    static func checkReserved(_ flags: UInt64, known: UInt64, field: String) throws(FlatVecError) {
        let reserved = flags & ~known
        guard reserved == 0 else {
            let bit = reserved.trailingZeroBitCount
            throw FlatVecError(
                .unsupportedFeature,
                "\(field) bit \(bit) (0x\(String(UInt64(1) << bit, radix: 16, uppercase: true))) is reserved in protocol version 1 and must be 0: this server does not support that option"
            )
        }
    }

    /// An optional byte string: u32 length (0xFFFFFFFF for none), then the bytes.
    mutating func readOptionalBytes(_ field: String, maxBytes: Int) throws(FlatVecError) -> [UInt8]? {
        let n = try readU32("\(field) length")
        if n == 0xFFFF_FFFF { return nil }
        guard n <= maxBytes else { throw FlatVecError(.limitExceeded, "\(field) is \(n) bytes, more than \(maxBytes)") }
        guard let bytes = readBytes(length: Int(n)) else { throw malformed("payload ends inside \(field)") }
        return bytes
    }

    /// `count` little-endian i64 values (the caller has checked the bytes are there).
    mutating func readI64Array(count: Int) -> [Int64] {
        (0..<count).map { _ in readInteger(endianness: .little, as: Int64.self)! }
    }

    /// `count` little-endian float32 values, copied in bulk (the caller has checked the bytes are there).
    mutating func readF32Array(count: Int) -> [Float] {
        let values = readWithUnsafeReadableBytes { raw -> (Int, [Float]) in
            let floats = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * 4)]))
                initialized = count
            }
            return (count * 4, floats)
        }
        #if _endian(big)
        return values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #else
        return values
        #endif
    }

    /// Fails unless every byte was consumed.
    func expectFullyRead(_ message: String) throws(FlatVecError) {
        guard readableBytes == 0 else { throw malformed("\(readableBytes) unexpected bytes after the \(message) payload") }
    }

    mutating func writeU8(_ v: UInt8) { writeInteger(v, endianness: .little) }
    mutating func writeU16(_ v: UInt16) { writeInteger(v, endianness: .little) }
    mutating func writeU32(_ v: UInt32) { writeInteger(v, endianness: .little) }
    mutating func writeU64(_ v: UInt64) { writeInteger(v, endianness: .little) }
    mutating func writeI64(_ v: Int64) { writeInteger(v, endianness: .little) }
    mutating func writeF32(_ v: Float) { writeInteger(v.bitPattern, endianness: .little) }

    mutating func writeCount(_ n: Int) { writeU32(UInt32(n)) }

    mutating func writeFlatVecString(_ s: String) {
        writeU32(UInt32(s.utf8.count))
        writeString(s)
    }

    mutating func writeOptionalBytes(_ bytes: [UInt8]?) {
        guard let bytes else {
            writeU32(0xFFFF_FFFF)
            return
        }
        writeU32(UInt32(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeI64Array(_ values: [Int64]) {
        for v in values { writeI64(v) }
    }

    mutating func writeF32Array(_ values: [Float]) {
        #if _endian(big)
        for v in values { writeF32(v) }
        #else
        values.withUnsafeBytes { _ = writeBytes($0) }
        #endif
    }
}
