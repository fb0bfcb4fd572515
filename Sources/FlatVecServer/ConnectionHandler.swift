import FlatVecCore
import FlatVecProtocol
import Logging
import NIOCore
import NIOPosix

/// Serves one connection: runs its requests one at a time in arrival order (replies come back in
/// order), off the event loop, with back-pressure on both reading and writing.
///
/// The protocol rules live in ``ConnectionRules`` (pure); this handler carries out their decisions.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What every connection of a server shares.
    struct Shared: Sendable {
        let configuration: ServerConfiguration
        let executor: RequestExecutor
        let threadPool: NIOThreadPool
        let logger: Logger
    }

    private let shared: Shared
    private let frameLimit: FrameLimit
    private let progress: ByteProgress
    private var rules: ConnectionRules
    private var queue = CircularBuffer<Frame>()
    private var busy = false
    private var readPending = false
    private var quiescing = false
    /// Set once the server has decided to close: no request is started and no reply is sent after it.
    private var closing = false
    /// After closing its output, the server reads and discards until the peer closes or the linger ends.
    private var lingerDeadline: NIODeadline?
    private var clock: ConnectionClock
    private var ticker: Scheduled<Void>?
    private var lastTick = NIODeadline.now()
    private var unwritableGeneration = 0
    private var logger: Logger

    init(shared: Shared, frameLimit: FrameLimit, progress: ByteProgress) {
        self.shared = shared
        self.frameLimit = frameLimit
        self.progress = progress
        self.rules = ConnectionRules(configuration: shared.configuration)
        self.clock = ConnectionClock(configuration: shared.configuration)
        self.logger = shared.logger
    }

    // MARK: lifecycle

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "peer"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let open = shared.executor.statistics.connectionOpened()
        logger.debug("connection opened")
        context.fireChannelActive()
        lastTick = .now()
        scheduleTick(context: context)
        let limit = shared.configuration.maxConnections
        if open > limit {
            finish(context: context, reason: "too many connections", error: FlatVecError(
                .limitExceeded, "this server accepts at most \(limit) connections at once; try again later"
            ))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.executor.statistics.connectionClosed()
        logger.debug("connection closed", metadata: ["role": "\(rules.role)"])
        closing = true
        ticker?.cancel()
        ticker = nil
        queue.removeAll()
        context.fireChannelInactive()
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        progress.consumed += FrameHeader.lengthFieldSize + FrameHeader.size + frame.payload.readableBytes
        // Frames that arrive after the server decided to close are never executed (nor answered).
        guard !closing else { return }
        queue.append(frame)
        processNext(context: context)
    }

    func read(context: ChannelHandlerContext) {
        if lingerDeadline != nil {
            context.read()  // lingering: read and discard until the peer closes
        } else if shouldPauseReading(context: context) {
            readPending = true
        } else {
            context.read()
        }
    }

    private func shouldPauseReading(context: ChannelHandlerContext) -> Bool {
        quiescing || queue.count >= shared.configuration.maxPipelinedRequests || !context.channel.isWritable
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if readPending && !shouldPauseReading(context: context) {
            readPending = false
            context.read()
        }
    }

    // MARK: processing

    private func processNext(context: ChannelHandlerContext) {
        while !busy && !closing && context.channel.isWritable, let frame = queue.popFirst() {
            handle(frame, context: context)
        }
        if quiescing && !busy && queue.isEmpty && !closing {
            // Every request read before the shutdown began has its reply queued: send them, then close.
            finish(context: context, reason: "server shutting down")
            return
        }
        resumeReadingIfPossible(context: context)
    }

    private func handle(_ frame: Frame, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        let header = frame.header
        switch rules.admit(frame) {
        case .reply(let response):
            respond(response, to: header, started: started, context: context)
        case .hello:
            var payload = frame.payload
            let outcome = rules.hello(payload: &payload)
            frameLimit.maximumLength = rules.frameLimit
            respond(outcome.response, to: header, started: started, context: context)
            if outcome.closeAfterwards { finish(context: context, reason: "authentication failed") }
        case .execute:
            busy = true
            let executor = shared.executor
            let limits = shared.configuration.limits
            let future = shared.threadPool.runIfActive(eventLoop: context.eventLoop) { () -> (ByteBuffer, Bool) in
                var payload = frame.payload
                let response: Response
                do throws(FlatVecError) {
                    let request = try Request.decode(opcode: header.opcode, payload: &payload, limits: limits)
                    response = try executor.execute(request)
                } catch {
                    response = .error(ErrorResponse(error))
                }
                var out = ByteBufferAllocator().buffer(capacity: 64)
                FrameEncoder().encode(response, opcode: header.opcode, requestID: header.requestID, into: &out)
                return (out, response.isError)
            }
            future.assumeIsolated().whenComplete { result in
                self.busy = false
                switch result {
                case .success(let (buffer, failed)):
                    self.send(buffer, opcode: header.opcode, failed: failed, started: started, context: context)
                case .failure(let error):
                    let response = Response.error(ErrorResponse(FlatVecError(.unavailable, "server is shutting down: \(error)")))
                    self.respond(response, to: header, started: started, context: context)
                }
                self.processNext(context: context)
            }
        }
    }

    private func respond(_ response: Response, to header: FrameHeader, started: NIODeadline, context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 64)
        FrameEncoder().encode(response, opcode: header.opcode, requestID: header.requestID, into: &out)
        send(out, opcode: header.opcode, failed: response.isError, started: started, context: context)
    }

    private func send(_ buffer: ByteBuffer, opcode: Opcode, failed: Bool, started: NIODeadline, context: ChannelHandlerContext) {
        guard !closing else { return }
        let micros = UInt64(max(0, (NIODeadline.now() - started).nanoseconds / 1000))
        shared.executor.statistics.record(opcode, micros: micros, failed: failed)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Closes the connection so the peer can still read every reply already sent: the optional error
    /// frame (request id 0) goes out, the output is shut down after the queued replies (FIN, not RST),
    /// and what the peer still sends is read and discarded until it closes or the linger ends. Closing
    /// a socket with unread input would make the kernel reset it and drop the replies in flight.
    private func finish(context: ChannelHandlerContext, reason: String, error: FlatVecError? = nil) {
        guard !closing else { return }
        closing = true
        queue.removeAll()
        logger.info("closing connection", metadata: ["reason": "\(reason)"])
        if let error {
            var out = context.channel.allocator.buffer(capacity: 64)
            FrameEncoder().encode(.error(ErrorResponse(error)), opcode: Opcode(rawValue: 0), requestID: 0, into: &out)
            shared.executor.statistics.record(Opcode(rawValue: 0), micros: 0, failed: true)
            context.write(wrapOutboundOut(out), promise: nil)
        }
        context.flush()
        lingerDeadline = .now() + shared.configuration.lingerTimeout
        context.close(mode: .output, promise: nil)
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Closes at once (the linger is over, or the connection is broken).
    private func closeNow(context: ChannelHandlerContext) {
        closing = true
        context.close(promise: nil)
    }

    private func scheduleTick(context: ChannelHandlerContext) {
        ticker = context.eventLoop.assumeIsolated().scheduleTask(in: ConnectionClock.interval(for: shared.configuration)) {
            self.ticker = nil
            self.tick(context: context)
            if context.channel.isActive { self.scheduleTick(context: context) }
        }
    }

    private func tick(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let elapsed = now - lastTick
        lastTick = now
        if let deadline = lingerDeadline {
            if now >= deadline { closeNow(context: context) }
            return
        }
        guard !closing else { return }
        let verdict = clock.tick(ConnectionClock.Observation(
            elapsed: elapsed,
            reading: !shouldPauseReading(context: context),
            received: progress.received,
            partialFrameBytes: progress.received - progress.consumed,
            authenticated: rules.role != .none,
            hasWork: busy || !queue.isEmpty
        ))
        switch verdict {
        case .keep: break
        case .close(let reason): finish(context: context, reason: reason)
        case .reject(let error): finish(context: context, reason: error.message, error: error)
        }
    }

    // MARK: errors, timeouts, back-pressure

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if lingerDeadline != nil {
            closeNow(context: context)
            return
        }
        if let error = error as? FlatVecError {
            // The decoder lost the framing (e.g. an oversized declared length): say why, then close.
            logger.info("bad frame", metadata: ["error": "\(error)"])
            finish(context: context, reason: "\(error)", error: error)
            return
        }
        if !(error is IOError) && !(error is ChannelError) {
            logger.warning("connection error", metadata: ["error": "\(error)"])
        }
        closeNow(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            processNext(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableGeneration += 1
            processNext(context: context)
        } else {
            // The peer is not reading its replies: stop working for it, and give up after a while.
            unwritableGeneration += 1
            let generation = unwritableGeneration
            let timeout = shared.configuration.writeTimeout
            context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                if generation == self.unwritableGeneration && !context.channel.isWritable && !self.closing {
                    // The peer reads nothing: there is no point in lingering for it.
                    self.logger.info("closing connection", metadata: ["reason": "replies unread for \(timeout)"])
                    self.closeNow(context: context)
                }
            }
        }
        context.fireChannelWritabilityChanged()
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}
