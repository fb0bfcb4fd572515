import CFlatVecKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A detached POSIX thread running a closure (FlatVecCore does not link Foundation), optionally
/// named and at a lower priority than the process's other threads.
package final class DetachedThread: @unchecked Sendable {
    // @unchecked: the stored properties are set once in init and read once, by the new thread.
    private let body: @Sendable () -> Void
    private let name: String?
    private let niceness: Int32

    /// A thread that is not running yet.
    /// - Parameters:
    ///   - name: Its name (shown by top -H, perf and debuggers), at most 15 bytes; nil keeps the process's.
    ///   - niceness: Nice levels the thread adds to its own priority as it starts, for itself alone
    ///     (on Linux; elsewhere nothing): 0 keeps the process's priority.
    ///   - body: What it runs; the thread ends when it returns.
    package init(name: String? = nil, niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void) {
        self.body = body
        self.name = name
        self.niceness = niceness
    }

    /// Starts the thread.
    package func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Darwin)
        var handle: pthread_t?
        #else
        var handle = pthread_t()
        #endif
        let started = pthread_create(&handle, nil, { context in
            let thread = Unmanaged<DetachedThread>.fromOpaque(context!).takeRetainedValue()
            if let name = thread.name { fv_name_this_thread(name) }
            // A thread may always lower its own priority; should the system refuse, it runs as it is.
            if thread.niceness != 0 { _ = fv_lower_this_thread(thread.niceness) }
            thread.body()
            return nil
        }, context)
        precondition(started == 0, "cannot start a thread: pthread_create returned \(started)")
        #if canImport(Darwin)
        pthread_detach(handle!)
        #else
        pthread_detach(handle)
        #endif
    }
}
