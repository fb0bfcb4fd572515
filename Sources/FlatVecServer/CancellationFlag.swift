import Synchronization

/// A flag set once from one thread and read from others: "the connection has gone", "stop following".
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Whether ``cancel()`` has been called.
    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Sets the flag.
    func cancel() { flag.store(true, ordering: .relaxed) }
}
