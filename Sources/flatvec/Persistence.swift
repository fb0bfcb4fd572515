import FlatVecServer
import Logging

/// Opens the local data-directory store (`--data`).
func openLocalStore(directory: String, logger: Logger) throws -> any DurableStore {
    fail("--data: the local data directory store is not available in this build yet")
}

/// Opens the PostgreSQL store (`--postgres`).
func openPostgresStore(url: String, logger: Logger) throws -> any DurableStore {
    fail("--postgres: the PostgreSQL store is not available in this build yet")
}
