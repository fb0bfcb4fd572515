import FlatVecModel
import FlatVecProtocol
import Foundation
import NIOCore
import Testing

/// One frame of proto-spec/vectors: its file name, what it holds, and the message itself.
struct TestVector: Sendable, CustomTestStringConvertible {
    enum Message: Sendable {
        case request(Request)
        case response(Response, opcode: Opcode)
    }

    let name: String
    let description: String
    let requestID: UInt64
    let message: Message

    var testDescription: String { name }

    func encoded() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        switch message {
        case .request(let r): FrameEncoder().encode(r, requestID: requestID, into: &buffer)
        case .response(let r, let opcode): FrameEncoder().encode(r, opcode: opcode, requestID: requestID, into: &buffer)
        }
        return buffer
    }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proto-spec/vectors")

    static let all: [TestVector] = {
        let batch = try! VectorBatch(
            dimension: 2, ids: [7, -1], labels: [100, 100], vectors: [1.0, 0.5, -2.0, 0.0],
            payloads: [Array(#"{"image":"a.jpg"}"#.utf8), nil]
        )
        let plain = try! VectorBatch(dimension: 3, ids: [42], labels: [9], vectors: [0.25, 0.5, 1.0])
        return [
            TestVector(name: "hello-request", description: "HELLO request id 1: versions 1...1, token \"s3cret\", client \"demo\"", requestID: 1,
                       message: .request(.hello(HelloRequest(minVersion: 1, maxVersion: 1, token: "s3cret", clientName: "demo")))),
            TestVector(name: "hello-reply", description: "HELLO reply to id 1: version 1, role admin (2), max frame 67108864, max k 10000, max batch 1000000, server \"flatvec 0.1.0\"", requestID: 1,
                       message: .response(.hello(HelloResponse(version: 1, role: .admin, maxFrameBytes: 64 << 20, maxK: 10_000, maxBatch: 1_000_000, server: "flatvec 0.1.0")), opcode: .hello)),
            TestVector(name: "ping-request", description: "PING request id 2 with the 3 bytes 01 02 03", requestID: 2, message: .request(.ping([1, 2, 3]))),
            TestVector(name: "ping-reply", description: "PING reply to id 2 echoing 01 02 03", requestID: 2, message: .response(.pong([1, 2, 3]), opcode: .ping)),
            TestVector(name: "create-collection-request", description: "CREATE_COLLECTION request id 3: name \"products\", dimension 512, metric cosine (1)", requestID: 3,
                       message: .request(.createCollection(CreateCollectionRequest(name: "products", dimension: 512, metric: .cosine)))),
            TestVector(name: "create-collection-reply", description: "CREATE_COLLECTION reply to id 3: empty payload", requestID: 3, message: .response(.done, opcode: .createCollection)),
            TestVector(name: "drop-collection-request", description: "DROP_COLLECTION request id 4: name \"old\"", requestID: 4, message: .request(.dropCollection("old"))),
            TestVector(name: "drop-collection-reply", description: "DROP_COLLECTION reply to id 4: empty payload", requestID: 4, message: .response(.done, opcode: .dropCollection)),
            TestVector(name: "list-collections-request", description: "LIST_COLLECTIONS request id 5: empty payload", requestID: 5, message: .request(.listCollections)),
            TestVector(name: "list-collections-reply", description: "LIST_COLLECTIONS reply to id 5: one collection \"products\", dimension 512, metric ip (0), count 3000", requestID: 5,
                       message: .response(.collections([CollectionInfo(name: "products", dimension: 512, metric: .innerProduct, count: 3000)]), opcode: .listCollections)),
            TestVector(name: "add-request", description: "ADD request id 6 to \"p\": 2 vectors of dimension 2 with payloads; id 7 label 100 [1.0, 0.5] payload {\"image\":\"a.jpg\"}; id -1 label 100 [-2.0, 0.0] no payload", requestID: 6,
                       message: .request(.add(AddRequest(collection: "p", batch: batch)))),
            TestVector(name: "add-request-without-payloads", description: "ADD request id 7 to \"p\": 1 vector of dimension 3, no payloads; id 42 label 9 [0.25, 0.5, 1.0]", requestID: 7,
                       message: .request(.add(AddRequest(collection: "p", batch: plain)))),
            TestVector(name: "add-reply", description: "ADD reply to id 6: 1 inserted, 1 replaced", requestID: 6, message: .response(.added(AddResponse(inserted: 1, replaced: 1)), opcode: .add)),
            TestVector(name: "remove-request", description: "REMOVE request id 8 from \"p\": ids 7 and 42", requestID: 8, message: .request(.remove(IDListRequest(collection: "p", ids: [7, 42])))),
            TestVector(name: "remove-reply", description: "REMOVE reply to id 8: 2 removed", requestID: 8, message: .response(.removed(2), opcode: .remove)),
            TestVector(name: "get-request", description: "GET request id 9 from \"p\": with vectors and payloads (flags 3), id 7", requestID: 9,
                       message: .request(.get(GetRequest(collection: "p", ids: [7], withVectors: true, withPayloads: true)))),
            TestVector(name: "get-reply", description: "GET reply to id 9: flags 3, dimension 2, one row: id 7, label 100, [1.0, 0.5], payload \"x\"", requestID: 9,
                       message: .response(.got(GetResponse(dimension: 2, withVectors: true, withPayloads: true, rows: [StoredVector(id: 7, label: 100, vector: [1.0, 0.5], payload: Array("x".utf8))])), opcode: .get)),
            TestVector(name: "search-request", description: "SEARCH request id 10 on \"p\": k 5, flags 0x1b (group by label, payloads, min score, label filter), min score 0.5, labels [3, 100], 1 query of dimension 2 [1.0, 0.0]", requestID: 10,
                       message: .request(.search(SearchRequest(collection: "p", dimension: 2, queries: [1.0, 0.0], options: SearchOptions(k: 5, minScore: 0.5, labels: [100, 3], groupByLabel: true, includePayloads: true))))),
            TestVector(name: "search-request-plain", description: "SEARCH request id 11 on \"p\": k 10, no options, 2 queries of dimension 2 [0.0, 1.0] and [1.0, 1.0]", requestID: 11,
                       message: .request(.search(SearchRequest(collection: "p", dimension: 2, queries: [0, 1, 1, 1], options: SearchOptions(k: 10))))),
            TestVector(name: "search-reply", description: "SEARCH reply to id 10: flags 2 (payloads), dimension 2, 1 query with 2 hits: id 7 label 100 score 1.0 payload {\"image\":\"a.jpg\"}; id -1 label 3 score -2.0 no payload", requestID: 10,
                       message: .response(.searched(SearchResponse(withPayloads: true, withVectors: false, dimension: 2, results: [[
                           SearchHit(id: 7, label: 100, score: 1.0, payload: Array(#"{"image":"a.jpg"}"#.utf8)), SearchHit(id: -1, label: 3, score: -2.0),
                       ]])), opcode: .search)),
            TestVector(name: "search-reply-vectors", description: "SEARCH reply to id 11: flags 4 (vectors), dimension 2, 2 queries: first 1 hit id 7 label 100 score 0.5 vector [1.0, 0.5]; second no hits", requestID: 11,
                       message: .response(.searched(SearchResponse(withPayloads: false, withVectors: true, dimension: 2, results: [[SearchHit(id: 7, label: 100, score: 0.5, vector: [1.0, 0.5])], []])), opcode: .search)),
            TestVector(name: "stats-request", description: "STATS request id 12: empty payload", requestID: 12, message: .request(.stats(storage: false))),
            TestVector(name: "stats-request-storage", description: "STATS request id 13 (revision 4): flags 1 (storage figures)", requestID: 13, message: .request(.stats(storage: true))),
            TestVector(name: "stats-reply-storage", description: "STATS reply to id 13 (revision 4): uptime 2000 ms, BLAS \"OpenBLAS 0.3.21\" kernel \"Cooperlake\", 1 open / 1 total connections, collection \"p\" (2, ip, 2 vectors, 8192 bytes, 0 skipped rows, scan int8 (1), 2048 code bytes, 0 rows bounded, 0 rescored, not following), no operations, then the storage figures: 12288 mapped bytes, 16384 disk bytes", requestID: 13,
                       message: .response(.stats(StatsResponse(
                           uptimeMillis: 2000, blasLibrary: "OpenBLAS 0.3.21", blasKernel: "Cooperlake", openConnections: 1, totalConnections: 1,
                           collections: [.init(
                               name: "p", dimension: 2, metric: .innerProduct, count: 2, memoryBytes: 8192, scan: .int8, codeBytes: 2048,
                               mappedBytes: 12288, diskBytes: 16384
                           )],
                           operations: []
                       )), opcode: .stats)),
            TestVector(name: "stats-reply", description: "STATS reply to id 12: uptime 1500 ms, BLAS \"OpenBLAS 0.3.21\" kernel \"Haswell\", 1 open / 3 total connections, collection \"p\" (2, ip, 2 vectors, 4096 bytes, 1 skipped row, scan int8 (1), 1024 code bytes, 300 rows bounded, 12 rescored, following (1) at log position 9001 with 3 pending changes, lag 40 ms), SEARCH: 10 requests, 1 error, p50 100 us, p90 200 us, p99 300 us, max 400 us", requestID: 12,
                       message: .response(.stats(StatsResponse(
                           uptimeMillis: 1500, blasLibrary: "OpenBLAS 0.3.21", blasKernel: "Haswell", openConnections: 1, totalConnections: 3,
                           collections: [.init(
                               name: "p", dimension: 2, metric: .innerProduct, count: 2, memoryBytes: 4096, skippedRows: 1,
                               scan: .int8, codeBytes: 1024, rowsBounded: 300, rowsRescored: 12,
                               following: true, logPosition: 9001, pendingChanges: 3, lagMillis: 40
                           )],
                           operations: [.init(opcode: .search, requests: 10, errors: 1, p50Micros: 100, p90Micros: 200, p99Micros: 300, maxMicros: 400)]
                       )), opcode: .stats)),
            TestVector(name: "rebuild-request", description: "REBUILD request id 14: collection \"products\" (an empty name rebuilds all)", requestID: 14, message: .request(.rebuild("products"))),
            TestVector(name: "rebuild-reply", description: "REBUILD reply to id 14: one collection \"products\", dimension 512, metric ip (0), count 3001, 2 rows skipped", requestID: 14,
                       message: .response(.rebuilt([CollectionInfo(name: "products", dimension: 512, metric: .innerProduct, count: 3001, skippedRows: 2)]), opcode: .rebuild)),
            TestVector(name: "create-collection-request-attributes", description: "CREATE_COLLECTION request id 15: name \"shop\", dimension 2, metric ip (0), attributes visible bool (1), category keyword (4)", requestID: 15,
                       message: .request(.createCollection(CreateCollectionRequest(
                           name: "shop", dimension: 2, metric: .innerProduct,
                           attributes: [try! AttributeDefinition(name: "visible", type: .bool), try! AttributeDefinition(name: "category", type: .keyword)]
                       )))),
            TestVector(name: "add-attribute-request", description: "ADD_ATTRIBUTE request id 16 on \"shop\": price float64 (3)", requestID: 16,
                       message: .request(.addAttribute(collection: "shop", definition: try! AttributeDefinition(name: "price", type: .float64)))),
            TestVector(name: "drop-attribute-request", description: "DROP_ATTRIBUTE request id 17 on \"shop\": price", requestID: 17,
                       message: .request(.dropAttribute(collection: "shop", name: "price"))),
            TestVector(name: "add-request-attributes", description: "ADD request id 18 to \"shop\": flags 2 (attributes), 1 vector of dimension 2; id 5 label 1 [1.0, 0.0] with category \"shoes\" (keyword), visible true (bool)", requestID: 18,
                       message: .request(.add(AddRequest(collection: "shop", batch: try! VectorBatch(
                           dimension: 2, ids: [5], labels: [1], vectors: [1, 0], attributes: [["visible": .bool(true), "category": .keyword("shoes")]]
                       ))))),
            TestVector(name: "update-request", description: "UPDATE request id 19 on \"shop\": id 5: flags 5 (label, clear payload), label 2, set price 9.5 (float64), clear category", requestID: 19,
                       message: .request(.update(UpdateRequest(collection: "shop", updates: [
                           RowUpdate(id: 5, label: 2, payload: .clear, set: ["price": .float64(9.5)], clear: ["category"]),
                       ])))),
            TestVector(name: "update-reply", description: "UPDATE reply to id 19: 1 updated", requestID: 19, message: .response(.updated(1), opcode: .update)),
            TestVector(name: "search-request-filters", description: "SEARCH request id 20 on \"shop\": k 3, flags 0x60 (filters, with attributes), 2 queries of dimension 2 [1.0, 0.0] and [0.0, 1.0], filter mode 2 (one per query): first `visible and category in (\"shoes\", \"boots\")`, second `not price < 10` (int64 10), both as trees", requestID: 20,
                       message: .request(.search(SearchRequest(
                           collection: "shop", dimension: 2, queries: [1, 0, 0, 1], options: SearchOptions(k: 3, includeAttributes: true),
                           queryFilters: [
                               .and([.comparison(.attribute("visible"), .equal, .bool(true)), .oneOf(.attribute("category"), [.keyword("shoes"), .keyword("boots")])]),
                               .not(.comparison(.attribute("price"), .less, .int64(10))),
                           ]
                       )))),
            TestVector(name: "search-request-stored-ids", description: "SEARCH request id 21 on \"shop\": k 2, flags 0xa0 (filters, stored ids), 1 query: stored id 5 excluding itself, filter mode 1: `id != 7`", requestID: 21,
                       message: .request(.search(SearchRequest(
                           collection: "shop", storedIDs: [5], excludingThemselves: true,
                           options: SearchOptions(k: 2, filter: .comparison(.id, .notEqual, .int64(7)))
                       )))),
            TestVector(name: "search-reply-filters", description: "SEARCH reply to id 20: flags 0x40 (attributes), dimension 2, 2 queries, no hits for either (after update-request, id 5 has no category and a price of 9.5, so neither filter holds)", requestID: 20,
                       message: .response(.searched(SearchResponse(withPayloads: false, withVectors: false, withAttributes: true, dimension: 2, results: [
                           [], [],
                       ])), opcode: .search)),
            TestVector(name: "search-request-attributes", description: "SEARCH request id 24 on \"shop\": k 1, flags 0x40 (with attributes), 1 query of dimension 2 [1.0, 0.0], no filter", requestID: 24,
                       message: .request(.search(SearchRequest(
                           collection: "shop", dimension: 2, queries: [1, 0], options: SearchOptions(k: 1, includeAttributes: true)
                       )))),
            TestVector(name: "search-reply-attributes", description: "SEARCH reply to id 24: flags 0x40 (attributes), dimension 2, 1 query: 1 hit id 5 label 2 score 1.0 with price 9.5, visible true (category null: left out)", requestID: 24,
                       message: .response(.searched(SearchResponse(withPayloads: false, withVectors: false, withAttributes: true, dimension: 2, results: [
                           [SearchHit(id: 5, label: 2, score: 1.0, attributes: ["price": .float64(9.5), "visible": .bool(true)])],
                       ])), opcode: .search)),
            TestVector(name: "search-request-range", description: "SEARCH request id 25 on \"shop\": k 0 (a range search), flags 0x08 (min_score), min_score 0.5, 1 query of dimension 2 [1.0, 0.0]", requestID: 25,
                       message: .request(.search(SearchRequest(
                           collection: "shop", dimension: 2, queries: [1, 0], options: {
                               var options = SearchOptions.range(minScore: 0.5)
                               options.k = FlatVecLimits.defaultRangeHits
                               return options
                           }()
                       )))),
            TestVector(name: "search-reply-range", description: "SEARCH reply to id 25: flags 0x08 (a range reply), dimension 2, 1 query: 2 hits id 5 label 2 score 1.0 and id 9 label 2 score 0.5, then truncated 1 (the server's limit was 2)", requestID: 25,
                       message: .response(.searched(SearchResponse(withPayloads: false, withVectors: false, dimension: 2, results: [
                           [SearchHit(id: 5, label: 2, score: 1.0), SearchHit(id: 9, label: 2, score: 0.5)],
                       ], truncated: [true])), opcode: .search)),
            TestVector(name: "add-request-reject-duplicates", description: "ADD request id 28 to \"shop\": 1 vector of dimension 2, flags 0x04 (reject_duplicates_above follows the vectors), id 9, label 2, [0.6, 0.8], reject_duplicates_above 0.95", requestID: 28,
                       message: .request(.add(AddRequest(
                           collection: "shop", batch: try! VectorBatch(dimension: 2, ids: [9], labels: [2], vectors: [0.6, 0.8]), rejectDuplicatesAbove: 0.95
                       )))),
            TestVector(name: "error-reply-duplicate-vector", description: "error reply to ADD id 28: code 19 duplicate_vector, message listing id 9 against stored id 4", requestID: 28,
                       message: .response(.error(ErrorResponse(code: 19, message: "1 new vector duplicates another at or above 0.95, nothing was added: id 9 ~ stored id 4 (0.96)")), opcode: .add)),
            TestVector(name: "backup-request", description: "BACKUP request id 29: cursor 0 (start a backup), max_bytes 4194304, flags 0", requestID: 29,
                       message: .request(.backup(BackupRequest(cursor: 0, maxBytes: 4 << 20)))),
            TestVector(name: "backup-reply", description: "BACKUP reply to id 29: cursor 0x0A0B0C0D0E0F1011, file \"wal.3.log\", file_length 10, offset 4, data 3 bytes 01 02 03", requestID: 29,
                       message: .response(.backup(BackupResponse(cursor: 0x0A0B_0C0D_0E0F_1011, file: "wal.3.log", fileLength: 10, offset: 4, data: [1, 2, 3])), opcode: .backup)),
            TestVector(name: "search-request-groups", description: "SEARCH request id 27 on \"shop\": k 2, flags 0x01 (group by label), 3 queries of dimension 2 [1.0, 0.0], [0.5, 0.5], [0.0, 1.0], then extensions 0x03: group_size 3, 2 query groups of 2 and 1 vectors, aggregate 1 (max)", requestID: 27,
                       message: .request(.search({
                           var options = SearchOptions(k: 2, groupByLabel: true)
                           options.groupSize = 3
                           var request = SearchRequest(collection: "shop", dimension: 2, queries: [1, 0, 0.5, 0.5, 0, 1], options: options)
                           request.queryGroups = QueryGroups(sizes: [2, 1], aggregate: .max)
                           return request
                       }()))),
            TestVector(name: "duplicates-request-start", description: "DUPLICATES request id 26 on \"shop\": min_score 0.875, cursor 0 (a new sweep), max_pairs 1000, flags 0x01 (a filter follows): `visible = true` as a tree", requestID: 26,
                       message: .request(.duplicates(DuplicatesRequest(
                           collection: "shop", minScore: 0.875, cursor: 0, maxPairs: 1_000, filter: .comparison(.attribute("visible"), .equal, .bool(true))
                       )))),
            TestVector(name: "duplicates-reply", description: "DUPLICATES reply to id 26: cursor 0x0123456789ABCDEF (more pages follow), 2048 of 100000 rows done, 0 truncated rows, 2 pairs: (5, 9) score 0.96875 and (7, 12) score 0.875", requestID: 26,
                       message: .response(.duplicates(DuplicatesResponse(cursor: 0x0123_4567_89AB_CDEF, page: DuplicatePage(
                           pairs: [DuplicatePair(5, 9, score: 0.968_75), DuplicatePair(7, 12, score: 0.875)], finished: false,
                           rowsDone: 2_048, rowsTotal: 100_000, truncatedRows: 0
                       ))), opcode: .duplicates)),
            TestVector(name: "get-reply-attributes", description: "GET reply: flags 4 (attributes), dimension 2, one row: id 5, label 2, attributes price 9.5, visible true", requestID: 22,
                       message: .response(.got(GetResponse(dimension: 2, withVectors: false, withPayloads: false, withAttributes: true, rows: [
                           StoredVector(id: 5, label: 2, vector: [], payload: nil, attributes: ["price": .float64(9.5), "visible": .bool(true)]),
                       ])), opcode: .get)),
            TestVector(name: "describe-collection-request", description: "DESCRIBE_COLLECTION request id 23: name \"shop\"", requestID: 23,
                       message: .request(.describeCollection("shop"))),
            TestVector(name: "describe-collection-reply", description: "DESCRIBE_COLLECTION reply to id 23: \"shop\", dimension 2, metric ip (0), count 3, attributes visible bool (1), category keyword (4)", requestID: 23,
                       message: .response(.described(CollectionDescription(
                           name: "shop", dimension: 2, metric: .innerProduct, count: 3,
                           attributes: [try! AttributeDefinition(name: "visible", type: .bool), try! AttributeDefinition(name: "category", type: .keyword)]
                       )), opcode: .describeCollection)),
            TestVector(name: "error-reply", description: "error reply to SEARCH id 13: code 5 unknown_collection, message \"no collection named 'q'\"", requestID: 13,
                       message: .response(.error(ErrorResponse(code: 5, message: "no collection named 'q'")), opcode: .search)),
            TestVector(name: "error-reply-bad-frame", description: "error reply with request id 0 and opcode 0 after a declared length too large: code 1 bad_frame; the server then closes the connection", requestID: 0,
                       message: .response(.error(ErrorResponse(code: 1, message: "declared frame length 4294967295 exceeds the maximum 65536")), opcode: Opcode(rawValue: 0))),
        ]
    }()

    func fileText() -> String {
        let bytes = Array(encoded().readableBytesView)
        var lines = ["# \(description)", "# \(bytes.count) bytes"]
        for start in stride(from: 0, to: bytes.count, by: 16) {
            lines.append(bytes[start..<min(start + 16, bytes.count)].map { String(format: "%02x", $0) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parseHex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            for token in line.split(separator: " ") { bytes.append(UInt8(token, radix: 16)!) }
        }
        return bytes
    }
}

@Suite struct TestVectorTests {
    @Test func vectorFilesAreCurrent() throws {
        if ProcessInfo.processInfo.environment["FLATVEC_WRITE_VECTORS"] != nil {
            for vector in TestVector.all {
                try vector.fileText().write(to: TestVector.directory.appendingPathComponent("\(vector.name).hex"), atomically: true, encoding: .utf8)
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: TestVector.directory.path).filter { $0.hasSuffix(".hex") }
        #expect(Set(files) == Set(TestVector.all.map { "\($0.name).hex" }))
    }

    @Test(arguments: TestVector.all)
    func decodesAndReencodesByteForByte(vector: TestVector) throws {
        let text = try String(contentsOf: TestVector.directory.appendingPathComponent("\(vector.name).hex"), encoding: .utf8)
        let bytes = TestVector.parseHex(text)
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        let frame = try #require(try FrameDecoder.decodeFrame(from: &buffer, maximumLength: .max))
        #expect(buffer.readableBytes == 0)
        #expect(frame.header.requestID == vector.requestID)
        var payload = frame.payload
        var reencoded = ByteBufferAllocator().buffer(capacity: bytes.count)
        switch vector.message {
        case .request(let expected):
            #expect(!frame.header.flags.contains(.reply))
            let decoded = try Request.decode(opcode: frame.header.opcode, payload: &payload, limits: ProtocolLimits())
            #expect(decoded == expected)
            FrameEncoder().encode(decoded, requestID: frame.header.requestID, into: &reencoded)
        case .response(let expected, let opcode):
            #expect(frame.header.flags.contains(.reply))
            #expect(frame.header.opcode == opcode)
            let decoded = try Response.decode(opcode: frame.header.opcode, isError: frame.header.flags.contains(.error), payload: &payload)
            #expect(decoded == expected)
            FrameEncoder().encode(decoded, opcode: frame.header.opcode, requestID: frame.header.requestID, into: &reencoded)
        }
        #expect(Array(reencoded.readableBytesView) == bytes)
    }
}
