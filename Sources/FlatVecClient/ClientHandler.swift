import FlatVecModel
import FlatVecProtocol
import NIOCore
import NIOSSL
import Synchronization

/// A request on its way out: the encoded frame and who waits for the reply.
struct PendingRequest {
    let requestID: UInt64
    let opcode: Opcode
    let frame: ByteBuffer
    let promise: EventLoopPromise<Response>
}

/// Why a connection ended, readable from any thread: a request sent after the channel closed
/// reports this (a failed TLS handshake, the server's own error) instead of "closed".
final class ConnectionFailure: Sendable {
    private let reason = Mutex<FlatVecError?>(nil)
    var value: FlatVecError? { reason.withLock { $0 } }
    func record(_ error: FlatVecError) { reason.withLock { if $0 == nil { $0 = error } } }
}

/// Matches replies to requests by id; fails everything in flight when the connection ends.
final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = ByteBuffer

    private var inFlight: [UInt64: PendingRequest] = [:]
    private var failure: FlatVecError?
    private let shared: ConnectionFailure

    init(failure shared: ConnectionFailure) {
        self.shared = shared
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        inFlight[request.requestID] = request
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.payload
        guard let request = inFlight.removeValue(forKey: frame.header.requestID) else {
            // Request id 0 with the error flag: the server rejected the stream itself (e.g. a frame too large).
            if frame.header.flags.contains(.error), let response = try? Response.decode(opcode: frame.header.opcode, isError: true, payload: &payload),
               case .error(let e) = response {
                failAll(e.error)
            }
            return
        }
        do throws(FlatVecError) {
            request.promise.succeed(try Response.decode(opcode: request.opcode, isError: frame.header.flags.contains(.error), payload: &payload))
        } catch {
            request.promise.fail(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(failure ?? FlatVecError(.unavailable, "connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let tls = error as? NIOSSLError {
            failAll(FlatVecError(.unavailable, "TLS handshake with the server failed: \(tls)"))
        } else {
            failAll((error as? FlatVecError) ?? FlatVecError(.unavailable, "connection failed: \(error)"))
        }
        context.close(promise: nil)
    }

    private func failAll(_ error: FlatVecError) {
        if failure == nil { failure = error }
        shared.record(failure!)
        let pending = inFlight.values
        inFlight.removeAll()
        for request in pending { request.promise.fail(error) }
    }
}

@available(*, unavailable)
extension ClientHandler: Sendable {}
