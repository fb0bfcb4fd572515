import FlatVecModel
import NIOCore

/// DUPLICATES request: starts a near-duplicate sweep of a collection (every pair of stored vectors
/// scoring at least a threshold), or reads or ends the next page of one (PROTOCOL.md 4.7).
public struct DuplicatesRequest: Sendable, Hashable {
    /// The most pairs one reply may carry.
    public static let maximumPairsPerPage = 1_000_000

    /// The collection.
    public var collection: String
    /// The inclusive threshold (a new sweep only).
    public var minScore: Float
    /// 0 to start a sweep; otherwise the cursor of the sweep to go on with (or to end).
    public var cursor: UInt64
    /// The most pairs in the reply, 1 to ``maximumPairsPerPage``.
    public var maxPairs: UInt32
    /// Only vectors matching it take part (a new sweep only).
    public var filter: Filter?
    /// Ends the sweep of ``cursor`` instead of reading on.
    public var ending: Bool
    /// Most partners listed per row: the server's range limit (not on the wire).
    public var partnerLimit: Int = FlatVecLimits.defaultRangeHits

    /// Creates a request.
    /// - Parameters:
    ///   - collection: The collection.
    ///   - minScore: The inclusive threshold.
    ///   - cursor: 0 to start, or a reply's cursor.
    ///   - maxPairs: The most pairs in the reply.
    ///   - filter: Only vectors matching it take part.
    ///   - ending: End the sweep of `cursor`.
    public init(collection: String, minScore: Float, cursor: UInt64 = 0, maxPairs: UInt32 = 100_000, filter: Filter? = nil, ending: Bool = false) {
        self.collection = collection
        self.minScore = minScore
        self.cursor = cursor
        self.maxPairs = maxPairs
        self.filter = filter
        self.ending = ending
    }

    /// Decodes the payload.
    public static func decode(from buffer: inout ByteBuffer, limits: ProtocolLimits) throws(FlatVecError) -> DuplicatesRequest {
        let collection = try buffer.readString("collection name", maxBytes: CollectionName.maximumLength)
        let minScore = try buffer.readF32("min score")
        let cursor = try buffer.readU64("cursor")
        let maxPairs = try buffer.readU32("max pairs")
        let flags = DuplicatesFlags(rawValue: try buffer.readFlags("DUPLICATES flags", known: DuplicatesFlags.known.rawValue))
        var filter: Filter?
        if flags.contains(.filter) {
            var nodes = 0
            filter = try buffer.readFilter(nodes: &nodes)
        }
        try buffer.expectFullyRead("DUPLICATES")
        guard minScore.isFinite else {
            throw FlatVecError(.invalidArgument, "min_score must be a finite number, not \(minScore)")
        }
        guard (1...UInt32(maximumPairsPerPage)).contains(maxPairs) || flags.contains(.end) else {
            throw FlatVecError(.limitExceeded, "max_pairs = \(maxPairs) is outside 1...\(maximumPairsPerPage)")
        }
        guard !flags.contains(.end) || cursor != 0 else {
            throw FlatVecError(.invalidArgument, "ending a sweep (flags bit 1) needs its cursor, not 0")
        }
        var request = DuplicatesRequest(
            collection: collection, minScore: minScore, cursor: cursor, maxPairs: maxPairs, filter: filter, ending: flags.contains(.end)
        )
        request.partnerLimit = Int(limits.maxRangeHits)
        return request
    }

    /// Encodes the payload.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeFlatVecString(collection)
        buffer.writeF32(minScore)
        buffer.writeU64(cursor)
        buffer.writeU32(maxPairs)
        var flags: DuplicatesFlags = []
        if filter != nil { flags.insert(.filter) }
        if ending { flags.insert(.end) }
        buffer.writeU8(flags.rawValue)
        if let filter { buffer.writeFilter(filter) }
    }
}

/// DUPLICATES reply: a page of pairs and the sweep's progress.
public struct DuplicatesResponse: Sendable, Hashable {
    /// The cursor for the next page; 0 once the sweep has ended (finished or ended by the client).
    public var cursor: UInt64
    /// The pairs of this page and the progress.
    public var page: DuplicatePage

    /// Creates the reply.
    /// - Parameters:
    ///   - cursor: The next page's cursor, or 0.
    ///   - page: The pairs and progress.
    public init(cursor: UInt64, page: DuplicatePage) {
        self.cursor = cursor
        self.page = page
    }

    static func decode(from buffer: inout ByteBuffer) throws(FlatVecError) -> DuplicatesResponse {
        let cursor = try buffer.readU64("cursor")
        let done = try buffer.readU64("rows done")
        let total = try buffer.readU64("rows total")
        let truncated = try buffer.readU64("truncated rows")
        let count = try buffer.readCount("pair count", limit: UInt32(DuplicatesRequest.maximumPairsPerPage), bytesEach: 20)
        var pairs: [DuplicatePair] = []
        pairs.reserveCapacity(count)
        for _ in 0..<count {
            let a = try buffer.readI64("a")
            let b = try buffer.readI64("b")
            let score = try buffer.readF32("score")
            guard a < b else { throw malformed("pair (\(a), \(b)) is not in ascending order") }
            pairs.append(DuplicatePair(a, b, score: score))
        }
        try buffer.expectFullyRead("DUPLICATES reply")
        guard done <= total, total <= UInt64(Int.max), truncated <= total else {
            throw malformed("progress \(done) of \(total) rows (\(truncated) truncated) does not add up")
        }
        return DuplicatesResponse(
            cursor: cursor,
            page: DuplicatePage(pairs: pairs, finished: cursor == 0, rowsDone: Int(done), rowsTotal: Int(total), truncatedRows: Int(truncated))
        )
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeU64(cursor)
        buffer.writeU64(UInt64(page.rowsDone))
        buffer.writeU64(UInt64(page.rowsTotal))
        buffer.writeU64(UInt64(page.truncatedRows))
        buffer.writeCount(page.pairs.count)
        for pair in page.pairs {
            buffer.writeI64(pair.a)
            buffer.writeI64(pair.b)
            buffer.writeF32(pair.score)
        }
    }
}
