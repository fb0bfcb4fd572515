import FlatVecModel
import FlatVecProtocol
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An async client for a FlatVec server. One TCP connection; any number of concurrent calls are
/// pipelined on it and matched to their replies by request id.
///
/// ```swift
/// let client = try await FlatVecClient.connect(host: "127.0.0.1", port: 7070, token: token)
/// let hits = try await client.search(collection: "products", queries: [embedding], dimension: 512, options: SearchOptions(k: 5))
/// try await client.close()
/// ```
public final class FlatVecClient: Sendable {
    private let channel: Channel
    private let failure: ConnectionFailure
    private let nextRequestID = Atomic<UInt64>(1)
    /// What the server said in reply to HELLO.
    public let hello: HelloResponse

    private init(channel: Channel, failure: ConnectionFailure, hello: HelloResponse) {
        self.channel = channel
        self.failure = failure
        self.hello = hello
    }

    /// Connects and says HELLO.
    /// - Parameters:
    ///   - host: Server host.
    ///   - port: Server port.
    ///   - token: The admin or reader token, if the server needs one.
    ///   - clientName: Shown in the server's log.
    ///   - tls: TLS settings, for a server started with `--tls-cert-file` (nil: plain TCP).
    ///   - group: Event loops; the shared POSIX group by default.
    /// - Returns: A connected client.
    /// - Throws: ``FlatVecError`` with `unavailable` if the connection or the TLS handshake fails (the
    ///   message says why: an untrusted certificate, a name mismatch, a client certificate refused),
    ///   `invalid_argument` for TLS files that cannot be used, or the server's HELLO error.
    public static func connect(
        host: String,
        port: Int,
        token: String? = nil,
        clientName: String = "flatvec-swift",
        tls: ClientTLS? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(FlatVecError) -> FlatVecClient {
        let context = try tls.map { (tls) throws(FlatVecError) in try tls.makeContext() }
        let serverName = tls?.serverName ?? (Self.isIPAddress(host) ? nil : host)
        let failure = ConnectionFailure()
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        }
                        // Replies may be large (a search with vectors); the server enforces its own limits.
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(limit: FrameLimit(UInt32.max))))
                        try channel.pipeline.syncOperations.addHandler(ClientHandler(failure: failure))
                    }
                }
                .connect(host: host, port: port)
                .get()
        } catch {
            throw FlatVecError(.unavailable, "cannot connect to \(host):\(port): \(Self.describeConnectFailure(error))")
        }
        let provisional = FlatVecClient(channel: channel, failure: failure, hello: HelloResponse(version: 1, role: .none, maxFrameBytes: 0, maxK: 0, maxBatch: 0, server: ""))
        let response = try await provisional.send(.hello(HelloRequest(token: token ?? "", clientName: clientName)))
        guard case .hello(let hello) = response else {
            try? await channel.close()
            throw FlatVecError(.badFrame, "unexpected reply to HELLO")
        }
        return FlatVecClient(channel: channel, failure: failure, hello: hello)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// Sends a request and waits for its reply.
    /// - Parameter request: The request.
    /// - Returns: The reply (never `.error`).
    /// - Throws: The server's error reply as a ``FlatVecError``, or `unavailable` if the connection ends.
    public func send(_ request: Request) async throws(FlatVecError) -> Response {
        let id = nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        var frame = channel.allocator.buffer(capacity: 64)
        FrameEncoder().encode(request, requestID: id, into: &frame)
        let promise = channel.eventLoop.makePromise(of: Response.self)
        // If the channel is already closed the write never reaches the handler: fail the reply then,
        // or the caller would wait forever.
        let written = channel.eventLoop.makePromise(of: Void.self)
        let failure = self.failure
        written.futureResult.whenFailure { error in
            promise.fail(failure.value ?? FlatVecError(.unavailable, "connection closed: \(error)"))
        }
        channel.writeAndFlush(PendingRequest(requestID: id, opcode: request.opcode, frame: frame, promise: promise), promise: written)
        let response: Response
        do {
            response = try await promise.futureResult.get()
        } catch let error as FlatVecError {
            throw error
        } catch {
            throw FlatVecError(.unavailable, "\(error)")
        }
        if case .error(let e) = response { throw e.error }
        return response
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }

    /// Round-trip time of a PING.
    public func ping() async throws(FlatVecError) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await send(.ping([]))
        return clock.now - start
    }

    /// Creates a collection.
    public func createCollection(
        _ name: String, dimension: Int, metric: Metric = .innerProduct, attributes: [AttributeDefinition] = []
    ) async throws(FlatVecError) {
        _ = try await send(.createCollection(CreateCollectionRequest(
            name: name, dimension: UInt32(dimension), metric: metric, attributes: attributes
        )))
    }

    /// Describes one collection: its dimension, metric, count and attributes.
    public func describeCollection(_ name: String) async throws(FlatVecError) -> CollectionDescription {
        guard case .described(let r) = try await send(.describeCollection(name)) else { throw Self.unexpected }
        return r
    }

    /// Declares a new attribute of a collection (every stored vector has no value for it).
    public func addAttribute(collection: String, _ definition: AttributeDefinition) async throws(FlatVecError) {
        _ = try await send(.addAttribute(collection: collection, definition: definition))
    }

    /// Drops an attribute of a collection and every value of it.
    public func dropAttribute(collection: String, named name: String) async throws(FlatVecError) {
        _ = try await send(.dropAttribute(collection: collection, name: name))
    }

    /// Changes labels, payloads or attribute values of stored vectors (all or nothing); returns how many.
    @discardableResult
    public func update(collection: String, _ updates: [RowUpdate]) async throws(FlatVecError) -> Int {
        guard case .updated(let n) = try await send(.update(UpdateRequest(collection: collection, updates: updates))) else {
            throw Self.unexpected
        }
        return Int(n)
    }

    /// Drops a collection.
    public func dropCollection(_ name: String) async throws(FlatVecError) {
        _ = try await send(.dropCollection(name))
    }

    /// Lists collections.
    public func listCollections() async throws(FlatVecError) -> [CollectionInfo] {
        guard case .collections(let list) = try await send(.listCollections) else { throw Self.unexpected }
        return list
    }

    /// Upserts a batch.
    /// - Parameters:
    ///   - collection: The collection.
    ///   - batch: The vectors.
    ///   - rejectAbove: Add only if new: when a vector scores at least this with a stored vector (other
    ///     than the one it replaces) or another of the batch, nothing is added and the error
    ///     (`duplicate_vector`) lists each with its best match.
    @discardableResult
    public func add(collection: String, batch: VectorBatch, rejectingDuplicatesAbove rejectAbove: Float? = nil) async throws(FlatVecError) -> AddResponse {
        let request = AddRequest(collection: collection, batch: batch, rejectDuplicatesAbove: rejectAbove)
        guard case .added(let r) = try await send(.add(request)) else { throw Self.unexpected }
        return r
    }

    /// Removes ids (all or nothing).
    @discardableResult
    public func remove(collection: String, ids: [Int64]) async throws(FlatVecError) -> Int {
        guard case .removed(let n) = try await send(.remove(IDListRequest(collection: collection, ids: ids))) else { throw Self.unexpected }
        return Int(n)
    }

    /// Fetches stored vectors.
    public func get(
        collection: String, ids: [Int64], withVectors: Bool = true, withPayloads: Bool = true, withAttributes: Bool = true
    ) async throws(FlatVecError) -> [StoredVector] {
        let request = GetRequest(
            collection: collection, ids: ids, withVectors: withVectors, withPayloads: withPayloads, withAttributes: withAttributes
        )
        guard case .got(let r) = try await send(.get(request)) else {
            throw Self.unexpected
        }
        return r.rows
    }

    /// Searches a batch of queries (`queries.count` a multiple of `dimension`).
    public func search(collection: String, queries: [Float], dimension: Int, options: SearchOptions) async throws(FlatVecError) -> [[SearchHit]] {
        try await search(SearchRequest(collection: collection, dimension: UInt32(dimension), queries: queries, options: options))
    }

    /// Searches with one filter per query (nil for none); `options.filter` is not used.
    public func search(
        collection: String, queries: [Float], dimension: Int, options: SearchOptions, filters: [Filter?]
    ) async throws(FlatVecError) -> [[SearchHit]] {
        try await search(SearchRequest(
            collection: collection, dimension: UInt32(dimension), queries: queries, options: options, queryFilters: filters
        ))
    }

    /// Searches with the stored vectors of `ids` as queries ("more like this one"), optionally leaving
    /// each query's own id out of its hits. Unknown ids get `unknown_id`.
    public func search(
        collection: String, storedIDs ids: [Int64], excludingThemselves: Bool = true, options: SearchOptions
    ) async throws(FlatVecError) -> [[SearchHit]] {
        try await search(SearchRequest(collection: collection, storedIDs: ids, excludingThemselves: excludingThemselves, options: options))
    }

    /// Searches groups of query vectors, one ranking per group by the `max` or `mean` of its vectors'
    /// scores (a burst of frames of one item, the photos of one returned product).
    ///
    /// ```swift
    /// // Eight frames: the five best products over all of them.
    /// let best = try await client.search(collection: "products", queries: frames, dimension: 512,
    ///                                    options: SearchOptions(k: 5, groupByLabel: true),
    ///                                    groups: try QueryGroups(every: 8, of: 8, aggregate: .max))
    /// ```
    /// - Parameters:
    ///   - collection: The collection.
    ///   - queries: `n * dimension` floats, row-major, the groups' vectors in order.
    ///   - dimension: The collection's dimension.
    ///   - options: k, filters, grouping by label (and ``SearchOptions/groupSize``), what hits carry.
    ///   - groups: The sizes of the groups and the aggregate.
    /// - Returns: One list of hits per group.
    public func search(
        collection: String, queries: [Float], dimension: Int, options: SearchOptions, groups: QueryGroups
    ) async throws(FlatVecError) -> [[SearchHit]] {
        var request = SearchRequest(collection: collection, dimension: UInt32(dimension), queries: queries, options: options)
        request.queryGroups = groups
        return try await search(request)
    }

    /// Sends a SEARCH request as it is.
    public func search(_ request: SearchRequest) async throws(FlatVecError) -> [[SearchHit]] {
        guard case .searched(let r) = try await send(.search(request)) else { throw Self.unexpected }
        return r.results
    }

    /// Every stored vector scoring at least `minScore` for each query, best first, up to the server's
    /// limit per query (`flatvec serve --max-range-hits`, default 10,000).
    /// - Parameters:
    ///   - collection: The collection.
    ///   - queries: `n * dimension` floats, row-major.
    ///   - dimension: The collection's dimension.
    ///   - minScore: The inclusive threshold.
    ///   - options: Filter, labels, grouping and what hits carry (`k`, `minScore` and `range` are set here).
    /// - Returns: Per query, the hits and whether the server's limit cut them.
    /// - Throws: As a search does; `invalid_argument` for a NaN threshold.
    public func rangeSearch(
        collection: String, queries: [Float], dimension: Int, minScore: Float, options: SearchOptions = SearchOptions()
    ) async throws(FlatVecError) -> [(hits: [SearchHit], truncated: Bool)] {
        var options = options
        options.minScore = minScore
        options.range = true
        let request = SearchRequest(collection: collection, dimension: UInt32(dimension), queries: queries, options: options)
        guard case .searched(let r) = try await send(.search(request)) else { throw Self.unexpected }
        return r.results.indices.map { (r.results[$0], r.truncated?[$0] ?? false) }
    }

    /// One DUPLICATES exchange: starts a sweep (cursor 0), reads its next page, or ends it.
    /// - Parameter request: The request.
    /// - Returns: The reply: pairs, progress, and the cursor of the next page (0 once the sweep ended).
    public func duplicatesPage(_ request: DuplicatesRequest) async throws(FlatVecError) -> DuplicatesResponse {
        guard case .duplicates(let r) = try await send(.duplicates(request)) else { throw Self.unexpected }
        return r
    }

    /// Every pair of stored vectors of a collection scoring at least `minScore` (a near-duplicate
    /// sweep, exact), page by page as the server finds them.
    ///
    /// ```swift
    /// let last = try await client.duplicates(collection: "products", minScore: 0.95) { page in
    ///     for pair in page.pairs { print(pair.a, pair.b, pair.score) }
    /// }
    /// print("\(last.truncatedRows) rows had more partners than the server lists")
    /// ```
    /// If `onPage` throws (or the task is cancelled), the sweep is ended on the server and the error
    /// is rethrown.
    /// - Parameters:
    ///   - collection: The collection.
    ///   - minScore: The inclusive threshold.
    ///   - filter: Only vectors matching it take part, on both sides of a pair.
    ///   - maxPairs: The most pairs per page.
    ///   - onPage: Called with each page (possibly without pairs: progress only), the last included.
    /// - Returns: The last page (its progress counts the whole sweep).
    @discardableResult
    public func duplicates(
        collection: String, minScore: Float, filter: Filter? = nil, maxPairs: Int = 100_000,
        onPage: (DuplicatePage) async throws -> Void
    ) async throws -> DuplicatePage {
        var request = DuplicatesRequest(collection: collection, minScore: minScore, maxPairs: UInt32(clamping: maxPairs), filter: filter)
        while true {
            let reply = try await duplicatesPage(request)
            do {
                try Task.checkCancellation()
                try await onPage(reply.page)
            } catch {
                if reply.cursor != 0 {
                    var end = request
                    end.cursor = reply.cursor
                    end.ending = true
                    _ = try? await duplicatesPage(end)
                }
                throw error
            }
            if reply.cursor == 0 { return reply.page }
            request.cursor = reply.cursor
        }
    }

    /// One BACKUP exchange: starts an online backup (cursor 0), reads its next piece, or ends it
    /// (admin role). `flatvec backup` writes the pieces into a directory, the MANIFEST last.
    /// - Parameter request: The request.
    /// - Returns: A piece of one file and the cursor of the next (0 with the MANIFEST, the last piece).
    public func backupPiece(_ request: BackupRequest) async throws(FlatVecError) -> BackupResponse {
        guard case .backup(let r) = try await send(.backup(request)) else { throw Self.unexpected }
        return r
    }

    /// Server statistics.
    /// - Parameter storage: Ask for each collection's mapped and on-disk bytes too (protocol revision
    ///   4; a revision 3 server refuses the request with `bad_frame`).
    public func stats(storage: Bool = true) async throws(FlatVecError) -> StatsResponse {
        guard case .stats(let r) = try await send(.stats(storage: storage)) else { throw Self.unexpected }
        return r
    }

    private static var unexpected: FlatVecError { FlatVecError(.badFrame, "the server answered with a reply of another kind") }

    /// Why a connection attempt failed, in words (`connection refused`, `host not found`), not NIO's
    /// internal description.
    static func describeConnectFailure(_ error: any Error) -> String {
        if let failure = error as? NIOConnectionError {
            if let first = failure.connectionErrors.first { return describeConnectFailure(first.error) }
            if failure.dnsAError != nil || failure.dnsAAAAError != nil { return "host not found" }
            return "no address to connect to"
        }
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode)).lowercased()
        }
        if error is ChannelError { return "the connection failed (\(error))" }
        return "\(error)"
    }
}
