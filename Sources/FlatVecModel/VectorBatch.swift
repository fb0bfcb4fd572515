/// A batch of vectors to upsert: ids, labels, row-major vectors and optional payloads.
public struct VectorBatch: Sendable, Hashable {
    /// Components per vector.
    public let dimension: Int
    /// External ids, unique within the batch.
    public let ids: [Int64]
    /// The label (product) of each vector.
    public let labels: [Int64]
    /// `ids.count * dimension` floats, row-major.
    public let vectors: [Float]
    /// One optional UTF-8 payload per vector, or empty for none at all.
    public let payloads: [[UInt8]?]
    /// The attribute values of each vector (absent names are null), or empty for none at all.
    public let attributes: [[String: AttributeValue]]

    /// Creates a batch, checking that the arrays agree in length.
    /// - Parameters:
    ///   - dimension: Components per vector.
    ///   - ids: External ids.
    ///   - labels: Labels, one per id.
    ///   - vectors: `ids.count * dimension` floats.
    ///   - payloads: One optional payload per id, or empty for none.
    ///   - attributes: The attribute values of each id, or empty for none.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` when the lengths disagree,
    ///   ``FlatVecError/Code/dimensionMismatch`` when `vectors` is not `ids.count * dimension` long.
    public init(
        dimension: Int,
        ids: [Int64],
        labels: [Int64],
        vectors: [Float],
        payloads: [[UInt8]?] = [],
        attributes: [[String: AttributeValue]] = []
    ) throws(FlatVecError) {
        guard labels.count == ids.count else {
            throw FlatVecError(.invalidArgument, "batch has \(ids.count) ids but \(labels.count) labels")
        }
        guard payloads.isEmpty || payloads.count == ids.count else {
            throw FlatVecError(.invalidArgument, "batch has \(ids.count) ids but \(payloads.count) payloads")
        }
        guard attributes.isEmpty || attributes.count == ids.count else {
            throw FlatVecError(.invalidArgument, "batch has \(ids.count) ids but \(attributes.count) attribute sets")
        }
        guard dimension > 0, vectors.count == ids.count * dimension else {
            throw FlatVecError(
                .dimensionMismatch,
                "batch of \(ids.count) vectors of dimension \(dimension) needs \(ids.count * dimension) floats, got \(vectors.count)"
            )
        }
        self.dimension = dimension
        self.ids = ids
        self.labels = labels
        self.vectors = vectors
        self.payloads = payloads
        self.attributes = attributes
    }

    /// Creates a batch of one vector.
    /// - Parameters:
    ///   - id: External id.
    ///   - label: Label (product).
    ///   - vector: The vector.
    ///   - payload: Optional UTF-8 payload.
    ///   - attributes: Attribute values.
    public init(id: Int64, label: Int64, vector: [Float], payload: String? = nil, attributes: [String: AttributeValue] = [:]) {
        self.dimension = vector.count
        self.ids = [id]
        self.labels = [label]
        self.vectors = vector
        self.payloads = payload.map { [Array($0.utf8)] } ?? []
        self.attributes = attributes.isEmpty ? [] : [attributes]
    }

    /// Number of vectors.
    public var count: Int { ids.count }

    /// Whether the batch holds no vectors.
    public var isEmpty: Bool { ids.isEmpty }
}
