import CFlatVecKernels
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads that take part in one search beside the thread that runs it.
///
/// A search split over threads (parts of its queries, or chunks claimed one by one) is only as fast
/// as its slowest part. `DispatchQueue.concurrentPerform` was used before, but on Linux Dispatch
/// counts threads blocked in a search (callers waiting for a coalesced scan: Dispatch, NIO or plain
/// threads) against its width and then runs the parts one after another on the calling thread
/// (Benchmarks/README.md "Search plans" counts how often).
///
/// These threads exist only to scan, so a part handed to them starts as soon as the kernel wakes one.
/// The caller never waits for a helper to start: it claims parts itself until none is left, then
/// waits only for the parts already running. So a busy pool (another index's scan) makes a search
/// run on fewer threads, never stall.
final class ScanWorkers: Sendable {
    /// The pool every ``FlatIndex`` of the process shares; it grows to the largest number of helpers
    /// asked for (``FlatIndex/Configuration/searchThreads`` minus one).
    static let shared = ScanWorkers()

    /// One call of ``perform(parts:helpers:_:)``: its parts go to whoever claims them first.
    private final class Job: @unchecked Sendable {
        // @unchecked: `body` is read only by a thread that claimed a part (part < parts), before it
        // counts the part finished, and cleared only by the caller after every part is finished
        // (an acquiring load of `finished`), so no read overlaps the write. Clearing it lets
        // `perform` hand out a non-escaping closure: a helper may still hold the job afterwards.
        var body: (@Sendable (Int) -> Void)?
        let parts: Int
        let claimed = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        /// Signalled by a helper that finishes the last part while the caller may be waiting.
        let done = DispatchSemaphore(value: 0)

        init(parts: Int, body: @escaping @Sendable (Int) -> Void) {
            self.parts = parts
            self.body = body
        }

        /// Runs parts until none is left to claim; returns true if this thread finished the last one.
        func work() -> Bool {
            var last = false
            while true {
                let part = claimed.wrappingAdd(1, ordering: .relaxed).oldValue
                guard part < parts else { return last }
                body!(part)
                last = finished.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == parts
            }
        }

        var hasUnclaimedParts: Bool { claimed.load(ordering: .relaxed) < parts }
    }

    private struct State {
        var jobs: [Job] = []
        var helpers = 0
    }

    private let state = Mutex(State())
    /// One signal per part offered to the helpers (a helper that finds nothing left waits again).
    private let available = DispatchSemaphore(value: 0)

    /// Calls `body(part)` once for every `part < parts`, on the calling thread and on up to
    /// `helpers` pool threads at once; returns when every call has returned.
    func perform(parts: Int, helpers: Int, _ body: @Sendable (Int) -> Void) {
        guard parts > 1, helpers > 0 else {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let job = Job(parts: parts, body: body)
            let wanted = min(helpers, parts - 1)
            state.withLock { state in
                state.jobs.append(job)
                while state.helpers < wanted {
                    state.helpers += 1
                    startHelper()
                }
            }
            for _ in 0..<wanted { available.signal() }
            let finishedLast = job.work()
            state.withLock { state in state.jobs.removeAll { $0 === job } }
            if !finishedLast && job.finished.load(ordering: .acquiring) < parts {
                job.done.wait()
            }
            job.body = nil
        }
    }

    /// Helpers run until the process ends.
    private func startHelper() {
        let thread = DetachedThread(name: "flatvec-scan") { [self] in
            while true {
                available.wait()
                guard let job = state.withLock({ $0.jobs.first { $0.hasUnclaimedParts } }) else { continue }
                if job.work() { job.done.signal() }
            }
        }
        thread.start()
    }
}
