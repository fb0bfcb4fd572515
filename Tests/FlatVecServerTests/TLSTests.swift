import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import FlatVecStorage
import Foundation
import Testing

/// The protocol over TLS, with certificates made at test time: every operation works through a
/// trusting client, untrusted servers and missing or foreign client certificates are refused, plain
/// TCP on the TLS port is closed at once, tokens still apply, and reloading certificates keeps the
/// connections that are open.
@Suite(.timeLimit(.minutes(3))) struct TLSTests {
    static func tlsServer(_ certs: TestCertificates, mutual: Bool = false, admin: String? = nil, reader: String? = nil) async throws -> TestServer {
        try await TestServer.start(adminToken: admin, readerToken: reader) {
            $0.tls = TLSFiles(
                certificateFile: certs.serverCertificateFile, keyFile: certs.serverKeyFile, clientCAFile: mutual ? certs.caFile : nil
            )
        }
    }

    @Test func aTLSClientRunsEveryOperation() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let server = try await Self.tlsServer(certs)
        defer { Task { await server.stop() } }
        let tls = ClientTLS(caFile: certs.caFile)
        let c = try await server.client(tls: tls)
        _ = try await c.ping()
        try await c.createCollection("t", dimension: 4, attributes: [try AttributeDefinition(name: "visible", type: .bool)])
        let added = try await c.add(collection: "t", batch: VectorBatch(
            dimension: 4, ids: [1, 2, 3], labels: [1, 1, 2], vectors: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
            payloads: [Array("{\"a\":1}".utf8), nil, nil], attributes: [["visible": .bool(true)], ["visible": .bool(false)], [:]]
        ))
        #expect(added.inserted == 3)
        let hits = try await c.search(collection: "t", queries: [1, 0, 0, 0], dimension: 4, options: SearchOptions(k: 2, filter: try Filter(parsing: "visible")))
        #expect(hits[0].map(\.id) == [1])
        #expect(try await c.get(collection: "t", ids: [1]).first?.payload == Array("{\"a\":1}".utf8))
        #expect(try await c.update(collection: "t", [RowUpdate(id: 2, set: ["visible": .bool(true)])]) == 1)
        try await c.addAttribute(collection: "t", try AttributeDefinition(name: "price", type: .float64))
        try await c.dropAttribute(collection: "t", named: "price")
        #expect(try await c.describeCollection("t").count == 3)
        #expect(try await c.listCollections().map(\.name) == ["t"])
        #expect(try await c.remove(collection: "t", ids: [3]) == 1)
        #expect(try await c.stats().collections.first?.count == 2)
        // A large reply crosses many TLS records whole.
        let many = (0..<2_000).map { Int64($0) + 10 }
        try await c.add(collection: "t", batch: VectorBatch(dimension: 4, ids: many, labels: many, vectors: many.flatMap { [Float($0), 1, 2, 3] }))
        #expect(try await c.get(collection: "t", ids: many).count == 2_000)
        do {
            _ = try await c.send(.rebuild(""))
            Issue.record("REBUILD on a memory store succeeded")
        } catch {
            #expect(error.code == .invalidArgument)
        }
        try await c.dropCollection("t")
        await c.close()
    }

    @Test func untrustedServersAndPlainTCPAreRefused() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let server = try await Self.tlsServer(certs)
        defer { Task { await server.stop() } }
        do {
            _ = try await server.client(tls: ClientTLS(caFile: certs.otherCAFile))
            Issue.record("a client trusting another CA connected")
        } catch let error as FlatVecError {
            #expect(error.code == .unavailable && error.message.contains("TLS handshake"), "\(error)")
        }
        // Plain TCP on the TLS port: a prompt, clean close (no hang until a timeout).
        let started = ContinuousClock.now
        let raw = try RawConnection(port: server.port)
        raw.send(.hello(HelloRequest(token: "", clientName: "plain")), id: 1)
        #expect(raw.isClosedByServer())
        #expect(ContinuousClock.now - started < .seconds(3))
        do {
            _ = try await server.client()
            Issue.record("a plaintext client got a HELLO reply from a TLS port")
        } catch let error as FlatVecError {
            #expect(error.code == .unavailable)
        }
    }

    @Test func mutualTLSNeedsACertificateFromTheClientCA() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let server = try await Self.tlsServer(certs, mutual: true)
        defer { Task { await server.stop() } }
        for (tls, what) in [
            (ClientTLS(caFile: certs.caFile), "no client certificate"),
            (ClientTLS(caFile: certs.caFile, certificateFile: certs.otherClientCertificateFile, keyFile: certs.otherClientKeyFile), "a certificate of another CA"),
        ] {
            do {
                let c = try await server.client(tls: tls)
                // TLS 1.3 may finish the client's side before the server checks: the first reply fails.
                _ = try await c.ping()
                Issue.record("mutual TLS let in a client with \(what)")
            } catch let error as FlatVecError {
                #expect(error.code == .unavailable, "\(what)")
            }
        }
        let c = try await server.client(tls: ClientTLS(caFile: certs.caFile, certificateFile: certs.clientCertificateFile, keyFile: certs.clientKeyFile))
        _ = try await c.ping()
        await c.close()
    }

    @Test func tokensStillApplyOverTLS() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let server = try await Self.tlsServer(certs, admin: "admin-token", reader: "reader-token")
        defer { Task { await server.stop() } }
        let tls = ClientTLS(caFile: certs.caFile)
        do {
            _ = try await server.client(token: "wrong", tls: tls)
            Issue.record("a wrong token was accepted over TLS")
        } catch let error as FlatVecError {
            #expect(error.code == .unauthenticated)
        }
        let admin = try await server.client(token: "admin-token", tls: tls)
        try await admin.createCollection("t", dimension: 2)
        let reader = try await server.client(token: "reader-token", tls: tls)
        do {
            try await reader.add(collection: "t", batch: VectorBatch(id: 1, label: 0, vector: [1, 0]))
            Issue.record("the reader token could write")
        } catch {
            #expect(error.code == .forbidden)
        }
        #expect(try await reader.listCollections().count == 1)
    }

    @Test func reloadingCertificatesKeepsOpenConnections() async throws {
        let first = try TestCertificates()
        let second = try TestCertificates()
        defer {
            first.remove()
            second.remove()
        }
        // The server reads its files from paths whose contents are replaced.
        let live = try TestCertificates()
        defer { live.remove() }
        let server = try await Self.tlsServer(live)
        defer { Task { await server.stop() } }
        let before = try await server.client(tls: ClientTLS(caFile: live.caFile))
        for (from, to) in [(second.serverCertificateFile, live.serverCertificateFile), (second.serverKeyFile, live.serverKeyFile)] {
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        try server.server.reloadTLS()
        _ = try await before.ping()
        let after = try await server.client(tls: ClientTLS(caFile: second.caFile))
        _ = try await after.ping()
        do {
            _ = try await server.client(tls: ClientTLS(caFile: first.caFile))
            Issue.record("a client trusting an unrelated CA connected after the reload")
        } catch let error as FlatVecError {
            #expect(error.code == .unavailable)
        }
        // A broken file on reload leaves the working certificate in force.
        try "not a certificate".write(toFile: live.serverCertificateFile, atomically: true, encoding: .utf8)
        #expect(throws: FlatVecError.self) { try server.server.reloadTLS() }
        _ = try await server.client(tls: ClientTLS(caFile: second.caFile)).ping()
    }

    @Test func unusableTLSFilesAreAClearError() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        for files in [
            TLSFiles(certificateFile: certs.directory + "/missing.pem", keyFile: certs.serverKeyFile),
            TLSFiles(certificateFile: certs.serverCertificateFile, keyFile: certs.clientKeyFile),
        ] {
            var configuration = ServerConfiguration(port: 0)
            configuration.tls = files
            let executor = RequestExecutor(registry: CollectionRegistry(), store: MemoryOnlyStore(), statistics: ServerStatistics())
            do {
                _ = try FlatVecServer(configuration: configuration, executor: executor, logger: .init(label: "t"))
                Issue.record("a server started with \(files)")
            } catch {
                #expect(error.code == .invalidArgument)
            }
        }
    }
}
