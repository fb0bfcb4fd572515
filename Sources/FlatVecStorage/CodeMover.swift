import Dispatch
import FlatVecCore
import Logging
import Synchronization

/// The background thread that moves the int8 codes of a local store's mapped segments into memory
/// after start-up (``FlatIndex/moveMappedCodesIntoMemory(until:)``): start-up answers first, and the
/// scans reach full speed a few seconds later. The store stops it when it closes or goes away, so no
/// read of the segment files outlives the store (once another process owns the directory, it may
/// replace them).
final class CodeMover: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// Starts moving the codes of `indexes`, one index after another, on a background thread; it
    /// holds the indexes, not the store.
    init(indexes: [FlatIndex], logger: Logger) {
        DispatchQueue.global(qos: .utility).async { [self] in
            defer { done.signal() }
            let started = ContinuousClock.now
            let moved = indexes.reduce(0) { sum, index in
                sum + index.moveMappedCodesIntoMemory(until: { stopping.load(ordering: .relaxed) })
            }
            guard moved > 0 else { return }
            logger.info("moved the int8 codes of mapped segments into memory", metadata: [
                "chunks": "\(moved)", "duration": "\(ContinuousClock.now - started)",
            ])
        }
    }

    /// Stops the thread (after the chunk it is copying, about 1 MiB at d = 512) and waits for it;
    /// returns at once when called again.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        done.wait()
    }
}
