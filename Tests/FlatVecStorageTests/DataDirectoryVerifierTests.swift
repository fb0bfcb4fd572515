import FlatVecCore
import FlatVecEngine
@testable import FlatVecStorage
import FlatVecTestSupport
import Foundation
import Testing

/// `flatvec verify`'s checks: a sound directory passes; a flipped byte in the manifest, a snapshot's
/// header or body, a segment's header, vectors, ids or attributes, or a log record, a truncated
/// snapshot or segment, a missing segment and a missing manifest are each found and located; a torn
/// log tail is a note; nothing in the directory changes.
@Suite struct DataDirectoryVerifierTests {
    /// A directory with a snapshot (after a compaction) and a log of later writes.
    static func makeDirectory() async throws -> String {
        let directory = LocalDirectoryStoreTests.temporaryDirectory()
        let (engine, _) = try LocalDirectoryStoreTests.open(directory)
        try engine.createCollection("shop", dimension: 4, attributes: [try AttributeDefinition(name: "visible", type: .bool)])
        var random = SeededRandom(seed: 3)
        let ids = (0..<300).map { Int64($0) }
        try engine.add(
            try VectorBatch(
                dimension: 4, ids: ids, labels: ids, vectors: ids.flatMap { _ in random.quantizedVector(4) },
                attributes: ids.map { ["visible": .bool($0 % 2 == 0)] }
            ),
            to: "shop"
        )
        try engine.compact()
        for i in 0..<5 { try engine.add(VectorBatch(id: Int64(1_000 + i), label: 1, vector: random.quantizedVector(4)), to: "shop") }
        try engine.remove(ids: [1, 2, 3], from: "shop")
        await engine.close()
        return directory
    }

    /// A copy of `directory` with `damage` done to it.
    static func damaged(_ directory: String, _ damage: (String) throws -> Void) throws -> String {
        let copy = LocalDirectoryStoreTests.temporaryDirectory() + "-copy"
        try FileManager.default.copyItem(atPath: directory, toPath: copy)
        try damage(copy)
        return copy
    }

    static func flip(_ path: String, at offset: Int) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset < 0 ? bytes.count + offset : offset] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func truncate(_ path: String, by count: Int) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - count).write(to: URL(fileURLWithPath: path))
    }

    /// Every file's name, size and modification time.
    static func listing(_ directory: String) throws -> [String: [FileAttributeKey: Any]] {
        var result: [String: [FileAttributeKey: Any]] = [:]
        for file in try FileManager.default.subpathsOfDirectory(atPath: directory) {
            result[file] = try FileManager.default.attributesOfItem(atPath: directory + "/" + file)
        }
        return result
    }

    @Test func soundDamagedAndTornDirectories() async throws {
        let directory = try await Self.makeDirectory()
        let snapshot = "snapshots/shop.1.flatvec"
        let segment = "snapshots/shop.1.0.seg"
        let before = try Self.listing(directory)
        let sound = DataDirectoryVerifier.verify(directory: directory)
        #expect(sound.isSound, "\(sound.problems)")
        #expect(sound.checked.contains("\(snapshot): 300 rows of dimension 4 in 1 segments, checksums match"), "\(sound.checked)")
        #expect(sound.checked.contains("wal.1.log: 6 records, checksums match, 6 applied"), "\(sound.checked)")
        #expect(sound.checked.contains("1 collections, 302 vectors after the log"), "\(sound.checked)")
        let after = try Self.listing(directory)
        #expect(Set(after.keys) == Set(before.keys))
        for (file, attributes) in before {
            #expect(after[file]?[.size] as? Int == attributes[.size] as? Int && after[file]?[.modificationDate] as? Date == attributes[.modificationDate] as? Date, "\(file) changed")
        }

        let cases: [(what: String, damage: (String) throws -> Void, problem: String)] = [
            ("snapshot body", { try Self.flip($0 + "/" + snapshot, at: 70) }, "snapshots/shop.1.flatvec:"),
            ("snapshot header", { try Self.flip($0 + "/" + snapshot, at: 26) }, "snapshots/shop.1.flatvec:"),
            ("snapshot attributes", { try Self.flip($0 + "/" + snapshot, at: -3) }, "snapshots/shop.1.flatvec:"),
            ("truncated snapshot", { try Self.truncate($0 + "/" + snapshot, by: 10) }, "snapshots/shop.1.flatvec:"),
            ("segment header", { try Self.flip($0 + "/" + segment, at: 20) }, "shop.1.0.seg: header checksum mismatch"),
            ("segment header page", { try Self.flip($0 + "/" + segment, at: 1000) }, "shop.1.0.seg: the header page's padding"),
            ("segment vectors", { try Self.flip($0 + "/" + segment, at: 4096 + 10) }, "shop.1.0.seg: the vectors of rows 0..<300 do not match their checksum"),
            ("segment ids", { try Self.flip($0 + "/" + segment, at: 4096 + 512 * 16 + 8) }, "shop.1.0.seg: block checksum mismatch"),
            ("segment vector checksums", { try Self.flip($0 + "/" + segment, at: -2) }, "shop.1.0.seg: tail checksum mismatch"),
            ("segment attributes", { try Self.flip($0 + "/" + segment, at: -6) }, "shop.1.0.seg: tail checksum mismatch"),
            ("truncated segment", { try Self.truncate($0 + "/" + segment, by: 1) }, "shop.1.0.seg: file is"),
            ("missing segment", { try FileManager.default.removeItem(atPath: $0 + "/" + segment) }, "cannot open"),
            ("first log record", { try Self.flip($0 + "/wal.1.log", at: 12) }, "wal.1.log: record 1 at offset 0 is damaged"),
            ("manifest generation", { try Self.flip($0 + "/MANIFEST", at: 30) }, "MANIFEST"),
            ("manifest header", { try Self.flip($0 + "/MANIFEST", at: 2) }, "is not a FlatVec manifest"),
            ("missing manifest", { try FileManager.default.removeItem(atPath: $0 + "/MANIFEST") }, "MANIFEST is missing, and data files are present"),
        ]
        for c in cases {
            let copy = try Self.damaged(directory, c.damage)
            defer { try? FileManager.default.removeItem(atPath: copy) }
            let report = DataDirectoryVerifier.verify(directory: copy)
            #expect(!report.isSound, "\(c.what) was not found")
            #expect(report.problems.contains { $0.contains(c.problem) }, "\(c.what): \(report.problems)")
        }
        // A log cut in its last record is a torn tail (a crash mid-write): a note, not damage.
        let torn = try Self.damaged(directory) { try Self.truncate($0 + "/wal.1.log", by: 5) }
        defer { try? FileManager.default.removeItem(atPath: torn) }
        let tornReport = DataDirectoryVerifier.verify(directory: torn)
        #expect(tornReport.isSound && tornReport.notes.contains { $0.contains("torn tail") }, "\(tornReport)")
        #expect(tornReport.checked.contains("wal.1.log: 5 records, checksums match, 5 applied"), "\(tornReport.checked)")
    }
}
