import FlatVecCore
import NIOCore

/// A connection's deadlines as a pure state machine: the handler ticks it with what it observed, and
/// it answers whether the connection may stay.
///
/// Time counts against a frame only while the server is reading the connection: when the server
/// stops reading (too many pipelined requests, replies unread), a client blocked in the middle of
/// a frame is not stalling, the server is.
struct ConnectionClock {
    /// What to do with the connection after a tick.
    enum Verdict: Equatable {
        /// Nothing to do.
        case keep
        /// Close it, for this reason (logged; the client gets no reply).
        case close(String)
        /// Send this error (request id 0), then close.
        case reject(FlatVecError)
    }

    /// What the handler observed since the last tick.
    struct Observation {
        /// Time since the last tick.
        var elapsed: TimeAmount
        /// Whether the server was reading the connection (not paused by back-pressure).
        var reading: Bool
        /// Bytes received on the connection so far.
        var received: Int
        /// Bytes received that are not yet part of a whole frame.
        var partialFrameBytes: Int
        /// Whether the connection has a role.
        var authenticated: Bool
        /// Whether a request is running or waiting.
        var hasWork: Bool
    }

    let configuration: ServerConfiguration
    private var sinceOpened = TimeAmount.zero
    private var frameTime = TimeAmount.zero
    private var silentTime = TimeAmount.zero
    private var idleTime = TimeAmount.zero
    private var lastReceived = 0

    init(configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    /// How often the handler should tick: often enough for the shortest deadline to be kept within a
    /// quarter of itself.
    static func interval(for configuration: ServerConfiguration) -> TimeAmount {
        let shortest = min(configuration.frameTimeout, configuration.authenticationTimeout)
        return max(.milliseconds(10), min(.seconds(1), .nanoseconds(shortest.nanoseconds / 4)))
    }

    mutating func tick(_ o: Observation) -> Verdict {
        sinceOpened = sinceOpened + o.elapsed
        let gotBytes = o.received != lastReceived
        lastReceived = o.received
        if configuration.requiresAuthentication && !o.authenticated && sinceOpened >= configuration.authenticationTimeout {
            return .reject(FlatVecError(
                .unauthenticated, "no HELLO with a valid token within \(Self.describe(configuration.authenticationTimeout)) of connecting"
            ))
        }
        guard o.reading else {
            // The server is not reading: nothing that follows is the client's delay.
            silentTime = .zero
            idleTime = .zero
            return .keep
        }
        if o.partialFrameBytes > 0 {
            idleTime = .zero
            frameTime = frameTime + o.elapsed
            silentTime = gotBytes ? .zero : silentTime + o.elapsed
            if silentTime >= configuration.frameTimeout {
                return .close("stalled in the middle of a frame for \(Self.describe(silentTime))")
            }
            // After the grace period a frame must average the minimum rate, so a byte every few
            // seconds cannot hold a connection for hours.
            let late = Double((frameTime - configuration.frameTimeout).nanoseconds) / 1e9
            if late > 0 && Double(o.partialFrameBytes) < late * Double(configuration.minimumFrameBytesPerSecond) {
                return .close(
                    "a frame arriving slower than \(configuration.minimumFrameBytesPerSecond) bytes/s "
                        + "(\(o.partialFrameBytes) bytes in \(Self.describe(frameTime)))"
                )
            }
            return .keep
        }
        frameTime = .zero
        silentTime = .zero
        if o.hasWork || gotBytes {
            idleTime = .zero
            return .keep
        }
        idleTime = idleTime + o.elapsed
        if let limit = configuration.idleTimeout, idleTime >= limit {
            return .close("idle for \(Self.describe(idleTime))")
        }
        return .keep
    }

    static func describe(_ t: TimeAmount) -> String {
        let ms = t.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}
