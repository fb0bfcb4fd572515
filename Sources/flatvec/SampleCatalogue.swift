import FlatVecCore
import FlatVecFormats

#if canImport(Glibc)
import Glibc
#endif

/// The sample catalogue shipped in `data/` (see scripts/generate-sample-catalogue.py).
enum SampleCatalogue {
    /// The collection the server creates for it.
    static let collectionName = "products"

    /// Whether `directory` holds the catalogue.
    static func exists(in directory: String) -> Bool {
        (try? VectorFile.readIntegers(directory + "/products-ids.npy")) != nil
    }

    /// Where to look when no directory is given, in order: `./data`, then `data/` beside the
    /// executable or any directory above it (a checkout's `.build/release/flatvec` finds the
    /// checkout's `data/`; a copy in `/usr/local/bin` finds `/usr/local/share/flatvec/data` too), then
    /// the `data/` of the checkout the binary was built from.
    static func candidates(executable: String = CommandLine.arguments[0], sourceFile: String = #filePath) -> [String] {
        var found = ["data"]
        var directory = executable
        if let resolved = realpath(executable, nil) {
            directory = String(cString: resolved)
            free(resolved)
        }
        while let slash = directory.lastIndex(of: "/"), slash > directory.startIndex {
            directory = String(directory[..<slash])
            found.append(directory + "/data")
            found.append(directory + "/share/flatvec/data")
        }
        // Sources/flatvec/SampleCatalogue.swift -> the checkout's root.
        var root = sourceFile
        for _ in 0..<3 { if let slash = root.lastIndex(of: "/") { root = String(root[..<slash]) } }
        found.append(root + "/data")
        return found
    }

    /// The first candidate that holds the catalogue.
    static func locate() -> String? {
        candidates().first { exists(in: $0) }
    }

    /// The attributes of the sample collection, derived from each image's product name
    /// ("Black Plant pot #012": colour "black", category "plant pot"); every image starts visible.
    static let attributes: [AttributeDefinition] = [
        try! AttributeDefinition(name: "category", type: .keyword),
        try! AttributeDefinition(name: "colour", type: .keyword),
        try! AttributeDefinition(name: "visible", type: .bool),
    ]

    /// Reads the catalogue as one batch, with its attribute values.
    static func load(from directory: String) throws -> VectorBatch {
        let vectors = try VectorFile.readFloat32Matrix(directory + "/products.npy")
        let ids = try VectorFile.readIntegers(directory + "/products-ids.npy")
        let labels = try VectorFile.readIntegers(directory + "/products-labels.npy")
        let payloads = try VectorFile.readPayloadLines(directory + "/products-payloads.jsonl")
        let values = try payloads.enumerated().map { n, payload in try attributes(ofPayload: payload ?? [], line: n + 1) }
        return try VectorBatch(
            dimension: vectors.columns, ids: ids, labels: labels, vectors: vectors.values, payloads: payloads, attributes: values
        )
    }

    /// `{"product": "Black Plant pot #012", ...}` -> category "plant pot", colour "black", visible.
    static func attributes(ofPayload payload: [UInt8], line: Int) throws -> [String: AttributeValue] {
        var values: [String: AttributeValue] = ["visible": .bool(true)]
        guard case .keyword(let product)? = try AttributeLines.parse(payload, lineNumber: line)["product"] else { return values }
        var words = product.split(separator: " ")
        if words.last?.hasPrefix("#") == true { words.removeLast() }
        guard words.count >= 2 else { return values }
        values["colour"] = .keyword(words[0].lowercased())
        values["category"] = .keyword(words.dropFirst().joined(separator: " ").lowercased())
        return values
    }
}
