import Dispatch
import FlatVecCore
import FlatVecEngine
@testable import FlatVecStorage
import FlatVecTestSupport
import Foundation
import Synchronization
import Testing

/// Large ADDs are written ahead of their turn in parts and committed by a small record: what a
/// restart, a crash before the commit, a compaction in between and damage make of them.
@Suite(.timeLimit(.minutes(5))) struct StagedAddTests {
    typealias Store = LocalDirectoryStoreTests

    /// A batch of `count` rows of dimension 512 (above the staging threshold from 512 rows on),
    /// with payloads and attributes.
    static func batch(ids: Range<Int64>, seed: UInt64) throws -> VectorBatch {
        var random = SeededRandom(seed: seed)
        let ids = Array(ids)
        return try VectorBatch(
            dimension: 512, ids: ids, labels: ids.map { $0 % 11 }, vectors: (0..<(ids.count * 512)).map { _ in Float.random(in: -1...1, using: &random) },
            payloads: ids.map { $0 % 4 == 0 ? nil : Array("p\($0)".utf8) },
            attributes: ids.map { $0 % 3 == 0 ? [:] : ["tier": .int64($0 % 5)] }
        )
    }

    static func create(_ name: String, _ engine: Engine) throws {
        try engine.createCollection(name, dimension: 512, attributes: [AttributeDefinition(name: "tier", type: .int64)])
    }

    /// The kind byte of every record of a log, in order.
    static func recordKinds(_ path: String) throws -> [UInt8] {
        try WriteAheadLog.readRecords(path: path).records.map { $0[0] }
    }

    static func rows(_ engine: Engine, _ name: String) throws -> [StoredVector] {
        try engine.registry.collection(named: name).index.allRowsSorted()
    }

    @Test func aLargeAddIsStagedInPartsAndReplaysExactly() async throws {
        let directory = Store.temporaryDirectory()
        let expected: [StoredVector]
        do {
            let (engine, _) = try Store.open(directory)
            try Self.create("big", engine)
            try engine.add(Self.batch(ids: 0..<10, seed: 1), to: "big")
            let result = try engine.add(Self.batch(ids: 5..<1_505, seed: 2), to: "big")
            #expect(result.inserted == 1_495 && result.replaced == 5)
            expected = try Self.rows(engine, "big")
            #expect(expected.count == 1_505)
            await engine.close()
        }
        // 1,500 rows of 2 KiB and more: 3 parts of 1 MiB in the log's stage file, and a commit in the
        // log after the CREATE and the small ADD.
        let kinds = try Self.recordKinds(directory + "/wal.0.log")
        #expect(kinds == [1, 3, 9], "\(kinds)")
        #expect(try Self.recordKinds(directory + "/wal.0.stage") == [8, 8, 8])
        #expect(DataDirectoryVerifier.verify(directory: directory).isSound)
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
        // A compaction keeps it and retires the stage file with its log; the next restart reads it
        // from segments.
        try engine.compact()
        #expect(!FileManager.default.fileExists(atPath: directory + "/wal.0.stage"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/wal.0.log"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/wal.1.stage"))
        await engine.close()
        let (again, _) = try Store.open(directory)
        #expect(try Self.rows(again, "big") == expected)
    }

    /// A crash after the parts and before the commit: the batch was never acknowledged and is not
    /// stored; what was logged around it is, and later stages in the same log replay too.
    @Test func partsWithoutACommitAreNotStored() async throws {
        let directory = Store.temporaryDirectory()
        let expected: [StoredVector]
        do {
            let (engine, store) = try Store.open(directory)
            try Self.create("big", engine)
            try engine.add(Self.batch(ids: 0..<3, seed: 1), to: "big")
            let staged = try store.stageAdd(collection: "big", batch: Self.batch(ids: 100..<700, seed: 3))
            #expect(staged.stage?.parts == 2)
            try engine.add(Self.batch(ids: 3..<4, seed: 4), to: "big")
            expected = try Self.rows(engine, "big")
            await engine.close()
        }
        let report = DataDirectoryVerifier.verify(directory: directory)
        #expect(report.isSound, "\(report.problems)")
        #expect(report.notes.contains { $0.contains("1 staged ADDs were never committed") }, "\(report.notes)")
        let later: [StoredVector]
        do {
            let (engine, _) = try Store.open(directory)
            #expect(try Self.rows(engine, "big") == expected)
            // The log goes on: a new stage's number cannot be taken for the uncommitted one's.
            try engine.add(Self.batch(ids: 1_000..<1_600, seed: 5), to: "big")
            later = try Self.rows(engine, "big")
            #expect(later.count == expected.count + 600)
            await engine.close()
        }
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == later)
    }

    /// A crash in the middle of a part: a torn tail of the stage file, cut at start-up (the log is
    /// whole); stages staged after it take numbers of their own, and replay.
    @Test func aPartCutShortIsATornTail() async throws {
        let directory = Store.temporaryDirectory()
        var expected: [StoredVector]
        do {
            let (engine, store) = try Store.open(directory)
            try Self.create("big", engine)
            try engine.add(Self.batch(ids: 0..<2, seed: 1), to: "big")
            try engine.add(Self.batch(ids: 2..<602, seed: 2), to: "big")
            expected = try Self.rows(engine, "big")
            _ = try store.stageAdd(collection: "big", batch: Self.batch(ids: 1_000..<1_600, seed: 3))
            await engine.close()
        }
        let stage = directory + "/wal.0.stage"
        let size = try LocalDirectoryStoreRecoveryTests.fileSize(stage)
        #expect(truncate(stage, off_t(size - 1_000)) == 0)
        let logSize = try LocalDirectoryStoreRecoveryTests.fileSize(directory + "/wal.0.log")
        let report = DataDirectoryVerifier.verify(directory: directory)
        #expect(report.isSound, "\(report.problems)")
        #expect(report.notes.contains { $0.contains("wal.0.stage") && $0.contains("torn tail") }, "\(report.notes)")
        do {
            let (engine, _) = try Store.open(directory)
            #expect(try Self.rows(engine, "big") == expected)
            // Cut to its whole records (the first stage's 2 parts and the cut one's first part).
            let cut = try LocalDirectoryStoreRecoveryTests.fileSize(stage)
            #expect(cut < size - 1_000 && cut > size / 2, "\(cut) of \(size) bytes")
            #expect(try LocalDirectoryStoreRecoveryTests.fileSize(directory + "/wal.0.log") == logSize)
            try engine.add(Self.batch(ids: 2_000..<2_600, seed: 4), to: "big")
            expected = try Self.rows(engine, "big")
            await engine.close()
        }
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
        #expect(expected.count == 1_202)
    }

    /// The stage file counts toward the compaction threshold with its log: large ADDs, whose bytes
    /// are nearly all in it, still bring compactions about.
    @Test func theStageFileCountsTowardACompaction() async throws {
        let directory = Store.temporaryDirectory()
        let (engine, store) = try Store.open(directory, threshold: 4 << 20)
        try Self.create("big", engine)
        try engine.add(Self.batch(ids: 0..<600, seed: 1), to: "big")
        #expect(!store.wantsCompaction)
        try engine.add(Self.batch(ids: 600..<1_800, seed: 2), to: "big")
        try engine.add(Self.batch(ids: 1_800..<2_400, seed: 3), to: "big")
        #expect(try LocalDirectoryStoreRecoveryTests.fileSize(directory + "/wal.0.log") < 4_096)
        #expect(store.wantsCompaction)
        await engine.close()
    }

    /// A large ADD staged while a compaction starts the next log goes on writing its parts to the
    /// stage file it began in; a crash in the middle of one leaves a torn tail there, with a later
    /// log after it. That is no damage (no commit names the part): start-up keeps every other write.
    /// (Parts kept in the log itself left the torn tail in a log that later logs follow, and the
    /// server refused to start.)
    @Test func aPartCutShortAfterTheNextLogBeganIsATornTail() async throws {
        let directory = Store.temporaryDirectory()
        let expected: [StoredVector]
        do {
            let (engine, store) = try Store.open(directory)
            try Self.create("big", engine)
            try engine.add(Self.batch(ids: 0..<600, seed: 1), to: "big")
            _ = try store.stageAdd(collection: "big", batch: Self.batch(ids: 1_000..<1_600, seed: 3))
            _ = try store.beginCompaction(engine.registry.all)
            try engine.add(Self.batch(ids: 600..<610, seed: 2), to: "big")
            expected = try Self.rows(engine, "big")
            await engine.close()
        }
        let stage = directory + "/wal.0.stage"
        #expect(truncate(stage, off_t(try LocalDirectoryStoreRecoveryTests.fileSize(stage) - 1_000)) == 0)
        #expect(FileManager.default.fileExists(atPath: directory + "/wal.1.log"))
        #expect(DataDirectoryVerifier.verify(directory: directory).isSound)
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
        #expect(expected.count == 610)
    }

    /// A stage file that lost committed parts (removed, or damaged with whole records after the
    /// damage) stops start-up with `corrupt_data` naming it, and the verifier names it too: the
    /// server never starts without an acknowledged ADD.
    @Test func aStageFileThatLostCommittedPartsStopsStartUp() async throws {
        for damage in ["removed", "damaged"] {
            let directory = Store.temporaryDirectory()
            do {
                let (engine, _) = try Store.open(directory)
                try Self.create("big", engine)
                try engine.add(Self.batch(ids: 0..<600, seed: 2), to: "big")
                try engine.add(Self.batch(ids: 600..<1_200, seed: 3), to: "big")
                await engine.close()
            }
            let stage = directory + "/wal.0.stage"
            if damage == "removed" {
                #expect(unlink(stage) == 0)
            } else {
                // A byte in the first part's body: records after it are whole.
                let fd = open(stage, O_WRONLY)
                var byte: UInt8 = 0x5a
                #expect(pwrite(fd, &byte, 1, 100) == 1)
                close(fd)
            }
            #expect(!DataDirectoryVerifier.verify(directory: directory).isSound, "\(damage)")
            let expected = damage == "removed" ? "names 2 parts; the log and its stage file hold 0" : "wal.0.stage: record 1 at offset 0 is damaged"
            do {
                _ = try Store.open(directory)
                Issue.record("a stage file \(damage) was not noticed")
            } catch let error as FlatVecError {
                #expect(error.code == .corruptData && error.message.contains(expected), "\(damage): \(error.message)")
            }
        }
    }

    /// A directory of version 2 keeps its staged parts in the log: it opens as it is (its manifest
    /// becomes version 3), and later stages, in the stage file, never take a number the log's use.
    @Test func aVersion2LogWithPartsInItIsReadAsItIs() async throws {
        let directory = Store.temporaryDirectory()
        let old = try Self.batch(ids: 0..<600, seed: 1)
        let create = LogRecord.create(name: "big", dimension: 512, metric: .innerProduct, attributes: [try AttributeDefinition(name: "tier", type: .int64)])
        let body = LogRecord.add(collection: "big", batch: old).encoded()
        let half = body.count / 2
        // Stage 0: its parts and commit; stage 1: a part never committed.
        let records = [
            create.encoded(),
            LogRecord.stagedPart(stage: 0, part: 0, bytes: Array(body[..<half])).encoded(),
            LogRecord.stagedPart(stage: 1, part: 0, bytes: Array(body[..<half])).encoded(),
            LogRecord.stagedPart(stage: 0, part: 1, bytes: Array(body[half...])).encoded(),
            LogRecord.commitStaged(stage: 0, parts: 2).encoded(),
        ]
        do {
            let log = try WriteAheadLog(path: directory + "/wal.0.log", validLength: 0)
            for record in records { try log.append(record) }
        }
        try "flatvec-manifest 2\ngeneration 0\n".write(toFile: directory + "/MANIFEST", atomically: true, encoding: .utf8)
        let expected: [StoredVector]
        do {
            let (engine, _) = try Store.open(directory)
            #expect(try Self.rows(engine, "big").map(\.id) == old.ids)
            #expect(try String(contentsOfFile: directory + "/MANIFEST", encoding: .utf8).hasPrefix("flatvec-manifest 3\n"))
            try engine.add(Self.batch(ids: 1_000..<1_600, seed: 2), to: "big")
            expected = try Self.rows(engine, "big")
            #expect(expected.count == 1_200)
            await engine.close()
        }
        #expect(try Self.recordKinds(directory + "/wal.0.stage") == [8, 8])
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
    }

    /// An online backup carries the stage files of its logs (the current one as far as it is
    /// written), before the logs: a directory restored from it has every staged ADD.
    @Test func aBackupCarriesTheStageFiles() async throws {
        let directory = Store.temporaryDirectory()
        let copy = Store.temporaryDirectory()
        let (engine, store) = try Store.open(directory)
        try Self.create("big", engine)
        try engine.add(Self.batch(ids: 0..<600, seed: 1), to: "big")
        // A compaction a backup keeps from finishing leaves two logs, each with a stage file.
        _ = try store.beginCompaction(engine.registry.all)
        try engine.add(Self.batch(ids: 600..<1_200, seed: 2), to: "big")
        try engine.add(Self.batch(ids: 1_200..<1_201, seed: 3), to: "big")
        let expected = try Self.rows(engine, "big")
        let plan = try store.beginBackup()
        #expect(plan.files.map(\.name) == ["wal.0.stage", "wal.0.log", "wal.1.stage", "wal.1.log"], "\(plan.files.map(\.name))")
        for (i, file) in plan.files.enumerated() {
            try Data(try plan.read(file: i, offset: 0, count: file.length)).write(to: URL(fileURLWithPath: copy + "/" + file.name))
        }
        try Data(plan.manifest).write(to: URL(fileURLWithPath: copy + "/MANIFEST"))
        await engine.close()
        let (restored, _) = try Store.open(copy)
        #expect(try Self.rows(restored, "big") == expected)
        await restored.close()
    }

    /// A compaction that starts the next log between a stage and its commit (the write path's gate
    /// keeps it from happening; the store does not rely on that): the commit stores the batch whole
    /// in the new log, and a restart before the compaction's manifest still has it.
    @Test func aCommitAfterTheLogWasRotatedStoresTheBatchWhole() async throws {
        let directory = Store.temporaryDirectory()
        let batch = try Self.batch(ids: 100..<700, seed: 3)
        do {
            let (engine, store) = try Store.open(directory)
            try Self.create("big", engine)
            let staged = try store.stageAdd(collection: "big", batch: batch)
            _ = try store.beginCompaction(engine.registry.all)
            try store.commitAdd(staged)
            await engine.close()
        }
        #expect(try Self.recordKinds(directory + "/wal.1.log") == [3])
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big").map(\.id) == batch.ids)
    }

    /// A directory whose manifest is version 1 (written before staged ADDs) gets a version 3
    /// manifest when opened, before anything is logged: builds that read only version 1 then refuse
    /// it instead of taking staged records for a torn tail.
    @Test func aVersion1ManifestIsUpgradedWhenOpened() async throws {
        let directory = Store.temporaryDirectory()
        let expected: [StoredVector]
        do {
            let (engine, _) = try Store.open(directory)
            try Self.create("big", engine)
            try engine.add(Self.batch(ids: 0..<3, seed: 1), to: "big")
            expected = try Self.rows(engine, "big")
            await engine.close()
        }
        let path = directory + "/MANIFEST"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("flatvec-manifest 3\n"))
        try text.replacingOccurrences(of: "flatvec-manifest 3", with: "flatvec-manifest 1").write(toFile: path, atomically: true, encoding: .utf8)
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    }

    /// A commit naming parts the log does not hold, or parts out of order, is damage.
    @Test func commitsAndPartsThatDoNotAddUpAreCorruptData() throws {
        let body = LogRecord.add(collection: "c", batch: try VectorBatch(dimension: 2, ids: [1, 2], labels: [0, 0], vectors: [1, 2, 3, 4])).encoded()
        let create = LogRecord.create(name: "c", dimension: 2, metric: .innerProduct, attributes: []).encoded()
        let part0 = LogRecord.stagedPart(stage: 7, part: 0, bytes: Array(body[..<10])).encoded()
        let part1 = LogRecord.stagedPart(stage: 7, part: 1, bytes: Array(body[10...])).encoded()
        func replay(_ records: [[UInt8]]) throws(FlatVecError) -> [String: NamedIndex] {
            var collections: [String: NamedIndex] = [:]
            var replay = LogReplay(configuration: .init())
            for record in records { try replay.apply(record, to: &collections) }
            return collections
        }
        let whole = try replay([create, part0, part1, LogRecord.commitStaged(stage: 7, parts: 2).encoded()])
        #expect(whole["c"]?.index.count == 2)
        let uncommitted = try replay([create, part0, part1])
        #expect(uncommitted["c"]?.index.count == 0)
        for (records, fragment) in [
            ([create, part0, LogRecord.commitStaged(stage: 7, parts: 2).encoded()], "names 2 parts; the log and its stage file hold 1"),
            ([create, part0, part1, LogRecord.commitStaged(stage: 8, parts: 2).encoded()], "names 2 parts; the log and its stage file hold 0"),
            ([create, part1], "part 1 of stage 7 follows 0 parts"),
            ([create, LogRecord.stagedPart(stage: 7, part: 0, bytes: create).encoded(), LogRecord.commitStaged(stage: 7, parts: 1).encoded()],
             "holds a record other than an ADD"),
        ] {
            #expect(performing: { _ = try replay(records) }, throws: { error in
                (error as? FlatVecError)?.code == .corruptData && "\(error)".contains(fragment)
            })
        }
    }

    /// A smaller ADD of the same collection is stored and applied while a large one is being staged
    /// (it does not wait for the large one's bytes), and the large one's commit follows it.
    @Test func aSmallAddGoesOnWhileALargeOneIsStaged() throws {
        let store = RecordingStore()
        let engine = Engine(registry: CollectionRegistry(), store: store)
        try Self.create("c", engine)
        let gate = store.holdNextStage()
        let large = try Self.batch(ids: 100..<700, seed: 3)
        let failure = Mutex<(any Error)?>(nil)
        let done = WriteLocksTests.inThread {
            do { try engine.add(large, to: "c") } catch { failure.withLock { $0 = error } }
            store.entered.signal()
        }
        store.entered.wait()
        try #require(failure.withLock { $0 } == nil)
        try engine.add(Self.batch(ids: 1..<2, seed: 1), to: "c")
        #expect(try engine.registry.collection(named: "c").index.count == 1)
        gate.signal()
        done.wait()
        #expect(try engine.registry.collection(named: "c").index.count == 601)
        // The small ADD reached the store while the large one's bytes were held; the commit came after.
        #expect(store.operations.map { String($0.prefix(12)) } == ["create c", "add [1]", "stage 600", "add [100, 10"])
    }

    /// A large ADD part-way into the index (simulated: stored, one slice applied): an ADD of other
    /// ids and a reconciliation with nothing in doubt pass it; an ADD sharing an id, one checking
    /// duplicates, a reconciliation of an id in doubt and any other write finish it first, so the
    /// index ends as the store's order gives, and a restart agrees.
    @Test func writesPassALargeAddPartWayInOnlyWhereTheOrderCannotShow() async throws {
        let directory = Store.temporaryDirectory()
        let expected: [StoredVector]
        do {
            let (engine, store) = try Store.open(directory)
            try Self.create("big", engine)
            let collection = try engine.registry.collection(named: "big")
            func partWayIn(_ ids: Range<Int64>, seed: UInt64) throws -> SlicedApply {
                let validated = try collection.index.validate(Self.batch(ids: ids, seed: seed))
                try store.commitAdd(try store.stageAdd(collection: "big", batch: validated.batch))
                let sliced = SlicedApply(validated)
                sliced.applyNext(to: collection.index)
                collection.writeOrder.withLock { $0.slicedApply = sliced }
                return sliced
            }
            var sliced = try partWayIn(0..<5_000, seed: 1)
            #expect(collection.index.count == SlicedApply.rowsPerSlice)
            // The maintenance's reconciliation, once a second, with nothing in doubt: it leaves the
            // batch to its slices (finishing it held every ADD of the collection for all of them).
            #expect(engine.writes.reconcileWritesInDoubt())
            #expect(collection.index.count == SlicedApply.rowsPerSlice)
            #expect(collection.writeOrder.withLock { $0.slicedApply === sliced })
            try engine.add(Self.batch(ids: 10_000..<10_001, seed: 2), to: "big")
            #expect(collection.index.count == SlicedApply.rowsPerSlice + 1)
            #expect(collection.writeOrder.withLock { $0.slicedApply === sliced })
            let overlapping = try Self.batch(ids: 4_999..<5_000, seed: 3)
            let replaced = try engine.add(overlapping, to: "big")
            #expect(replaced.inserted == 0 && replaced.replaced == 1)
            #expect(collection.writeOrder.withLock { $0.slicedApply == nil } && sliced.isDone)
            #expect(sliced.result?.inserted == 5_000 && sliced.result?.replaced == 0)
            #expect(try engine.get(ids: [4_999], from: "big")[0].vector == overlapping.vectors)

            sliced = try partWayIn(20_000..<25_000, seed: 4)
            _ = try engine.add(Self.batch(ids: 30_000..<30_001, seed: 5), to: "big", rejectingDuplicatesAbove: 10_000)
            #expect(sliced.isDone && collection.index.count == 10_002)
            sliced = try partWayIn(40_000..<45_000, seed: 6)
            try engine.remove(ids: [44_999], from: "big")
            #expect(sliced.isDone && collection.index.count == 15_001)
            // An id in doubt (its write's outcome unknown) is reconciled after the batch is all in.
            sliced = try partWayIn(50_000..<55_000, seed: 7)
            _ = collection.writeOrder.withLock { $0.inDoubt.insert(54_999) }
            #expect(engine.writes.reconcileWritesInDoubt())
            #expect(sliced.isDone && collection.index.count == 20_001)
            #expect(collection.writeOrder.withLock { $0.slicedApply == nil && $0.inDoubt.isEmpty })
            expected = try Self.rows(engine, "big")
            await engine.close()
        }
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
    }

    /// Single ADDs racing large ADDs of the same collection, half of them on the large ones' ids:
    /// every ADD is served, and a restart gives back exactly the index served.
    @Test func singleAddsRacingLargeOnesReplayToTheIndexServed() async throws {
        let directory = Store.temporaryDirectory()
        let expected: [StoredVector]
        do {
            let (engine, _) = try Store.open(directory)
            try Self.create("big", engine)
            let failures = Mutex<[String]>([])
            let stop = Atomic<Bool>(false)
            let singles = WriteLocksTests.inThread {
                var random = SeededRandom(seed: 42)
                var n = 0
                while !stop.load(ordering: .relaxed) || n < 50 {
                    let id = Int64.random(in: 0..<40_000, using: &random)
                    do { try engine.add(Self.batch(ids: id..<(id + 1), seed: UInt64(n)), to: "big") } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                    n += 1
                }
            }
            for round in 0..<4 {
                let start = Int64(round * 5_000)
                try engine.add(Self.batch(ids: start..<(start + 6_000), seed: 100 + UInt64(round)), to: "big")
            }
            stop.store(true, ordering: .relaxed)
            singles.wait()
            #expect(failures.withLock { $0 }.isEmpty)
            expected = try Self.rows(engine, "big")
            #expect(expected.count >= 21_000)
            await engine.close()
        }
        let (engine, _) = try Store.open(directory)
        #expect(try Self.rows(engine, "big") == expected)
    }
}
