import FlatVecCore
import FlatVecProtocol
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The FlatVec TCP server, as a `Service`: `run()` listens until graceful shutdown (SIGTERM / SIGINT
/// through a `ServiceGroup`) or cancellation, then stops accepting, lets every connection finish the
/// requests it has in flight, and returns.
public final class FlatVecServer: Service, Sendable {
    /// The configuration.
    public let configuration: ServerConfiguration
    /// Runs the requests.
    public let executor: RequestExecutor
    private let logger: Logger
    private let group: any EventLoopGroup
    private let boundAddress = Mutex<SocketAddress?>(nil)
    private let listening: AsyncStream<SocketAddress>
    private let listeningContinuation: AsyncStream<SocketAddress>.Continuation
    private let tls: TLSContextBox?

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: Address, tokens, limits, timeouts.
    ///   - executor: Collections and store.
    ///   - logger: Where connection events go (one line per open/close and per error).
    ///   - group: Event loops; the shared POSIX group by default.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` if the TLS files cannot be read or used.
    public init(
        configuration: ServerConfiguration,
        executor: RequestExecutor,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(FlatVecError) {
        self.tls = try configuration.tls.map { (files) throws(FlatVecError) in try TLSContextBox(files: files) }
        self.configuration = configuration
        self.executor = executor
        self.logger = logger
        self.group = group
        (listening, listeningContinuation) = AsyncStream.makeStream(of: SocketAddress.self)
    }

    /// Reads the TLS certificate, key and client CA files again; connections accepted from now on use
    /// them, connections already open keep theirs (`flatvec serve` does this on SIGHUP).
    /// - Throws: ``FlatVecError/Code/invalidArgument`` if the new files cannot be used (the old ones
    ///   stay in force), or if the server has no TLS.
    public func reloadTLS() throws(FlatVecError) {
        guard let tls else { throw FlatVecError(.invalidArgument, "the server does not use TLS") }
        try tls.reload()
    }

    /// The address the server listens on, once it does (waits for the bind); nil if it never will.
    public func listeningAddress() async -> SocketAddress? {
        if let address = boundAddress.withLock({ $0 }) { return address }
        for await address in listening { return address }
        return boundAddress.withLock { $0 }
    }

    /// Listens and serves until graceful shutdown or cancellation.
    public func run() async throws {
        let threadPool = NIOThreadPool(numberOfThreads: configuration.workerThreads)
        threadPool.start()
        let writePool = NIOThreadPool(numberOfThreads: configuration.writeThreads)
        writePool.start()
        defer { listeningContinuation.finish() }
        let quiesce = ServerQuiescingHelper(group: group)
        let shared = ConnectionHandler.Shared(
            configuration: configuration, executor: executor, threadPool: threadPool, writePool: writePool, logger: logger
        )
        let configuration = self.configuration
        let tls = self.tls
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 512)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: configuration.writeBufferHighWaterMark / 2, high: configuration.writeBufferHighWaterMark))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let limit = FrameLimit(ConnectionRules(configuration: configuration).frameLimit)
                        let progress = ByteProgress()
                        let pipeline = channel.pipeline.syncOperations
                        // TLS first: the handlers after it see the same frames as on plain TCP.
                        if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls.current)) }
                        try pipeline.addHandler(ByteCountingHandler(progress: progress))
                        try pipeline.addHandler(ByteToMessageHandler(
                            FrameDecoder(limit: limit),
                            maximumBufferSize: Int(configuration.limits.maxFrameBytes) + FrameHeader.lengthFieldSize + 65_536
                        ))
                        try pipeline.addHandler(ConnectionHandler(shared: shared, frameLimit: limit, progress: progress))
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            try? await threadPool.shutdownGracefully()
            try? await writePool.shutdownGracefully()
            throw FlatVecError(.unavailable, "cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        if let address = channel.localAddress {
            boundAddress.withLock { $0 = address }
            listeningContinuation.yield(address)
        }
        // Compactions and the reconciliation of writes of unknown outcome run for the server's life;
        // at shutdown a compaction in progress is finished, not abandoned.
        let maintenance = Task { [executor] in await executor.runMaintenance() }
        let allClosed = group.next().makePromise(of: Void.self)
        let started = Mutex(false)
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await channel.closeFuture.get()
            try? await allClosed.futureResult.get()
        } onCancelOrGracefulShutdown: { [logger] in
            guard !started.withLock({ let was = $0; $0 = true; return was }) else { return }
            logger.info("shutting down: no new connections; finishing requests in flight")
            quiesce.initiateShutdown(promise: allClosed)
        }
        maintenance.cancel()
        await maintenance.value
        // Every request is answered: compact what the log holds, so the next start maps segments
        // and replays nothing (a crash instead leaves the log to replay).
        do {
            try await writePool.runIfActive { [executor] in try executor.checkpoint() }
        } catch {
            logger.warning("stopping without a final compaction: the next start replays the log", metadata: ["error": "\(error)"])
        }
        try? await threadPool.shutdownGracefully()
        try? await writePool.shutdownGracefully()
        logger.info("stopped")
    }
}
