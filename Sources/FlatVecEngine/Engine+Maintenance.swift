import Dispatch
import FlatVecCore
import FlatVecStorage

extension Engine {
    /// The engine's background work, until the task is cancelled: compactions the store asks for
    /// (logged), reconciling writes of unknown outcome every second, and following the store's change
    /// log if it has one (``WritePath/follow(_:trimEvery:isStopped:)``). Cancelling it waits for a
    /// compaction in progress to finish. ``open(_:configuration:logger:)`` runs it unless told not
    /// to; the server runs it for its whole life. It runs once per engine: a second call returns at once.
    public func runMaintenance() async {
        guard !maintenanceStarted.exchange(true, ordering: .acquiringAndReleasing) else {
            logger?.warning("the engine's maintenance is running already; a second run was not started")
            return
        }
        await maintain()
    }

    /// The background work itself; ``runMaintenance()`` and ``open(_:configuration:logger:)`` claim
    /// ``maintenanceStarted`` first, so it runs once.
    func maintain() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await _ in writes.compactionWanted {
                    guard store.wantsCompaction else { continue }
                    await compactInTheBackground()
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    writes.reconcileWritesInDoubt()
                }
            }
            group.addTask { [self] in await followTheStore() }
        }
    }

    /// Nice levels a background compaction runs below the requests: it writes what changed, and the
    /// requests meanwhile (an admin's single ADD above all) take the cores first.
    static let compactionNiceness: Int32 = 10

    /// Compacts on a thread of its own (it writes the chunks that changed) at a lower priority
    /// (``compactionNiceness``), logging the outcome: on busy cores a single ADD then waits less for
    /// one (Benchmarks/README.md, storage). Under a steady load of searches a compaction takes longer;
    /// writes never wait for it (the log grows meanwhile).
    private func compactInTheBackground() async {
        let writes = self.writes
        let started = ContinuousClock.now
        let outcome: Result<Void, FlatVecError> = await withCheckedContinuation { continuation in
            DetachedThread(name: "flatvec-compact", niceness: Self.compactionNiceness) {
                continuation.resume(returning: Result { () throws(FlatVecError) in try writes.compact() })
            }.start()
        }
        switch outcome {
        case .success:
            logger?.info("compacted the store", metadata: ["store": "\(store.description)", "took": "\(ContinuousClock.now - started)"])
        case .failure(let error):
            // The log keeps every write; the next write that finds the log large asks again.
            logger?.error("compaction failed; the log keeps every write", metadata: ["store": "\(store.description)", "error": "\(error)"])
        }
    }

    /// Follows the store's change log on a thread of its own until the task is cancelled (returns at
    /// once if the store has none).
    private func followTheStore() async {
        let feed: (any ChangeFeed)?
        do {
            feed = try store.makeChangeFeed()
        } catch {
            logger?.error("cannot follow the store's change log", metadata: ["error": "\(error)"])
            return
        }
        guard let feed else { return }
        let stopped = CancellationFlag()
        let writes = self.writes
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global(qos: .userInitiated).async {
                    writes.follow(feed, isStopped: { stopped.isCancelled })
                    continuation.resume()
                }
            }
        } onCancel: {
            stopped.cancel()
        }
    }
}
