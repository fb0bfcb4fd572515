import Synchronization

/// A flag set once from one thread and read from others: "the connection has gone" (the server),
/// "stop following" (the engine). Package-only: a helper of FlatVec's own layers.
package final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Creates a flag that is not set.
    package init() {}

    /// Whether ``cancel()`` has been called.
    package var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Sets the flag.
    package func cancel() { flag.store(true, ordering: .relaxed) }
}
