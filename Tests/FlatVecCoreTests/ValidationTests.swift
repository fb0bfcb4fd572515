import Testing
@testable import FlatVecCore

@Suite struct ValidationTests {
    /// An index with ids 1...3 and a checksum of its contents, to prove a failed call changed nothing.
    static func seeded(metric: Metric = .innerProduct) throws -> FlatIndex {
        let index = try FlatIndex(dimension: 3, metric: metric)
        try index.add(VectorBatch(
            dimension: 3, ids: [1, 2, 3], labels: [10, 20, 30],
            vectors: [1, 0, 0, 0, 1, 0, 0, 0, 1], payloads: [Array("a".utf8), nil, Array("c".utf8)]
        ))
        return index
    }

    static func expectError(
        _ code: FlatVecError.Code,
        mentioning fragment: String,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("expected \(code), got success")
        } catch let error as FlatVecError {
            #expect(error.code == code, "\(error)")
            #expect(error.message.contains(fragment), "message '\(error.message)' should mention '\(fragment)'")
        } catch {
            Issue.record("expected a FlatVecError, got \(error)")
        }
    }

    @Test func dimensionOutOfRangeIsRejected() {
        Self.expectError(.invalidArgument, mentioning: "16001") { _ = try FlatIndex(dimension: 16_001) }
        Self.expectError(.invalidArgument, mentioning: "0") { _ = try FlatIndex(dimension: 0) }
    }

    @Test func everyBadBatchLeavesTheIndexUnchanged() throws {
        let index = try Self.seeded()
        let before = index.allRows()
        Self.expectError(.dimensionMismatch, mentioning: "dimension 4") {
            try index.add(VectorBatch(dimension: 4, ids: [9], labels: [0], vectors: [1, 2, 3, 4]))
        }
        Self.expectError(.dimensionMismatch, mentioning: "needs 6 floats") {
            try index.add(VectorBatch(dimension: 3, ids: [8, 9], labels: [0, 0], vectors: [1, 2, 3, 4]))
        }
        Self.expectError(.invalidVector, mentioning: "id 9") {
            try index.add(VectorBatch(dimension: 3, ids: [8, 9], labels: [0, 0], vectors: [1, 2, 3, 4, .nan, 6]))
        }
        Self.expectError(.invalidVector, mentioning: "component 2") {
            try index.add(VectorBatch(dimension: 3, ids: [8], labels: [0], vectors: [1, 2, .infinity]))
        }
        Self.expectError(.invalidVector, mentioning: "overflow") {
            try index.add(VectorBatch(dimension: 3, ids: [8], labels: [0], vectors: [1e20, 0, 0]))
        }
        Self.expectError(.duplicateID, mentioning: "id 8") {
            try index.add(VectorBatch(dimension: 3, ids: [8, 2, 8], labels: [0, 0, 0], vectors: Array(repeating: 1, count: 9)))
        }
        Self.expectError(.limitExceeded, mentioning: "65537 bytes") {
            try index.add(VectorBatch(
                dimension: 3, ids: [8], labels: [0], vectors: [1, 1, 1],
                payloads: [Array(repeating: UInt8(ascii: "x"), count: 65_537)]
            ))
        }
        Self.expectError(.invalidArgument, mentioning: "UTF-8") {
            try index.add(VectorBatch(dimension: 3, ids: [8], labels: [0], vectors: [1, 1, 1], payloads: [[0xFF, 0xFE]]))
        }
        Self.expectError(.invalidArgument, mentioning: "labels") {
            try index.add(VectorBatch(dimension: 3, ids: [8], labels: [], vectors: [1, 1, 1]))
        }
        #expect(index.allRows() == before)
    }

    @Test func zeroVectorIsRejectedUnderCosineOnly() throws {
        let cosine = try Self.seeded(metric: .cosine)
        Self.expectError(.invalidVector, mentioning: "zero vector") {
            try cosine.add(VectorBatch(dimension: 3, ids: [5], labels: [0], vectors: [0, 0, 0]))
        }
        Self.expectError(.invalidVector, mentioning: "query 0") { _ = try cosine.search([0, 0, 0]) }
        let ip = try Self.seeded()
        try ip.add(VectorBatch(dimension: 3, ids: [5], labels: [0], vectors: [0, 0, 0]))
        #expect(ip.count == 4)
    }

    @Test func badSearchesAreRejected() throws {
        let index = try Self.seeded()
        Self.expectError(.dimensionMismatch, mentioning: "dimension 2") { _ = try index.search([1, 2]) }
        Self.expectError(.dimensionMismatch, mentioning: "multiple") { _ = try index.search(batch: [1, 2, 3, 4]) }
        Self.expectError(.invalidVector, mentioning: "query 1") { _ = try index.search(batch: [1, 2, 3, 4, .nan, 6]) }
        Self.expectError(.limitExceeded, mentioning: "k = 0") { _ = try index.search([1, 2, 3], options: SearchOptions(k: 0)) }
        Self.expectError(.limitExceeded, mentioning: "k = 10001") {
            _ = try index.search([1, 2, 3], options: SearchOptions(k: 10_001))
        }
        Self.expectError(.invalidArgument, mentioning: "NaN") {
            _ = try index.search([1, 2, 3], options: SearchOptions(k: 1, minScore: .nan))
        }
        #expect(try index.search([1, 2, 3], options: SearchOptions(k: 10_000)).count == 3)
    }

    @Test func removeOfUnknownIDsRemovesNothingAndNamesThem() throws {
        let index = try Self.seeded()
        let before = index.allRows()
        Self.expectError(.unknownID, mentioning: "ids 7, 8") { try index.remove(ids: [1, 7, 2, 8]) }
        Self.expectError(.duplicateID, mentioning: "id 1") { try index.remove(ids: [1, 1]) }
        #expect(index.allRows() == before)
        try index.remove(ids: [1, 3])
        #expect(index.allRows().map(\.id) == [2])
        Self.expectError(.unknownID, mentioning: "id 1") { _ = try index.get(ids: [2, 1]) }
    }

    @Test func getReturnsStoredRowsInTheOrderAsked() throws {
        let index = try Self.seeded()
        let rows = try index.get(ids: [3, 1])
        #expect(rows.map(\.id) == [3, 1])
        #expect(rows[0].label == 30 && rows[0].payload == Array("c".utf8) && rows[0].vector == [0, 0, 1])
        #expect(rows[1].payload == Array("a".utf8))
    }

    @Test func errorCodesAreStable() {
        let codes: [(FlatVecError.Code, UInt16, String)] = [
            (.badFrame, 1, "bad_frame"), (.unsupportedVersion, 2, "unsupported_version"),
            (.unauthenticated, 3, "unauthenticated"), (.forbidden, 4, "forbidden"),
            (.unknownCollection, 5, "unknown_collection"), (.collectionExists, 6, "collection_exists"),
            (.dimensionMismatch, 7, "dimension_mismatch"), (.invalidVector, 8, "invalid_vector"),
            (.unknownID, 9, "unknown_id"), (.limitExceeded, 10, "limit_exceeded"), (.unavailable, 11, "unavailable"),
            (.internalError, 12, "internal"), (.invalidArgument, 13, "invalid_argument"),
            (.duplicateID, 14, "duplicate_id"), (.corruptData, 15, "corrupt_data"), (.ioError, 16, "io_error"),
        ]
        for (code, raw, name) in codes {
            #expect(code.rawValue == raw)
            #expect(code.description == name)
            #expect(FlatVecError.Code(rawValue: raw) == code)
        }
        #expect(FlatVecError.Code(rawValue: 999) == nil)
    }
}
