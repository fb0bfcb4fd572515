import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy in front of a real PostgreSQL that, when armed, cuts the connection that sends the
/// next `COMMIT` (or the next message holding another marker, such as the one-statement upsert):
/// either after forwarding it (PostgreSQL commits, the client never hears) or before (PostgreSQL
/// never sees it and aborts). Either way the client cannot know the outcome.
final class CommitCuttingProxy: Sendable {
    enum Cut: Sendable { case afterForwarding, beforeForwarding }

    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let armed = Mutex<(cut: Cut, marker: [UInt8], times: Int)?>(nil)
    private let cuts = Atomic<Int>(0)

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        guard withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0,
              listen(listener, 16) == 0
        else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let bound = address.sin_port
        port = Int(UInt16(bigEndian: bound))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The simple-query COMMIT message's text.
    static let commit = Array("COMMIT".utf8) + [0]
    /// A fragment only the one-statement upsert of a small batch (an autocommit statement) sends.
    static let oneStatementUpsert = Array("string_agg(name || ':' || type".utf8)

    /// Cuts the connection that sends the next message holding `marker` (the next COMMIT by default),
    /// and so on for the next `times` such messages.
    func arm(_ cut: Cut, on marker: [UInt8] = commit, times: Int = 1) { armed.withLock { $0 = (cut, marker, times) } }

    /// How many connections were cut.
    var cutCount: Int { cuts.load(ordering: .acquiring) }

    /// `url` with its port replaced by the proxy's.
    func route(_ url: String) -> String {
        url.replacingOccurrences(of: ":\(upstreamPort)/", with: ":\(port)/")
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else {
                close(client)
                close(server)
                continue
            }
            let pump = Pump(client: client, server: server)
            Thread.detachNewThread { [self] in forwardRequests(pump) }
            Thread.detachNewThread { Self.forwardReplies(pump) }
        }
    }

    /// The two sockets of one proxied connection; closed once, by the second direction to finish
    /// (closing earlier could let the other direction touch a reused descriptor).
    final class Pump: Sendable {
        let client: Int32
        let server: Int32
        /// Once set, no reply reaches the client.
        let severed = Atomic<Bool>(false)
        private let finished = Atomic<Int>(0)

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        func sever() {
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
        }

        func directionFinished() {
            sever()
            if finished.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == 2 {
                close(client)
                close(server)
            }
        }
    }

    private func forwardRequests(_ pump: Pump) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = recv(pump.client, &chunk, chunk.count, 0)
            guard n > 0 else { break }
            let bytes = Array(chunk[0..<n])
            if let cut = armed.withLock({ a -> Cut? in
                guard let armed = a, Self.contains(bytes, armed.marker) else { return nil }
                a = armed.times > 1 ? (armed.cut, armed.marker, armed.times - 1) : nil
                return armed.cut
            }) {
                pump.severed.store(true, ordering: .releasing)  // no reply reaches the client from now on
                cuts.add(1, ordering: .releasing)
                if cut == .afterForwarding {
                    _ = bytes.withUnsafeBytes { send(pump.server, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
                    usleep(300_000)  // PostgreSQL commits meanwhile
                }
                break
            }
            guard bytes.withUnsafeBytes({ send(pump.server, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }) == n else { break }
        }
        pump.directionFinished()
    }

    private static func forwardReplies(_ pump: Pump) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = recv(pump.server, &chunk, chunk.count, 0)
            guard n > 0, !pump.severed.load(ordering: .acquiring) else { break }
            guard chunk.withUnsafeBytes({ send(pump.client, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }) == n else { break }
        }
        pump.directionFinished()
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle {
            return true
        }
        return false
    }
}
