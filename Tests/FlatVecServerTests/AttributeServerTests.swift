import FlatVecClient
import FlatVecCore
import FlatVecProtocol
@testable import FlatVecServer
@testable import FlatVecStorage
import Foundation
import Testing

/// Attributes, filters, partial updates and search by stored id through a real server over TCP, and
/// through the local store across restarts and compactions.
@Suite(.timeLimit(.minutes(5))) struct AttributeServerTests {
    /// A catalogue of 2,000 rows with every attribute type, added over the wire, and its reference.
    static func catalogue(_ client: FlatVecClient, name: String = "products") async throws -> ReferenceIndex {
        try await client.createCollection(name, dimension: 16, attributes: CatalogueAttributes.definitions)
        var random = SeededRandom(seed: 31)
        var reference = ReferenceIndex(dimension: 16)
        for start in stride(from: 0, to: 2_000, by: 500) {
            let ids = (start..<(start + 500)).map(Int64.init)
            var vectors: [Float] = []
            var attributes: [[String: AttributeValue]] = []
            for id in ids {
                let vector = random.quantizedVector(16)
                let values = random.catalogueAttributes()
                vectors += vector
                attributes.append(values)
                reference.upsert(id: id, label: id % 13, vector: vector, payload: Array("p\(id)".utf8), attributes: values)
            }
            _ = try await client.add(collection: name, batch: VectorBatch(
                dimension: 16, ids: ids, labels: ids.map { $0 % 13 }, vectors: vectors,
                payloads: ids.map { Array("p\($0)".utf8) }, attributes: attributes
            ))
        }
        return reference
    }

    @Test func filteredSearchesOverTheWireEqualTheReference() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            let reference = try await Self.catalogue(client)
            var random = SeededRandom(seed: 4)
            let ids = Array(reference.rows.keys)
            for round in 0..<20 {
                let nq = round % 2 == 0 ? 1 : 7
                let queries = (0..<nq).map { _ in random.quantizedVector(16) }
                var options = SearchOptions(k: [1, 10, 100][round % 3], includePayloads: true, includeAttributes: true)
                options.groupByLabel = round % 5 == 0
                let filters = (0..<nq).map { q -> Filter? in q == 3 ? nil : random.filter(ids: ids, labels: 13) }
                // Odd rounds: one filter per query; even rounds: the first filter for all, sent as text.
                let got: [[SearchHit]]
                if round % 2 == 1 {
                    got = try await client.search(collection: "products", queries: queries.flatMap { $0 }, dimension: 16, options: options, filters: filters)
                } else {
                    options.filter = try Filter(parsing: filters[0]!.description)
                    got = try await client.search(collection: "products", queries: queries.flatMap { $0 }, dimension: 16, options: options)
                }
                for q in 0..<nq {
                    var o = options
                    if round % 2 == 1 { o.filter = filters[q] }
                    let expected = reference.search(queries[q], options: o)
                    #expect(got[q] == expected, "round \(round) query \(q): \(o.filter.map(\.description) ?? "none")")
                }
            }
            // Search by stored id, leaving the query's own row out.
            let hits = try await client.search(collection: "products", storedIDs: [5, 77], excludingThemselves: true, options: SearchOptions(k: 5))
            for (q, id) in [Int64(5), 77].enumerated() {
                var o = SearchOptions(k: 5)
                o.excludingID = id
                #expect(hits[q] == reference.search(reference.rows[id]!.vector, options: o))
            }
            await client.close()
        }
    }

    @Test func updatesAttributeChangesAndErrorsOverTheWire() async throws {
        try await withTestServer(adminToken: "admin", readerToken: "reader") { server in
            let client = try await server.client(token: "admin")
            var reference = try await Self.catalogue(client)
            let update = [
                RowUpdate(id: 1, label: 99, payload: .set(Array("new".utf8)), set: ["visible": .bool(true), "category": .keyword("boots")]),
                RowUpdate(id: 2, payload: .clear, clear: ["price", "stock"]),
            ]
            #expect(try await client.update(collection: "products", update) == 2)
            for u in update { reference.apply(u) }
            let rows = try await client.get(collection: "products", ids: [1, 2])
            #expect(rows[0].label == 99 && rows[0].payload == Array("new".utf8) && rows[0].attributes == reference.rows[1]!.attributes)
            #expect(rows[1].payload == nil && rows[1].attributes == reference.rows[2]!.attributes)
            let visibleBoots = try Filter(parsing: #"visible and category = "boots""#)
            let q = reference.rows[1]!.vector
            #expect(
                try await client.search(collection: "products", queries: q, dimension: 16, options: SearchOptions(k: 50, filter: visibleBoots))
                    == [reference.search(q, options: SearchOptions(k: 50, filter: visibleBoots))]
            )
            // Attributes added and dropped; filters and values checked against them.
            try await client.addAttribute(collection: "products", AttributeDefinition(name: "store", type: .keyword))
            try await client.update(collection: "products", [RowUpdate(id: 3, set: ["store": .keyword("north")])])
            let north = try await client.search(
                collection: "products", queries: q, dimension: 16, options: SearchOptions(k: 5, filter: try Filter(parsing: "store = 'north'"))
            )
            #expect(north[0].map(\.id) == [3])
            #expect(try await client.describeCollection("products").attributes.map(\.name) == ["visible", "stock", "price", "category", "store"])
            try await client.dropAttribute(collection: "products", named: "store")
            let described = try await client.describeCollection("products")
            #expect(described.attributes == CatalogueAttributes.definitions && described.count == 2_000 && described.dimension == 16)
            let cases: [(Request, FlatVecError.Code, String)] = [
                (.search(SearchRequest(collection: "products", dimension: 16, queries: q, options: SearchOptions(filter: .comparison(.attribute("store"), .equal, .keyword("north"))))),
                 .invalidArgument, "unknown attribute \"store\""),
                (.search(SearchRequest(collection: "products", dimension: 16, queries: q, options: SearchOptions(filter: .comparison(.attribute("stock"), .less, .keyword("x"))))),
                 .invalidArgument, "stock is int64"),
                (.update(UpdateRequest(collection: "products", updates: [RowUpdate(id: 1, label: 5), RowUpdate(id: 123_456)])), .unknownID, "123456"),
                (.update(UpdateRequest(collection: "products", updates: [RowUpdate(id: 1, set: ["price": .keyword("cheap")])])), .invalidArgument, "price is float64"),
                (.add(AddRequest(collection: "products", batch: VectorBatch(id: 9, label: 0, vector: q, attributes: ["colour": .bool(true)]))),
                 .invalidArgument, "unknown attribute \"colour\""),
                (.search(SearchRequest(collection: "products", storedIDs: [4_242], excludingThemselves: false, options: SearchOptions())), .unknownID, "4242"),
                (.addAttribute(collection: "products", definition: try AttributeDefinition(name: "price", type: .int64)), .invalidArgument, "exists already"),
                (.dropAttribute(collection: "products", name: "store"), .invalidArgument, "unknown attribute"),
            ]
            for (request, code, message) in cases {
                do throws(FlatVecError) {
                    _ = try await client.send(request)
                    Issue.record("\(request.opcode) accepted")
                } catch {
                    #expect(error.code == code, "\(request.opcode): \(error)")
                    #expect(error.message.contains(message), "\(request.opcode): \(error.message)")
                }
            }
            #expect(try await client.get(collection: "products", ids: [1])[0].label == 99, "a refused UPDATE changed nothing")
            // Readers search with filters but cannot update or change attributes.
            let reader = try await server.client(token: "reader")
            _ = try await reader.search(collection: "products", queries: q, dimension: 16, options: SearchOptions(filter: visibleBoots))
            for request in [Request.update(UpdateRequest(collection: "products", updates: [RowUpdate(id: 1, label: 1)])),
                            .addAttribute(collection: "products", definition: try AttributeDefinition(name: "x", type: .bool)),
                            .dropAttribute(collection: "products", name: "visible")] {
                await #expect(throws: FlatVecError.self) { _ = try await reader.send(request) }
            }
            await reader.close()
            await client.close()
        }
    }
}
