import Dispatch
import Synchronization
import FlatVecEngine
@testable import FlatVecStorage
import FlatVecTestSupport
import Foundation
import Testing

/// ADD with reject_duplicates_above, through the engine's write path on every store: offenders
/// against a brute force (stored and within the batch, ties at the threshold), nothing written when
/// refused, upserts of the same id allowed, and racing batches that duplicate each other.
@Suite struct AddOnlyIfNewTests {
    static let dimension = 8

    static func vectors(_ count: Int, seed: UInt64) -> [[Float]] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in random.quantizedVector(dimension) }
    }

    static func batch(_ ids: [Int64], _ vectors: [[Float]]) throws -> VectorBatch {
        try VectorBatch(dimension: dimension, ids: ids, labels: ids.map { $0 % 5 }, vectors: vectors.flatMap { $0 })
    }

    static func score(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test(arguments: StoreKind.allCases)
    func offendersAreListedAndNothingIsWritten(kind: StoreKind) async throws {
        let location = try StoreLocation(kind)
        let engine = try location.engine()
        try engine.createCollection("c", dimension: Self.dimension)
        let stored = Self.vectors(300, seed: 4)
        try engine.add(try Self.batch((0..<300).map { Int64($0) }, stored), to: "c")
        // New vectors: copies of stored ones, a near copy, two equal to each other, and random ones.
        var new = Self.vectors(40, seed: 5)
        new[3] = stored[17]
        new[9] = stored[250]
        new[9][0] += 0.125
        new[20] = new[21]
        let ids = (1_000..<1_040).map { Int64($0) }
        let all = (0..<300).map { (Int64($0), stored[$0]) } + zip(ids, new).map { ($0, $1) }
        // The threshold: the lowest of the planted pairs' scores, so one of them is a tie at it.
        let t = min(Self.score(new[9], stored[250]), Self.score(new[20], new[21]), Self.score(new[3], stored[17]))
        var expected: [Int64: (other: Int64, score: Float)] = [:]
        for (i, v) in new.enumerated() {
            for (other, w) in all where other != ids[i] {
                let s = Self.score(v, w)
                guard s >= t else { continue }
                if let held = expected[ids[i]], held.score > s || (held.score == s && held.other < other) { continue }
                expected[ids[i]] = (other, s)
            }
        }
        #expect(expected[1_003] != nil && expected[1_009] != nil && expected[1_020] != nil && expected[1_021] != nil)
        do {
            try engine.add(try Self.batch(ids, new), to: "c", rejectingDuplicatesAbove: t)
            Issue.record("a batch of duplicates was added")
        } catch let error as FlatVecError {
            #expect(error.code == .duplicateVector, "\(error)")
            var listed: [Int64: (other: Int64, score: Float)] = [:]
            let pattern = try NSRegularExpression(pattern: #"id (-?\d+) ~ (stored|new) id (-?\d+) \(([^)]+)\)"#)
            let text = error.message as NSString
            for m in pattern.matches(in: error.message, range: NSRange(location: 0, length: text.length)) {
                listed[Int64(text.substring(with: m.range(at: 1)))!] = (Int64(text.substring(with: m.range(at: 3)))!, Float(text.substring(with: m.range(at: 4)))!)
            }
            #expect(listed.mapValues(\.other) == expected.mapValues(\.other), "\(error.message)")
            #expect(error.message.contains("id 1003 ~ stored id"), "\(error.message)")
        }
        #expect(try engine.collection("c").count == 300)
        #expect(throws: FlatVecError.self) { try engine.get(ids: [1_000], from: "c") }
        // Without the offenders the rest goes in; an upsert of a stored id with its own vector is no duplicate.
        let clean = (0..<40).filter { expected[ids[$0]] == nil }
        let result = try engine.add(try Self.batch(clean.map { ids[$0] }, clean.map { new[$0] }), to: "c", rejectingDuplicatesAbove: t)
        #expect(result.inserted == clean.count)
        try engine.createCollection("u", dimension: 2, metric: .cosine)
        try engine.add(try VectorBatch(dimension: 2, ids: [1, 2], labels: [0, 0], vectors: [1, 0, 0, 1]), to: "u")
        #expect(try engine.add(try VectorBatch(dimension: 2, ids: [1], labels: [0], vectors: [1, 0.01]), to: "u", rejectingDuplicatesAbove: 0.99).replaced == 1)
        #expect(throws: FlatVecError.self) {
            try engine.add(try VectorBatch(dimension: 2, ids: [3], labels: [0], vectors: [1, 0]), to: "u", rejectingDuplicatesAbove: 0.99)
        }
        #expect(try engine.collection("u").count == 2)
        #expect(throws: FlatVecError.self) { try engine.add(try Self.batch([5_000], [stored[1]]), to: "c", rejectingDuplicatesAbove: .nan) }
        await engine.close()
    }

    @Test(.timeLimit(.minutes(2)))
    func racingBatchesCannotBothSlipInADuplicate() async throws {
        // A store that syncs each write: ADDs arriving meanwhile wait and are stored as one group.
        let location = try StoreLocation(.localDirectory)
        let engine = try location.engine()
        try engine.createCollection("r", dimension: Self.dimension, metric: .cosine)
        try engine.add(try Self.batch((0..<200).map { Int64($0) }, Self.vectors(200, seed: 6)), to: "r")
        let copies = Self.vectors(30, seed: 7)
        for round in 0..<30 {
            // Six writers add the same vector under different ids at once: all but one are refused.
            let vector = copies[round]
            let ids = (0..<6).map { Int64(10_000 + 6 * round + $0) }
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for id in ids {
                    group.addTask {
                        do {
                            try engine.add(try Self.batch([id], [vector]), to: "r", rejectingDuplicatesAbove: 0.999)
                            return true
                        } catch {
                            if (error as? FlatVecError)?.code != .duplicateVector { Issue.record("\(error)") }
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1, "round \(round): \(outcomes)")
        }
        #expect(try engine.collection("r").count == 230)
        await engine.close()
    }

    /// Two ADDs that duplicate each other wait together behind a write held in the store, and are then
    /// stored as one group: the second is checked against the first and refused, the first is added.
    @Test(.timeLimit(.minutes(1)))
    func anAddIsCheckedAgainstTheAddsOfItsGroupBeforeIt() throws {
        let store = RecordingStore()
        let engine = Engine(registry: CollectionRegistry(), store: store)
        try engine.createCollection("g", dimension: 2, metric: .cosine)
        let gate = store.holdNextAdd()
        let first = WriteLocksTests.inThread { _ = try? engine.add(VectorBatch(id: 1, label: 0, vector: [0, 1]), to: "g") }
        store.entered.wait()
        let outcomes = Mutex<[Int64: Bool]>([:])
        let racers = [Int64(2), 3].map { id in
            WriteLocksTests.inThread {
                let added = (try? engine.add(VectorBatch(id: id, label: 0, vector: [1, 0]), to: "g", rejectingDuplicatesAbove: 0.99)) != nil
                outcomes.withLock { $0[id] = added }
            }
        }
        let collection = try engine.registry.collection(named: "g")
        while collection.pendingAdds.withLock({ $0.count }) < 2 { usleep(1_000) }
        gate.signal()
        first.wait()
        for racer in racers { racer.wait() }
        #expect(outcomes.withLock { $0.values.filter { $0 }.count } == 1, "\(outcomes.withLock { $0 })")
        #expect(store.operations.count == 3, "\(store.operations)")  // create, the held add, one group of one
        #expect(try engine.collection("g").count == 2)
    }
}
