import FlatVecCore
import Logging
import Synchronization

/// Whether the durable store is failing, so a failure episode is logged once when it starts and once
/// when it ends, not once per request (the clients hear of every failure in their replies).
final class StoreHealth: Sendable {
    private let failingSince = Mutex<ContinuousClock.Instant?>(nil)
    private let failures = Atomic<Int>(0)

    /// Records a failed store call; logs if it starts an episode.
    func failed(_ error: FlatVecError, store: String, logger: Logger?) {
        failures.add(1, ordering: .relaxed)
        let started = failingSince.withLock { since -> Bool in
            guard since == nil else { return false }
            since = .now
            return true
        }
        if started {
            logger?.error("the durable store is failing: writes answer unavailable until it recovers", metadata: [
                "store": "\(store)", "error": "\(error)",
            ])
        }
    }

    /// How long the store has been failing (its last call failed), or nil when it is not.
    var failingFor: Duration? { failingSince.withLock { $0.map { .now - $0 } } }

    /// Records a successful store call; logs if it ends an episode.
    func succeeded(store: String, logger: Logger?) {
        guard let since = failingSince.withLock({ s -> ContinuousClock.Instant? in defer { s = nil }; return s }) else { return }
        let failed = failures.exchange(0, ordering: .relaxed)
        logger?.notice("the durable store has recovered", metadata: [
            "store": "\(store)", "failed writes": "\(failed)", "failing for": "\(ContinuousClock.now - since)",
        ])
    }
}
