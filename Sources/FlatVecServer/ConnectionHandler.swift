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
    private var closing = false
    private var idleFor = TimeAmount.zero
    private var unwritableGeneration = 0
    private var logger: Logger

    init(shared: Shared, frameLimit: FrameLimit, progress: ByteProgress) {
        self.shared = shared
        self.frameLimit = frameLimit
        self.progress = progress
        self.rules = ConnectionRules(configuration: shared.configuration)
        self.logger = shared.logger
    }

    // MARK: lifecycle

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "peer"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        shared.executor.statistics.connectionOpened()
        logger.info("connection opened")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.executor.statistics.connectionClosed()
        logger.info("connection closed", metadata: ["role": "\(rules.role)"])
        closing = true
        queue.removeAll()
        context.fireChannelInactive()
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        progress.consumed += FrameHeader.lengthFieldSize + FrameHeader.size + frame.payload.readableBytes
        idleFor = .zero
        guard !closing else { return }
        queue.append(frame)
        processNext(context: context)
    }

    func read(context: ChannelHandlerContext) {
        if shouldPauseReading(context: context) {
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
            close(context: context, reason: "server shutting down")
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
            if outcome.closeAfterwards { close(context: context, reason: "authentication failed") }
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

    private func close(context: ChannelHandlerContext, reason: String) {
        guard !closing else { return }
        closing = true
        logger.info("closing connection", metadata: ["reason": "\(reason)"])
        context.close(promise: nil)
    }

    // MARK: errors, timeouts, back-pressure

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? FlatVecError {
            // The decoder lost the framing (e.g. an oversized declared length): say why, then close.
            logger.warning("bad frame", metadata: ["error": "\(error)"])
            var out = context.channel.allocator.buffer(capacity: 64)
            FrameEncoder().encode(.error(ErrorResponse(error)), opcode: Opcode(rawValue: 0), requestID: 0, into: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            shared.executor.statistics.record(Opcode(rawValue: 0), micros: 0, failed: true)
        } else if !(error is IOError) && !(error is ChannelError) {
            logger.warning("connection error", metadata: ["error": "\(error)"])
        }
        close(context: context, reason: "\(error)")
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            processNext(context: context)
            return
        }
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if progress.isInsideFrame {
                close(context: context, reason: "stalled in the middle of a frame for \(shared.configuration.frameTimeout)")
                return
            }
            idleFor = idleFor + shared.configuration.frameTimeout
            if let limit = shared.configuration.idleTimeout, idleFor >= limit, !busy, queue.isEmpty {
                close(context: context, reason: "idle for \(idleFor)")
            }
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
                if generation == self.unwritableGeneration && !context.channel.isWritable {
                    self.close(context: context, reason: "replies unread for \(timeout)")
                }
            }
        }
        context.fireChannelWritabilityChanged()
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}
