import FlatVecProtocol
import NIOCore

/// One connection's whole protocol as a pure state machine: admission and authentication (through
/// ``ConnectionRules``), the pipelining queue, read and write back-pressure, deadlines (through
/// ``ConnectionClock``), graceful shutdown and the close. Each event returns the actions to carry out;
/// ``ConnectionHandler`` only carries them out. No I/O, no clocks: tests drive it directly.
struct ConnectionStateMachine {
    /// What the handler must do.
    enum Action: Equatable {
        /// Answer this frame now, on the event loop.
        case reply(Response, to: FrameHeader)
        /// Run this request on the worker threads, then call ``requestFinished()``.
        case execute(Frame)
        /// Ask the channel for more bytes.
        case read
        /// The largest frame this connection may send changed (after HELLO).
        case setFrameLimit(UInt32)
        /// Close gracefully: queue `error` (request id 0) if there is one, flush, shut down the output
        /// (FIN after the queued replies), and keep reading and discarding until the peer closes or
        /// the linger ends.
        case finish(reason: String, error: FlatVecError?)
        /// Close the socket now; the reason is logged (nil: the linger after a graceful close ended,
        /// nothing to report).
        case closeNow(reason: String?)
        /// The output just went over the high-water mark: call ``writeTimeoutFired(generation:)`` after
        /// the write timeout.
        case startWriteTimeout(generation: Int)
    }

    private enum Phase: Equatable {
        /// Serving requests.
        case open
        /// Output shut down; reading and discarding until the peer closes or `remaining` runs out.
        case lingering(remaining: TimeAmount)
        /// Closed.
        case closed
    }

    let configuration: ServerConfiguration
    private(set) var rules: ConnectionRules
    private var clock: ConnectionClock
    private var phase = Phase.open
    private var queue = CircularBuffer<Frame>()
    /// Requests being executed. Several only when they are all SEARCHes (reads share scans and
    /// need no order among themselves); any other request runs alone.
    private var inFlight = 0
    /// Whether every request in flight is a SEARCH.
    private var inFlightAreSearches = true
    private var readPending = false
    private var quiescing = false
    private var writable = true
    private var unwritableGeneration = 0

    init(configuration: ServerConfiguration) {
        self.configuration = configuration
        self.rules = ConnectionRules(configuration: configuration)
        self.clock = ConnectionClock(configuration: configuration)
    }

    /// Whether replies may still be written (the server has not decided to close).
    var isOpen: Bool { phase == .open }

    /// Requests read and not yet started.
    var queued: Int { queue.count }

    private var readingPaused: Bool {
        quiescing || queued + inFlight >= configuration.maxPipelinedRequests || !writable
    }

    // MARK: events

    /// The connection is up; `openConnections` counts it.
    mutating func activated(openConnections: Int) -> [Action] {
        guard openConnections > configuration.maxConnections else { return [] }
        return finish(
            reason: "too many connections",
            error: FlatVecError(.limitExceeded, "this server accepts at most \(configuration.maxConnections) connections at once; try again later")
        )
    }

    /// A whole frame arrived.
    mutating func frameReceived(_ frame: Frame) -> [Action] {
        // Frames that arrive after the server decided to close are neither executed nor answered.
        guard phase == .open else { return [] }
        queue.append(frame)
        return process()
    }

    /// The channel asks whether to read more.
    mutating func readRequested() -> [Action] {
        switch phase {
        case .lingering: return [.read]
        case .closed: return []
        case .open:
            if readingPaused {
                readPending = true
                return []
            }
            return [.read]
        }
    }

    /// The request started by ``Action/execute(_:)`` has its reply queued.
    mutating func requestFinished() -> [Action] {
        inFlight -= 1
        return process()
    }

    /// The output went over (false) or back under (true) its high-water mark.
    mutating func writabilityChanged(_ isWritable: Bool) -> [Action] {
        writable = isWritable
        unwritableGeneration += 1
        if isWritable { return process() }
        return phase == .open ? [.startWriteTimeout(generation: unwritableGeneration)] : []
    }

    /// The write timeout started for `generation` ran out.
    mutating func writeTimeoutFired(generation: Int) -> [Action] {
        guard generation == unwritableGeneration, !writable, phase != .closed else { return [] }
        // The peer reads nothing: there is no point in lingering for it.
        phase = .closed
        return [.closeNow(reason: "replies unread for \(ConnectionClock.describe(configuration.writeTimeout))")]
    }

    /// The server is shutting down: no more reading; answer what was read, then close.
    mutating func quiesce() -> [Action] {
        quiescing = true
        return process()
    }

    /// Time passed. `received` counts the bytes received so far, `partialFrameBytes` those not yet
    /// part of a whole frame.
    mutating func tick(elapsed: TimeAmount, received: Int, partialFrameBytes: Int) -> [Action] {
        switch phase {
        case .closed:
            return []
        case .lingering(let remaining):
            let left = remaining - elapsed
            guard left <= .zero else {
                phase = .lingering(remaining: left)
                return []
            }
            phase = .closed
            return [.closeNow(reason: nil)]
        case .open:
            let verdict = clock.tick(ConnectionClock.Observation(
                elapsed: elapsed, reading: !readingPaused, received: received, partialFrameBytes: partialFrameBytes,
                authenticated: rules.role != .none, hasWork: inFlight > 0 || queued > 0
            ))
            switch verdict {
            case .keep: return []
            case .close(let reason): return finish(reason: reason, error: nil)
            case .reject(let error): return finish(reason: error.message, error: error)
            }
        }
    }

    /// The pipeline reported an error: a framing error (the decoder's `FlatVecError`) or another.
    mutating func errorCaught(framingError: FlatVecError?) -> [Action] {
        guard phase == .open, let framingError else {
            guard phase != .closed else { return [] }
            phase = .closed
            return [.closeNow(reason: framingError.map { "\($0)" } ?? "connection error")]
        }
        // Framing is lost: say why, then close.
        return finish(reason: "\(framingError)", error: framingError)
    }

    /// The connection is gone.
    mutating func deactivated() {
        phase = .closed
        queue.removeAll()
    }

    // MARK: transitions

    private mutating func process() -> [Action] {
        guard phase == .open else { return [] }
        var actions: [Action] = []
        while writable, let frame = queue.first {
            // Consecutive SEARCHes run together, up to maxConcurrentSearches (the connection handler
            // sends their replies in request order); anything else waits until every earlier request
            // has finished, so a client sees its own writes and its writes happen in the order it sent
            // them. Nothing new starts while the output is over its high-water mark (`writable`).
            let isSearch = frame.header.opcode == .search
            if inFlight > 0 && !(isSearch && inFlightAreSearches && inFlight < configuration.maxConcurrentSearches) { break }
            queue.removeFirst()
            switch rules.admit(frame) {
            case .reply(let response):
                actions.append(.reply(response, to: frame.header))
            case .hello:
                var payload = frame.payload
                let outcome = rules.hello(payload: &payload)
                actions.append(.setFrameLimit(rules.frameLimit))
                actions.append(.reply(outcome.response, to: frame.header))
                if outcome.closeAfterwards { return actions + finish(reason: "authentication failed", error: nil) }
            case .execute:
                inFlightAreSearches = inFlight == 0 ? isSearch : inFlightAreSearches && isSearch
                inFlight += 1
                actions.append(.execute(frame))
            }
        }
        if quiescing && inFlight == 0 && queued == 0 {
            // Every request read before the shutdown began has its reply queued: send them, then close.
            return actions + finish(reason: "server shutting down", error: nil)
        }
        if readPending && !readingPaused {
            readPending = false
            actions.append(.read)
        }
        return actions
    }

    private mutating func finish(reason: String, error: FlatVecError?) -> [Action] {
        guard phase == .open else { return [] }
        phase = .lingering(remaining: configuration.lingerTimeout)
        queue.removeAll()
        var actions: [Action] = [.finish(reason: reason, error: error)]
        if readPending {
            readPending = false
            actions.append(.read)
        }
        return actions
    }
}
