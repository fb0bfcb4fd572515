import FlatVecStorage
import FlatVecCore
import FlatVecPostgres
import FlatVecServer
import Logging

/// Opens the local data-directory store (`--data`).
/// With `truncateCorruptLog`, a log damaged in the middle is cut at the damage (and the cut logged)
/// instead of stopping start-up.
func openLocalStore(
    directory: String, truncateCorruptLog: Bool, indexConfiguration: FlatIndex.Configuration, logger: Logger
) throws -> any DurableStore {
    do {
        return try LocalDirectoryStore(
            directory: directory, truncateCorruptLog: truncateCorruptLog, indexConfiguration: indexConfiguration, logger: logger
        )
    } catch {
        fail("--data \(directory): \(error)")
    }
}

/// Opens the PostgreSQL store (`--postgres`); with `wait`, retries with backoff while it is unreachable.
func openPostgresStore(
    url: String, wait: Bool, indexConfiguration: FlatIndex.Configuration, retention: ChangeLogRetention, logger: Logger
) throws -> any DurableStore {
    do {
        return try PostgresStore(
            url: url, waitForPostgres: wait, indexConfiguration: indexConfiguration, changeLogRetention: retention, logger: logger
        )
    } catch {
        fail("--postgres: \(error.message)")
    }
}
