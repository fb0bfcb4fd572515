import CFlatVecKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A reader/writer lock over `pthread_rwlock_t` that prefers writers, so a stream of searches
/// cannot starve an add. Used only through its scoped `withReaderLock` / `withWriterLock`.
final class ReadWriteLock: @unchecked Sendable {
    // @unchecked: the pthread lock is the synchronisation primitive itself; its storage never moves.
    // `writes` is changed only while the lock is held exclusively and read only while it is held.
    private let rwlock: UnsafeMutablePointer<pthread_rwlock_t>
    /// How many times the lock was held exclusively: read under the reader lock, an unchanged value
    /// means no writer ran in between (so positions read earlier still hold the same rows).
    private(set) var writes: UInt64 = 0

    init() {
        rwlock = .allocate(capacity: 1)
        let rc = fv_rwlock_init_writer_preferring(rwlock)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    deinit {
        pthread_rwlock_destroy(rwlock)
        rwlock.deallocate()
    }

    /// Runs `body` while holding the lock shared.
    @inline(__always)
    func withReaderLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(rwlock)
        defer { pthread_rwlock_unlock(rwlock) }
        return try body()
    }

    /// Runs `body` while holding the lock exclusively.
    @inline(__always)
    func withWriterLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(rwlock)
        defer {
            writes &+= 1
            pthread_rwlock_unlock(rwlock)
        }
        return try body()
    }
}
