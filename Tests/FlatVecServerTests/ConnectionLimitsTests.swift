import FlatVecCore
import FlatVecProtocol
@testable import FlatVecServer
@testable import FlatVecStorage
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Slow, silent and surplus clients cannot hold a server's connections.
@Suite(.timeLimit(.minutes(5))) struct ConnectionLimitsTests {
    /// Whether the peer has closed (EOF or reset), without blocking.
    static func peerClosed(_ raw: RawConnection) -> Bool {
        var byte: UInt8 = 0
        let n = recv(raw.fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    @Test func aFrameTrickledOneByteAtATimeIsCutOff() async throws {
        try await withTestServer(configure: { $0.frameTimeout = .milliseconds(500) }) { server in
            let raw = try RawConnection(port: server.port)
            // A frame that declares 60,000 bytes, then one byte every 50 ms: never silent for the frame
            // timeout, but hours from whole.
            raw.send([0x60, 0xEA, 0, 0])
            let clock = ContinuousClock()
            let start = clock.now
            var closed = false
            while !closed && clock.now - start < .seconds(20) {
                raw.send([0])
                try await Task.sleep(for: .milliseconds(50))
                closed = Self.peerClosed(raw)
            }
            #expect(closed, "a trickling client kept its connection")
            #expect(clock.now - start < .seconds(15), "cut off only after \(clock.now - start)")
        }
    }

    @Test func aConnectionThatNeverAuthenticatesIsClosed() async throws {
        try await withTestServer(adminToken: "a-token", configure: { $0.authenticationTimeout = .seconds(2) }) { server in
            let raw = try RawConnection(port: server.port)
            var pongs = 0
            var rejection: Response?
            for i in 0..<100 {
                raw.send(.ping([UInt8(i)]), id: UInt64(i))
                guard let reply = raw.readResponse() else { break }
                if case .pong = reply.response { pongs += 1 } else { rejection = reply.response; break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(pongs >= 1, "PING is allowed before HELLO")
            #expect(rejection?.errorCode == FlatVecError.Code.unauthenticated.rawValue, "\(String(describing: rejection))")
            #expect(raw.isClosedByServer())
            // An authenticated connection is not affected. (A raw socket, so the HELLO goes out at
            // once even when the machine is too busy to run the test's async code promptly.)
            let authenticated = try RawConnection(port: server.port)
            authenticated.send(.hello(HelloRequest(token: "a-token")), id: 1)
            guard case .hello = authenticated.readResponse()?.response else {
                Issue.record("HELLO with the right token failed")
                return
            }
            try await Task.sleep(for: .milliseconds(2_500))
            authenticated.send(.listCollections, id: 2)
            #expect(authenticated.readResponse()?.response == .collections([]))
        }
    }

    @Test func connectionsOverTheLimitAreRefusedWithAReason() async throws {
        try await withTestServer(configure: { $0.maxConnections = 2 }) { server in
            let first = try RawConnection(port: server.port)
            let second = try RawConnection(port: server.port)
            for raw in [first, second] {
                raw.send(.ping([1]), id: 1)
                #expect(raw.readResponse()?.response == .pong([1]))
            }
            let third = try RawConnection(port: server.port)
            third.send(.ping([1]), id: 1)
            let reply = third.readResponse()
            #expect(reply?.response.errorCode == FlatVecError.Code.limitExceeded.rawValue, "\(String(describing: reply))")
            if case .error(let e) = reply?.response { #expect(e.message.contains("at most 2 connections")) }
            #expect(third.isClosedByServer())
            shutdown(third.fd, Int32(SHUT_RDWR))
            // A freed slot can be used again.
            shutdown(first.fd, Int32(SHUT_RDWR))  // not close(): the fd is closed once, by RawConnection
            var admitted = false
            for _ in 0..<50 where !admitted {
                try await Task.sleep(for: .milliseconds(100))
                let again = try RawConnection(port: server.port)
                again.send(.ping([2]), id: 2)
                admitted = again.readResponse()?.response == .pong([2])
            }
            #expect(admitted)
        }
    }

    @Test func theClockCountsOnlyTimeTheServerSpendsReading() {
        let configuration = ServerConfiguration(frameTimeout: .seconds(10), idleTimeout: .seconds(600))
        var clock = ConnectionClock(configuration: configuration)
        func tick(_ seconds: Int64, reading: Bool, received: Int, partial: Int) -> ConnectionClock.Verdict {
            clock.tick(.init(elapsed: .seconds(seconds), reading: reading, received: received, partialFrameBytes: partial, authenticated: true, hasWork: false))
        }
        // Paused by back-pressure for a minute in the middle of a frame: no verdict.
        for _ in 0..<60 { #expect(tick(1, reading: false, received: 100, partial: 50) == .keep) }
        // Reading again, the client is silent: closed after the frame timeout.
        for _ in 0..<9 { #expect(tick(1, reading: true, received: 100, partial: 50) == .keep) }
        guard case .close(let why) = tick(1, reading: true, received: 100, partial: 50) else {
            Issue.record("a silent client mid-frame was kept")
            return
        }
        #expect(why.contains("stalled"))
        // A frame arriving at 1 byte per second is closed soon after the grace period.
        var slow = ConnectionClock(configuration: configuration)
        var verdict = ConnectionClock.Verdict.keep
        var seconds = 0
        while verdict == .keep && seconds < 100 {
            seconds += 1
            verdict = slow.tick(.init(elapsed: .seconds(1), reading: true, received: seconds, partialFrameBytes: seconds, authenticated: true, hasWork: false))
        }
        #expect(seconds == 11, "closed after \(seconds) s")
        // A 64 MiB frame at 1 MiB/s is never closed.
        var fast = ConnectionClock(configuration: configuration)
        for s in 1...64 {
            #expect(fast.tick(.init(elapsed: .seconds(1), reading: true, received: s << 20, partialFrameBytes: s << 20, authenticated: true, hasWork: false)) == .keep)
        }
    }
}
