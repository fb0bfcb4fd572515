import FlatVecCore
import FlatVecProtocol
import Logging
import NIOCore
import NIOSSL
import NIOPosix

/// Serves one connection by carrying out what its ``ConnectionStateMachine`` decides: replies on the
/// event loop, always in request order; requests on the worker threads (one at a time, except that
/// consecutive searches run together and wait in their index's queue); reads, the timers, and the
/// graceful close.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What every connection of a server shares.
    struct Shared: Sendable {
        let configuration: ServerConfiguration
        let executor: RequestExecutor
        let threadPool: NIOThreadPool
        /// Where writes run: they mostly wait for the durable store, so they get threads of their own
        /// (many, so concurrent writes can share one store commit) and never hold up searches.
        let writePool: NIOThreadPool
        let logger: Logger
    }

    private let shared: Shared
    private let frameLimit: FrameLimit
    private let progress: ByteProgress
    private var machine: ConnectionStateMachine
    private var ticker: Scheduled<Void>?
    private var lastTick = NIODeadline.now()
    private var logger: Logger
    /// Set when the connection closes, so its queued searches are dropped unscanned.
    private let connectionGone = CancellationFlag()
    /// Replies are numbered in request order as the state machine decides them ...
    private var nextSequence = 0
    /// ... and written in that order, whatever order concurrent searches finish in.
    private var nextToWrite = 0
    private var readyReplies: [Int: (buffer: ByteBuffer, opcode: Opcode, errorCode: UInt16?, started: NIODeadline)] = [:]

    init(shared: Shared, frameLimit: FrameLimit, progress: ByteProgress) {
        self.shared = shared
        self.frameLimit = frameLimit
        self.progress = progress
        self.machine = ConnectionStateMachine(configuration: shared.configuration)
        self.logger = shared.logger
    }

    // MARK: events

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "peer"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let open = shared.executor.statistics.connectionOpened()
        logger.debug("connection opened")
        context.fireChannelActive()
        lastTick = .now()
        scheduleTick(context: context)
        perform(machine.activated(openConnections: open), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.executor.statistics.connectionClosed()
        logger.debug("connection closed", metadata: ["role": "\(machine.rules.role)"])
        machine.deactivated()
        connectionGone.cancel()
        ticker?.cancel()
        ticker = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        progress.consumed += FrameHeader.lengthFieldSize + FrameHeader.size + frame.payload.readableBytes
        perform(machine.frameReceived(frame), context: context)
    }

    func read(context: ChannelHandlerContext) {
        perform(machine.readRequested(), context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        perform(machine.writabilityChanged(context.channel.isWritable), context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let framing = error as? FlatVecError
        if let framing {
            logger.info("bad frame", metadata: ["error": "\(framing)"])
        } else if error is NIOSSLError {
            // A client's fault (plain TCP on a TLS port, an untrusted or missing client certificate).
            logger.info("TLS handshake failed", metadata: ["error": "\(error)"])
        } else if !(error is IOError) && !(error is ChannelError) {
            logger.warning("connection error", metadata: ["error": "\(error)"])
        }
        perform(machine.errorCaught(framingError: framing), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            perform(machine.quiesce(), context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: actions

    private func perform(_ actions: [ConnectionStateMachine.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .reply(let response, let header):
                // Decided while the connection was open (it may have decided to close right after).
                respond(response, to: header, sequence: takeSequence(), started: .now(), context: context)
            case .execute(let frame):
                execute(frame, sequence: takeSequence(), context: context)
            case .read:
                context.read()
            case .setFrameLimit(let limit):
                frameLimit.maximumLength = limit
            case .finish(let reason, let error):
                logger.info("closing connection", metadata: ["reason": "\(reason)"])
                if let error {
                    var out = context.channel.allocator.buffer(capacity: 64)
                    FrameEncoder().encode(.error(ErrorResponse(error)), opcode: Opcode(rawValue: 0), requestID: 0, into: &out)
                    shared.executor.statistics.record(Opcode(rawValue: 0), micros: 0, errorCode: error.code.rawValue)
                    context.write(wrapOutboundOut(out), promise: nil)
                }
                context.flush()
                // FIN after the queued replies, never a reset: the peer reads every reply.
                context.close(mode: .output, promise: nil)
            case .closeNow(let reason):
                if let reason { logger.info("closing connection", metadata: ["reason": "\(reason)"]) }
                context.close(promise: nil)
            case .startWriteTimeout(let generation):
                context.eventLoop.assumeIsolated().scheduleTask(in: shared.configuration.writeTimeout) {
                    self.perform(self.machine.writeTimeoutFired(generation: generation), context: context)
                }
            }
        }
    }

    private func takeSequence() -> Int {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// SEARCH payloads up to this size (16 queries of d = 1,024) are decoded on the event loop;
    /// larger ones on a worker thread, so that decoding them does not hold up other connections.
    static var inlineSearchBytes: Int { 64 * 1024 }

    /// Whether queueing `search` reads the index under its reader lock (stored ids, filters), which
    /// a writer can hold for a while.
    static func readsUnderLock(_ search: SearchRequest) -> Bool {
        search.storedIDs != nil || search.options.filter != nil || (search.queryFilters?.contains { $0 != nil } ?? false)
    }

    private func execute(_ frame: Frame, sequence: Int, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        let header = frame.header
        let executor = shared.executor
        let limits = shared.configuration.limits
        let threadPool = shared.threadPool
        let isWrite = Role.admin.allows(header.opcode) && !Role.reader.allows(header.opcode)
        let gone = connectionGone
        let reply = context.eventLoop.makePromise(of: (ByteBuffer, UInt16?).self)
        @Sendable func encode(_ response: Response) -> (ByteBuffer, UInt16?) {
            var out = ByteBufferAllocator().buffer(capacity: 64)
            FrameEncoder().encode(response, opcode: header.opcode, requestID: header.requestID, into: &out)
            if case .error(let e) = response { return (out, e.code) }
            return (out, nil)
        }
        @Sendable func decode() -> Result<Request, FlatVecError> {
            var payload = frame.payload
            return Result { () throws(FlatVecError) in try Request.decode(opcode: header.opcode, payload: &payload, limits: limits) }
        }
        /// Runs a decoded request; nil for a search, which replies through its completion.
        @Sendable func run(_ decoded: Result<Request, FlatVecError>) -> (ByteBuffer, UInt16?)? {
            do throws(FlatVecError) {
                let request = try decoded.get()
                if case .search(let search) = request {
                    // Searches wait in their index's queue without holding a worker thread, so the
                    // searches of many connections are merged into shared scans.
                    executor.search(
                        search,
                        isCancelled: { gone.isCancelled },
                        runScan: { work in threadPool.submit { _ in work() } },
                        completion: { reply.succeed(encode($0)) }
                    )
                    return nil
                }
                if case .backup(let r) = request {
                    return encode(try executor.backup(r, frameLimit: Int(limits.maxFrameBytes)))
                }
                if case .duplicates(let r) = request {
                    // A page stops early once the client has gone.
                    return encode(try executor.duplicates(r, isCancelled: { gone.isCancelled }))
                }
                return encode(try executor.execute(request))
            } catch {
                return encode(.error(ErrorResponse(error)))
            }
        }
        let pool = isWrite ? shared.writePool : threadPool
        let eventLoop = context.eventLoop
        func runOnWorker(_ work: @escaping @Sendable () -> (ByteBuffer, UInt16?)?) {
            pool.runIfActive(eventLoop: eventLoop, work).whenComplete { result in
                switch result {
                case .success(.some(let encoded)): reply.succeed(encoded)
                case .success(.none): break
                case .failure(let error): reply.fail(error)
                }
            }
        }
        if header.opcode == .search && frame.payload.readableBytes <= Self.inlineSearchBytes {
            // A small SEARCH is decoded here, on the event loop, and one by vectors without filters
            // is queued from here too: that takes no lock a writer can hold (its scan runs on a
            // worker thread), and it saves two thread hand-offs per search, most of the time the
            // lanes a scan answered take to be back for the next one. Searches by stored id or with
            // filters read the index under its lock: they go to a worker thread, as every other
            // request does.
            let decoded = decode()
            if case .success(.search(let search)) = decoded, !Self.readsUnderLock(search) {
                if let encoded = run(decoded) { reply.succeed(encoded) }
            } else {
                runOnWorker { run(decoded) }
            }
        } else {
            runOnWorker { run(decode()) }
        }
        reply.futureResult.assumeIsolated().whenComplete { result in
            // A connection closed meanwhile (a deadline, an error) gets no reply.
            guard self.machine.isOpen else {
                self.perform(self.machine.requestFinished(), context: context)
                return
            }
            switch result {
            case .success(let (buffer, errorCode)):
                self.write(buffer, opcode: header.opcode, errorCode: errorCode, sequence: sequence, started: started, context: context)
            case .failure(let error):
                let response = Response.error(ErrorResponse(FlatVecError(.unavailable, "server is shutting down: \(error)")))
                self.respond(response, to: header, sequence: sequence, started: started, context: context)
            }
            self.perform(self.machine.requestFinished(), context: context)
        }
    }

    private func respond(_ response: Response, to header: FrameHeader, sequence: Int, started: NIODeadline, context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 64)
        FrameEncoder().encode(response, opcode: header.opcode, requestID: header.requestID, into: &out)
        var errorCode: UInt16?
        if case .error(let e) = response { errorCode = e.code }
        write(out, opcode: header.opcode, errorCode: errorCode, sequence: sequence, started: started, context: context)
    }

    /// Writes reply `sequence` once every earlier reply is written.
    private func write(_ buffer: ByteBuffer, opcode: Opcode, errorCode: UInt16?, sequence: Int, started: NIODeadline, context: ChannelHandlerContext) {
        readyReplies[sequence] = (buffer, opcode, errorCode, started)
        var wrote = false
        while let reply = readyReplies.removeValue(forKey: nextToWrite) {
            let micros = UInt64(max(0, (NIODeadline.now() - reply.started).nanoseconds / 1000))
            shared.executor.statistics.record(reply.opcode, micros: micros, errorCode: reply.errorCode)
            context.write(wrapOutboundOut(reply.buffer), promise: nil)
            nextToWrite += 1
            wrote = true
        }
        if wrote { context.flush() }
    }

    // MARK: timers

    private func scheduleTick(context: ChannelHandlerContext) {
        ticker = context.eventLoop.assumeIsolated().scheduleTask(in: ConnectionClock.interval(for: shared.configuration)) {
            self.ticker = nil
            let now = NIODeadline.now()
            let elapsed = now - self.lastTick
            self.lastTick = now
            self.perform(
                self.machine.tick(elapsed: elapsed, received: self.progress.received, partialFrameBytes: self.progress.received - self.progress.consumed),
                context: context
            )
            if context.channel.isActive { self.scheduleTick(context: context) }
        }
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}
