import FlatVecStorage
import FlatVecCore
import FlatVecProtocol
import FlatVecServer
import Logging
import Synchronization
import Testing

/// Collects log lines for a test.
final class LogCapture: Sendable {
    private let lines = Mutex<[(level: Logger.Level, message: String)]>([])

    var all: [(level: Logger.Level, message: String)] { lines.withLock { $0 } }

    func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "capture") { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    func append(_ level: Logger.Level, _ message: String) { lines.withLock { $0.append((level, message)) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { capture.append(event.level, "\(event.message)") }
    }
}

@Suite(.timeLimit(.minutes(5))) struct ServerLogTests {
    @Test func aStoreFailureEpisodeIsLoggedOnceAndItsEndToo() throws {
        let capture = LogCapture()
        let store = FlakyStore()
        let executor = RequestExecutor(
            registry: CollectionRegistry(), store: store, statistics: ServerStatistics(), logger: capture.logger()
        )
        _ = try executor.execute(.createCollection(CreateCollectionRequest(name: "c", dimension: 2, metric: .innerProduct)))
        store.failing.store(true, ordering: .relaxed)
        for id in Int64(0)..<5 {
            #expect(throws: FlatVecError.self) {
                try executor.execute(.add(AddRequest(collection: "c", batch: VectorBatch(id: id, label: 0, vector: [1, 0]))))
            }
        }
        store.failing.store(false, ordering: .relaxed)
        for id in Int64(10)..<13 {
            _ = try executor.execute(.add(AddRequest(collection: "c", batch: VectorBatch(id: id, label: 0, vector: [1, 0]))))
        }
        let failing = capture.all.filter { $0.message.contains("store is failing") }
        let recovered = capture.all.filter { $0.message.contains("recovered") }
        #expect(failing.count == 1 && failing.first?.level == .error)
        #expect(recovered.count == 1 && recovered.first.map { $0.level >= .notice } == true)
    }

    @Test func connectionsOpenAndCloseAtDebugOnly() async throws {
        let capture = LogCapture()
        let configuration = ServerConfiguration(port: 0)
        let executor = RequestExecutor(registry: CollectionRegistry(), store: MemoryOnlyStore(), statistics: ServerStatistics())
        let server = try FlatVecServer(configuration: configuration, executor: executor, logger: capture.logger())
        let task = Task { try await server.run() }
        defer { task.cancel() }
        let port = await server.listeningAddress()!.port!
        for _ in 0..<5 {
            let raw = try RawConnection(port: port)
            raw.send(.ping([1]), id: 1)
            _ = raw.readResponse()
        }
        try await Task.sleep(for: .milliseconds(300))
        let perConnection = capture.all.filter { $0.message.contains("connection opened") || $0.message.contains("connection closed") }
        #expect(perConnection.count >= 5)
        #expect(perConnection.allSatisfy { $0.level == .debug })
        #expect(capture.all.filter { $0.level >= .info && $0.message.contains("connection") }.isEmpty)
    }
}
