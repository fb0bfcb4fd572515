import Dispatch
import Synchronization
import Testing
@testable import FlatVecCore

/// The threads that share a search's parts: every part runs once, callers never wait for a busy pool.
@Suite struct ScanWorkersTests {
    /// Counts the calls of each part.
    final class Calls: Sendable {
        private let counts: Mutex<[Int]>

        init(parts: Int) {
            counts = Mutex(Array(repeating: 0, count: parts))
        }

        func record(_ part: Int) { counts.withLock { $0[part] += 1 } }

        var all: [Int] { counts.withLock { $0 } }
    }

    /// Runs `work` on another thread; false if it has not returned within `seconds` (a hang fails the
    /// test instead of stopping the suite).
    static func finishes(within seconds: Int, _ work: @escaping @Sendable () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            work()
            done.signal()
        }
        return done.wait(timeout: .now() + .seconds(seconds)) == .success
    }

    @Test func everyPartRunsExactlyOnce() {
        let workers = ScanWorkers()
        let finished = Self.finishes(within: 60) {
            for helpers in 0...3 {
                for parts in 0...9 {
                    let calls = Calls(parts: parts)
                    workers.perform(parts: parts, helpers: helpers) { calls.record($0) }
                    #expect(calls.all == Array(repeating: 1, count: parts), "helpers \(helpers), parts \(parts)")
                }
            }
        }
        #expect(finished, "a search did not return")
    }

    /// Eight threads share two helpers, 200 searches each: all finish, each part once.
    @Test func concurrentCallersShareTheHelpers() {
        let workers = ScanWorkers()
        let failures = Atomic<Int>(0)
        let finished = Self.finishes(within: 60) {
            DispatchQueue.concurrentPerform(iterations: 8) { caller in
                for round in 0..<200 {
                    let parts = 2 + (caller + round) % 4
                    let calls = Calls(parts: parts)
                    workers.perform(parts: parts, helpers: 2) { calls.record($0) }
                    if calls.all != Array(repeating: 1, count: parts) { failures.add(1, ordering: .relaxed) }
                }
            }
        }
        #expect(finished, "a search did not return")
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    /// A part that blocks (a helper held by another search) does not hold up a second caller: its
    /// caller runs its parts itself. Only a bound of 30 s is asserted, far above any scheduling delay.
    @Test func aBusyHelperDoesNotStallAnotherCaller() {
        let workers = ScanWorkers()
        let release = DispatchSemaphore(value: 0)
        let blocked = DispatchSemaphore(value: 0)
        let firstDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            // Both parts block until released, so the helper is busy whichever part it takes.
            workers.perform(parts: 2, helpers: 1) { _ in
                blocked.signal()
                release.wait()
            }
            firstDone.signal()
        }
        // Both parts start: the caller is in one, the helper in the other.
        let started = blocked.wait(timeout: .now() + 30) == .success && blocked.wait(timeout: .now() + 30) == .success
        #expect(started, "the two parts of a search did not both start")
        guard started else {
            release.signal()
            release.signal()
            return
        }
        let secondDone = DispatchSemaphore(value: 0)
        let calls = Calls(parts: 5)
        DispatchQueue.global().async {
            workers.perform(parts: 5, helpers: 1) { calls.record($0) }
            secondDone.signal()
        }
        let finished = secondDone.wait(timeout: .now() + 30) == .success
        #expect(finished, "a second search waited for a helper held by another search")
        #expect(calls.all == Array(repeating: 1, count: 5))
        release.signal()
        release.signal()
        firstDone.wait()
    }
}
