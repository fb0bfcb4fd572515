import FlatVecEngine
@testable import FlatVecPostgres
import Foundation
import Testing
import Logging
import FlatVecTestSupport

/// Every durable store, for tests that run one contract against each.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case localDirectory
    case postgres

    var testDescription: String { rawValue }

    /// Whether what it stores survives a reopen.
    var isDurable: Bool { self != .memory }

    static let logger: Logger = {
        var logger = Logger(label: "store-contract")
        logger.logLevel = .critical
        return logger
    }()
}

/// A place for one test's store: a fresh directory or a fresh PostgreSQL database, removed at the end.
final class StoreLocation {
    let kind: StoreKind
    private let directory: String
    private var database: (name: String, url: String, admin: String)?

    init(_ kind: StoreKind) throws {
        self.kind = kind
        directory = TestDirectory.path("store-contract-\(UInt32.random(in: 0...UInt32.max))")
        guard kind == .postgres else { return }
        guard let server = ProcessInfo.processInfo.environment["FLATVEC_TEST_POSTGRES_URL"] else {
            throw FlatVecError(.unavailable, "FLATVEC_TEST_POSTGRES_URL is not set; run scripts/dev-postgres.sh start (scripts/test.sh does)")
        }
        let name = "flatvec_contract_\(UInt32.random(in: 0...UInt32.max))"
        try PostgresConnection(url: server).execute("CREATE DATABASE \(name)")
        let url = String(server[...server.lastIndex(of: "/")!]) + name
        try PostgresConnection(url: url).execute("CREATE EXTENSION IF NOT EXISTS vector")
        database = (name, url, server)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
        if let database, let admin = try? PostgresConnection(url: database.admin) {
            try? admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database.name)' AND pid <> pg_backend_pid()")
            try? admin.execute("DROP DATABASE IF EXISTS \(database.name)")
        }
    }

    /// Opens the store (again).
    func open() throws -> any DurableStore {
        switch kind {
        case .memory: MemoryOnlyStore()
        case .localDirectory: try LocalDirectoryStore(directory: directory, logger: StoreKind.logger)
        case .postgres: try PostgresStore(url: database!.url, logger: StoreKind.logger)
        }
    }

    /// An engine over the store, without background work (tests drive it).
    func engine() throws -> Engine {
        try Engine.open(open(), configuration: Engine.Configuration(runsMaintenance: false), logger: StoreKind.logger)
    }

    /// Plain SQL on the test database (PostgreSQL only).
    func sql(_ text: String) throws {
        try PostgresConnection(url: database!.url).execute(text)
    }
}
