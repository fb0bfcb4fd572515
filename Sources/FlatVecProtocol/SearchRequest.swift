import FlatVecModel
import NIOCore

/// SEARCH request: a batch of queries against one collection.
public struct SearchRequest: Sendable, Hashable {
    /// The collection.
    public var collection: String
    /// Components per query.
    public var dimension: UInt32
    /// `count * dimension` floats, row-major.
    public var queries: [Float]
    /// k, filters and what to return.
    public var options: SearchOptions

    /// Creates the request.
    public init(collection: String, dimension: UInt32, queries: [Float], options: SearchOptions) {
        self.collection = collection
        self.dimension = dimension
        self.queries = queries
        self.options = options
    }

    /// Number of queries.
    public var queryCount: Int { dimension == 0 ? 0 : queries.count / Int(dimension) }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> SearchRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let k = try buffer.readU32("k")
        guard k >= 1 && k <= limits.maxK else { throw FlatVecError(.limitExceeded, "k = \(k) is outside 1...\(limits.maxK)") }
        let flags = SearchFlags(rawValue: try buffer.readFlags("SEARCH flags", known: SearchFlags.known.rawValue))
        let minScore = try buffer.readF32("min score")
        let labelCount = try buffer.readCount("label filter count", limit: limits.maxBatch, bytesEach: 8)
        let labels = buffer.readI64Array(count: labelCount)
        let queryCount = try buffer.readCount("query count", limit: limits.maxBatch, bytesEach: 0)
        let dimension = try buffer.readU32("dimension")
        guard (1...UInt32(FlatVecLimits.maximumDimension)).contains(dimension) else {
            throw FlatVecError(.invalidArgument, "dimension \(dimension) is outside 1...\(FlatVecLimits.maximumDimension)")
        }
        let (bytes, overflow) = queryCount.multipliedReportingOverflow(by: Int(dimension) * 4)
        guard !overflow, bytes == buffer.readableBytes else {
            throw malformed("\(queryCount) queries of dimension \(dimension) need \(bytes) bytes, the payload has \(buffer.readableBytes)")
        }
        let queries = buffer.readF32Array(count: queryCount * Int(dimension))
        let options = SearchOptions(
            k: Int(k),
            minScore: flags.contains(.minScore) ? minScore : nil,
            labels: flags.contains(.labelFilter) ? Set(labels) : nil,
            groupByLabel: flags.contains(.groupByLabel),
            includePayloads: flags.contains(.withPayloads),
            includeVectors: flags.contains(.withVectors)
        )
        return SearchRequest(collection: collection, dimension: dimension, queries: queries, options: options)
    }

    /// Encodes the payload. The label filter is written in ascending order.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        buffer.writeU32(UInt32(options.k))
        var flags: SearchFlags = []
        if options.groupByLabel { flags.insert(.groupByLabel) }
        if options.includePayloads { flags.insert(.withPayloads) }
        if options.includeVectors { flags.insert(.withVectors) }
        if options.minScore != nil { flags.insert(.minScore) }
        if options.labels != nil { flags.insert(.labelFilter) }
        buffer.writeU8(flags.rawValue)
        buffer.writeF32(options.minScore ?? 0)
        let labels = options.labels.map { $0.sorted() } ?? []
        buffer.writeCount(labels.count)
        buffer.writeI64Array(labels)
        buffer.writeCount(queryCount)
        buffer.writeU32(dimension)
        buffer.writeF32Array(queries)
    }
}

/// SEARCH reply: hits per query, best first.
public struct SearchResponse: Sendable, Hashable {
    /// Whether hits carry payloads.
    public var withPayloads: Bool
    /// Whether hits carry vectors.
    public var withVectors: Bool
    /// The collection's dimension (length of each vector, when present).
    public var dimension: UInt32
    /// One list per query.
    public var results: [[SearchHit]]

    /// Creates the reply.
    public init(withPayloads: Bool, withVectors: Bool, dimension: UInt32, results: [[SearchHit]]) {
        self.withPayloads = withPayloads
        self.withVectors = withVectors
        self.dimension = dimension
        self.results = results
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> SearchResponse {
        let flags = SearchFlags(rawValue: try buffer.readU8("flags"))
        let dimension = try buffer.readU32("dimension")
        let withPayloads = flags.contains(.withPayloads)
        let withVectors = flags.contains(.withVectors)
        let queryCount = try buffer.readCount("query count", limit: UInt32.max, bytesEach: 4)
        var results: [[SearchHit]] = []
        results.reserveCapacity(queryCount)
        for _ in 0..<queryCount {
            let hitCount = try buffer.readCount("hit count", limit: UInt32.max, bytesEach: 20)
            var hits: [SearchHit] = []
            hits.reserveCapacity(hitCount)
            for _ in 0..<hitCount {
                var hit = SearchHit(id: try buffer.readI64("id"), label: try buffer.readI64("label"), score: try buffer.readF32("score"))
                if withPayloads { hit.payload = try buffer.readOptionalBytes("payload", maxBytes: FlatVecLimits.maximumPayloadBytes) }
                if withVectors {
                    guard buffer.readableBytes >= Int(dimension) * 4 else { throw malformed("payload ends inside a vector") }
                    hit.vector = buffer.readF32Array(count: Int(dimension))
                }
                hits.append(hit)
            }
            results.append(hits)
        }
        try buffer.expectFullyRead("SEARCH reply")
        return SearchResponse(withPayloads: withPayloads, withVectors: withVectors, dimension: dimension, results: results)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU8((withPayloads ? SearchFlags.withPayloads : []).union(withVectors ? .withVectors : []).rawValue)
        buffer.writeU32(dimension)
        buffer.writeCount(results.count)
        for hits in results {
            buffer.writeCount(hits.count)
            for hit in hits {
                buffer.writeI64(hit.id)
                buffer.writeI64(hit.label)
                buffer.writeF32(hit.score)
                if withPayloads { buffer.writeOptionalBytes(hit.payload) }
                if withVectors { buffer.writeF32Array(hit.vector ?? Array(repeating: 0, count: Int(dimension))) }
            }
        }
    }
}
