import FlatVecCore
import FlatVecFormats

/// The sample catalogue shipped in `data/` (see scripts/generate-sample-catalogue.py).
enum SampleCatalogue {
    /// The collection the server creates for it.
    static let collectionName = "products"

    /// Whether `directory` holds the catalogue.
    static func exists(in directory: String) -> Bool {
        (try? VectorFile.readIntegers(directory + "/products-ids.npy")) != nil
    }

    /// Reads the catalogue as one batch.
    static func load(from directory: String) throws -> VectorBatch {
        let vectors = try VectorFile.readFloat32Matrix(directory + "/products.npy")
        let ids = try VectorFile.readIntegers(directory + "/products-ids.npy")
        let labels = try VectorFile.readIntegers(directory + "/products-labels.npy")
        let payloads = try VectorFile.readPayloadLines(directory + "/products-payloads.jsonl")
        return try VectorBatch(dimension: vectors.columns, ids: ids, labels: labels, vectors: vectors.values, payloads: payloads)
    }
}
