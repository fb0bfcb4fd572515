import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(5))) struct RobustnessTests {
    @Test func oversizedDeclaredLengthClosesOnlyThatConnection() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            let raw = try RawConnection(port: server.port)
            raw.send([0xF0, 0xFF, 0xFF, 0xFF])  // declares ~4 GiB
            let reply = raw.readResponse()
            #expect(reply?.response.errorCode == FlatVecError.Code.badFrame.rawValue)
            if case .error(let e)? = reply?.response { #expect(e.message.contains("4294967280")) }
            #expect(raw.isClosedByServer())
            _ = try await client.ping()
            await client.close()
        }
    }

    @Test func randomGarbageNeverHurtsOtherConnections() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            try await client.createCollection("g", dimension: 4)
            try await client.add(collection: "g", batch: VectorBatch(id: 1, label: 0, vector: [1, 2, 3, 4]))
            var random = SeededRandom(seed: 42)
            for round in 0..<40 {
                let raw = try RawConnection(port: server.port)
                var bytes = (0..<Int.random(in: 1...3000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if round % 2 == 0 {
                    // A plausible small length so the garbage reaches the payload decoders.
                    let length = UInt32(min(bytes.count, 2000))
                    bytes.replaceSubrange(0..<min(4, bytes.count), with: withUnsafeBytes(of: length.littleEndian) { Array($0) })
                    if bytes.count > 4 { bytes[4] = 1 }
                    if bytes.count > 5 { bytes[5] = Opcode.all.randomElement(using: &random)!.rawValue }
                }
                raw.send(bytes)
            }
            #expect(try await client.search(collection: "g", queries: [1, 2, 3, 4], dimension: 4, options: SearchOptions(k: 1))[0].map(\.id) == [1])
            #expect(try await client.listCollections().map(\.count) == [1])
            await client.close()
        }
    }

    /// Every SEARCH gets its reply, whichever thread decodes and queues it: small ones by vectors
    /// (on the event loop), by stored id and with filters (on a worker thread, as they read the
    /// index under its lock), malformed ones, and ones too large to decode on the event loop.
    @Test func everyKindOfSearchIsAnswered() async throws {
        try await withTestServer { server in
            let client = try await server.client()
            try await client.createCollection("s", dimension: 4)
            for id in Int64(1)...3 {
                try await client.add(collection: "s", batch: VectorBatch(id: id, label: id, vector: [Float(id), 1, 0, 0]))
            }
            await client.close()
            let raw = try RawConnection(port: server.port)
            var next: UInt64 = 0
            func ask(_ request: Request) -> Response? {
                next += 1
                raw.send(request, id: next)
                return raw.readResponse()?.response
            }
            func best(_ response: Response?) -> [Int64]? {
                guard case .searched(let s)? = response else { return nil }
                return s.results.map { $0.first?.id ?? -1 }
            }
            let plain = SearchRequest(collection: "s", dimension: 4, queries: [1, 0, 0, 0], options: SearchOptions(k: 1))
            #expect(best(ask(.search(plain))) == [3])
            let byID = SearchRequest(collection: "s", storedIDs: [1], excludingThemselves: true, options: SearchOptions(k: 1))
            #expect(best(ask(.search(byID))) == [3])
            let filtered = SearchRequest(collection: "s", dimension: 4, queries: [1, 0, 0, 0], options: SearchOptions(k: 1, filter: .labels([2])))
            #expect(best(ask(.search(filtered))) == [2])
            let perQuery = SearchRequest(
                collection: "s", dimension: 4, queries: [1, 0, 0, 0, 1, 0, 0, 0], options: SearchOptions(k: 1), queryFilters: [nil, .labels([1])]
            )
            #expect(best(ask(.search(perQuery))) == [3, 1])
            let unknown = SearchRequest(collection: "nope", dimension: 4, queries: [1, 0, 0, 0], options: SearchOptions(k: 1))
            #expect(ask(.search(unknown))?.errorCode == FlatVecError.Code.unknownCollection.rawValue)
            let wrongDimension = SearchRequest(collection: "s", dimension: 3, queries: [1, 0, 0], options: SearchOptions(k: 1))
            #expect(ask(.search(wrongDimension))?.errorCode == FlatVecError.Code.dimensionMismatch.rawValue)
            // 5,000 queries (80 KB): decoded on a worker thread.
            let many = SearchRequest(
                collection: "s", dimension: 4, queries: (0..<5_000).flatMap { _ in [Float(1), 0, 0, 0] }, options: SearchOptions(k: 1)
            )
            #expect(best(ask(.search(many))) == Array(repeating: 3, count: 5_000))
            // A SEARCH frame whose payload is cut short gets an error, and the connection still works.
            var frame = ByteBufferAllocator().buffer(capacity: 64)
            next += 1
            FrameEncoder().encode(.search(plain), requestID: next, into: &frame)
            var bytes = Array(frame.readableBytesView)
            let cut = bytes.count - 6
            bytes = Array(bytes[0..<cut])
            bytes.replaceSubrange(0..<4, with: withUnsafeBytes(of: UInt32(cut - 4).littleEndian) { Array($0) })
            raw.send(bytes)
            let malformed = raw.readResponse()
            #expect(malformed != nil && malformed?.response.errorCode != nil, "a cut-short SEARCH got no error reply")
            #expect(best(ask(.search(plain))) == [3])
        }
    }

    @Test func aClientStalledMidFrameIsClosed() async throws {
        try await withTestServer(configure: { $0.frameTimeout = .milliseconds(300) }) { server in
            let raw = try RawConnection(port: server.port)
            raw.send([40, 0, 0, 0, 1, 0x02, 0, 0])  // half of a 44-byte frame, then nothing
            let clock = ContinuousClock()
            let start = clock.now
            #expect(raw.isClosedByServer())
            #expect(clock.now - start < .seconds(4))
            // A connection that is idle between frames is not closed by the frame timeout.
            let idle = try RawConnection(port: server.port)
            try await Task.sleep(for: .milliseconds(900))
            idle.send(.ping([7]), id: 1)
            #expect(idle.readResponse()?.response == .pong([7]))
        }
    }

    @Test func aClientThatNeverReadsIsCutOffWithBoundedBuffering() async throws {
        try await withTestServer(configure: {
            $0.writeTimeout = .milliseconds(500)
            $0.writeBufferHighWaterMark = 256 << 10
        }) { server in
            let admin = try await server.client()
            try await admin.createCollection("big", dimension: 64)
            var random = SeededRandom(seed: 3)
            let n = 2_000
            let vectors = (0..<n).flatMap { _ in random.quantizedVector(64) }
            try await admin.add(collection: "big", batch: VectorBatch(
                dimension: 64, ids: (0..<Int64(n)).map { $0 }, labels: Array(repeating: 0, count: n), vectors: vectors,
                payloads: (0..<n).map { _ in Array(repeating: UInt8(ascii: "x"), count: 200) }
            ))
            // Each reply carries 1,000 hits with payloads and vectors (~480 KB); the client reads none.
            let raw = try RawConnection(port: server.port)
            let request = Request.search(SearchRequest(
                collection: "big", dimension: 64, queries: random.quantizedVector(64),
                options: SearchOptions(k: 1_000, includePayloads: true, includeVectors: true)
            ))
            for id in 0..<200 { raw.send(request, id: UInt64(id)) }
            var closed = false
            for _ in 0..<50 where !closed {
                try await Task.sleep(for: .milliseconds(100))
                closed = try await admin.stats().openConnections == 1
            }
            #expect(closed, "the server kept a connection whose replies were never read")
            let searches = try await admin.stats().operations.first { $0.opcode == .search }?.requests ?? 0
            #expect(searches < 200, "the server kept working for a client that did not read (\(searches) searches)")
            await admin.close()
        }
    }

    @Test func pingIsAnsweredWhileAnotherConnectionRunsAHeavyBatch() async throws {
        try await withTestServer(configure: { $0.workerThreads = 1 }) { server in
            let loader = try await server.client()
            try await loader.createCollection("h", dimension: 256)
            var random = SeededRandom(seed: 9)
            for start in stride(from: 0, to: 20_000, by: 10_000) {
                let vectors = (0..<(10_000 * 256)).map { _ in Float(Int.random(in: -8...8, using: &random)) / 8 }
                try await loader.add(collection: "h", batch: VectorBatch(
                    dimension: 256, ids: (Int64(start)..<Int64(start + 10_000)).map { $0 }, labels: Array(repeating: 0, count: 10_000), vectors: vectors
                ))
            }
            // 4,096 queries x 20,000 x 256: 21 GFLOP, long enough that a PING which had to wait for it
            // could not come back first, even on a loaded machine.
            let queries = (0..<(4_096 * 256)).map { _ in Float(Int.random(in: -8...8, using: &random)) / 8 }
            // Both sides on threads of their own with blocking sockets, the PING sent 50 ms after the
            // search from the same thread: the instants are when bytes arrived, not when a busy test
            // runner got round to resuming an async task.
            let finished = Mutex<ContinuousClock.Instant?>(nil)
            let pinged = Mutex<ContinuousClock.Instant?>(nil)
            let heavy = try RawConnection(port: server.port)
            let pinger = try RawConnection(port: server.port)
            var timeout = timeval(tv_sec: 120, tv_usec: 0)
            setsockopt(heavy.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = Request.search(SearchRequest(collection: "h", dimension: 256, queries: queries, options: SearchOptions(k: 10)))
            Thread.detachNewThread {
                heavy.send(request, id: 1)
                usleep(50_000)
                Thread.detachNewThread {
                    pinger.send(.ping([9]), id: 2)
                    _ = pinger.readFrame()
                    pinged.withLock { $0 = .now }
                }
                _ = heavy.readFrame()
                finished.withLock { $0 = .now }
            }
            while finished.withLock({ $0 }) == nil || pinged.withLock({ $0 }) == nil {
                try await Task.sleep(for: .milliseconds(20))
            }
            let (p, f) = (pinged.withLock { $0! }, finished.withLock { $0! })
            #expect(p < f, "PING waited for another connection's search")
            await loader.close()
        }
    }
}
