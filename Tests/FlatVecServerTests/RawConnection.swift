import FlatVecProtocol
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A blocking POSIX socket for sending arbitrary bytes to the server and reading what comes back.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
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

    enum RawError: Error { case connectFailed }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    func send(_ request: Request, id: UInt64) {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        FrameEncoder().encode(request, requestID: id, into: &buffer)
        send(Array(buffer.readableBytesView))
    }

    /// Reads one frame; nil on EOF or timeout.
    func readFrame() -> Frame? {
        var buffer = ByteBufferAllocator().buffer(capacity: 4096)
        while true {
            if let frame = try? FrameDecoder.decodeFrame(from: &buffer, maximumLength: .max) { return frame }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer.writeBytes(chunk[0..<n])
        }
    }

    /// Reads one reply and decodes it.
    func readResponse() -> (header: FrameHeader, response: Response)? {
        guard let frame = readFrame() else { return nil }
        var payload = frame.payload
        guard let response = try? Response.decode(opcode: frame.header.opcode, isError: frame.header.flags.contains(.error), payload: &payload) else {
            return nil
        }
        return (frame.header, response)
    }

    /// Whether the server has closed the connection (reads until EOF, discarding data, up to the timeout).
    func isClosedByServer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n < 0 { return false }
        }
    }
}

extension Response {
    var errorCode: UInt16? {
        if case .error(let e) = self { return e.code }
        return nil
    }
}
