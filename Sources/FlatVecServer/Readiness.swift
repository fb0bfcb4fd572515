import FlatVecStorage
import Synchronization

/// Whether the server is ready for traffic, for `GET /readyz` (a Kubernetes readiness probe): its
/// collections are loaded, its store answers and its writes are not failing, and, for a follower
/// with a bound (`flatvec serve --ready-max-lag-ms`), no collection lags further behind the change log.
public final class Readiness: Sendable {
    private let loadedState = Mutex<(loaded: Bool, loading: String)>((false, "starting"))
    private let servingExecutor = Mutex<RequestExecutor?>(nil)
    /// The largest follower lag, in milliseconds, that still counts as ready; nil: lag does not count.
    public let maximumLagMillis: UInt64?

    /// Creates the state: not ready until ``loaded()``.
    /// - Parameter maximumLagMillis: The largest follower lag that counts as ready, or nil.
    public init(maximumLagMillis: UInt64? = nil) {
        self.maximumLagMillis = maximumLagMillis
    }

    /// Says what the server is loading (shown while not ready).
    public func loading(_ what: String) { loadedState.withLock { $0.loading = what } }

    /// Marks the collections loaded.
    public func loaded() { loadedState.withLock { $0.loaded = true } }

    /// Marks the collections loaded and names the executor that serves them (for a metrics endpoint
    /// started before the server existed).
    public func serving(_ executor: RequestExecutor) {
        servingExecutor.withLock { $0 = executor }
        loaded()
    }

    /// The executor given to ``serving(_:)``, once it was.
    public var executor: RequestExecutor? { servingExecutor.withLock { $0 } }

    /// Whether the server is ready, and why not. Probes the store (a PostgreSQL store opens a
    /// connection), so it may take a while: call it off the event loops.
    /// - Parameter executor: The server's executor (its engine, store and follower figures).
    /// - Returns: nil when ready, else the reasons.
    public func notReadyBecause(_ executor: RequestExecutor?) -> [String]? {
        let (loaded, loading) = loadedState.withLock { ($0.loaded, $0.loading) }
        guard loaded, let executor = executor ?? self.executor else { return ["loading collections: \(loading)"] }
        var reasons: [String] = []
        do {
            try executor.store.checkReachable()
        } catch {
            reasons.append("the store cannot be reached: \(error.message)")
        }
        if let failing = executor.engine.writes.storeFailingFor {
            reasons.append("writes to the store have been failing for \(failing.components.seconds) s")
        }
        if let maximumLagMillis, executor.following.isFollowing {
            for collection in executor.registry.all {
                guard let entry = executor.following.entry(for: collection.name), entry.pendingAgeMillis > maximumLagMillis else { continue }
                reasons.append(
                    "collection '\(collection.name)' lags \(entry.pendingAgeMillis) ms behind the change log (more than \(maximumLagMillis) ms)"
                )
            }
        }
        return reasons.isEmpty ? nil : reasons
    }
}
