import FlatVecClient
import FlatVecCore
import FlatVecProtocol
@testable import FlatVecServer
@testable import FlatVecStorage
import Testing

@Suite(.timeLimit(.minutes(5))) struct SecurityTests {
    static func expectError(_ code: FlatVecError.Code, mentioning fragment: String = "", _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code)")
        } catch let error as FlatVecError {
            #expect(error.code == code, "\(error)")
            #expect(fragment.isEmpty || error.message.contains(fragment), "\(error.message) should mention \(fragment)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func rolesLimitWhatEachTokenMayDo() async throws {
        try await withTestServer(adminToken: "admin-secret", readerToken: "reader-secret") { server in
            await Self.expectError(.unauthenticated, mentioning: "needs a token") { _ = try await server.client() }
            await Self.expectError(.unauthenticated, mentioning: "bad token") { _ = try await server.client(token: "admin-secreT") }
            await Self.expectError(.unauthenticated, mentioning: "bad token") { _ = try await server.client(token: "admin-secret-longer") }

            let admin = try await server.client(token: "admin-secret")
            #expect(admin.hello.role == .admin)
            #expect(admin.hello.maxFrameBytes == 64 << 20)
            try await admin.createCollection("c", dimension: 2)
            try await admin.add(collection: "c", batch: VectorBatch(id: 1, label: 0, vector: [1, 0]))

            let reader = try await server.client(token: "reader-secret")
            #expect(reader.hello.role == .reader)
            #expect(try await reader.search(collection: "c", queries: [1, 0], dimension: 2, options: SearchOptions(k: 1))[0].map(\.id) == [1])
            #expect(try await reader.get(collection: "c", ids: [1]).count == 1)
            #expect(try await reader.listCollections().count == 1)
            _ = try await reader.stats()
            await Self.expectError(.forbidden, mentioning: "admin") { try await reader.add(collection: "c", batch: VectorBatch(id: 2, label: 0, vector: [0, 1])) }
            await Self.expectError(.forbidden) { try await reader.remove(collection: "c", ids: [1]) }
            await Self.expectError(.forbidden) { try await reader.createCollection("d", dimension: 2) }
            await Self.expectError(.forbidden) { try await reader.dropCollection("c") }
            #expect(try await admin.listCollections().first?.count == 1)
            await admin.close()
            await reader.close()
        }
    }

    @Test func beforeHelloOnlyPingAndSmallFramesAreAllowed() async throws {
        try await withTestServer(adminToken: "t") { server in
            let raw = try RawConnection(port: server.port)
            raw.send(.ping([9]), id: 1)
            #expect(raw.readResponse()?.response == .pong([9]))
            raw.send(.listCollections, id: 2)
            let denied = raw.readResponse()
            #expect(denied?.header.requestID == 2)
            #expect(denied?.response.errorCode == FlatVecError.Code.unauthenticated.rawValue)
            // Still open: HELLO works now.
            raw.send(.hello(HelloRequest(token: "t")), id: 3)
            guard case .hello(let hello)? = raw.readResponse()?.response else {
                Issue.record("no HELLO reply")
                return
            }
            #expect(hello.role == .admin)

            // A second connection that declares a frame above the pre-authentication cap is cut off.
            let big = try RawConnection(port: server.port)
            big.send([0x00, 0x00, 0x02, 0x00])  // 131072 bytes declared
            let reply = big.readResponse()
            #expect(reply?.response.errorCode == FlatVecError.Code.badFrame.rawValue)
            #expect(reply?.header.requestID == 0)
            #expect(big.isClosedByServer())
        }
    }

    @Test func tokensCompareByContent() {
        // Exercised through HELLO above; the comparison itself must not accept prefixes or extensions.
        let cases: [(String, String, Bool)] = [("abc", "abc", true), ("abc", "abd", false), ("ab", "abc", false), ("abcd", "abc", false), ("", "", true)]
        for (a, b, expected) in cases {
            #expect(tokensMatch(a, b) == expected, "\(a) vs \(b)")
        }
    }
}
