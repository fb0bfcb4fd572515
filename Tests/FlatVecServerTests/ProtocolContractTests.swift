import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Foundation
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Promises of proto-spec/PROTOCOL.md that a client written from the spec alone relies on.
@Suite(.timeLimit(.minutes(5))) struct ProtocolContractTests {
    static func frame(_ request: Request, id: UInt64 = 1) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        FrameEncoder().encode(request, requestID: id, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// A HELLO frame with raw token bytes (which the encoder could not produce).
    static func hello(rawToken: [UInt8]) -> [UInt8] {
        var payload = ByteBufferAllocator().buffer(capacity: 64)
        payload.writeInteger(UInt16(1), endianness: .little)
        payload.writeInteger(UInt16(1), endianness: .little)
        payload.writeInteger(UInt32(rawToken.count), endianness: .little)
        payload.writeBytes(rawToken)
        payload.writeInteger(UInt32(0), endianness: .little)
        var frame: [UInt8] = []
        withUnsafeBytes(of: UInt32(12 + payload.readableBytes).littleEndian) { frame += $0 }
        frame += [1, Opcode.hello.rawValue, 0, 0]
        withUnsafeBytes(of: UInt64(9).littleEndian) { frame += $0 }
        return frame + Array(payload.readableBytesView)
    }

    @Test func aPipelinerThatReadsLateGetsEveryReply() async throws {
        // The client sends more than the pipelining limit without reading: the server stops reading
        // it (back-pressure), so the client's send blocks in the middle of a frame. That stall is the
        // server's doing and must not count against the client's mid-frame timeout.
        try await withTestServer(configure: {
            $0.frameTimeout = .seconds(1)
            $0.writeBufferHighWaterMark = 256 << 10
        }) { server in
            // PINGs with 64 KiB payloads: cheap for the server (answered on the event loop), yet 400 of
            // them are far more than the socket buffers hold in either direction.
            let requests = 400
            let request = Self.frame(.ping(Array(repeating: 0x5A, count: 64 << 10)))
            let raw = try RawConnection(port: server.port)
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let sent = Atomic<Int>(0)
            let sender = Thread {
                for id in 0..<requests {
                    var bytes = request
                    withUnsafeBytes(of: UInt64(id).littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
                    raw.send(bytes)
                    sent.store(id + 1, ordering: .releasing)
                }
            }
            sender.start()
            try await Task.sleep(for: .seconds(3))  // three frame timeouts without reading a reply
            #expect(sent.load(ordering: .acquiring) < requests, "the test never made the server stop reading")
            var received = 0
            while received < requests, let reply = raw.readResponse() {
                #expect(reply.header.requestID == UInt64(received))
                guard case .pong(let bytes) = reply.response, bytes.count == 64 << 10 else {
                    Issue.record("reply \(received) is \(reply.response)")
                    break
                }
                received += 1
            }
            #expect(received == requests, "only \(received) of \(requests) replies arrived")
        }
    }

    @Test(arguments: ["too long", "not UTF-8"])
    func malformedTokensAreWrongTokens(_ kind: String) async throws {
        let token: (String, [UInt8]) = kind == "too long" ? (kind, Array(repeating: UInt8(ascii: "a"), count: 5_000)) : (kind, [0xFF, 0xFE, 0x41])
        try await withTestServer(adminToken: "admin-secret") { server in
            let raw = try RawConnection(port: server.port)
            raw.send(Self.hello(rawToken: token.1))
            let reply = raw.readResponse()
            #expect(reply?.response.errorCode == FlatVecError.Code.unauthenticated.rawValue, "\(token.0): \(String(describing: reply))")
            #expect(raw.isClosedByServer(), "\(token.0): the connection stayed open")
            // A well-formed wrong token gets exactly the same reply.
            let wrong = try RawConnection(port: server.port)
            wrong.send(Self.frame(.hello(HelloRequest(token: "nope"))))
            #expect(wrong.readResponse()?.response == reply?.response)
            #expect(wrong.isClosedByServer())
        }
    }

    @Test func reservedBitsAreRefusedNamingTheBit() async throws {
        try await withTestServer { server in
            let admin = try await server.client()
            try await admin.createCollection("r", dimension: 2)
            try await admin.add(collection: "r", batch: VectorBatch(id: 1, label: 0, vector: [1, 0]))
            let raw = try RawConnection(port: server.port)
            let name = 1  // the collection name "r" is 1 byte
            var cases: [(what: String, frame: [UInt8], bit: Int)] = []
            for bit in 1..<16 {
                var f = Self.frame(.listCollections)
                let flags = UInt16(1) << bit
                f[6] = UInt8(flags & 0xFF)
                f[7] = UInt8(flags >> 8)
                cases.append(("header", f, bit))
            }
            // SEARCH defines all 8 bits of its flags byte.
            let get = Self.frame(.get(GetRequest(collection: "r", ids: [1], withVectors: true, withPayloads: true)))
            for bit in 3..<8 {
                var f = get
                f[16 + 4 + name] |= UInt8(1 << bit)
                cases.append(("GET", f, bit))
            }
            let add = Self.frame(.add(AddRequest(collection: "r", batch: VectorBatch(id: 2, label: 0, vector: [0, 1]))))
            for bit in 3..<8 {
                var f = add
                f[16 + 4 + name + 4 + 4] |= UInt8(1 << bit)
                cases.append(("ADD", f, bit))
            }
            let backup = Self.frame(.backup(BackupRequest(cursor: 5)))
            for bit in 1..<8 {
                var f = backup
                f[16 + 8 + 4] |= UInt8(1 << bit)
                cases.append(("BACKUP", f, bit))
            }
            let duplicates = Self.frame(.duplicates(DuplicatesRequest(collection: "r", minScore: 0.9)))
            for bit in 2..<8 {
                var f = duplicates
                f[16 + 4 + name + 4 + 8 + 4] |= UInt8(1 << bit)
                cases.append(("DUPLICATES", f, bit))
            }
            let update = Self.frame(.update(UpdateRequest(collection: "r", updates: [RowUpdate(id: 1)])))
            for bit in 3..<8 {
                var f = update
                f[16 + 4 + name + 4 + 8] |= UInt8(1 << bit)
                cases.append(("UPDATE", f, bit))
            }
            for c in cases {
                raw.send(c.frame)
                guard let reply = raw.readResponse(), case .error(let e) = reply.response else {
                    Issue.record("\(c.what) bit \(c.bit) was not refused")
                    continue
                }
                #expect(e.code == FlatVecError.Code.unsupportedFeature.rawValue, "\(c.what) bit \(c.bit): \(e)")
                #expect(e.message.contains("bit \(c.bit) "), "\(c.what) bit \(c.bit): \(e.message)")
            }
            // Nothing was added, and the connection is still good.
            raw.send(Self.frame(.ping([5])))
            #expect(raw.readResponse()?.response == .pong([5]))
            #expect(try await admin.listCollections().first?.count == 1)
            await admin.close()
        }
    }
}
