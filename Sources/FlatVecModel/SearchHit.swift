/// One search result.
public struct SearchHit: Sendable, Hashable {
    /// The vector's external id.
    public var id: Int64
    /// The vector's label.
    public var label: Int64
    /// Inner product (or cosine similarity) with the query; larger is more similar.
    public var score: Float
    /// The payload, when the search asked for payloads and the vector has one.
    public var payload: [UInt8]?
    /// The stored vector, when the search asked for vectors.
    public var vector: [Float]?
    /// The attribute values (absent ones omitted), when the search asked for attributes.
    public var attributes: [String: AttributeValue]?

    /// Creates a hit.
    public init(
        id: Int64, label: Int64, score: Float, payload: [UInt8]? = nil, vector: [Float]? = nil,
        attributes: [String: AttributeValue]? = nil
    ) {
        self.id = id
        self.label = label
        self.score = score
        self.payload = payload
        self.vector = vector
        self.attributes = attributes
    }

    /// The payload decoded as UTF-8, if any.
    public var payloadString: String? { payload.map { String(decoding: $0, as: UTF8.self) } }

    /// Whether `self` ranks before `other`: higher score, then smaller id.
    @inline(__always)
    public func ranks(before other: SearchHit) -> Bool {
        score > other.score || (score == other.score && id < other.id)
    }
}

/// A stored vector with its metadata, as returned by ``FlatIndex/get(ids:)``.
public struct StoredVector: Sendable, Hashable {
    /// External id.
    public var id: Int64
    /// Label.
    public var label: Int64
    /// The vector (normalised under cosine).
    public var vector: [Float]
    /// The payload, if any.
    public var payload: [UInt8]?
    /// The attribute values (absent ones omitted).
    public var attributes: [String: AttributeValue]

    /// Creates a stored vector.
    public init(id: Int64, label: Int64, vector: [Float], payload: [UInt8]?, attributes: [String: AttributeValue] = [:]) {
        self.id = id
        self.label = label
        self.vector = vector
        self.payload = payload
        self.attributes = attributes
    }
}
