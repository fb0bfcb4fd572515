import FlatVecEngine
import Foundation
import Synchronization

/// Concurrent write patterns that once made a store's log disagree with the index, for both stores' tests.
public enum WriteRaces {
    /// What the racing writers saw.
    public struct Outcome: Sendable {
        /// ADDs acknowledged.
        public var acknowledged = 0
        /// ADDs refused with `unknown_collection` (they raced a DROP).
        public var refused = 0
        /// Any other error, which the race must never produce.
        public var unexpected: [String] = []
    }

    /// Four threads loop single-vector ADDs into collection `x` while a fifth drops and re-creates `x`
    /// `rounds` times. Every ADD must either land before a DROP or fail with `unknown_collection`.
    /// - Parameters:
    ///   - engine: The engine under test (the collection `x` must not exist yet).
    ///   - rounds: DROP + CREATE pairs.
    /// - Returns: What the writers saw.
    public static func addsRacingDropAndCreate(_ engine: Engine, rounds: Int = 10) -> Outcome {
        let create: @Sendable () throws(FlatVecError) -> Void = { () throws(FlatVecError) in try engine.createCollection("x", dimension: 4) }
        try? create()
        let outcome = Mutex(Outcome())
        let stop = Atomic<Bool>(false)
        let group = DispatchGroup()
        for writer in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var n: Int64 = 0
                while !stop.load(ordering: .acquiring) {
                    let id = Int64(writer) * 1_000_000 + n
                    n += 1
                    do throws(FlatVecError) {
                        try engine.add(VectorBatch(id: id, label: 0, vector: [1, Float(n), 0, 1]), to: "x")
                        outcome.withLock { $0.acknowledged += 1 }
                    } catch where error.code == .unknownCollection {
                        outcome.withLock { $0.refused += 1 }
                    } catch {
                        outcome.withLock { $0.unexpected.append("\(error)") }
                    }
                }
            }
        }
        group.enter()
        Thread.detachNewThread {
            defer {
                stop.store(true, ordering: .releasing)
                group.leave()
            }
            for _ in 0..<rounds {
                usleep(20_000)
                do {
                    try engine.dropCollection("x")
                    try create()
                } catch {
                    outcome.withLock { $0.unexpected.append("DROP/CREATE: \(error)") }
                }
            }
            usleep(20_000)
        }
        group.wait()
        return outcome.withLock { $0 }
    }
}
