import FlatVecCore
import FlatVecEngine
@testable import FlatVecStorage
import Foundation
import Logging
import FlatVecTestSupport
import Testing

@Suite struct LocalDirectoryStoreTests {
    static func temporaryDirectory() -> String {
        let path = TestDirectory.path("flatvec-store")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static var logger: Logger {
        var l = Logger(label: "store-test")
        l.logLevel = .critical
        return l
    }

    /// An executor over a fresh store in `directory` (the store is opened like a restart).
    static func open(_ directory: String, threshold: Int = 256 << 20) throws -> (Engine, LocalDirectoryStore) {
        let store = try LocalDirectoryStore(directory: directory, compactionThreshold: threshold, logger: logger)
        return (try Engine.open(store, configuration: Engine.Configuration(runsMaintenance: false)), store)
    }

    /// A checksum over every id, label, payload and vector byte of every collection.
    static func fingerprint(_ executor: Engine) -> [String: UInt32] {
        var result: [String: UInt32] = [:]
        for c in executor.registry.all {
            var bytes: [UInt8] = []
            for row in c.index.allRowsSorted() {
                withUnsafeBytes(of: row.id) { bytes += $0 }
                withUnsafeBytes(of: row.label) { bytes += $0 }
                bytes += row.payload ?? [0xFF]
                row.vector.withUnsafeBytes { bytes += $0 }
            }
            result[c.name] = Checksum.crc32c(bytes)
        }
        return result
    }

    static func writeSomeHistory(_ executor: Engine, seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        try executor.createCollection("ip", dimension: 8, metric: .innerProduct)
        try executor.createCollection("cos", dimension: 5, metric: .cosine)
        try executor.createCollection("gone", dimension: 3, metric: .innerProduct)
        for round in 0..<20 {
            let ids = (0..<50).map { Int64(round * 50 + $0) }
            try executor.add(VectorBatch(
                dimension: 8, ids: ids, labels: ids.map { $0 % 7 }, vectors: (0..<400).map { _ in Float.random(in: -1...1, using: &random) },
                payloads: ids.map { $0 % 3 == 0 ? nil : Array("{\"image\":\"\($0).jpg\"}".utf8) }
            ), to: "ip")
            try executor.add(VectorBatch(
                dimension: 5, ids: ids, labels: ids, vectors: (0..<250).map { _ in Float.random(in: 0.1...3, using: &random) }
            ), to: "cos")
            try executor.remove(ids: ids.filter { $0 % 5 == 0 }, from: "ip")
        }
        // Replacements and a dropped collection.
        try executor.add(VectorBatch(id: 1, label: 99, vector: [1, 2, 3, 4, 5, 6, 7, 8], payload: "new"), to: "ip")
        try executor.dropCollection("gone")
    }

    @Test func compactionKeepsEverythingAndEmptiesTheLog() throws {
        let directory = Self.temporaryDirectory()
        let before: [String: UInt32]
        do {
            let (executor, store) = try Self.open(directory)
            try Self.writeSomeHistory(executor, seed: 2)
            try executor.compact()
            #expect(!store.wantsCompaction)
            // Writes after the compaction go to the new log.
            try executor.add(VectorBatch(id: 5_000, label: 1, vector: [8, 7, 6, 5, 4, 3, 2, 1]), to: "ip")
            before = Self.fingerprint(executor)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(files.contains("wal.1.log") && !files.contains("wal.0.log"))
        let (restarted, _) = try Self.open(directory)
        #expect(Self.fingerprint(restarted) == before)
    }

    @Test func automaticCompactionRunsWhenTheLogGrows() async throws {
        let directory = Self.temporaryDirectory()
        let expected: [String: UInt32]
        do {
            let (executor, _) = try Self.open(directory, threshold: 20_000)
            // Compactions run in the executor's maintenance task (the server runs it for its life).
            let maintenance = Task { await executor.runMaintenance() }
            defer { maintenance.cancel() }
            try Self.writeSomeHistory(executor, seed: 3)
            var compacted = false
            for _ in 0..<50 where !compacted {
                try await Task.sleep(for: .milliseconds(100))
                compacted = (try FileManager.default.contentsOfDirectory(atPath: directory)).contains { $0.hasPrefix("wal.") && $0 != "wal.0.log" }
            }
            #expect(compacted)
            maintenance.cancel()
            await maintenance.value  // a compaction in progress finishes before this returns
            expected = Self.fingerprint(executor)
        }
        try await Task.sleep(for: .milliseconds(300))
        let (restarted, _) = try Self.open(directory)
        #expect(Self.fingerprint(restarted) == expected)
    }

    @Test func aTornLogTailIsDroppedAndEverythingBeforeItKept() throws {
        let directory = Self.temporaryDirectory()
        let before: [String: UInt32]
        do {
            let (executor, _) = try Self.open(directory)
            try Self.writeSomeHistory(executor, seed: 4)
            before = Self.fingerprint(executor)
            try executor.add(VectorBatch(id: 77_777, label: 1, vector: [1, 1, 1, 1, 1, 1, 1, 1]), to: "ip")
        }
        // Cut the last record in half, as a crash in the middle of its write would.
        let log = directory + "/wal.0.log"
        let size = (try FileManager.default.attributesOfItem(atPath: log)[.size] as! NSNumber).intValue
        truncate(log, off_t(size - 20))
        let (restarted, _) = try Self.open(directory)
        #expect(Self.fingerprint(restarted) == before)
        #expect(!(try restarted.registry.collection(named: "ip").index.contains(id: 77_777)))
        // The store goes on appending after the cut.
        try restarted.add(VectorBatch(id: 88_888, label: 1, vector: [2, 2, 2, 2, 2, 2, 2, 2]), to: "ip")
        #expect(try restarted.registry.collection(named: "ip").index.contains(id: 88_888))
    }

    @Test func writesAfterACutTailSurviveTheNextRestart() throws {
        let directory = Self.temporaryDirectory()
        do {
            let (executor, _) = try Self.open(directory)
            try Self.writeSomeHistory(executor, seed: 6)
            try executor.add(VectorBatch(id: 77_777, label: 1, vector: [1, 1, 1, 1, 1, 1, 1, 1]), to: "ip")
        }
        let log = directory + "/wal.0.log"
        let size = (try FileManager.default.attributesOfItem(atPath: log)[.size] as! NSNumber).intValue
        truncate(log, off_t(size - 3))
        do {
            let (restarted, _) = try Self.open(directory)
            try restarted.add(VectorBatch(id: 88_888, label: 1, vector: [2, 2, 2, 2, 2, 2, 2, 2]), to: "ip")
        }
        let (again, _) = try Self.open(directory)
        let index = try again.registry.collection(named: "ip").index
        #expect(index.contains(id: 88_888) && !index.contains(id: 77_777))
    }

    @Test func aCorruptedSnapshotIsAClearError() throws {
        let directory = Self.temporaryDirectory()
        do {
            let (executor, _) = try Self.open(directory)
            try Self.writeSomeHistory(executor, seed: 5)
            try executor.compact()
        }
        let snapshots = directory + "/snapshots"
        let file = try FileManager.default.contentsOfDirectory(atPath: snapshots).first { $0.hasPrefix("ip.") }!
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: snapshots + "/" + file))
        try handle.seek(toOffset: 200)
        try handle.write(contentsOf: Data([0xDE, 0xAD]))
        try handle.close()
        do {
            _ = try Self.open(directory)
            Issue.record("a corrupted snapshot loaded")
        } catch let error as FlatVecError {
            #expect(error.code == .corruptData)
            #expect(error.message.contains(file))
        }
    }

    @Test func aSecondServerCannotOpenTheSameDirectory() throws {
        let directory = Self.temporaryDirectory()
        let (first, _) = try Self.open(directory)
        do {
            _ = try Self.open(directory)
            Issue.record("two stores opened one directory")
        } catch let error as FlatVecError {
            #expect(error.message.contains("in use"))
        }
        _ = first
    }

    /// Every attribute write goes through the local log; a restart replays it, a compaction writes
    /// version 2 snapshots, and the restarted index equals the one that wrote them.
    @Test func theLocalStoreKeepsAttributesAcrossRestartsAndCompactions() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var random = SeededRandom(seed: 8)
        var expected: [StoredVector] = []
        do {
            let (executor, _) = try Self.open(directory)
            try executor.createCollection("c", dimension: 4, metric: .cosine, attributes: CatalogueAttributes.definitions)
            for i in 0..<300 {
                try executor.add(VectorBatch(id: Int64(i), label: 0, vector: random.uniformVector(4), attributes: random.catalogueAttributes()), to: "c")
            }
            try executor.update([RowUpdate(id: 7, set: ["category": .keyword("new")], clear: ["price"]), RowUpdate(id: 8, label: 3)], in: "c")
            try executor.addAttribute(try AttributeDefinition(name: "tier", type: .int64), to: "c")
            try executor.update([RowUpdate(id: 9, set: ["tier": .int64(2)])], in: "c")
            try executor.dropAttribute(named: "stock", from: "c")
            expected = executor.registry.all[0].index.allRowsSorted()
        }
        for round in 0..<2 {
            let (executor, _) = try Self.open(directory)
            let index = executor.registry.all[0].index
            #expect(index.attributes.map(\.name) == ["visible", "price", "category", "tier"], "round \(round)")
            #expect(index.allRowsSorted() == expected, "round \(round)")
            #expect(try index.get(ids: [9])[0].attributes["tier"] == .int64(2))
            // The second start reads the snapshot the compaction wrote.
            try executor.compact()
        }
    }
}

extension FlatIndex {
    func allRowsSorted() -> [StoredVector] {
        var all: [StoredVector] = []
        do {
            try forEachRow { id, label, vector, payload, attributes in
                all.append(StoredVector(id: id, label: label, vector: Array(vector), payload: payload, attributes: attributes))
            }
        } catch {
            Issue.record(error)
        }
        return all.sorted { $0.id < $1.id }
    }
}
