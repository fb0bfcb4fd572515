import FlatVecStorage
import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Synchronization
import Testing

/// A store whose writes fail on demand, to check that a store failure changes nothing.
final class FlakyStore: DurableStore, Sendable {
    let failing = Atomic<Bool>(false)
    var description: String { "flaky test store" }
    func loadCollections() throws(FlatVecError) -> [NamedIndex] { [] }
    func createCollection(name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]) throws(FlatVecError) {
        try check()
    }
    func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError) { try check() }
    func dropAttribute(collection: String, name: String) throws(FlatVecError) { try check() }
    func update(collection: String, updates: [RowUpdate]) throws(FlatVecError) { try check() }
    func dropCollection(name: String) throws(FlatVecError) { try check() }
    func add(collection: String, batch: VectorBatch) throws(FlatVecError) { try check() }
    func remove(collection: String, ids: [Int64]) throws(FlatVecError) { try check() }
    private func check() throws(FlatVecError) {
        if failing.load(ordering: .relaxed) { throw FlatVecError(.unavailable, "disk on fire") }
    }
}

@Suite(.timeLimit(.minutes(5))) struct ErrorCodeTests {
    @Test func everyRequestErrorHasItsCodeAndTheConnectionStaysUsable() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            try await client.createCollection("c", dimension: 3)
            try await client.add(collection: "c", batch: VectorBatch(id: 1, label: 0, vector: [1, 2, 3]))
            let e = SecurityTests.expectError
            await e(.unknownCollection, "'nope'") { _ = try await client.search(collection: "nope", queries: [1, 2, 3], dimension: 3, options: SearchOptions()) }
            await e(.collectionExists, "'c'") { try await client.createCollection("c", dimension: 3) }
            await e(.invalidArgument, "letters") { try await client.createCollection("bad name", dimension: 3) }
            await e(.invalidArgument, "dimension 0") { try await client.createCollection("z", dimension: 0) }
            await e(.dimensionMismatch, "dimension 2") { _ = try await client.search(collection: "c", queries: [1, 2], dimension: 2, options: SearchOptions()) }
            await e(.dimensionMismatch, "dimension 4") { try await client.add(collection: "c", batch: VectorBatch(id: 2, label: 0, vector: [1, 2, 3, 4])) }
            await e(.invalidVector, "id 2") { try await client.add(collection: "c", batch: VectorBatch(id: 2, label: 0, vector: [1, .nan, 3])) }
            await e(.invalidVector, "query 0") { _ = try await client.search(collection: "c", queries: [.infinity, 0, 0], dimension: 3, options: SearchOptions()) }
            await e(.duplicateID, "id 5") {
                try await client.add(collection: "c", batch: VectorBatch(dimension: 3, ids: [5, 5], labels: [0, 0], vectors: [1, 1, 1, 2, 2, 2]))
            }
            await e(.unknownID, "id 99") { try await client.remove(collection: "c", ids: [1, 99]) }
            await e(.unknownID, "id 98") { _ = try await client.get(collection: "c", ids: [98]) }
            await e(.limitExceeded, "k = 10001") { _ = try await client.search(collection: "c", queries: [1, 2, 3], dimension: 3, options: SearchOptions(k: 10_001)) }
            await e(.unsupportedVersion, "versions 2...3") { _ = try await client.send(.hello(HelloRequest(minVersion: 2, maxVersion: 3))) }
            // Nothing above changed the collection.
            #expect(try await client.get(collection: "c", ids: [1]).map(\.vector) == [[1, 2, 3]])
            #expect(try await client.listCollections().map(\.count) == [1])
            _ = try await client.ping()
            await client.close()
        }
    }

    @Test func frameLevelErrorsKeepTheConnectionOpenWhileFramingHolds() async throws {
        try await withTestServer { server in
            let raw = try RawConnection(port: server.port)
            // Unknown opcode.
            raw.send([12, 0, 0, 0, 1, 0x77, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0])
            let unknown = raw.readResponse()
            #expect(unknown?.response.errorCode == FlatVecError.Code.badFrame.rawValue)
            #expect(unknown?.header.requestID == 5)
            // Unsupported version in the header.
            raw.send([12, 0, 0, 0, 9, 0x02, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0])
            #expect(raw.readResponse()?.response.errorCode == FlatVecError.Code.unsupportedVersion.rawValue)
            // A reply flag on a request.
            raw.send([12, 0, 0, 0, 1, 0x02, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0])
            #expect(raw.readResponse()?.response.errorCode == FlatVecError.Code.badFrame.rawValue)
            // A payload that does not parse (LIST_COLLECTIONS with a stray byte).
            raw.send([13, 0, 0, 0, 1, 0x12, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0xAA])
            let stray = raw.readResponse()
            #expect(stray?.response.errorCode == FlatVecError.Code.badFrame.rawValue && stray?.header.requestID == 8)
            // Still serving.
            raw.send(.ping([1]), id: 9)
            #expect(raw.readResponse()?.response == .pong([1]))
        }
    }

    @Test func storeFailureIsUnavailableAndChangesNothing() async throws {
        let store = FlakyStore()
        let registry = CollectionRegistry()
        let executor = RequestExecutor(registry: registry, store: store, statistics: ServerStatistics())
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "c", dimension: 2, metric: .innerProduct)))
        _ = try executor.execute(.add(AddRequest(collection: "c", batch: VectorBatch(id: 1, label: 0, vector: [1, 0]))))
        store.failing.store(true, ordering: .relaxed)
        for request in [
            Request.add(AddRequest(collection: "c", batch: VectorBatch(id: 2, label: 0, vector: [0, 1]))),
            .add(AddRequest(collection: "c", batch: VectorBatch(id: 1, label: 5, vector: [0, 1]))),
            .remove(IDListRequest(collection: "c", ids: [1])),
            .createCollection(CreateCollectionRequest(name: "d", dimension: 2, metric: .innerProduct)),
            .dropCollection("c"),
        ] {
            do {
                _ = try executor.execute(request)
                Issue.record("\(request.opcode) succeeded with a failing store")
            } catch {
                #expect(error.code == .unavailable)
                #expect(error.message.contains("disk on fire"))
            }
        }
        let c = try registry.collection(named: "c")
        #expect(c.index.count == 1)
        #expect(try c.index.get(ids: [1]) == [StoredVector(id: 1, label: 0, vector: [1, 0], payload: nil)])
        #expect(registry.all.map(\.name) == ["c"])
    }
}
