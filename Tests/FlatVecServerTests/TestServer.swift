import FlatVecStorage
import FlatVecClient
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Logging
import NIOCore
@_exported import FlatVecServerTestSupport
@_exported import FlatVecTestSupport

/// A server on a free loopback port for one test, stopped by `stop()`.
struct TestServer {
    let server: FlatVecServer
    let task: Task<Void, Error>
    let port: Int
    /// The server's executor, for tests that look at the collections directly.
    let executor: RequestExecutor

    static func start(
        adminToken: String? = nil,
        readerToken: String? = nil,
        metrics: ServerMetrics? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = ServerConfiguration(port: 0, adminToken: adminToken, readerToken: readerToken)
        configure(&configuration)
        var logger = Logger(label: "flatvec-test")
        logger.logLevel = .critical
        let executor = RequestExecutor(
            registry: CollectionRegistry(), store: MemoryOnlyStore(), statistics: ServerStatistics(metrics: metrics)
        )
        let server = try FlatVecServer(configuration: configuration, executor: executor, logger: logger)
        let task = Task { try await server.run() }
        guard let address = await server.listeningAddress(), let port = address.port else {
            task.cancel()
            throw FlatVecError(.unavailable, "test server did not start")
        }
        return TestServer(server: server, task: task, port: port, executor: executor)
    }

    func client(token: String? = nil, tls: ClientTLS? = nil) async throws -> FlatVecClient {
        try await FlatVecClient.connect(host: "127.0.0.1", port: port, token: token, tls: tls)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// Runs `body` against a fresh server on a free port and stops the server when `body` returns or
/// throws, so no server outlives its test.
func withTestServer<T>(
    adminToken: String? = nil,
    readerToken: String? = nil,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try await TestServer.start(adminToken: adminToken, readerToken: readerToken, configure: configure)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
