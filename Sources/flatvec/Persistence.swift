import FlatVecCore
import FlatVecPostgres
import FlatVecServer
import Logging

/// Opens the local data-directory store (`--data`).
func openLocalStore(directory: String, logger: Logger) throws -> any DurableStore {
    do {
        return try LocalDirectoryStore(directory: directory, logger: logger)
    } catch {
        fail("--data \(directory): \(error)")
    }
}

/// Opens the PostgreSQL store (`--postgres`); with `wait`, retries with backoff while it is unreachable.
func openPostgresStore(url: String, wait: Bool, logger: Logger) throws -> any DurableStore {
    do {
        return try PostgresStore(url: url, waitForPostgres: wait, logger: logger)
    } catch {
        fail("--postgres: \(error.message)")
    }
}
