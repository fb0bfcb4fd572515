import FlatVecProtocol
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A blocking POSIX socket for sending arbitrary bytes to the server and reading what comes back.
public final class RawConnection: @unchecked Sendable {
    // @unchecked: a test may send on one thread while it reads on another (a socket allows that);
    // the read buffer is only touched by the reading thread.
    /// The socket.
    public let fd: Int32

    /// Connects to 127.0.0.1:`port` (reads time out after 5 s).
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw RawError.connectFailed }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Why a connection failed.
    public enum RawError: Error { case connectFailed }

    deinit { close(fd) }

    /// Shuts the socket down both ways, as a client that goes away does (the descriptor is closed on deinit).
    public func closeNow() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Sends all of `bytes` (stops early if the peer is gone).
    public func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Sends one request frame.
    public func send(_ request: Request, id: UInt64) {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        FrameEncoder().encode(request, requestID: id, into: &buffer)
        send(Array(buffer.readableBytesView))
    }

    private var inbound = ByteBufferAllocator().buffer(capacity: 4096)
    /// The errno of the last failed read (ECONNRESET when the peer reset the connection); 0 after EOF.
    public private(set) var lastReadError: Int32 = 0

    /// Reads one frame; nil on EOF or timeout. Bytes after the frame stay buffered for the next call.
    public func readFrame() -> Frame? {
        while true {
            if let frame = try? FrameDecoder.decodeFrame(from: &inbound, maximumLength: .max) { return frame }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 {
                lastReadError = n < 0 ? errno : 0
                return nil
            }
            inbound.writeBytes(chunk[0..<n])
        }
    }

    /// Reads one reply and decodes it.
    public func readResponse() -> (header: FrameHeader, response: Response)? {
        guard let frame = readFrame() else { return nil }
        var payload = frame.payload
        guard let response = try? Response.decode(opcode: frame.header.opcode, isError: frame.header.flags.contains(.error), payload: &payload) else {
            return nil
        }
        return (frame.header, response)
    }

    /// Whether the server has closed the connection (reads until EOF, discarding data, up to the timeout).
    public func isClosedByServer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n < 0 { return false }
        }
    }
}

extension Response {
    /// The error code of an error reply.
    public var errorCode: UInt16? {
        if case .error(let e) = self { return e.code }
        return nil
    }
}
