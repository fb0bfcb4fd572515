import FlatVecCore
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

    @Test func aNewDirectoryGetsAManifestAtOnce() throws {
        let directory = Store.temporaryDirectory()
        _ = try Store.open(directory)
        #expect(FileManager.default.fileExists(atPath: directory + "/MANIFEST"))
    }
}
