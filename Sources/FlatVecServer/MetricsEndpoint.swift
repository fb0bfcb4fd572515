import FlatVecModel
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Dispatch
import Synchronization

/// Serves the server's metrics in Prometheus text format on `GET /metrics` (plain HTTP/1.1 through
/// NIOHTTP1), as a `Service` beside ``FlatVecServer`` (`flatvec serve --metrics-port`), and the
/// probes: `GET /healthz` (200 while the process serves: a liveness probe) and `GET /readyz` (200 once
/// ``Readiness`` says so, else 503 with the reasons: a readiness probe). Other paths get 404, other
/// methods 405.
public final class MetricsEndpoint: Service, Sendable {
    private let host: String
    private let port: Int
    private let executor: RequestExecutor?
    private let metrics: ServerMetrics
    private let readiness: Readiness
    private let logger: Logger
    private let group: any EventLoopGroup
    private let boundAddress = Mutex<SocketAddress?>(nil)
    private let bound: AsyncStream<SocketAddress>
    private let boundContinuation: AsyncStream<SocketAddress>.Continuation

    /// Creates the endpoint.
    /// - Parameters:
    ///   - host: Address to bind.
    ///   - port: Port (0: any free one; see ``listeningAddress()``).
    ///   - executor: Its collections are read at each scrape.
    ///   - metrics: The metrics to serve.
    ///   - readiness: What `/readyz` answers; nil for a server whose collections are loaded already.
    ///   - logger: For the bind and failures.
    ///   - group: Event loops; the shared POSIX group by default.
    public init(
        host: String, port: Int, executor: RequestExecutor, metrics: ServerMetrics, readiness: Readiness? = nil, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.executor = executor
        self.metrics = metrics
        self.readiness = readiness ?? {
            let loaded = Readiness()
            loaded.loaded()
            return loaded
        }()
        self.logger = logger
        self.group = group
        (bound, boundContinuation) = AsyncStream.makeStream(of: SocketAddress.self)
    }

    /// Creates the endpoint of a server that does not exist yet: until ``Readiness/serving(_:)``
    /// names its executor, `/readyz` and `/metrics` answer 503 with what is loading.
    /// - Parameters:
    ///   - host: Address to bind.
    ///   - port: Port (0: any free one).
    ///   - metrics: The metrics to serve.
    ///   - readiness: Readiness, which will name the executor.
    ///   - logger: For the bind and failures.
    ///   - group: Event loops; the shared POSIX group by default.
    public init(
        host: String, port: Int, metrics: ServerMetrics, readiness: Readiness, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.executor = nil
        self.metrics = metrics
        self.readiness = readiness
        self.logger = logger
        self.group = group
        (bound, boundContinuation) = AsyncStream.makeStream(of: SocketAddress.self)
    }

    /// The address it listens on, once it does; nil if it never will.
    public func listeningAddress() async -> SocketAddress? {
        if let address = boundAddress.withLock({ $0 }) { return address }
        for await address in bound { return address }
        return boundAddress.withLock { $0 }
    }

    /// Listens until graceful shutdown or cancellation.
    public func run() async throws {
        defer { boundContinuation.finish() }
        let executor = self.executor
        let metrics = self.metrics
        let readiness = self.readiness
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(executor: executor, metrics: metrics, readiness: readiness))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw FlatVecError(.unavailable, "cannot listen for metrics on \(host):\(port): \(error)")
        }
        if let address = channel.localAddress {
            boundAddress.withLock { $0 = address }
            boundContinuation.yield(address)
            logger.info("serving Prometheus metrics", metadata: ["address": "http://\(host):\(address.port ?? port)/metrics"])
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// Answers one HTTP request at a time on a connection.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let executor: RequestExecutor?
    private let metrics: ServerMetrics
    private let readiness: Readiness
    private var request: HTTPRequestHead?

    init(executor: RequestExecutor?, metrics: ServerMetrics, readiness: Readiness) {
        self.executor = executor
        self.metrics = metrics
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let known = ["/metrics", "/healthz", "/readyz"]
        if known.contains(path) && (head.method == .GET || head.method == .HEAD) && path == "/readyz" {
            // The readiness check probes the store: off the event loop, then back to reply.
            let readiness = self.readiness
            let executor = self.executor
            let loop = context.eventLoop
            let reply = NIOLoopBound((self, context), eventLoop: loop)
            DispatchQueue.global().async {
                let reasons = readiness.notReadyBecause(executor)
                loop.execute {
                    let (handler, context) = reply.value
                    let body = reasons.map { "not ready: " + $0.joined(separator: "; ") + "\n" } ?? "ready\n"
                    handler.send(head: head, status: reasons == nil ? .ok : .serviceUnavailable, body: Array(body.utf8), context: context)
                }
            }
            return
        }
        let status: HTTPResponseStatus
        var body: [UInt8]
        var contentType = "text/plain; charset=utf-8"
        if !known.contains(path) {
            status = .notFound
            body = Array("not found: metrics are at /metrics, probes at /healthz and /readyz\n".utf8)
        } else if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body = Array("only GET /metrics, /healthz and /readyz\n".utf8)
        } else if path == "/healthz" {
            status = .ok
            body = Array("ok\n".utf8)
        } else if let executor = executor ?? readiness.executor {
            executor.refreshMetrics()
            status = .ok
            body = metrics.emit()
            contentType = "text/plain; version=0.0.4; charset=utf-8"
        } else {
            status = .serviceUnavailable
            body = Array("not ready: the collections are loading\n".utf8)
        }
        send(head: head, status: status, body: body, contentType: contentType, context: context)
    }

    private func send(
        head: HTTPRequestHead, status: HTTPResponseStatus, body: [UInt8], contentType: String = "text/plain; charset=utf-8",
        context: ChannelHandlerContext
    ) {
        var body = body
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if head.method == .HEAD { body = [] }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        // The channel, not the context, crosses into the callback: a Channel is Sendable.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
