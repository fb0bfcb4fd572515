import FlatVecCore
import FlatVecProtocol
import NIOCore

/// The per-frame protocol rules, pure: version and reserved-bit checks, HELLO (version negotiation and
/// tokens) and permissions. ``ConnectionStateMachine`` consults them for each frame it admits.
struct ConnectionRules {
    /// What to do with a request frame.
    enum Admission: Equatable {
        /// Answer at once with this reply (an error, or PING's echo).
        case reply(Response)
        /// It is a HELLO: call ``hello(payload:)``.
        case hello
        /// Run it on the worker threads.
        case execute
    }

    let configuration: ServerConfiguration
    private(set) var role: Role

    init(configuration: ServerConfiguration) {
        self.configuration = configuration
        // Without tokens every connection may do everything, HELLO or not.
        role = configuration.requiresAuthentication ? .none : .admin
    }

    /// The largest frame this connection may send now.
    var frameLimit: UInt32 {
        role == .none ? configuration.limits.maxUnauthenticatedFrameBytes : configuration.limits.maxFrameBytes
    }

    func admit(_ frame: Frame) -> Admission {
        let header = frame.header
        if header.flags.contains(.reply) {
            return .reply(.error(ErrorResponse(FlatVecError(.badFrame, "a client sends requests; this frame has the reply flag"))))
        }
        guard header.version == FrameHeader.currentVersion else {
            return .reply(.error(ErrorResponse(FlatVecError(
                .unsupportedVersion, "frame version \(header.version); this server speaks version \(FrameHeader.currentVersion)"
            ))))
        }
        let reserved = header.flags.rawValue & ~FrameHeader.Flags.reply.rawValue
        if reserved != 0 {
            let bit = reserved.trailingZeroBitCount
            return .reply(.error(ErrorResponse(FlatVecError(
                .unsupportedFeature,
                "header flag bit \(bit) (0x\(String(1 << bit, radix: 16, uppercase: true))) is reserved in requests and must be 0: this server does not support that option"
            ))))
        }
        switch header.opcode {
        case .hello:
            return .hello
        case .ping:
            // Answered on the event loop, so it measures the server's responsiveness, not the workers' queue.
            return .reply(.pong(frame.payload.getBytes(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? []))
        case _ where !Opcode.all.contains(header.opcode):
            return .reply(.error(ErrorResponse(FlatVecError(.badFrame, "unknown opcode \(header.opcode)"))))
        default:
            guard role.allows(header.opcode) else {
                if role == .none {
                    return .reply(.error(ErrorResponse(FlatVecError(
                        .unauthenticated, "\(header.opcode) needs authentication: send HELLO with a token first"
                    ))))
                }
                return .reply(.error(ErrorResponse(FlatVecError(.forbidden, "\(header.opcode) needs the admin role; this connection is \(role)"))))
            }
            return .execute
        }
    }

    /// Handles a HELLO payload; returns the reply and whether to close the connection after it.
    mutating func hello(payload: inout ByteBuffer) -> (response: Response, closeAfterwards: Bool) {
        let request: HelloRequest
        do {
            request = try HelloRequest.decode(from: &payload)
        } catch {
            return (.error(ErrorResponse(error)), false)
        }
        let version = UInt16(FrameHeader.currentVersion)
        guard request.minVersion <= version && version <= request.maxVersion else {
            return (.error(ErrorResponse(FlatVecError(
                .unsupportedVersion, "client speaks versions \(request.minVersion)...\(request.maxVersion); server speaks \(version)"
            ))), false)
        }
        if configuration.requiresAuthentication {
            // A malformed token (too long, not UTF-8) is compared like any other and simply matches
            // nothing: every failed authentication gets the same reply and costs the connection.
            var granted = configuration.accessTokens.role(for: request.token)
            if !request.tokenIsWellFormed { granted = .none }
            guard granted != .none else {
                let why = request.token.isEmpty && request.tokenIsWellFormed ? "this server needs a token" : "bad token"
                return (.error(ErrorResponse(FlatVecError(.unauthenticated, why))), true)
            }
            role = granted
        }
        let limits = configuration.limits
        return (.hello(HelloResponse(
            version: version, role: role, maxFrameBytes: frameLimit, maxK: limits.maxK, maxBatch: limits.maxBatch,
            server: "flatvec \(FlatVecVersion.string)"
        )), false)
    }
}
