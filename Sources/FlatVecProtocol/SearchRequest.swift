import FlatVecModel
import NIOCore

/// SEARCH request: a batch of queries against one collection.
public struct SearchRequest: Sendable, Hashable {
    /// The collection.
    public var collection: String
    /// Components per query (0 when the queries are stored ids).
    public var dimension: UInt32
    /// `count * dimension` floats, row-major (empty when the queries are stored ids).
    public var queries: [Float]
    /// The stored ids whose vectors are the queries, or nil when the queries are vectors.
    public var storedIDs: [Int64]?
    /// With ``storedIDs``: no query returns its own id.
    public var excludingThemselves: Bool
    /// k, filters and what to return; `options.filter` applies to every query unless ``queryFilters`` is set.
    public var options: SearchOptions
    /// One filter (or nil) per query, overriding `options.filter`.
    public var queryFilters: [Filter?]?
    /// Query vectors searched as groups, one ranking per group (the reply has one list per group).
    public var queryGroups: QueryGroups?

    /// Creates a request for query vectors.
    public init(collection: String, dimension: UInt32, queries: [Float], options: SearchOptions, queryFilters: [Filter?]? = nil) {
        self.collection = collection
        self.dimension = dimension
        self.queries = queries
        self.storedIDs = nil
        self.excludingThemselves = false
        self.options = options
        self.queryFilters = queryFilters
    }

    /// Creates a request whose queries are the stored vectors of `ids` ("more like this one").
    public init(collection: String, storedIDs: [Int64], excludingThemselves: Bool, options: SearchOptions, queryFilters: [Filter?]? = nil) {
        self.collection = collection
        self.dimension = 0
        self.queries = []
        self.storedIDs = storedIDs
        self.excludingThemselves = excludingThemselves
        self.options = options
        self.queryFilters = queryFilters
    }

    /// Number of queries.
    public var queryCount: Int { storedIDs?.count ?? (dimension == 0 ? 0 : queries.count / Int(dimension)) }

    /// The options of every query (one per query when filters differ, else one for all).
    public var optionsPerQuery: [SearchOptions] {
        guard let queryFilters else { return [options] }
        return queryFilters.map { filter in
            var o = options
            o.filter = filter
            return o
        }
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> SearchRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let k = try buffer.readU32("k")
        guard k <= limits.maxK else { throw FlatVecError(.limitExceeded, "k = \(k) is outside 0...\(limits.maxK)") }
        let flags = SearchFlags(rawValue: try buffer.readFlags("SEARCH flags", known: SearchFlags.known.rawValue))
        // k = 0: a range search, every hit scoring at least min_score, up to the server's limit.
        guard k > 0 || flags.contains(.minScore) else {
            throw FlatVecError(.invalidArgument, "k = 0 asks for a range search, which needs min_score (flags bit 3)")
        }
        let minScore = try buffer.readF32("min score")
        let labelCount = try buffer.readCount("label filter count", limit: limits.maxBatch, bytesEach: 8)
        let labels = buffer.readI64Array(count: labelCount)
        let queryCount = try buffer.readCount("query count", limit: limits.maxBatch, bytesEach: 0)
        var dimension: UInt32 = 0
        var queries: [Float] = []
        var storedIDs: [Int64]?
        var excluding = false
        if flags.contains(.byStoredIDs) {
            let exclude = try buffer.readU8("exclude_self")
            guard exclude <= 1 else { throw FlatVecError(.invalidArgument, "exclude_self is \(exclude), not 0 or 1") }
            excluding = exclude == 1
            guard queryCount <= buffer.readableBytes / 8 else { throw malformed("payload ends inside the query ids") }
            storedIDs = buffer.readI64Array(count: queryCount)
        } else {
            dimension = try buffer.readU32("dimension")
            guard (1...UInt32(FlatVecLimits.maximumDimension)).contains(dimension) else {
                throw FlatVecError(.invalidArgument, "dimension \(dimension) is outside 1...\(FlatVecLimits.maximumDimension)")
            }
            let (bytes, overflow) = queryCount.multipliedReportingOverflow(by: Int(dimension) * 4)
            guard !overflow, bytes <= buffer.readableBytes else {
                throw malformed("\(queryCount) queries of dimension \(dimension) need \(bytes) bytes, the payload has \(buffer.readableBytes)")
            }
            queries = buffer.readF32Array(count: queryCount * Int(dimension))
        }
        var sharedFilter: Filter?
        var queryFilters: [Filter?]?
        if flags.contains(.filters) {
            var nodes = 0
            let mode = try buffer.readU8("filter mode")
            switch mode {
            case 1:
                sharedFilter = try buffer.readFilter(nodes: &nodes)
            case 2:
                var filters: [Filter?] = []
                filters.reserveCapacity(queryCount)
                for _ in 0..<queryCount {
                    if buffer.readableBytes > 0, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == FilterTag.none {
                        buffer.moveReaderIndex(forwardBy: 1)
                        filters.append(nil)
                    } else {
                        nodes = 0
                        filters.append(try buffer.readFilter(nodes: &nodes))
                    }
                }
                queryFilters = filters
            default:
                throw FlatVecError(.invalidArgument, "filter mode \(mode), not 1 (one for all) or 2 (one per query)")
            }
        }
        // Revision 3: an extensions byte, then what its bits announce (group size, query groups).
        var groupSize = 1
        var groups: QueryGroups?
        if buffer.readableBytes > 0 {
            let extensions = SearchExtensions(rawValue: try buffer.readFlags("SEARCH extensions", known: SearchExtensions.known.rawValue))
            if extensions.contains(.groupSize) {
                let size = try buffer.readU32("group size")
                guard size >= 1 else {
                    throw FlatVecError(.invalidArgument, "group_size 0 is not a number of hits per label: give 1 or more")
                }
                guard size <= UInt32(FlatVecLimits.maximumGroupSize) else {
                    throw FlatVecError(.limitExceeded, "group_size \(size) is outside 1...\(FlatVecLimits.maximumGroupSize)")
                }
                guard flags.contains(.groupByLabel) else {
                    throw FlatVecError(.invalidArgument, "group_size \(size) needs group_by_label (flags bit 0): it counts hits per label")
                }
                groupSize = Int(size)
            }
            if extensions.contains(.queryGroups) {
                let count = try buffer.readCount("query group count", limit: UInt32(max(1, queryCount)), bytesEach: 4)
                var sizes: [Int] = []
                sizes.reserveCapacity(count)
                for _ in 0..<count { sizes.append(Int(try buffer.readU32("query group size"))) }
                let aggregate = try buffer.readU8("aggregate")
                guard let kind = QueryGroups.Aggregate(rawValue: aggregate) else {
                    throw FlatVecError(.invalidArgument, "aggregate \(aggregate), not 1 (max) or 2 (mean)")
                }
                groups = QueryGroups(sizes: sizes, aggregate: kind)
                try groups!.check(queries: queryCount)
            }
        }
        try buffer.expectFullyRead("SEARCH")
        var options = SearchOptions(
            k: k == 0 ? Int(limits.maxRangeHits) : Int(k),
            minScore: flags.contains(.minScore) ? minScore : nil,
            labels: flags.contains(.labelFilter) ? Set(labels) : nil,
            groupByLabel: flags.contains(.groupByLabel),
            includePayloads: flags.contains(.withPayloads),
            includeVectors: flags.contains(.withVectors),
            filter: sharedFilter,
            includeAttributes: flags.contains(.withAttributes)
        )
        options.range = k == 0
        options.groupSize = groupSize
        var request = storedIDs.map {
            SearchRequest(collection: collection, storedIDs: $0, excludingThemselves: excluding, options: options, queryFilters: queryFilters)
        } ?? SearchRequest(collection: collection, dimension: dimension, queries: queries, options: options, queryFilters: queryFilters)
        request.queryGroups = groups
        return request
    }

    /// Encodes the payload. The label filter is written in ascending order.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        // A range search is k = 0 on the wire: the server applies its own limit.
        buffer.writeU32(options.range ? 0 : UInt32(options.k))
        var flags: SearchFlags = []
        if options.groupByLabel { flags.insert(.groupByLabel) }
        if options.includePayloads { flags.insert(.withPayloads) }
        if options.includeVectors { flags.insert(.withVectors) }
        if options.minScore != nil { flags.insert(.minScore) }
        if options.labels != nil { flags.insert(.labelFilter) }
        if options.filter != nil || queryFilters != nil { flags.insert(.filters) }
        if options.includeAttributes { flags.insert(.withAttributes) }
        if storedIDs != nil { flags.insert(.byStoredIDs) }
        buffer.writeU8(flags.rawValue)
        buffer.writeF32(options.minScore ?? 0)
        let labels = options.labels.map { $0.sorted() } ?? []
        buffer.writeCount(labels.count)
        buffer.writeI64Array(labels)
        buffer.writeCount(queryCount)
        if let storedIDs {
            buffer.writeU8(excludingThemselves ? 1 : 0)
            buffer.writeI64Array(storedIDs)
        } else {
            buffer.writeU32(dimension)
            buffer.writeF32Array(queries)
        }
        if let queryFilters {
            buffer.writeU8(2)
            for filter in queryFilters {
                if let filter { buffer.writeFilter(filter) } else { buffer.writeU8(FilterTag.none) }
            }
        } else if let filter = options.filter {
            buffer.writeU8(1)
            buffer.writeFilter(filter)
        }
        var extensions: SearchExtensions = []
        if options.groupSize != 1 { extensions.insert(.groupSize) }
        if queryGroups != nil { extensions.insert(.queryGroups) }
        guard !extensions.isEmpty else { return }
        buffer.writeU8(extensions.rawValue)
        if options.groupSize != 1 { buffer.writeU32(UInt32(clamping: options.groupSize)) }
        if let queryGroups {
            buffer.writeCount(queryGroups.sizes.count)
            for size in queryGroups.sizes { buffer.writeU32(UInt32(clamping: size)) }
            buffer.writeU8(queryGroups.aggregate.rawValue)
        }
    }
}

/// SEARCH reply: hits per query, best first.
public struct SearchResponse: Sendable, Hashable {
    /// Whether hits carry payloads.
    public var withPayloads: Bool
    /// Whether hits carry vectors.
    public var withVectors: Bool
    /// Whether hits carry attribute values.
    public var withAttributes: Bool
    /// The collection's dimension (length of each vector, when present).
    public var dimension: UInt32
    /// One list per query.
    public var results: [[SearchHit]]
    /// For a range search (`k = 0`), whether each query's list was cut at the server's limit; nil
    /// for a top-k search.
    public var truncated: [Bool]?

    /// Creates the reply.
    /// - Parameters:
    ///   - withPayloads: Whether hits carry payloads.
    ///   - withVectors: Whether hits carry vectors.
    ///   - withAttributes: Whether hits carry attribute values.
    ///   - dimension: The collection's dimension.
    ///   - results: One list per query.
    ///   - truncated: For a range search, one mark per query: whether its list was cut.
    public init(
        withPayloads: Bool, withVectors: Bool, withAttributes: Bool = false, dimension: UInt32, results: [[SearchHit]],
        truncated: [Bool]? = nil
    ) {
        self.withPayloads = withPayloads
        self.withVectors = withVectors
        self.withAttributes = withAttributes
        self.dimension = dimension
        self.results = results
        self.truncated = truncated
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> SearchResponse {
        let flags = SearchFlags(rawValue: try buffer.readU8("flags"))
        let dimension = try buffer.readU32("dimension")
        let withPayloads = flags.contains(.withPayloads)
        let withVectors = flags.contains(.withVectors)
        let withAttributes = flags.contains(.withAttributes)
        let range = flags.contains(.minScore)
        let queryCount = try buffer.readCount("query count", limit: UInt32.max, bytesEach: range ? 5 : 4)
        var results: [[SearchHit]] = []
        var truncated: [Bool]? = range ? [] : nil
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
                if withAttributes { hit.attributes = try buffer.readAttributeValues() }
                hits.append(hit)
            }
            results.append(hits)
            if range {
                let cut = try buffer.readU8("truncated")
                guard cut <= 1 else { throw malformed("truncated is \(cut), not 0 or 1") }
                truncated!.append(cut == 1)
            }
        }
        try buffer.expectFullyRead("SEARCH reply")
        return SearchResponse(
            withPayloads: withPayloads, withVectors: withVectors, withAttributes: withAttributes, dimension: dimension, results: results,
            truncated: truncated
        )
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU8(
            (withPayloads ? SearchFlags.withPayloads : []).union(withVectors ? .withVectors : [])
                .union(withAttributes ? .withAttributes : []).union(truncated != nil ? .minScore : []).rawValue
        )
        buffer.writeU32(dimension)
        buffer.writeCount(results.count)
        for (q, hits) in results.enumerated() {
            buffer.writeCount(hits.count)
            for hit in hits {
                buffer.writeI64(hit.id)
                buffer.writeI64(hit.label)
                buffer.writeF32(hit.score)
                if withPayloads { buffer.writeOptionalBytes(hit.payload) }
                if withVectors { buffer.writeF32Array(hit.vector ?? Array(repeating: 0, count: Int(dimension))) }
                if withAttributes { buffer.writeAttributeValues(hit.attributes ?? [:]) }
            }
            if let truncated { buffer.writeU8(truncated[q] ? 1 : 0) }
        }
    }
}
