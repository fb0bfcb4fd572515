@testable import FlatVecCore
import FlatVecEngine
@testable import FlatVecStorage
import FlatVecTestSupport
import Foundation
import Logging
import Testing

/// Faults the local store must survive without losing, resurrecting or hiding acknowledged writes.
@Suite(.timeLimit(.minutes(5))) struct LocalDirectoryStoreRecoveryTests {
    typealias Store = LocalDirectoryStoreTests

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
    }

    static func digest(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func addsRacingDropAndCreateLeaveALogThatReplays() throws {
        let directory = Store.temporaryDirectory()
        let before: [String: UInt32]
        do {
            let (executor, _) = try Store.open(directory)
            let outcome = WriteRaces.addsRacingDropAndCreate(executor, rounds: 10)
            #expect(outcome.unexpected.isEmpty, "\(outcome.unexpected.prefix(3))")
            #expect(outcome.acknowledged > 0)
            before = Store.fingerprint(executor)
        }
        // The log the server wrote itself must replay, to exactly the index it served. (The racing
        // threads may still be letting go of the first store, which holds the directory's lock.)
        var reopened: (Engine, LocalDirectoryStore)?
        for _ in 0..<100 where reopened == nil {
            do {
                reopened = try Store.open(directory)
            } catch let error as FlatVecError where error.message.contains("in use") {
                usleep(50_000)
            }
        }
        let restarted = try #require(reopened).0
        #expect(Store.fingerprint(restarted) == before)
    }

    /// A log of many records with one byte flipped inside record 3.
    static func logWithAFlippedByte() throws -> (directory: String, offset: Int) {
        let directory = Store.temporaryDirectory()
        do {
            let (executor, _) = try Store.open(directory)
            try Store.writeSomeHistory(executor, seed: 7)
        }
        let log = directory + "/wal.0.log"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: log)))
        // Records 1 to 3 are the three CREATEs: walk past two, flip a byte inside the third's body.
        var offset = 0
        for _ in 0..<2 {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16
            offset += 8 + length
        }
        bytes[offset + 10] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: log))
        return (directory, offset)
    }

    @Test func aFlippedByteInTheMiddleOfTheLogStopsStartUpAndChangesNoFile() throws {
        let (directory, offset) = try Self.logWithAFlippedByte()
        let log = directory + "/wal.0.log"
        let before = try Self.digest(log)
        do {
            _ = try Store.open(directory)
            Issue.record("a log damaged in the middle was opened")
        } catch let error as FlatVecError {
            #expect(error.code == .corruptData)
            #expect(error.message.contains("wal.0.log") && error.message.contains("offset \(offset)"), "\(error)")
            #expect(error.message.contains("--truncate-corrupt-log"))
        }
        #expect(try Self.digest(log) == before, "the damaged log was changed")
        // The explicit way out: cut at the damage, as asked, and start.
        let store = try LocalDirectoryStore(directory: directory, truncateCorruptLog: true, logger: Store.logger)
        #expect(try store.loadCollections().map(\.name) == ["cos", "ip"])
        #expect(try Self.fileSize(log) == offset)
    }

    @Test func aDeletedManifestIsDamageNotAnEmptyStore() throws {
        let directory = Store.temporaryDirectory()
        do {
            let (executor, _) = try Store.open(directory)
            try Store.writeSomeHistory(executor, seed: 8)
            try executor.compact()
            try executor.add(VectorBatch(id: 5_000, label: 1, vector: [1, 2, 3, 4, 5, 6, 7, 8]), to: "ip")
        }
        try FileManager.default.removeItem(atPath: directory + "/MANIFEST")
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory).sorted()
        do {
            _ = try Store.open(directory)
            Issue.record("a store without its manifest opened")
        } catch let error as FlatVecError {
            #expect(error.code == .corruptData)
            #expect(error.message.contains("MANIFEST") && error.message.contains("wal.1.log"), "\(error)")
        }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: directory).sorted() == files, "files were created or deleted")
    }

    @Test func compactionRetiresOnlyFilesTheOldManifestNamed() throws {
        let directory = Store.temporaryDirectory()
        let (executor, _) = try Store.open(directory)
        try Store.writeSomeHistory(executor, seed: 9)
        // A file no manifest names (a backup an operator put there) is not the store's to delete.
        let stray = directory + "/snapshots/ip.backup.flatvec"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stray))
        try executor.compact()
        try executor.compact()
        #expect(FileManager.default.fileExists(atPath: stray))
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").sorted()
        // The second compaction found nothing changed: its snapshots name the first one's segments.
        #expect(snapshots == ["cos.1.0.seg", "cos.2.flatvec", "ip.1.0.seg", "ip.2.flatvec", "ip.backup.flatvec"])
    }

    /// A compaction holds writes out only while it takes its views and starts the next log: writes
    /// made while it writes its files go to that log. A crash before its manifest (the plan never
    /// finished) loses nothing (start-up replays both logs); a finished one retires the old log and
    /// keeps every write made meanwhile; a third compaction keeps the unchanged segments.
    @Test func writesDuringACompactionAndACrashBeforeItsManifestLoseNothing() async throws {
        let directory = Store.temporaryDirectory()
        var expected: [String: UInt32]
        do {
            let (engine, store) = try Store.open(directory)
            try Store.writeSomeHistory(engine, seed: 11)
            _ = try store.beginCompaction(engine.registry.all)!
            try engine.add(VectorBatch(id: 50_000, label: 1, vector: [1, 2, 3, 4, 5, 6, 7, 8]), to: "ip")
            try engine.remove(ids: [2, 3], from: "ip")
            try engine.createCollection("late", dimension: 2)
            try engine.add(VectorBatch(id: 1, label: 1, vector: [1, 2]), to: "late")
            expected = Store.fingerprint(engine)
            await engine.close()
        }
        #expect(FileManager.default.fileExists(atPath: directory + "/wal.0.log") && FileManager.default.fileExists(atPath: directory + "/wal.1.log"))
        do {
            let (engine, store) = try Store.open(directory)
            #expect(Store.fingerprint(engine) == expected, "a crash before the compaction's manifest lost writes")
            let plan = try store.beginCompaction(engine.registry.all)!
            try engine.add(VectorBatch(id: 50_001, label: 1, vector: [8, 7, 6, 5, 4, 3, 2, 1]), to: "ip")
            try store.finishCompaction(plan)
            // A second compaction in the same process: the chunk the first one's view held and the
            // add above appended to must be written again, not taken for the first one's segment.
            try engine.compact()
            try engine.remove(ids: [4], from: "ip")
            try engine.dropCollection("late")
            try engine.add(VectorBatch(id: 50_002, label: 1, vector: [1, 1, 1, 1, 1, 1, 1, 1]), to: "ip")
            expected = Store.fingerprint(engine)
            await engine.close()
        }
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        #expect(logs == ["wal.3.log"], "\(logs)")
        let segmentsBefore = Set(try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").filter { $0.hasSuffix(".seg") })
        do {
            let (engine, _) = try Store.open(directory)
            #expect(Store.fingerprint(engine) == expected)
            #expect(engine.registry.all.map(\.name).sorted() == ["cos", "ip"])
            // Only "ip" changed since: "cos" keeps its segment.
            try engine.compact()
            #expect(Store.fingerprint(engine) == expected)
            try engine.add(VectorBatch(id: 50_003, label: 1, vector: [2, 2, 2, 2, 2, 2, 2, 2]), to: "ip")
            try engine.compact()
            expected = Store.fingerprint(engine)
            await engine.close()
        }
        let segmentsAfter = Set(try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").filter { $0.hasSuffix(".seg") })
        #expect(segmentsAfter.filter { $0.hasPrefix("cos.") } == segmentsBefore.filter { $0.hasPrefix("cos.") })
        #expect(segmentsAfter.filter { $0.hasPrefix("ip.") } != segmentsBefore.filter { $0.hasPrefix("ip.") })
        let (engine, _) = try Store.open(directory)
        #expect(Store.fingerprint(engine) == expected)
    }

    /// Segment files no snapshot names (a compaction interrupted before its manifest) are deleted at
    /// start-up. A damaged id (or label, code, header, tail) in a segment the manifest names stops
    /// start-up, naming it. Damaged vectors are checked as reads first meet them (start-up reads the
    /// codes, not every vector): the read that meets them fails naming the segment and rows, and from
    /// then on the collection answers no search and compacts nothing, while the others go on.
    @Test func orphanSegmentsGoAndDamageIsNamedNeverServed() async throws {
        let directory = Store.temporaryDirectory()
        do {
            let (engine, _) = try Store.open(directory)
            try Store.writeSomeHistory(engine, seed: 12)
            try engine.compact()
            await engine.close()
        }
        let orphan = directory + "/snapshots/ip.7.0.seg"
        try Data(repeating: 1, count: 100).write(to: URL(fileURLWithPath: orphan))
        do {
            let (engine, _) = try Store.open(directory)
            #expect(!FileManager.default.fileExists(atPath: orphan))
            await engine.close()
        }
        let segment = try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").first { $0.hasPrefix("ip.") && $0.hasSuffix(".seg") }!
        let path = directory + "/snapshots/" + segment
        let sound = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let capacity = Int(sound[16]) | Int(sound[17]) << 8 | Int(sound[18]) << 16
        func damaged(at offset: Int) throws {
            var bytes = sound
            bytes[offset] ^= 1
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }

        // The id of row 0 (ids follow the `capacity x 8` floats of vectors).
        try damaged(at: 4096 + capacity * 8 * 4 + 3)
        do {
            _ = try Store.open(directory)
            Issue.record("a damaged segment was served")
        } catch let error as FlatVecError {
            #expect(error.code == .corruptData)
            #expect(error.message.contains(segment) && error.message.contains("block checksum mismatch"), "\(error.message)")
        }

        // A component of row 1's vector: groups of 512 rows at d = 8.
        try damaged(at: 4096 + 40)
        let (engine, _) = try Store.open(directory)
        let everything = SearchOptions(k: 5_000)
        #expect(try engine.search([Float](repeating: 1, count: 5), in: "cos", options: everything).count > 0)
        for attempt in 0..<2 {
            do {
                _ = try engine.search([Float](repeating: 1, count: 8), in: "ip", options: everything)
                Issue.record("damaged vectors were served (search \(attempt))")
            } catch {
                #expect(error.code == .corruptData)
                #expect(error.message.contains(segment) && error.message.contains("the vectors of rows 0..<512 do not match their checksum"), "\(error.message)")
            }
        }
        #expect(throws: FlatVecError.self) { try engine.compact() }
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) != sound, "the damaged file was rewritten")
        await engine.close()
        let report = DataDirectoryVerifier.verify(directory: directory)
        #expect(report.problems.contains { $0.contains(segment) && $0.contains("the vectors of rows 0..<512") }, "\(report.problems)")
    }

    /// After a compaction the rows it wrote are mapped from their segments: the index's own memory
    /// drops to what is left (id map, payloads), the mapped bytes and the segment files' size appear
    /// in its statistics and in STATS with the storage flag; a restart maps them the same way.
    @Test func compactedRowsAreMappedAndCountedAsSuch() async throws {
        let directory = Store.temporaryDirectory()
        var random = SeededRandom(seed: 21)
        do {
            let (engine, _) = try Store.open(directory)
            try engine.createCollection("c", dimension: 64)
            let ids = (0..<Int64(5_000)).map { $0 }
            try engine.add(try VectorBatch(dimension: 64, ids: ids, labels: ids, vectors: ids.flatMap { _ in random.quantizedVector(64) }), to: "c")
            let index = try engine.registry.collection(named: "c").index
            let before = index.statistics
            #expect(before.mappedBytes == 0 && before.diskBytes == 0)
            try engine.compact()
            let after = index.statistics
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").filter { $0.hasSuffix(".seg") }
            let onDisk = try files.reduce(0) { $0 + (try LocalDirectoryStoreRecoveryTests.fileSize(directory + "/snapshots/" + $1)) }
            #expect(after.diskBytes == onDisk && onDisk > 0)
            #expect(after.mappedBytes > 5_000 * 64 * 4 && after.memoryBytes < before.memoryBytes - 5_000 * 64 * 4, "\(before) \(after)")
            #expect(after.count == 5_000)
            await engine.close()
        }
        let (engine, _) = try Store.open(directory)
        let restarted = try engine.registry.collection(named: "c").index.statistics
        #expect(restarted.mappedBytes > 5_000 * 64 * 4 && restarted.diskBytes > 0 && restarted.count == 5_000)
    }

    /// A scan in flight may still read a chunk through the mapping of a segment that a compaction
    /// has just retired: the segment loses its name only. (A retired log is cut down before it goes;
    /// cutting a mapped segment so would crash this process with SIGBUS at the read below.)
    @Test func aRetiredSegmentStaysReadableThroughItsMapping() async throws {
        let directory = Store.temporaryDirectory()
        var random = SeededRandom(seed: 22)
        let (engine, _) = try Store.open(directory)
        try engine.createCollection("c", dimension: 512)
        let ids = (0..<Int64(2_100)).map { $0 }
        let vectors = ids.flatMap { _ in random.quantizedVector(512) }
        try engine.add(try VectorBatch(dimension: 512, ids: ids, labels: ids, vectors: vectors), to: "c")
        try engine.compact()
        let index = try engine.registry.collection(named: "c").index
        // What a scan holds while it reads chunk 0.
        let held = index.lock.withReaderLock { index.rows.chunks[0] }
        let rows = index.lock.withReaderLock { index.rows.rows(inChunk: 0) }
        let segment = try #require(held.segment)
        #expect(held.isMapped && segment.bytes > FileRemoval.stepBytes)
        try engine.add(try VectorBatch(dimension: 512, ids: [0], labels: [0], vectors: random.quantizedVector(512)), to: "c")
        try engine.compact()
        #expect(!FileManager.default.fileExists(atPath: directory + "/snapshots/" + segment.name), "chunk 0's first segment was retired")
        let read = Array(UnsafeBufferPointer(start: held.vectors, count: rows * 512))
        #expect(read == Array(vectors[0..<(rows * 512)]))
        await engine.close()
    }

    /// A restart moves the mapped segments' codes into memory on a background thread; closing the
    /// store stops that thread before it returns, so no read of a segment outlives the store
    /// (another process may replace the files once it owns the directory). Truncating every segment
    /// right after the close would otherwise crash this process (SIGBUS) in that thread.
    @Test func closingStopsMovingCodesOutOfTheSegments() async throws {
        let directory = Store.temporaryDirectory()
        var random = SeededRandom(seed: 23)
        do {
            let (engine, _) = try Store.open(directory)
            try engine.createCollection("c", dimension: 512)
            for start in stride(from: Int64(0), to: 30_000, by: 10_000) {
                let ids = (start..<(start + 10_000)).map { $0 }
                try engine.add(try VectorBatch(dimension: 512, ids: ids, labels: ids, vectors: ids.flatMap { _ in random.quantizedVector(512) }), to: "c")
            }
            try engine.compact()
            await engine.close()
        }
        // Segments of 2,048 rows (1 MiB of codes each) whose codes the restart starts moving, and a close at once.
        let (engine, _) = try Store.open(directory)
        let index = try engine.registry.collection(named: "c").index
        await engine.close()
        let segments = try FileManager.default.contentsOfDirectory(atPath: directory + "/snapshots").filter { $0.hasSuffix(".seg") }
        #expect(segments.count == 15)
        for name in segments { #expect(truncate(directory + "/snapshots/" + name, 0) == 0) }
        // A thread still moving codes would meet the truncated files within this.
        try await Task.sleep(for: .milliseconds(100))
        let moving = index.movingCodes.load(ordering: .acquiring)
        #expect(!moving && index.statistics.count == 30_000)
    }

    @Test func aNewDirectoryGetsAManifestAtOnce() throws {
        let directory = Store.temporaryDirectory()
        _ = try Store.open(directory)
        #expect(FileManager.default.fileExists(atPath: directory + "/MANIFEST"))
    }
}
