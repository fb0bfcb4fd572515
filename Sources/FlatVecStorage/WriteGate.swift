import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A reader/writer lock for "many writes at once, or one compaction or REBUILD", and the lock that
/// orders CREATE and DROP.
package final class WriteGate: @unchecked Sendable {
    // @unchecked: the pthread lock is the synchronisation; its storage never moves.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    /// CREATE and DROP hold it, so they reach the store and the registry in one order; it holds the
    /// names whose CREATE or DROP had an unknown outcome.
    package let namespace = Mutex<Set<String>>([])

    package init() {
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    package func shared<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    package func exclusive<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
