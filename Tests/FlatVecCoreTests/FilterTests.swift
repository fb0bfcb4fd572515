import Dispatch
import FlatVecTestSupport
import Synchronization
import Testing
@testable import FlatVecCore

@Suite struct FilterTests {
    // MARK: Grammar

    @Test func filterTextParsesToTheExpectedTree() throws {
        let filter = try Filter(parsing: #"visible and category = "shoes" and (price < 50 or stock >= 3) and not id in (1, 2)"#)
        #expect(
            filter == .and([
                .comparison(.attribute("visible"), .equal, .bool(true)),
                .comparison(.attribute("category"), .equal, .keyword("shoes")),
                .or([.comparison(.attribute("price"), .less, .int64(50)), .comparison(.attribute("stock"), .greaterOrEqual, .int64(3))]),
                .not(.oneOf(.id, [.int64(1), .int64(2)])),
            ])
        )
        #expect(try Filter(parsing: "category IS NOT NULL") == .not(.isNull(.attribute("category"))))
        #expect(try Filter(parsing: "label not in (3) OR false") == .or([.not(.oneOf(.label, [.int64(3)])), .or([])]))
        #expect(try Filter(parsing: "price <> -2.5e1") == .comparison(.attribute("price"), .notEqual, .float64(-25)))
        #expect(try Filter(parsing: "category = 'it\\'s'") == .comparison(.attribute("category"), .equal, .keyword("it's")))
    }

    /// Printing a filter and parsing the text gives a filter that prints the same and is true, false
    /// or unknown of exactly the same rows (nested `and`s may come back flattened).
    @Test func printedFiltersParseBackToTheSameFilter() throws {
        var random = SeededRandom(seed: 11)
        let rows = (0..<200).map { i in
            ReferenceIndex.Row(label: Int64(i % 5), vector: [], payload: nil, attributes: random.catalogueAttributes())
        }
        for _ in 0..<2_000 {
            let filter = random.filter(ids: [1, 2, 99], labels: 5, depth: 4)
            let text = filter.description
            let parsed = try Filter(parsing: text)
            #expect(parsed.description == text)
            for (i, row) in rows.enumerated() {
                let id = Int64(i % 100)
                #expect(ReferenceIndex.evaluate(parsed, id: id, row: row) == ReferenceIndex.evaluate(filter, id: id, row: row), "\(text)")
            }
        }
    }

    @Test func malformedFiltersNameTheOffendingPart() throws {
        let cases: [(String, String)] = [
            ("price <", "expected a value"),
            ("price < 3 and", "expected an attribute"),
            ("(visible", "expected ')'"),
            ("category = \"shoes", "not closed"),
            ("stock in 3", "expected '(' after in"),
            ("stock ! 3", "'!' at offset 6"),
            ("visible visible", "expected and, or or the end"),
            ("price < 1.2.3", "not a finite number"),
            ("category is shoes", "expected null"),
            ("price # 3", "unexpected character"),
        ]
        for (text, message) in cases {
            #expect(throws: FlatVecError.self, "\(text)") { try Filter(parsing: text) }
            do {
                _ = try Filter(parsing: text)
            } catch {
                #expect(error.code == .invalidArgument, "\(text)")
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
        // Nesting is the tree's: a node's depth counts the connectives above it, at most 32. 32 nots
        // around a comparison are accepted, 33 are not, whether written as text or as a tree.
        let schema = CatalogueAttributes.definitions
        let thirtyTwo = try Filter(parsing: String(repeating: "not ", count: 32) + "visible")
        #expect(try thirtyTwo.checked(against: schema) == thirtyTwo)
        let thirtyThree = try Filter(parsing: String(repeating: "not ", count: 33) + "visible")
        #expect(throws: FlatVecError(.limitExceeded, "filter: nested deeper than 32 levels")) { try thirtyThree.checked(against: schema) }
        // Parentheses do not make tree nodes, but nest at most 32 deep in text.
        #expect(try Filter(parsing: String(repeating: "(", count: 32) + "visible" + String(repeating: ")", count: 32)) == .comparison(.attribute("visible"), .equal, .bool(true)))
        #expect(throws: FlatVecError.self) { try Filter(parsing: String(repeating: "(", count: 33) + "visible" + String(repeating: ")", count: 33)) }
    }

    /// The text grammar's open points, settled (proto-spec/FILTERS.md): `==` is not an operator,
    /// only three escapes exist, an integer out of int64 is an error at its offset, names are
    /// case-insensitive as PostgreSQL's unquoted identifiers are.
    @Test func theTextGrammarIsStrictWherePostgreSQLIs() throws {
        let refused: [(String, String)] = [
            ("stock == 1", "'==' at offset 6 is not an operator"),
            (#"category = "a\qb""#, #"unknown escape '\q' at offset 13"#),
            ("stock = 100000000000000000000", "the integer 100000000000000000000 at offset 8 is outside int64"),
            ("stock in ()", "expected a value"),
            ("price < 1e999", "\"1e999\" at offset 8 is not a finite number"),
        ]
        for (text, message) in refused {
            do {
                _ = try Filter(parsing: text)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.code == .invalidArgument, "\(text)")
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
        #expect(try Filter(parsing: "ID = 3 AND Visible") == .and([.comparison(.id, .equal, .int64(3)), .comparison(.attribute("visible"), .equal, .bool(true))]))
        #expect(try Filter(parsing: "stock = -9223372036854775808") == .comparison(.attribute("stock"), .equal, .int64(.min)))
        #expect(try Filter(parsing: #"category = "a\"b\\""#) == .comparison(.attribute("category"), .equal, .keyword(#"a"b\"#)))
    }

    /// float64 attributes hold infinities like PostgreSQL's double precision, and filters find them.
    @Test func infiniteFloat64ValuesAreStoredAndFiltered() throws {
        let index = try FlatIndex(dimension: 2, attributes: CatalogueAttributes.definitions)
        try index.add(VectorBatch(
            dimension: 2, ids: [1, 2, 3], labels: [0, 0, 0], vectors: [1, 0, 0, 1, 1, 1],
            attributes: [["price": .float64(.infinity)], ["price": .float64(-.infinity)], ["price": .float64(5)]]
        ))
        let above = try index.search([1, 1], options: SearchOptions(k: 3, filter: try Filter(parsing: "price > 1e308")))
        #expect(above.map(\.id) == [1])
        let below = try index.search([1, 1], options: SearchOptions(k: 3, filter: .comparison(.attribute("price"), .less, .float64(-.infinity))))
        #expect(below.isEmpty)
        let equal = try index.search([1, 1], options: SearchOptions(k: 3, filter: .comparison(.attribute("price"), .equal, .float64(-.infinity))))
        #expect(equal.map(\.id) == [2])
    }

    /// An `in` with no values is refused (PostgreSQL has no empty IN); an int64 compared with a
    /// float64 attribute must have an exact float64; infinities are values like any other.
    @Test func emptyInListsAndInexactIntegersAreRefused() throws {
        let schema = CatalogueAttributes.definitions
        #expect(throws: FlatVecError(.invalidArgument, "filter: an in list of stock with no values")) {
            try Filter.oneOf(.attribute("stock"), []).checked(against: schema)
        }
        #expect(throws: FlatVecError.self) { try Filter.not(.oneOf(.id, [])).checked(against: schema) }
        let inexact = Int64(1) << 53 + 1
        #expect(throws: FlatVecError.self) { try Filter.comparison(.attribute("price"), .less, .int64(inexact)).checked(against: schema) }
        #expect(try Filter.comparison(.attribute("price"), .less, .int64(1 << 53)).checked(against: schema) == .comparison(.attribute("price"), .less, .float64(9_007_199_254_740_992)))
        #expect(try Filter.comparison(.attribute("price"), .less, .float64(.infinity)).checked(against: schema) == .comparison(.attribute("price"), .less, .float64(.infinity)))
        #expect(throws: FlatVecError.self) { try AttributeValue.int64(inexact).converted(to: .float64, attribute: "price") }
        #expect(try AttributeValue.int64(-(1 << 53)).converted(to: .float64, attribute: "price") == .float64(-9_007_199_254_740_992))
    }

    @Test func filtersThatDoNotFitTheAttributesAreRejected() throws {
        let schema = CatalogueAttributes.definitions
        let cases: [(Filter, String)] = [
            (.comparison(.attribute("colour"), .equal, .keyword("red")), "unknown attribute \"colour\""),
            (.comparison(.attribute("stock"), .equal, .keyword("3")), "stock is int64, compared with the keyword value"),
            (.comparison(.attribute("stock"), .less, .float64(2.5)), "stock is int64, compared with the float64 value"),
            (.comparison(.attribute("category"), .less, .keyword("m")), "category is keyword, which compares with =, != and in only"),
            (.comparison(.attribute("visible"), .greater, .bool(false)), "visible is bool"),
            (.oneOf(.id, [.int64(1), .keyword("2")]), "id is int64"),
            (.not(.and([.comparison(.attribute("price"), .equal, .bool(true))])), "price is float64"),
        ]
        for (filter, message) in cases {
            do {
                _ = try filter.checked(against: schema)
                Issue.record("\(filter) was accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
        // An integer compares with a float64 attribute as the same number.
        #expect(
            try Filter.comparison(.attribute("price"), .less, .int64(3)).checked(against: schema)
                == .comparison(.attribute("price"), .less, .float64(3))
        )
        let index = try FlatIndex(dimension: 4, attributes: schema)
        #expect(throws: FlatVecError.self) {
            try index.search([1, 0, 0, 0], options: SearchOptions(filter: .comparison(.attribute("colour"), .equal, .bool(true))))
        }
    }

    // MARK: Filtered search against the reference

    /// Random catalogues with every attribute type and nulls, random filters (every operator, nested,
    /// selectivity from nothing to everything), one filter per query in one batch, with minScore and
    /// groupByLabel, both metrics, every scan: the hits must be the reference's brute-force top k of
    /// the matching rows, so k are returned whenever k rows match.
    @Test(arguments: ScanChoice.all)
    func filteredSearchesEqualTheReference(choice: ScanChoice) throws {
        for metric in [Metric.innerProduct, .cosine] {
            var random = SeededRandom(seed: metric == .cosine ? 21 : 20)
            let d = 24
            let n = 3_000
            let labels: Int64 = 40
            let index = try FlatIndex(
                dimension: d, metric: metric, configuration: choice.configuration(rowsPerChunk: 256),
                attributes: CatalogueAttributes.definitions
            )
            var reference = ReferenceIndex(dimension: d, metric: metric)
            var ids: [Int64] = []
            for i in 0..<n {
                let id = Int64(i * 3 + 1)
                let vector = random.quantizedVector(d)
                let label = Int64.random(in: 0..<labels, using: &random)
                let attributes = random.catalogueAttributes()
                try index.add(VectorBatch(id: id, label: label, vector: vector, attributes: attributes))
                reference.upsert(id: id, label: label, vector: vector, attributes: attributes)
                ids.append(id)
            }
            // Removals move rows (and their attribute values) around.
            for id in ids.shuffled(using: &random).prefix(300) {
                try index.remove(ids: [id])
                reference.remove(id: id)
            }
            ids = Array(reference.rows.keys)
            var selectivities: [Double] = []
            for round in 0..<30 {
                let nq = [1, 3, 17, 40][round % 4]
                let queries = (0..<nq).map { _ in random.quantizedVector(d) }
                let options: [SearchOptions] = (0..<nq).map { _ in
                    var options = SearchOptions(k: [1, 5, 10, 64, 3_000].randomElement(using: &random)!)
                    options.filter = random.filter(ids: ids, labels: labels)
                    if Int.random(in: 0..<4, using: &random) == 0 { options.minScore = Float(Int.random(in: -2...2, using: &random)) }
                    options.groupByLabel = Int.random(in: 0..<4, using: &random) == 0
                    options.includeAttributes = Bool.random(using: &random)
                    options.includePayloads = true
                    return options
                }
                // Half the rounds give every query the same filter (one evaluation shared).
                let perQuery = round % 2 == 0 ? options : [options[0]]
                let got = try index.search(.vectors(queries.flatMap { $0 }), options: perQuery)
                for q in 0..<nq {
                    let option = perQuery.count == 1 ? perQuery[0] : perQuery[q]
                    let expected = reference.search(queries[q], options: option)
                    let matching = reference.rows.filter { ReferenceIndex.evaluate(option.filter!, id: $0.key, row: $0.value) == true }.count
                    selectivities.append(Double(matching) / Double(reference.rows.count))
                    #expect(
                        ReferenceIndex.equivalent([got[q]], [expected], metric: metric, options: option),
                        "\(choice.name) \(metric) round \(round) query \(q): \(option.filter!) k \(option.k) matching \(matching)"
                    )
                    if metric == .innerProduct && option.includeAttributes {
                        #expect(got[q].map(\.attributes) == expected.map(\.attributes))
                    }
                    if option.minScore == nil && !option.groupByLabel {
                        #expect(got[q].count == min(option.k, matching), "k is filled when enough rows match")
                    }
                }
            }
            // The random filters span nothing to everything.
            #expect(selectivities.contains(0) && selectivities.contains(1))
            #expect(selectivities.contains { $0 > 0 && $0 < 0.01 } && selectivities.contains { $0 > 0.2 && $0 < 0.8 })
        }
    }

    /// Selectivity from 0 through one row to all of them, chosen exactly by thresholds on a column,
    /// so every chunk takes the gathered plan, the masked plan, or both within one scan.
    @Test(arguments: ScanChoice.all)
    func selectivityFromNoneToAllFillsK(choice: ScanChoice) throws {
        let d = 16
        let n = 5_000
        var random = SeededRandom(seed: 5)
        let rank = try AttributeDefinition(name: "rank", type: .int64)
        let index = try FlatIndex(dimension: d, configuration: choice.configuration(rowsPerChunk: 512), attributes: [rank])
        var reference = ReferenceIndex(dimension: d)
        let order = (0..<n).shuffled(using: &random)
        var vectors: [Float] = []
        var attributes: [[String: AttributeValue]] = []
        for i in 0..<n {
            let vector = random.quantizedVector(d)
            vectors += vector
            attributes.append(["rank": .int64(Int64(order[i]))])
            reference.upsert(id: Int64(i), label: 0, vector: vector, attributes: attributes[i])
        }
        try index.add(
            VectorBatch(dimension: d, ids: (0..<n).map(Int64.init), labels: Array(repeating: 0, count: n), vectors: vectors, attributes: attributes)
        )
        for matching in [0, 1, 2, 10, 50, 500, 1_250, 2_600, 4_999, 5_000] {
            for k in [1, 10, 100] {
                let filter = Filter.comparison(.attribute("rank"), .less, .int64(Int64(matching)))
                let queries = (0..<5).map { _ in random.quantizedVector(d) }
                let got = try index.search(.vectors(queries.flatMap { $0 }), options: [SearchOptions(k: k, filter: filter)])
                for q in 0..<5 {
                    let expected = reference.search(queries[q], options: SearchOptions(k: k, filter: filter))
                    #expect(got[q] == expected, "\(choice.name) matching \(matching) k \(k)")
                    #expect(got[q].count == min(k, matching))
                }
            }
        }
    }

    // MARK: Attributes, updates, search by id

    @Test func attributesAreStoredReturnedAndMovedWithTheirRows() throws {
        let index = try FlatIndex(dimension: 2, attributes: CatalogueAttributes.definitions)
        try index.add(VectorBatch(id: 1, label: 1, vector: [1, 0], attributes: ["category": .keyword("shoes"), "price": .int64(3)]))
        try index.add(VectorBatch(id: 2, label: 2, vector: [0, 1], attributes: ["visible": .bool(true), "stock": .int64(-4)]))
        try index.add(VectorBatch(id: 3, label: 3, vector: [1, 1], attributes: ["price": .float64(-0.0)]))
        #expect(try index.get(ids: [1])[0].attributes == ["category": .keyword("shoes"), "price": .float64(3)])
        try index.remove(ids: [1])  // id 3 moves into row 0
        #expect(try index.get(ids: [3])[0].attributes == ["price": .float64(0)])
        #expect(try index.get(ids: [2])[0].attributes == ["visible": .bool(true), "stock": .int64(-4)])
        // Upsert replaces every attribute, like the vector.
        try index.add(VectorBatch(id: 2, label: 2, vector: [0, 1], attributes: ["stock": .int64(5)]))
        #expect(try index.get(ids: [2])[0].attributes == ["stock": .int64(5)])
        let hits = try index.search([0, 1], options: SearchOptions(k: 1, filter: try Filter(parsing: "price = 0"), includeAttributes: true))
        #expect(hits.map(\.id) == [3] && hits[0].attributes == ["price": .float64(0)])
        // Values that do not fit are refused, naming the id and the attribute; nothing changes.
        for (values, message) in [
            (["colour": AttributeValue.keyword("red")], "id 9: unknown attribute \"colour\""),
            (["stock": .float64(1.5)], "attribute stock is int64, not float64"),
            (["price": .float64(.nan)], "attribute price cannot be NaN"),
            (["category": .keyword(String(repeating: "x", count: 2_000))], "more than 1024"),
        ] {
            do {
                try index.add(VectorBatch(id: 9, label: 0, vector: [1, 1], attributes: values))
                Issue.record("\(values) accepted")
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
        #expect(index.count == 2)
    }

    @Test func attributesCanBeAddedAndDropped() throws {
        let index = try FlatIndex(dimension: 2)
        try index.add(VectorBatch(id: 1, label: 0, vector: [1, 0]))
        try index.addAttribute(AttributeDefinition(name: "tier", type: .keyword))
        #expect(throws: FlatVecError.self) { try index.addAttribute(AttributeDefinition(name: "tier", type: .int64)) }
        #expect(try index.get(ids: [1])[0].attributes == [:])
        try index.update([RowUpdate(id: 1, set: ["tier": .keyword("gold")])])
        #expect(try index.search([1, 0], options: SearchOptions(filter: try Filter(parsing: "tier = 'gold'"))).map(\.id) == [1])
        #expect(try index.search([1, 0], options: SearchOptions(filter: try Filter(parsing: "tier is null"))).isEmpty)
        try index.dropAttribute(named: "tier")
        #expect(throws: FlatVecError.self) { try index.search([1, 0], options: SearchOptions(filter: try Filter(parsing: "tier is null"))) }
        #expect(throws: FlatVecError.self) { try index.dropAttribute(named: "tier") }
        try index.addAttribute(AttributeDefinition(name: "tier", type: .int64))
        #expect(try index.get(ids: [1])[0].attributes == [:], "a re-added attribute starts empty")
        #expect(throws: FlatVecError.self) { try AttributeDefinition(name: "Label", type: .bool) }
        #expect(throws: FlatVecError.self) { try AttributeDefinition(name: "label", type: .bool) }
        #expect(throws: FlatVecError.self) { try AttributeDefinition(parsing: "size:int32") }
    }

    @Test func updatesChangeMetadataAtomically() throws {
        let index = try FlatIndex(dimension: 2, attributes: CatalogueAttributes.definitions)
        try index.add(VectorBatch(id: 1, label: 1, vector: [1, 0], payload: "a", attributes: ["stock": .int64(1), "visible": .bool(false)]))
        try index.add(VectorBatch(id: 2, label: 2, vector: [0, 1]))
        try index.update([
            RowUpdate(id: 1, label: 7, payload: .clear, set: ["visible": .bool(true)], clear: ["stock"]),
            RowUpdate(id: 2, payload: .set(Array("b".utf8)), set: ["category": .keyword("hats"), "price": .int64(2)]),
        ])
        let rows = try index.get(ids: [1, 2])
        #expect(rows[0].label == 7 && rows[0].payload == nil && rows[0].attributes == ["visible": .bool(true)])
        #expect(rows[0].vector == [1, 0], "the vector is untouched")
        #expect(rows[1].label == 2 && rows[1].payload == Array("b".utf8))
        #expect(rows[1].attributes == ["category": .keyword("hats"), "price": .float64(2)])
        // All or nothing: one unknown id, one bad value, one id twice: nothing changes.
        let bad: [[RowUpdate]] = [
            [RowUpdate(id: 1, label: 9), RowUpdate(id: 5, label: 9)],
            [RowUpdate(id: 1, label: 9), RowUpdate(id: 2, set: ["stock": .keyword("x")])],
            [RowUpdate(id: 1, label: 9), RowUpdate(id: 1, label: 8)],
            [RowUpdate(id: 1, set: ["stock": .int64(1)], clear: ["stock"])],
            [RowUpdate(id: 1, payload: .set([0xFF]))],
        ]
        let codes: [FlatVecError.Code] = [.unknownID, .invalidArgument, .duplicateID, .invalidArgument, .invalidArgument]
        for (updates, code) in zip(bad, codes) {
            #expect(throws: FlatVecError.self) { try index.update(updates) }
            do { try index.update(updates) } catch { #expect(error.code == code, "\(error.message)") }
        }
        #expect(try index.get(ids: [1, 2]) == rows)
    }

    /// Writers flip two attributes of each row together; a search whose filter is true only of a row
    /// with one flipped and not the other must never find anything (it would see half an update).
    @Test(arguments: ScanChoice.all)
    func searchesSeeUpdatesWholeNeverHalf(choice: ScanChoice) throws {
        let d = 8
        let n = 4_000
        let schema = [try AttributeDefinition(name: "a", type: .int64), try AttributeDefinition(name: "b", type: .keyword)]
        let index = try FlatIndex(dimension: d, configuration: choice.configuration(rowsPerChunk: 128), attributes: schema)
        var random = SeededRandom(seed: 3)
        var vectors: [Float] = []
        for _ in 0..<n { vectors += random.quantizedVector(d) }
        let zero: [String: AttributeValue] = ["a": .int64(0), "b": .keyword("zero")]
        try index.add(VectorBatch(
            dimension: d, ids: (0..<n).map(Int64.init), labels: Array(repeating: 0, count: n), vectors: vectors,
            attributes: Array(repeating: zero, count: n)
        ))
        let half = try Filter(parsing: #"(a = 1 and b = "zero") or (a = 0 and b != "zero")"#)
        let whole = try Filter(parsing: #"a = 1 and b = "one""#)
        let done = Atomic<Bool>(false)
        let searches = Atomic<Int>(0)
        let halfSeen = Atomic<Int>(0)
        let wholeSeen = Atomic<Int>(0)
        runOnThreads(3) { worker in
            if worker == 0 {
                var random = SeededRandom(seed: 9)
                var round = 0
                while round < 300 || searches.load(ordering: .relaxed) < 200 {
                    defer { round += 1 }
                    let ids = (0..<50).map { _ in Int64.random(in: 0..<Int64(n), using: &random) }
                    let one = round % 2 == 0
                    let updates = Set(ids).map {
                        RowUpdate(id: $0, set: one ? ["a": .int64(1), "b": .keyword("one")] : ["a": .int64(0), "b": .keyword("zero")])
                    }
                    try! index.update(updates)
                }
                done.store(true, ordering: .releasing)
                return
            }
            var random = SeededRandom(seed: UInt64(worker))
            while !done.load(ordering: .acquiring) {
                let query = random.quantizedVector(d)
                let hits = try! index.search(.vectors(query + query), options: [SearchOptions(k: 50, filter: half), SearchOptions(k: 5, filter: whole)])
                halfSeen.add(hits[0].count, ordering: .relaxed)
                wholeSeen.add(hits[1].count, ordering: .relaxed)
                searches.add(1, ordering: .relaxed)
            }
        }
        #expect(halfSeen.load(ordering: .relaxed) == 0)
        #expect(wholeSeen.load(ordering: .relaxed) > 0, "the searches ran while rows were updated")
    }

    @Test(arguments: ScanChoice.all)
    func searchByStoredIDEqualsSearchByItsVector(choice: ScanChoice) throws {
        for metric in [Metric.innerProduct, .cosine] {
            let d = 12
            var random = SeededRandom(seed: 17)
            let index = try FlatIndex(dimension: d, metric: metric, configuration: choice.configuration(rowsPerChunk: 64), attributes: CatalogueAttributes.definitions)
            var reference = ReferenceIndex(dimension: d, metric: metric)
            for i in 0..<1_000 {
                let vector = random.quantizedVector(d)
                let attributes = random.catalogueAttributes()
                try index.add(VectorBatch(id: Int64(i), label: Int64(i % 7), vector: vector, attributes: attributes))
                reference.upsert(id: Int64(i), label: Int64(i % 7), vector: vector, attributes: attributes)
            }
            let ids: [Int64] = [0, 5, 999, 500, 5]
            for excluding in [false, true] {
                let filter: Filter? = excluding ? try Filter(parsing: "category != 'hats'") : nil
                let got = try index.search(.storedIDs(ids, excludingThemselves: excluding), options: [SearchOptions(k: 10, filter: filter)])
                for (q, id) in ids.enumerated() {
                    var options = SearchOptions(k: 10, filter: filter)
                    options.excludingID = excluding ? id : nil
                    let expected = reference.search(reference.rows[id]!.vector, options: options)
                    #expect(ReferenceIndex.equivalent([got[q]], [expected], metric: metric), "\(choice.name) \(metric) id \(id)")
                    if excluding { #expect(!got[q].contains { $0.id == id }) }
                }
            }
            do {
                _ = try index.search(.storedIDs([1, 4_000], excludingThemselves: false), options: [SearchOptions()])
                Issue.record("unknown id accepted")
            } catch {
                #expect(error.code == .unknownID && error.message.contains("4000"))
            }
        }
    }
}
