import FlatVecCore
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

/// Opens the PostgreSQL store (`--postgres`).
func openPostgresStore(url: String, logger: Logger) throws -> any DurableStore {
    fail("--postgres: the PostgreSQL store is not available in this build yet")
}
