import FlatVecModel
@testable import FlatVecProtocol
import NIOCore
import Testing

/// What PROTOCOL.md calls invalid is refused, with the code the spec gives (section 5, "Which code").
@Suite struct StrictDecodingTests {
    static func buffer(_ write: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        write(&buffer)
        return buffer
    }

    static func refused(_ code: FlatVecError.Code, _ message: String, _ decode: () throws(FlatVecError) -> Void) {
        do {
            try decode()
            Issue.record("decoded; expected \(code) (\(message))")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func createWithAnEmptyAttributesPartIsRefused() throws {
        var payload = Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(4)
            $0.writeU8(0)
            $0.writeU8(0)  // m = 0: the part is present but empty
        }
        Self.refused(.invalidArgument, "m = 0") { () throws(FlatVecError) in _ = try CreateCollectionRequest.decode(from: &payload) }
        var without = Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(4)
            $0.writeU8(0)
        }
        #expect(try CreateCollectionRequest.decode(from: &without).attributes.isEmpty)
    }

    /// STATS: empty (before revision 4) or one flags byte whose bit 0 asks for the storage figures;
    /// a reserved bit is `unsupported_feature`, a second byte `bad_frame`.
    @Test func statsTakesAnOptionalFlagsByte() throws {
        func decode(_ bytes: [UInt8]) throws(FlatVecError) -> Request {
            var payload = Self.buffer { $0.writeBytes(bytes) }
            return try Request.decode(opcode: .stats, payload: &payload, limits: ProtocolLimits())
        }
        #expect(try decode([]) == .stats(storage: false))
        #expect(try decode([0]) == .stats(storage: false))
        #expect(try decode([1]) == .stats(storage: true))
        Self.refused(.unsupportedFeature, "bit 1") { () throws(FlatVecError) in _ = try decode([2]) }
        Self.refused(.badFrame, "STATS") { () throws(FlatVecError) in _ = try decode([1, 0]) }
    }

    @Test func attributeValuesOutOfOrderAreRefused() throws {
        var outOfOrder = Self.buffer {
            $0.writeU8(2)
            $0.writeFlatVecString("stock")
            $0.writeAttributeValue(.int64(1))
            $0.writeFlatVecString("category")
            $0.writeAttributeValue(.keyword("x"))
        }
        Self.refused(.invalidArgument, "not in ascending name order: category follows stock") { () throws(FlatVecError) in
            _ = try outOfOrder.readAttributeValues()
        }
        var repeated = Self.buffer {
            $0.writeU8(2)
            $0.writeFlatVecString("stock")
            $0.writeAttributeValue(.int64(1))
            $0.writeFlatVecString("stock")
            $0.writeAttributeValue(.int64(2))
        }
        Self.refused(.invalidArgument, "given twice") { () throws(FlatVecError) in _ = try repeated.readAttributeValues() }
        // Byte order: "a0" < "a_b" < "aa" (0x30 < 0x5F < 0x61).
        var ordered = Self.buffer { $0.writeAttributeValues(["aa": .int64(1), "a_b": .int64(2), "a0": .bool(true)]) }
        #expect(try ordered.readAttributeValues() == ["aa": .int64(1), "a_b": .int64(2), "a0": .bool(true)])
    }

    @Test func anUpdateClearingAnAttributeTwiceIsRefused() throws {
        var payload = Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(1)
            $0.writeI64(7)
            $0.writeU8(0)
            $0.writeU8(0)  // no values set
            $0.writeU8(2)
            $0.writeFlatVecString("stock")
            $0.writeFlatVecString("stock")
        }
        Self.refused(.invalidArgument, "clears attribute stock twice") { () throws(FlatVecError) in
            _ = try UpdateRequest.decode(from: &payload, limits: ProtocolLimits())
        }
        // Its set values must be in ascending name order too.
        var unordered = Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(1)
            $0.writeI64(7)
            $0.writeU8(0)
            $0.writeU8(2)
            $0.writeFlatVecString("stock")
            $0.writeAttributeValue(.int64(1))
            $0.writeFlatVecString("price")
            $0.writeAttributeValue(.float64(2))
            $0.writeU8(0)
        }
        Self.refused(.invalidArgument, "price follows stock") { () throws(FlatVecError) in
            _ = try UpdateRequest.decode(from: &unordered, limits: ProtocolLimits())
        }
        // n = 0 is a valid, empty UPDATE.
        var empty = Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(0)
        }
        #expect(try UpdateRequest.decode(from: &empty, limits: ProtocolLimits()).updates.isEmpty)
        // Per-entry flag bits 3 to 7 are reserved.
        var reserved = Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(1)
            $0.writeI64(7)
            $0.writeU8(0b1000)
            $0.writeU8(0)
            $0.writeU8(0)
        }
        Self.refused(.unsupportedFeature, "bit 3") { () throws(FlatVecError) in
            _ = try UpdateRequest.decode(from: &reserved, limits: ProtocolLimits())
        }
    }

    @Test func anEmptyInListIsRefusedOnTheWire() throws {
        var payload = Self.buffer {
            $0.writeU8(2)  // in
            $0.writeU8(1)  // the id
            $0.writeU32(0)
        }
        var nodes = 0
        Self.refused(.invalidArgument, "with no values") { () throws(FlatVecError) in _ = try payload.readFilter(nodes: &nodes) }
    }

    /// Limits are `limit_exceeded`, checked before the items they count are read (so a count over
    /// its limit whose bytes are missing is still `limit_exceeded`); a value a field does not allow is
    /// `invalid_argument`.
    @Test func limitsAndDisallowedValuesHaveTheirCodes() throws {
        var manyValues = Self.buffer {
            $0.writeU8(2)
            $0.writeU8(1)
            $0.writeU32(1_000_001)
        }
        var nodes = 0
        Self.refused(.limitExceeded, "1000000") { () throws(FlatVecError) in _ = try manyValues.readFilter(nodes: &nodes) }
        var badOperator = Self.buffer {
            $0.writeU8(1)
            $0.writeU8(1)
            $0.writeU8(7)
            $0.writeAttributeValue(.int64(1))
        }
        nodes = 0
        Self.refused(.invalidArgument, "unknown operator 7") { () throws(FlatVecError) in _ = try badOperator.readFilter(nodes: &nodes) }
        var longName = Self.buffer {
            $0.writeU8(3)
            $0.writeU8(3)
            $0.writeFlatVecString(String(repeating: "a", count: 64))
        }
        nodes = 0
        Self.refused(.limitExceeded, "64") { () throws(FlatVecError) in _ = try longName.readFilter(nodes: &nodes) }
    }

    /// A SEARCH of 3 queries of dimension 1 by label, then `extensions` bytes as given.
    static func groupedSearch(flags: UInt8 = 0x01, _ extensions: (inout ByteBuffer) -> Void) -> ByteBuffer {
        Self.buffer {
            $0.writeFlatVecString("c")
            $0.writeU32(2)
            $0.writeU8(flags)
            $0.writeF32(0)
            $0.writeU32(0)
            $0.writeU32(3)
            $0.writeU32(1)
            $0.writeF32Array([1, 2, 3])
            extensions(&$0)
        }
    }

    @Test func searchExtensionsAreCheckedWhereTheyAreRead() throws {
        func decode(_ payload: ByteBuffer) throws(FlatVecError) -> SearchRequest {
            var payload = payload
            return try SearchRequest.decode(from: &payload, limits: ProtocolLimits())
        }
        let good = try decode(Self.groupedSearch {
            $0.writeU8(0x03)
            $0.writeU32(4)
            $0.writeU32(2)
            $0.writeU32(2)
            $0.writeU32(1)
            $0.writeU8(2)
        })
        #expect(good.options.groupSize == 4 && good.queryGroups == QueryGroups(sizes: [2, 1], aggregate: .mean))
        // Without extensions, revision 2's request.
        #expect(try decode(Self.groupedSearch { _ in }).queryGroups == nil)
        Self.refused(.unsupportedFeature, "bit 2") { () throws(FlatVecError) in _ = try decode(Self.groupedSearch { $0.writeU8(0x04) }) }
        Self.refused(.invalidArgument, "needs group_by_label") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch(flags: 0) {
                $0.writeU8(0x01)
                $0.writeU32(2)
            })
        }
        Self.refused(.invalidArgument, "group_size 0 is not") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch {
                $0.writeU8(0x01)
                $0.writeU32(0)
            })
        }
        Self.refused(.limitExceeded, "group_size 1001") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch {
                $0.writeU8(0x01)
                $0.writeU32(1_001)
            })
        }
        Self.refused(.invalidArgument, "hold 4 vectors, the request has 3") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch {
                $0.writeU8(0x02)
                $0.writeU32(2)
                $0.writeU32(2)
                $0.writeU32(2)
                $0.writeU8(1)
            })
        }
        Self.refused(.invalidArgument, "needs at least 1") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch {
                $0.writeU8(0x02)
                $0.writeU32(2)
                $0.writeU32(3)
                $0.writeU32(0)
                $0.writeU8(1)
            })
        }
        Self.refused(.invalidArgument, "aggregate 3") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch {
                $0.writeU8(0x02)
                $0.writeU32(1)
                $0.writeU32(3)
                $0.writeU8(3)
            })
        }
        Self.refused(.badFrame, "needs 4 more bytes") { () throws(FlatVecError) in
            _ = try decode(Self.groupedSearch {
                $0.writeU8(0x02)
                $0.writeU32(1)
            })
        }
    }

    @Test func excludeSelfAndFilterModeTakeOnlyTheirValues() throws {
        func search(flags: UInt8, _ rest: (inout ByteBuffer) -> Void) -> ByteBuffer {
            Self.buffer {
                $0.writeFlatVecString("c")
                $0.writeU32(1)  // k
                $0.writeU8(flags)
                $0.writeF32(0)  // min_score
                $0.writeU32(0)  // n_labels
                rest(&$0)
            }
        }
        var excludeTwo = search(flags: 0x80) {  // stored ids
            $0.writeU32(1)  // nq
            $0.writeU8(2)  // exclude_self
            $0.writeI64(5)
        }
        Self.refused(.invalidArgument, "exclude_self is 2") { () throws(FlatVecError) in
            _ = try SearchRequest.decode(from: &excludeTwo, limits: ProtocolLimits())
        }
        var modeThree = search(flags: 0x20) {  // filters follow
            $0.writeU32(1)  // nq
            $0.writeU32(1)  // dimension
            $0.writeF32(1)
            $0.writeU8(3)  // filter_mode
        }
        Self.refused(.invalidArgument, "filter mode 3") { () throws(FlatVecError) in
            _ = try SearchRequest.decode(from: &modeThree, limits: ProtocolLimits())
        }
    }
}
