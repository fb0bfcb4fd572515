import FlatVecCore
import FlatVecProtocol
@testable import FlatVecStorage
import NIOCore
import Testing

/// The log's record format (proto-spec/LOG.md) is its own, but byte for byte the one servers wrote
/// before it had its own codec, so their logs still replay.
@Suite struct LogRecordTests {
    static func legacy(_ type: UInt8, _ encode: (inout ByteBuffer) -> Void) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeInteger(type)
        encode(&buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func recordsKeepTheFormatOfEarlierLogsAndRoundTrip() throws {
        let batch = try VectorBatch(
            dimension: 3, ids: [7, -2], labels: [1, 99], vectors: [0.5, -1, 2, 0, 0, 1e-30], payloads: [Array("{\"a\":1}".utf8), nil]
        )
        let plain = try VectorBatch(dimension: 3, ids: [1], labels: [0], vectors: [1, 2, 3])
        let cases: [(LogRecord, [UInt8])] = [
            (.create(name: "products", dimension: 512, metric: .cosine, attributes: []),
             Self.legacy(1) { CreateCollectionRequest(name: "products", dimension: 512, metric: .cosine).encode(into: &$0) }),
            (.drop(name: "products"), Self.legacy(2) { Request.dropCollection("products").encode(into: &$0) }),
            (.add(collection: "p", batch: batch), Self.legacy(3) { AddRequest(collection: "p", batch: batch).encode(into: &$0) }),
            (.add(collection: "p", batch: plain), Self.legacy(3) { AddRequest(collection: "p", batch: plain).encode(into: &$0) }),
            (.remove(collection: "p", ids: [3, 4, 5]), Self.legacy(4) { IDListRequest(collection: "p", ids: [3, 4, 5]).encode(into: &$0) }),
        ]
        for (record, bytes) in cases {
            #expect(record.encoded() == bytes, "\(record)")
            #expect(try LogRecord.decode(bytes) == record)
        }
    }

    @Test func damagedBodiesAreCorruptDataNotCrashes() {
        let good = LogRecord.add(collection: "p", batch: VectorBatch(id: 1, label: 0, vector: [1, 2])).encoded()
        for cut in 0..<good.count {
            #expect(throws: FlatVecError.self) { try LogRecord.decode(Array(good[0..<cut])) }
        }
        var huge = good
        huge[6] = 0xFF  // n = 255 vectors in a body that holds one
        #expect(throws: FlatVecError.self) { try LogRecord.decode(huge) }
        #expect(throws: FlatVecError.self) { try LogRecord.decode([9]) }
    }
}
