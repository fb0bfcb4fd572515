import FlatVecModel
import FlatVecProtocol
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct FrameDecoderTests {
    @Test func verifierDripFeedsAndBatchesEveryVector() throws {
        let limit = FrameLimit(.max)
        let pairs: [(ByteBuffer, [Frame])] = TestVector.all.map { vector in
            var copy = vector.encoded()
            let frame = try! FrameDecoder.decodeFrame(from: &copy, maximumLength: .max)!
            return (vector.encoded(), [frame])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(limit: limit) }
    }

    static func frame(length: UInt32, rest: [UInt8] = []) -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: 16)
        b.writeInteger(length, endianness: .little)
        b.writeBytes(rest)
        return b
    }

    @Test func oversizedDeclaredLengthIsRejectedBeforeBuffering() throws {
        // Only the 4 length bytes have arrived: the decoder must refuse now, not wait for 4 GiB.
        var buffer = Self.frame(length: .max)
        #expect(throws: FlatVecError.self) { try FrameDecoder.decodeFrame(from: &buffer, maximumLength: 65_536) }
        var justOver = Self.frame(length: 65_537)
        do {
            _ = try FrameDecoder.decodeFrame(from: &justOver, maximumLength: 65_536)
            Issue.record("accepted an oversized frame")
        } catch {
            #expect(error.code == .badFrame && error.message.contains("65537"))
        }
        var tooShort = Self.frame(length: 11, rest: Array(repeating: 0, count: 11))
        #expect(throws: FlatVecError.self) { try FrameDecoder.decodeFrame(from: &tooShort, maximumLength: 65_536) }
    }

    @Test func oversizedFrameFailsTheChannelWithoutAllocating() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(limit: FrameLimit(1024))))
        #expect(throws: FlatVecError.self) { try channel.writeInbound(Self.frame(length: 1 << 30)) }
        _ = try? channel.finish()
    }

    @Test func partialFramesWaitForMoreBytes() throws {
        var all = TestVector.all[0].encoded()
        var head = all.readSlice(length: 10)!
        #expect(try FrameDecoder.decodeFrame(from: &head, maximumLength: .max) == nil)
        #expect(head.readableBytes == 10)
    }

    static func payload(_ build: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: 64)
        build(&b)
        return b
    }

    static func expectDecodeError(_ opcode: Opcode, _ code: FlatVecError.Code, mentioning fragment: String, limits: ProtocolLimits = ProtocolLimits(), _ build: (inout ByteBuffer) -> Void) {
        var p = payload(build)
        do {
            _ = try Request.decode(opcode: opcode, payload: &p, limits: limits)
            Issue.record("decoded a bad \(opcode)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.message.contains(fragment), "\(error.message) should mention \(fragment)")
        }
    }

    @Test func malformedPayloadsAreRejectedWithReasons() {
        func name(_ b: inout ByteBuffer, _ s: String = "p") {
            b.writeInteger(UInt32(s.utf8.count), endianness: .little)
            b.writeString(s)
        }
        // A count that promises more data than the frame holds: refused before allocating.
        Self.expectDecodeError(.add, .badFrame, mentioning: "needs 16000 more bytes") { b in
            name(&b)
            b.writeInteger(UInt32(1000), endianness: .little)
            b.writeInteger(UInt32(512), endianness: .little)
            b.writeInteger(UInt8(0))
            b.writeBytes([UInt8](repeating: 0, count: 100))
        }
        Self.expectDecodeError(.add, .limitExceeded, mentioning: "exceeds the limit", limits: ProtocolLimits(maxBatch: 10)) { b in
            name(&b)
            b.writeInteger(UInt32(11), endianness: .little)
        }
        Self.expectDecodeError(.remove, .badFrame, mentioning: "id count 4294967295", limits: ProtocolLimits(maxBatch: .max)) { b in
            name(&b)
            b.writeInteger(UInt32.max, endianness: .little)
        }
        Self.expectDecodeError(.search, .limitExceeded, mentioning: "k = 10001") { b in
            name(&b)
            b.writeInteger(UInt32(10_001), endianness: .little)
        }
        Self.expectDecodeError(.search, .badFrame, mentioning: "need") { b in
            name(&b)
            b.writeInteger(UInt32(5), endianness: .little)
            b.writeInteger(UInt8(0))
            b.writeInteger(UInt32(0), endianness: .little)
            b.writeInteger(UInt32(0), endianness: .little)
            b.writeInteger(UInt32(3), endianness: .little)
            b.writeInteger(UInt32(4), endianness: .little)
            b.writeBytes([UInt8](repeating: 0, count: 47))
        }
        Self.expectDecodeError(.createCollection, .badFrame, mentioning: "ends inside collection name") { b in
            b.writeInteger(UInt32(10), endianness: .little)
            b.writeString("abc")
        }
        Self.expectDecodeError(.createCollection, .invalidArgument, mentioning: "metric") { b in
            name(&b)
            b.writeInteger(UInt32(4), endianness: .little)
            b.writeInteger(UInt8(9))
        }
        Self.expectDecodeError(.listCollections, .badFrame, mentioning: "unexpected bytes") { b in b.writeInteger(UInt8(1)) }
        Self.expectDecodeError(Opcode(rawValue: 0x77), .badFrame, mentioning: "unknown opcode") { _ in }
        Self.expectDecodeError(.hello, .invalidArgument, mentioning: "client name is not valid UTF-8") { b in
            b.writeInteger(UInt16(1), endianness: .little)
            b.writeInteger(UInt16(1), endianness: .little)
            b.writeInteger(UInt32(0), endianness: .little)
            b.writeInteger(UInt32(2), endianness: .little)
            b.writeBytes([0xff, 0xfe])
        }
        // A token that could never be right still decodes (it is then a wrong token, section 3).
        for token in [[UInt8](repeating: 0x61, count: 5_000), [0xff, 0xfe]] {
            var p = Self.payload { b in
                b.writeInteger(UInt16(1), endianness: .little)
                b.writeInteger(UInt16(1), endianness: .little)
                b.writeInteger(UInt32(token.count), endianness: .little)
                b.writeBytes(token)
                b.writeInteger(UInt32(0), endianness: .little)
            }
            let hello = try? HelloRequest.decode(from: &p)
            #expect(hello?.tokenIsWellFormed == false && hello?.token == "")
        }
    }

    @Test func collectionNamesAreChecked() {
        #expect(throws: FlatVecError.self) { try CollectionName.validate("") }
        #expect(throws: FlatVecError.self) { try CollectionName.validate("has space") }
        #expect(throws: FlatVecError.self) { try CollectionName.validate(String(repeating: "a", count: 129)) }
        #expect(throws: Never.self) { try CollectionName.validate("products-2026_v1.0") }
    }
}
