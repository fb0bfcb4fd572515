import FlatVecEngine
import FlatVecTestSupport
import Testing

/// One contract, run against every store through the engine: what a write returns is what the
/// collections hold, refused writes change nothing, and a durable store gives it all back on reopen.
@Suite struct StoreContractTests {
    /// A collection's declared attributes and rows: what must survive a reopen.
    struct Contents: Equatable {
        var attributes: [AttributeDefinition]
        var rows: [StoredVector]
    }

    /// Every row (ids below 400) of every collection.
    static func contents(_ engine: Engine) throws -> [String: Contents] {
        var all: [String: Contents] = [:]
        for c in engine.collections {
            let ids = (0..<Int64(400)).filter { (try? engine.contains(id: $0, in: c.name)) == true }
            all[c.name] = Contents(attributes: c.attributes, rows: try engine.get(ids: ids, from: c.name))
        }
        return all
    }

    static func batch(_ ids: [Int64], dimension: Int = 8, seed: UInt64) throws -> VectorBatch {
        var random = SeededRandom(seed: seed)
        return try VectorBatch(
            dimension: dimension, ids: ids, labels: ids.map { $0 % 7 },
            vectors: ids.flatMap { _ in random.uniformVector(dimension) },
            payloads: ids.map { $0 % 3 == 0 ? nil : Array("{\"sku\":\($0)}".utf8) },
            attributes: ids.map { ["shelf": .keyword("s\($0 % 4)"), "stock": .int64($0 * 3)] }
        )
    }

    @Test(arguments: StoreKind.allCases)
    func everyWriteIsServedAndADurableStoreGivesItBack(kind: StoreKind) async throws {
        let location = try StoreLocation(kind)
        var engine: Engine? = try location.engine()
        let attributes = [try AttributeDefinition(name: "shelf", type: .keyword), try AttributeDefinition(name: "stock", type: .int64)]
        try engine!.createCollection("shop", dimension: 8, metric: .cosine, attributes: attributes)
        try engine!.createCollection("gone", dimension: 3)
        try engine!.createCollection("plain", dimension: 2)
        let first = try engine!.add(Self.batch(Array(0..<200), seed: 1), to: "shop")
        #expect(first.inserted == 200 && first.replaced == 0)
        let second = try engine!.add(Self.batch(Array(150..<300), seed: 2), to: "shop")
        #expect(second.inserted == 100 && second.replaced == 50)
        try engine!.remove(ids: Array(stride(from: 0, to: 300, by: 7)), from: "shop")
        try engine!.update([RowUpdate(id: 1, label: 99, payload: .clear, set: ["shelf": .keyword("front")], clear: ["stock"])], in: "shop")
        try engine!.addAttribute(try AttributeDefinition(name: "visible", type: .bool), to: "shop")
        try engine!.update([RowUpdate(id: 2, set: ["visible": .bool(true)])], in: "shop")
        try engine!.dropAttribute(named: "stock", from: "shop")
        try engine!.add(VectorBatch(id: 5, label: 1, vector: [1, 2]), to: "plain")
        try engine!.dropCollection("gone")
        // A batch above a MiB: staged by the local store, stored whole by the others.
        try engine!.createCollection("wide", dimension: 1_024, attributes: attributes)
        let wide = try engine!.add(Self.batch(Array(0..<400), dimension: 1_024, seed: 3), to: "wide")
        #expect(wide.inserted == 400)

        let served = try Self.contents(engine!)
        #expect(served.keys.sorted() == ["plain", "shop", "wide"])
        #expect(served["wide"]!.rows.count == 400)
        #expect(served["shop"]!.rows.count == 300 - 43)
        #expect(served["shop"]!.attributes.map(\.name) == ["shelf", "visible"])
        let one = try engine!.get(ids: [1, 2], from: "shop")
        #expect(one[0].label == 99 && one[0].payload == nil && one[0].attributes == ["shelf": .keyword("front")])
        #expect(one[1].attributes["visible"] == .bool(true))
        let query = try engine!.get(ids: [10], from: "shop")[0].vector
        let filtered = SearchOptions(k: 3, filter: try Filter(parsing: "shelf = \"s2\""))
        let hits = try engine!.search(query, in: "shop", options: filtered)
        #expect(hits.first?.id == 10)
        let ranked = try engine!.search(query, in: "shop", options: SearchOptions(k: 50, includePayloads: true, includeAttributes: true))

        await engine!.close()
        #expect(throws: FlatVecError.self) { try engine!.add(VectorBatch(id: 1, label: 1, vector: [1, 2]), to: "plain") }
        engine = nil
        let reopened = try location.engine()
        let loaded = try Self.contents(reopened)
        if kind.isDurable {
            #expect(loaded == served)
            #expect(try reopened.search(query, in: "shop", options: filtered) == hits)
            #expect(try reopened.search(query, in: "shop", options: SearchOptions(k: 50, includePayloads: true, includeAttributes: true)) == ranked)
        } else {
            #expect(loaded.isEmpty)
        }
        await reopened.close()
    }

    @Test(arguments: StoreKind.allCases)
    func refusedWritesNameTheirProblemAndChangeNothing(kind: StoreKind) async throws {
        let location = try StoreLocation(kind)
        let engine = try location.engine()
        try engine.createCollection("c", dimension: 4)
        try engine.add(VectorBatch(dimension: 4, ids: [1, 2], labels: [0, 0], vectors: [1, 0, 0, 0, 0, 1, 0, 0]), to: "c")
        let before = try Self.contents(engine)
        func refused(_ code: FlatVecError.Code, _ body: () throws(FlatVecError) -> Void) {
            do {
                try body()
                Issue.record("accepted; expected \(code)")
            } catch {
                #expect(error.code == code, "\(error)")
            }
        }
        refused(.collectionExists) { () throws(FlatVecError) in try engine.createCollection("c", dimension: 4) }
        refused(.unknownCollection) { () throws(FlatVecError) in try engine.dropCollection("nope") }
        refused(.invalidArgument) { () throws(FlatVecError) in try engine.createCollection("bad name", dimension: 4) }
        refused(.dimensionMismatch) { () throws(FlatVecError) in try engine.add(VectorBatch(id: 3, label: 0, vector: [1, 2]), to: "c") }
        refused(.invalidVector) { () throws(FlatVecError) in try engine.add(VectorBatch(id: 3, label: 0, vector: [.nan, 0, 0, 1]), to: "c") }
        refused(.unknownID) { () throws(FlatVecError) in try engine.remove(ids: [1, 9], from: "c") }
        refused(.unknownID) { () throws(FlatVecError) in try engine.update([RowUpdate(id: 9, label: 1)], in: "c") }
        refused(.invalidArgument) { () throws(FlatVecError) in try engine.dropAttribute(named: "nope", from: "c") }
        #expect(try Self.contents(engine) == before)
        await engine.close()
        if kind.isDurable {
            let reopened = try location.engine()
            #expect(try Self.contents(reopened) == before)
            await reopened.close()
        }
    }

    /// Two names sharing their first 60 bytes: a PostgreSQL store (tables `fv_<name>` within 63-byte
    /// identifiers) refuses the longer ones up front with `invalid_argument` naming the limit; the
    /// others hold them as distinct collections. Either way later writes go on.
    @Test(arguments: StoreKind.allCases)
    func namesSharingALongPrefixAreDistinctOrRefused(kind: StoreKind) async throws {
        let location = try StoreLocation(kind)
        let engine = try location.engine()
        let prefix = String(repeating: "n", count: 59)
        let sixty = [prefix + "a", prefix + "b"]
        let longer = [prefix + "aa1", prefix + "aa2"]
        for name in sixty { try engine.createCollection(name, dimension: 2) }
        try engine.add(VectorBatch(id: 1, label: 0, vector: [1, 0]), to: sixty[0])
        try engine.add(VectorBatch(id: 2, label: 0, vector: [0, 1]), to: sixty[1])
        #expect(try engine.get(ids: [1], from: sixty[0]).count == 1)
        #expect(try engine.contains(id: 1, in: sixty[1]) == false)
        for name in longer {
            do {
                try engine.createCollection(name, dimension: 2)
                #expect(kind != .postgres, "PostgreSQL would cut '\(name)' to 63 bytes")
            } catch {
                #expect(kind == .postgres, "\(error)")
                #expect(error.code == .invalidArgument && error.message.contains("at most 60 bytes"), "\(error)")
            }
        }
        // The store still takes writes.
        try engine.createCollection("after", dimension: 2)
        try engine.add(VectorBatch(id: 3, label: 0, vector: [1, 1]), to: "after")
        let expected = kind == .postgres ? sixty + ["after"] : sixty + longer + ["after"]
        #expect(engine.collections.map(\.name) == expected.sorted())
        await engine.close()
    }
}
