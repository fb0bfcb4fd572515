import FlatVecModel
@testable import FlatVecProtocol
import FlatVecTestSupport
import NIOCore
import Testing

/// The wire form of filters and attribute values (PROTOCOL.md 4.5).
@Suite struct FilterCodingTests {
    @Test func randomFiltersRoundTripThroughTheWire() throws {
        var random = SeededRandom(seed: 2)
        for _ in 0..<1_000 {
            let filter = random.filter(ids: [1, -5, .max], labels: 9, depth: 5)
            var buffer = ByteBufferAllocator().buffer(capacity: 64)
            buffer.writeFilter(filter)
            var nodes = 0
            #expect(try buffer.readFilter(nodes: &nodes) == filter)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func textNodesAreParsedAndBadOnesNameTheOffset() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeU8(7)
        buffer.writeFlatVecString("visible and price >= 2.5")
        var nodes = 0
        #expect(try buffer.readFilter(nodes: &nodes) == .and([
            .comparison(.attribute("visible"), .equal, .bool(true)), .comparison(.attribute("price"), .greaterOrEqual, .float64(2.5)),
        ]))
        var bad = ByteBufferAllocator().buffer(capacity: 64)
        bad.writeU8(7)
        bad.writeFlatVecString("visible and (price >= ")
        nodes = 0
        do {
            _ = try bad.readFilter(nodes: &nodes)
            Issue.record("a malformed text filter decoded")
        } catch {
            #expect(error.code == .invalidArgument && error.message.contains("offset 22"), "\(error.message)")
        }
    }

    @Test func malformedFilterNodesAreRefused() {
        let cases: [([UInt8], FlatVecError.Code)] = [
            ([9], .invalidArgument),  // unknown tag
            ([1, 4], .invalidArgument),  // unknown field kind
            ([1, 1, 9, 2, 0, 0, 0, 0, 0, 0, 0, 0], .invalidArgument),  // unknown operator
            ([1, 1, 1, 1, 2], .invalidArgument),  // bool of 2
            ([1, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F], .invalidArgument),  // NaN
            ([1, 1, 1, 9, 0], .invalidArgument),  // unknown value type
            ([4, 2, 0, 3, 1], .badFrame),  // ends inside the second part
            (Array(repeating: 6, count: 40) + [3, 1], .limitExceeded),  // too deep
        ]
        for (bytes, code) in cases {
            var buffer = ByteBufferAllocator().buffer(capacity: 16)
            buffer.writeBytes(bytes)
            var nodes = 0
            do {
                _ = try buffer.readFilter(nodes: &nodes)
                Issue.record("\(bytes) decoded")
            } catch {
                #expect(error.code == code, "\(bytes): \(error)")
            }
        }
    }
}
