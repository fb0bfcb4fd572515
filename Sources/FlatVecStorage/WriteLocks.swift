import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The locks of the write path, and the one order they are taken in.
///
/// 1. **The gate**, a reader/writer lock: every write holds it shared; compaction and the swaps of
///    the whole registry (REBUILD, a follower's reload of everything) hold it exclusively, so a
///    snapshot sees every write whole.
/// 2. **The namespace**: CREATE, DROP and a follower's reload of one collection hold it, so they reach
///    the store and the registry in one order. It holds the names whose CREATE or DROP had an
///    unknown outcome.
/// 3. **A collection's write order** (``NamedIndex``): "store, then apply to the index", one write at
///    a time, so the store and the index see that collection's writes in one order.
/// 4. The index's own reader/writer lock (``FlatIndex``), taken inside by the index's methods.
///
/// A later lock is reachable only through the scope of an earlier one (``writing(_:)`` gives a
/// ``WriteScope``, whose ``WriteScope/namespace(_:)`` gives a ``NamespaceScope``), and the scopes
/// can be made only here: the order holds by construction, not by comment.
final class WriteLocks: @unchecked Sendable {
    // @unchecked: the pthread lock is the synchronisation; its storage is allocated once and never moves.
    private let gate: UnsafeMutablePointer<pthread_rwlock_t>
    private let namespaceLock = Mutex<Set<String>>([])

    init() {
        gate = .allocate(capacity: 1)
        pthread_rwlock_init(gate, nil)
    }

    deinit {
        pthread_rwlock_destroy(gate)
        gate.deallocate()
    }

    /// Runs `body` as one write among many: the gate held shared.
    func writing<T, E: Error>(_ body: (WriteScope) throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(gate)
        defer { pthread_rwlock_unlock(gate) }
        return try body(WriteScope(locks: self))
    }

    /// Runs `body` with no write running: the gate held exclusively (so no namespace lock or write
    /// order is held either, and `body` may take any write order).
    func exclusively<T, E: Error>(_ body: (NamespaceScope) throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(gate)
        defer { pthread_rwlock_unlock(gate) }
        return try body(NamespaceScope())
    }

    /// Whether the gate can be taken exclusively now (for tests of the order: a write in progress
    /// holds it shared).
    func isIdle() -> Bool {
        guard pthread_rwlock_trywrlock(gate) == 0 else { return false }
        pthread_rwlock_unlock(gate)
        return true
    }

    fileprivate func namespace<T, E: Error>(_ body: (inout Set<String>) throws(E) -> T) throws(E) -> T {
        try namespaceLock.withLock { inDoubt throws(E) -> T in try body(&inDoubt) }
    }
}

/// Proof that the gate is held shared: from here a write may take the namespace, then a
/// collection's write order.
struct WriteScope {
    fileprivate let locks: WriteLocks

    /// Runs `body` under the namespace lock with the names whose CREATE or DROP is in doubt.
    func namespace<T, E: Error>(_ body: (NamespaceScope, inout Set<String>) throws(E) -> T) throws(E) -> T {
        try locks.namespace { inDoubt throws(E) -> T in try body(NamespaceScope(), &inDoubt) }
    }

    /// Runs `body` under a collection's write order (no namespace change runs on it meanwhile
    /// unless it also waits for this order), once a large ADD part-way into the index is all in.
    func inWriteOrder<T, E: Error>(of collection: NamedIndex, _ body: (inout NamedIndex.WriteState) throws(E) -> T) throws(E) -> T {
        try collection.writeOrder.withLock { state throws(E) -> T in
            state.finishSlicedApply(collection.index)
            return try body(&state)
        }
    }

    /// Runs `body` under a collection's write order, with a large ADD possibly part-way into the
    /// index (``NamedIndex/WriteState/slicedApply``): `body` finishes it if it must.
    func inWriteOrderBesideSlicedApply<T, E: Error>(
        of collection: NamedIndex, _ body: (inout NamedIndex.WriteState) throws(E) -> T
    ) throws(E) -> T {
        try collection.writeOrder.withLock { state throws(E) -> T in try body(&state) }
    }
}

/// Proof that the gate is held shared and the namespace lock taken: a collection's write order may
/// be taken last (DROP, a follower's reload).
struct NamespaceScope {
    fileprivate init() {}

    /// Runs `body` under a collection's write order, once a large ADD part-way into the index is all in.
    func inWriteOrder<T, E: Error>(of collection: NamedIndex, _ body: (inout NamedIndex.WriteState) throws(E) -> T) throws(E) -> T {
        try collection.writeOrder.withLock { state throws(E) -> T in
            state.finishSlicedApply(collection.index)
            return try body(&state)
        }
    }
}
