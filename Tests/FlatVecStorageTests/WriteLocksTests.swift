import Dispatch
import FlatVecEngine
@testable import FlatVecStorage
import Foundation
import Synchronization
import Testing

/// A memory store that records the order in which writes reach it, and can hold an ADD inside the
/// store (as a slow fsync or commit would) until the test lets it go.
final class RecordingStore: DurableStore {
    private let log = Mutex<[String]>([])
    private let held = Mutex<DispatchSemaphore?>(nil)
    private let heldStage = Mutex<DispatchSemaphore?>(nil)
    /// Signalled when a held ADD is inside the store.
    let entered = DispatchSemaphore(value: 0)
    /// Thrown by the next ADD, once (a statement the store refuses).
    let refuseNextAdd = Mutex<FlatVecError?>(nil)

    var description: String { "recording store" }
    var operations: [String] { log.withLock { $0 } }

    /// Makes the next ADD wait inside the store until the returned semaphore is signalled.
    func holdNextAdd() -> DispatchSemaphore {
        let gate = DispatchSemaphore(value: 0)
        held.withLock { $0 = gate }
        return gate
    }

    /// Makes the next staged ADD wait inside ``stageAdd(collection:batch:)`` until the returned
    /// semaphore is signalled.
    func holdNextStage() -> DispatchSemaphore {
        let gate = DispatchSemaphore(value: 0)
        heldStage.withLock { $0 = gate }
        return gate
    }

    private func record(_ op: String) { log.withLock { $0.append(op) } }

    func loadCollections() throws(FlatVecError) -> [NamedIndex] { [] }
    func createCollection(name: String, dimension: Int, metric: Metric, attributes: [AttributeDefinition]) throws(FlatVecError) {
        record("create \(name)")
    }
    func addAttribute(collection: String, definition: AttributeDefinition) throws(FlatVecError) { record("add_attribute") }
    func dropAttribute(collection: String, name: String) throws(FlatVecError) { record("drop_attribute") }
    func update(collection: String, updates: [RowUpdate]) throws(FlatVecError) { record("update") }
    func dropCollection(name: String) throws(FlatVecError) { record("drop \(name)") }
    func remove(collection: String, ids: [Int64]) throws(FlatVecError) { record("remove \(ids)") }
    func add(collection: String, batch: VectorBatch) throws(FlatVecError) {
        if let refusal = refuseNextAdd.withLock({ r -> FlatVecError? in defer { r = nil }; return r }) { throw refusal }
        if let gate = held.withLock({ h -> DispatchSemaphore? in defer { h = nil }; return h }) {
            entered.signal()
            gate.wait()
        }
        record("add \(batch.ids)")
    }
    func stageAdd(collection: String, batch: VectorBatch) throws(FlatVecError) -> StagedAdd {
        if let gate = heldStage.withLock({ h -> DispatchSemaphore? in defer { h = nil }; return h }) {
            entered.signal()
            gate.wait()
        }
        record("stage \(batch.count)")
        return StagedAdd(collection: collection, batch: batch)
    }
    var wantsCompaction: Bool { false }
    func beginCompaction(_ collections: [NamedIndex]) throws(FlatVecError) -> CompactionPlan? {
        record("compact")
        return nil
    }
}

/// The lock order of the write path, driven without sockets: compaction waits for writes in the
/// store, DROP waits for a write already in the store and reaches the store after it, a refused
/// statement is the request's error and not an outage.
@Suite struct WriteLocksTests {
    static func engine(_ store: RecordingStore) throws -> Engine {
        let engine = Engine(registry: CollectionRegistry(), store: store)
        try engine.createCollection("c", dimension: 2)
        return engine
    }

    /// Runs `body` on a thread of its own; the returned group is left when it ends.
    static func inThread(_ body: @escaping @Sendable () -> Void) -> DispatchGroup {
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            body()
            group.leave()
        }
        return group
    }

    @Test func compactionWaitsForAWriteInTheStore() throws {
        let store = RecordingStore()
        let engine = try Self.engine(store)
        let gate = store.holdNextAdd()
        let add = Self.inThread { _ = try? engine.add(VectorBatch(id: 1, label: 0, vector: [1, 0]), to: "c") }
        store.entered.wait()
        #expect(!engine.writes.locks.isIdle())
        let compaction = Self.inThread { try? engine.compact() }
        #expect(compaction.wait(timeout: .now() + .milliseconds(200)) == .timedOut, "compaction ran during a write")
        gate.signal()
        add.wait()
        compaction.wait()
        #expect(store.operations == ["create c", "add [1]", "compact"])
        #expect(try engine.contains(id: 1, in: "c"))
    }

    @Test func dropWaitsForAStoredWriteAndLaterWritesFindTheCollectionGone() throws {
        let store = RecordingStore()
        let engine = try Self.engine(store)
        let gate = store.holdNextAdd()
        let add = Self.inThread { _ = try? engine.add(VectorBatch(id: 1, label: 0, vector: [1, 0]), to: "c") }
        store.entered.wait()
        let drop = Self.inThread { try? engine.dropCollection("c") }
        #expect(drop.wait(timeout: .now() + .milliseconds(200)) == .timedOut, "DROP passed a write in the store")
        gate.signal()
        add.wait()
        drop.wait()
        #expect(store.operations == ["create c", "add [1]", "drop c"])
        #expect(throws: FlatVecError(.unknownCollection, "no collection named 'c'")) {
            try engine.add(VectorBatch(id: 2, label: 0, vector: [1, 0]), to: "c")
        }
        #expect(store.operations.count == 3, "a write after DROP reached the store")
    }

    @Test func aWriteWaitingForTheOrderOfADroppedCollectionChangesNothing() throws {
        let store = RecordingStore()
        let engine = try Self.engine(store)
        let gate = store.holdNextAdd()
        let first = Self.inThread { _ = try? engine.add(VectorBatch(id: 1, label: 0, vector: [1, 0]), to: "c") }
        store.entered.wait()
        // A REMOVE looks the collection up, then waits for its write order behind the ADD; a DROP
        // queues behind both.
        let outcome = Mutex<FlatVecError?>(nil)
        let second = Self.inThread {
            do throws(FlatVecError) { try engine.remove(ids: [1], from: "c") } catch { outcome.withLock { $0 = error } }
        }
        usleep(50_000)
        gate.signal()
        first.wait()
        second.wait()
        try engine.dropCollection("c")
        #expect(outcome.withLock { $0 } == nil)
        #expect(store.operations == ["create c", "add [1]", "remove [1]", "drop c"])
    }

    @Test func aRefusedStatementIsTheRequestsErrorAndWritesGoOn() throws {
        let store = RecordingStore()
        let engine = try Self.engine(store)
        store.refuseNextAdd.withLock {
            $0 = FlatVecError(.invalidArgument, "PostgreSQL failed (SQLSTATE 22P02): invalid input", sqlState: "22P02")
        }
        do {
            try engine.add(VectorBatch(id: 1, label: 0, vector: [1, 0]), to: "c")
            Issue.record("a refused statement was acknowledged")
        } catch {
            #expect(error.code == .invalidArgument && error.sqlState == "22P02", "\(error)")
        }
        #expect(try !engine.contains(id: 1, in: "c"))
        try engine.add(VectorBatch(id: 2, label: 0, vector: [0, 1]), to: "c")
        #expect(store.operations == ["create c", "add [2]"])
    }

    @Test func anUnreachableStoreIsUnavailableAndAnUnknownOutcomeIsSaid() throws {
        let store = RecordingStore()
        let engine = try Self.engine(store)
        store.refuseNextAdd.withLock { $0 = FlatVecError(.unavailable, "cannot connect", sqlState: nil) }
        #expect(throws: FlatVecError(.unavailable, "the durable store failed, nothing was changed: cannot connect")) {
            try engine.add(VectorBatch(id: 1, label: 0, vector: [1, 0]), to: "c")
        }
        store.refuseNextAdd.withLock { $0 = FlatVecError.outcomeUnknown("the connection was lost during COMMIT") }
        do {
            try engine.add(VectorBatch(id: 2, label: 0, vector: [1, 0]), to: "c")
            Issue.record("acknowledged")
        } catch {
            #expect(error.code == .outcomeUnknown && error.isOutcomeUnknown)
        }
    }
}
