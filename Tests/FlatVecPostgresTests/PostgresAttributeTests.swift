import FlatVecCore
@testable import FlatVecPostgres
import FlatVecProtocol
import FlatVecServer
import FlatVecStorage
import FlatVecTestSupport
import Foundation
import Testing

/// Attributes as real, typed columns of the pgvector tables: written by FlatVec, read back on restart
/// and REBUILD, changed by other programs with SQL, and queried with SQL to the same filtered top k.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PostgresAttributeTests {
    static func populate(_ executor: RequestExecutor, rows: Int = 1_500) throws -> ReferenceIndex {
        _ = try executor.execute(.createCollection(CreateCollectionRequest(
            name: "products", dimension: 12, metric: .innerProduct, attributes: CatalogueAttributes.definitions
        )))
        var random = SeededRandom(seed: 12)
        var reference = ReferenceIndex(dimension: 12)
        for start in stride(from: 0, to: rows, by: 500) {
            let ids = (start..<min(rows, start + 500)).map(Int64.init)
            var vectors: [Float] = []
            var attributes: [[String: AttributeValue]] = []
            for id in ids {
                let vector = random.quantizedVector(12)
                var values = random.catalogueAttributes()
                if id % 97 == 0 { values["price"] = .float64(0.1 + Double(id) / 3) }  // not a short decimal
                if id == 5 { values["stock"] = .int64(.max) }
                vectors += vector
                attributes.append(values)
                reference.upsert(id: id, label: id % 11, vector: vector, attributes: values)
            }
            _ = try executor.execute(.add(AddRequest(collection: "products", batch: VectorBatch(
                dimension: 12, ids: ids, labels: ids.map { $0 % 11 }, vectors: vectors, attributes: attributes
            ))))
        }
        return reference
    }

    @Test(.enabled(if: TestDatabase.serverURL != nil)) func attributesAreTypedColumnsThatSurviveRestarts() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        var before: [String: [StoredVector]] = [:]
        do {
            let executor = try db.executor()
            var reference = try Self.populate(executor)
            let updates = [
                RowUpdate(id: 3, label: 7, payload: .set(Array("é".utf8)), set: ["visible": .bool(false), "price": .float64(-0.0)], clear: ["category"]),
                RowUpdate(id: 4, set: ["category": .keyword("it's \"quoted\"")]),
            ]
            _ = try executor.execute(.update(UpdateRequest(collection: "products", updates: updates)))
            for u in updates { reference.apply(u) }
            // ADD replaces every attribute: id 6 keeps only stock.
            _ = try executor.execute(.add(AddRequest(collection: "products", batch: VectorBatch(
                id: 6, label: 1, vector: reference.rows[6]!.vector, attributes: ["stock": .int64(-1)]
            ))))
            _ = try executor.execute(.addAttribute(collection: "products", definition: try AttributeDefinition(name: "tier", type: .int64)))
            _ = try executor.execute(.update(UpdateRequest(collection: "products", updates: [RowUpdate(id: 8, set: ["tier": .int64(3)])])))
            _ = try executor.execute(.dropAttribute(collection: "products", name: "visible"))
            before = fingerprint(executor)
        }
        #expect(try db.sql("SELECT category, price, label, payload FROM \"fv_products\" WHERE id = 3") == [[nil, "0", "7", "é"]])
        #expect(try db.sql("SELECT category FROM \"fv_products\" WHERE id = 4") == [["it's \"quoted\""]])
        #expect(try db.sql("SELECT stock, category IS NULL FROM \"fv_products\" WHERE id = 6") == [["-1", "t"]])
        #expect(try db.sql("SELECT stock FROM \"fv_products\" WHERE id = 5") == [["\(Int64.max)"]])
        #expect(try db.sql("SELECT data_type FROM information_schema.columns WHERE table_name = 'fv_products' AND column_name IN ('price', 'tier', 'category', 'stock') ORDER BY column_name")
            == [["text"], ["double precision"], ["bigint"], ["bigint"]])
        #expect(try db.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'fv_products' AND column_name = 'visible'") == [["0"]])
        let restarted = try db.executor()
        #expect(fingerprint(restarted) == before, "every id, label, payload, vector and attribute value read back exactly")
        #expect(restarted.registry.all[0].index.attributes.map(\.name) == ["stock", "price", "category", "tier"])
    }

    /// SQL on the mirror gives FlatVec's filtered top 10, and an UPDATE by another program reaches
    /// FlatVec through REBUILD.
    @Test(.enabled(if: TestDatabase.serverURL != nil)) func sqlOnTheMirrorReturnsTheSameFilteredTopTen() throws {
        let db = try TestDatabase()
        defer { db.drop() }
        let executor = try db.executor()
        _ = try Self.populate(executor)
        var random = SeededRandom(seed: 40)
        let filters: [(String, String)] = [
            (#"visible and category = "shoes""#, "visible AND category = 'shoes'"),
            ("price < 30 or stock >= 15", "price < 30 OR stock >= 15"),
            (#"not (category in ("hats", "bags")) and price is not null"#, "NOT (category IN ('hats', 'bags')) AND price IS NOT NULL"),
            ("label in (1, 2, 3) and not visible", "label IN (1, 2, 3) AND NOT visible"),
            ("stock != 3", "stock <> 3"),
        ]
        for (flatvec, sql) in filters {
            let query = random.quantizedVector(12)
            let literal = "[" + query.map { "\($0)" }.joined(separator: ",") + "]"
            let expected = try db.sql(
                "SELECT id FROM \"fv_products\" WHERE \(sql) ORDER BY embedding <#> $1::vector, id LIMIT 10", [literal]
            ).map { Int64($0[0]!)! }
            let response = try executor.execute(.search(SearchRequest(
                collection: "products", dimension: 12, queries: query, options: SearchOptions(k: 10, filter: try Filter(parsing: flatvec))
            )))
            guard case .searched(let r) = response else { throw FlatVecError(.internalError, "no hits") }
            #expect(r.results[0].map(\.id) == expected, "\(flatvec)")
        }
        // Another program flips a column; REBUILD picks it up.
        _ = try db.sql("UPDATE \"fv_products\" SET category = 'socks', visible = true WHERE id < 20")
        _ = try executor.execute(.rebuild("products"))
        let socks = try executor.execute(.search(SearchRequest(
            collection: "products", dimension: 12, queries: random.quantizedVector(12),
            options: SearchOptions(k: 100, filter: try Filter(parsing: "visible and category = 'socks'"))
        )))
        guard case .searched(let r) = socks else { throw FlatVecError(.internalError, "no hits") }
        #expect(Set(r.results[0].map(\.id)) == Set((0..<20).map(Int64.init)))
    }
}
