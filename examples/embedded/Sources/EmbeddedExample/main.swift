// FlatVec embedded in a program: a durable catalogue in a local directory, searched in process.
//
//   EmbeddedExample write DIR   creates the catalogue in DIR, writes to it, checks its searches
//   EmbeddedExample check DIR   opens DIR again (a restart) and checks that every write is there
//
// Both exit 1 with a message if anything is not as it should be.
import FlatVecEngine
import Foundation
import Logging

let dimension = 64
let products = 500

/// The photo embedding of product `id` (a fixed pseudo-random unit-free vector; any function would do).
func embedding(_ id: Int64) -> [Float] {
    var state = UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<dimension).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("EmbeddedExample: \(message)\n".utf8))
    exit(1)
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

/// What the catalogue must hold after `write`: products 1...500 but the removed multiples of 50, product
/// 7 in the "mugs" category after its update, every other product in "shoes" or "hats".
func check(_ engine: Engine) throws(FlatVecError) {
    let catalogue = try engine.collection("catalogue")
    expect(catalogue.count == products - products / 50, "expected \(products - products / 50) vectors, found \(catalogue.count)")
    expect(catalogue.attributes.map(\.name) == ["category", "price"], "attributes are \(catalogue.attributes)")

    // A product's own photo finds it first; a removed product is never found.
    let hits = try engine.search(embedding(123), in: "catalogue", options: SearchOptions(k: 3))
    expect(hits.first?.id == 123, "product 123's photo found \(hits.map(\.id))")
    let removed = try engine.search(embedding(100), in: "catalogue", options: SearchOptions(k: 10))
    expect(!removed.contains { $0.id % 50 == 0 }, "a removed product was found: \(removed.map(\.id))")

    // Filters, payloads and attributes come back as written.
    let mugs = try engine.search(
        embedding(7), in: "catalogue",
        options: SearchOptions(k: 5, includePayloads: true, filter: try Filter(parsing: "category = \"mugs\""), includeAttributes: true)
    )
    expect(mugs.map(\.id) == [7], "the mugs filter found \(mugs.map(\.id))")
    expect(mugs.first?.attributes?["price"] == .float64(4.5), "product 7's price is \(String(describing: mugs.first?.attributes?["price"]))")
    let stored = try engine.get(ids: [7], from: "catalogue")
    expect(stored.first?.payload.map { String(decoding: $0, as: UTF8.self) } == "sku-7", "product 7's payload")

    // A range search: every product whose photo scores at least 0.99 against product 123's own.
    let close = try engine.rangeSearch(.vectors(embedding(123)), in: "catalogue", minScore: 0.99, limit: 5)
    expect(close[0].hits.first?.id == 123 && !close[0].truncated, "range search found \(close[0])")

    // Several queries in one call, by stored id, excluding themselves: the nearest other products.
    let similar = try engine.search(.storedIDs([1, 2], excludingThemselves: true), in: "catalogue", options: [SearchOptions(k: 4)])
    expect(similar.count == 2 && similar.allSatisfy { $0.count == 4 }, "search by stored id returned \(similar.map(\.count))")
    expect(!similar[0].contains { $0.id == 1 }, "product 1 found itself")
}

func write(_ directory: String, logger: Logger) async throws(FlatVecError) {
    let engine = try Engine.open(LocalDirectoryStore(directory: directory, logger: logger), logger: logger)
    try engine.createCollection(
        "catalogue", dimension: dimension, metric: .cosine,
        attributes: [try AttributeDefinition(name: "category", type: .keyword), try AttributeDefinition(name: "price", type: .float64)]
    )
    let ids = (1...Int64(products)).map { $0 }
    let batch = try VectorBatch(
        dimension: dimension, ids: ids, labels: ids.map { $0 % 100 }, vectors: ids.flatMap(embedding),
        payloads: ids.map { Array("sku-\($0)".utf8) },
        attributes: ids.map { ["category": .keyword($0 % 2 == 0 ? "shoes" : "hats"), "price": .float64(Double($0) / 10)] }
    )
    let added = try engine.add(batch, to: "catalogue")
    expect(added.inserted == products && added.replaced == 0, "add: \(added)")
    try engine.update([RowUpdate(id: 7, set: ["category": .keyword("mugs"), "price": .float64(4.5)])], in: "catalogue")
    try engine.remove(ids: ids.filter { $0 % 50 == 0 }, from: "catalogue")

    // Writes that must be refused, each naming its problem, with nothing changed.
    do {
        try engine.add(VectorBatch(id: 9_999, label: 0, vector: [1, 2, 3]), to: "catalogue")
        fail("a vector of the wrong dimension was accepted")
    } catch {
        expect(error.code == .dimensionMismatch, "wrong dimension answered \(error)")
    }
    do {
        try engine.remove(ids: [50], from: "catalogue")
        fail("removing a removed id was accepted")
    } catch {
        expect(error.code == .unknownID, "removing a removed id answered \(error)")
    }

    // The non-blocking search: merged with the searches that wait meanwhile.
    let concurrent = try await engine.search(.vectors(embedding(11)), in: "catalogue", options: [SearchOptions(k: 1)])
    expect(concurrent.first?.first?.id == 11, "async search found \(concurrent)")

    try check(engine)
    await engine.close()
    print("wrote \(products) products to \(directory), removed \(products / 50), updated 1; searches checked")
}

func reopen(_ directory: String, logger: Logger) async throws(FlatVecError) {
    let engine = try Engine.open(LocalDirectoryStore(directory: directory, logger: logger), logger: logger)
    try check(engine)
    print("reopened \(directory): \(try engine.collection("catalogue").count) products, every write found")
    await engine.close()
}

var logger = Logger(label: "embedded-example")
logger.logLevel = .warning
let arguments = CommandLine.arguments
guard arguments.count == 3, ["write", "check"].contains(arguments[1]) else {
    fail("usage: EmbeddedExample write|check DIRECTORY")
}
do {
    if arguments[1] == "write" { try await write(arguments[2], logger: logger) } else { try await reopen(arguments[2], logger: logger) }
} catch {
    fail("\(error)")
}
