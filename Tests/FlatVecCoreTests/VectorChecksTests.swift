@testable import FlatVecCore
import Dispatch
import Foundation
import Synchronization
import Testing

/// A segment's vectors are checked a group of rows at a time when reads first meet them: a load
/// checks none, a read checks only its groups, damage is named by the first read that meets it and
/// then stops the index answering or writing, and writes in place never make a sound group look
/// damaged.
@Suite struct VectorChecksTests {
    /// 16 rows a group at this dimension; chunks of 64 rows.
    static let dimension = 256

    /// Rows `0 ..< n` (row i holds id i) written to segments of 64 rows, int8 codes included.
    static func written(_ n: Int, seed: UInt64) throws -> (directory: String, vectors: [[Float]]) {
        var random = SeededRandom(seed: seed)
        let index = try FlatIndex(dimension: dimension, configuration: SegmentTests.configuration(scan: .int8))
        let vectors = (0..<n).map { _ in random.quantizedVector(dimension) }
        let ids = (0..<Int64(n)).map { $0 }
        try index.add(VectorBatch(dimension: dimension, ids: ids, labels: ids, vectors: vectors.flatMap { $0 }))
        let directory = SegmentTests.directory()
        _ = try FlatIndex.writeSegments(index.segmentView(), to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        return (directory, vectors)
    }

    static func load(_ directory: String) throws -> FlatIndex {
        try FlatIndex.loadSnapshot(from: directory + "/c.1.flatvec", configuration: SegmentTests.configuration(scan: .int8))
    }

    /// Groups checked so far, by chunk.
    static func checked(_ index: FlatIndex) -> [Int] {
        index.lock.withReaderLock { index.rows.chunks.prefix(index.rows.occupiedChunkCount).map { $0.vectorChecks?.checkedGroups ?? -1 } }
    }

    @Test func aLoadChecksNoVectorAndAReadChecksOnlyItsGroups() throws {
        let (directory, vectors) = try Self.written(200, seed: 3)
        let index = try Self.load(directory)
        #expect(Self.checked(index) == [0, 0, 0, 0])
        #expect(try index.get(ids: [84])[0].vector == vectors[84])
        #expect(Self.checked(index) == [0, 1, 0, 0])
        // A search for a stored vector rescores a few rows: a few groups, not all 13.
        #expect(try index.search(vectors[150], options: SearchOptions(k: 1))[0].id == 150)
        let afterSearch = Self.checked(index)
        #expect(afterSearch[2] >= 1 && afterSearch.reduce(0, +) < 13, "\(afterSearch)")
        try index.checkStoredVectors()
        #expect(Self.checked(index) == [4, 4, 4, 1])
        // An index written by this process (not loaded) has nothing to check.
        let fresh = try FlatIndex(dimension: Self.dimension, configuration: SegmentTests.configuration(scan: .int8))
        try fresh.add(VectorBatch(dimension: Self.dimension, ids: [1], labels: [1], vectors: vectors[0]))
        #expect(Self.checked(fresh) == [-1])
    }

    @Test func damagedVectorsAreNamedByTheFirstReadAndNeverServed() throws {
        let (directory, vectors) = try Self.written(200, seed: 4)
        // A component of row 40 of chunk 1 (id 104): its group holds rows 32 ..< 48.
        let path = directory + "/c.1.1.seg"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[4096 + (40 * Self.dimension + 7) * 4 + 1] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let message = "c.1.1.seg: the vectors of rows 32..<48 do not match their checksum"
        func expectDamage(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("\(what) went on over damaged vectors")
            } catch let error as FlatVecError {
                #expect(error.code == .corruptData && error.message.contains(message), "\(what): \(error.message)")
            } catch {
                Issue.record("\(what): \(error)")
            }
        }

        let index = try Self.load(directory)
        // Other groups of the same segment are served until the damage is met. A search may rescore
        // the best rows of whichever chunk a thread scans first, so the one here is held by its
        // labels to the first chunk, whose groups are sound.
        #expect(try index.get(ids: [67])[0].vector == vectors[67])
        var firstChunk = SearchOptions(k: 1)
        firstChunk.labels = Set(0..<64)
        #expect(try index.search(vectors[3], options: firstChunk)[0].id == 3)
        expectDamage("a get of the row") { _ = try index.get(ids: [104]) }
        // From then on the index answers nothing and writes nothing.
        expectDamage("a search") { _ = try index.search(vectors[3], options: SearchOptions(k: 1)) }
        expectDamage("a search by id") { _ = try index.search(.storedIDs([3], excludingThemselves: false), options: [SearchOptions(k: 1)]) }
        expectDamage("a get") { _ = try index.get(ids: [67]) }
        expectDamage("a duplicate sweep") { _ = try index.duplicateSweep(minScore: 0.99).nextPage(maxPairs: 10) }
        expectDamage("a compaction") {
            _ = try FlatIndex.writeSegments(index.segmentView(), to: directory + "/c.2.flatvec", segmentsDirectory: directory) { "c.2.\($0).seg" }
        }
        expectDamage("a snapshot") { try index.writeSnapshot(to: directory + "/copy.flatvec") }
        #expect(!FileManager.default.fileExists(atPath: directory + "/c.2.flatvec") && !FileManager.default.fileExists(atPath: directory + "/copy.flatvec"))

        // Another load: a search that rescores the row meets it; checking every vector finds it at once.
        let again = try Self.load(directory)
        expectDamage("a search for the damaged row") { _ = try again.search(vectors[104], options: SearchOptions(k: 1)) }
        let third = try Self.load(directory)
        expectDamage("checkStoredVectors") { try third.checkStoredVectors() }
        // A write that copies the chunk (a view holds it) checks it first: the damage is not copied unseen.
        let fourth = try Self.load(directory)
        let view = fourth.segmentView()
        try fourth.update([RowUpdate(id: 70, label: 9)])
        expectDamage("a search after a copy") { _ = try fourth.search(vectors[3], options: SearchOptions(k: 1)) }
        withExtendedLifetime(view) {}
    }

    /// One round of writes to rows written by ``written(_:seed:)``: an upsert in place of one of the
    /// first `stored` ids, a removal (moving the last row) of another if present, then an append of
    /// id `added` past the rows; `reference` follows.
    static func writeRound(
        _ index: FlatIndex, _ reference: inout ReferenceIndex, _ random: inout SeededRandom, stored: Int, added: Int64
    ) throws {
        let upserted = Int64(random.next() % UInt64(stored))
        let vector = random.quantizedVector(dimension)
        try index.add(VectorBatch(dimension: dimension, ids: [upserted], labels: [upserted], vectors: vector))
        reference.upsert(id: upserted, label: upserted, vector: vector)
        let removed = Int64(random.next() % UInt64(stored))
        if reference.rows[removed] != nil {
            try index.remove(ids: [removed])
            reference.remove(id: removed)
        }
        let more = random.quantizedVector(dimension)
        try index.add(VectorBatch(dimension: dimension, ids: [added], labels: [added], vectors: more))
        reference.upsert(id: added, label: added, vector: more)
    }

    /// Upserts in place, removals that move rows, and appends into rows a removal freed (still
    /// covered by a group's checksum) check the group before changing it, so no sound group is ever
    /// taken for damaged, alone or with searches running.
    @Test func writesToMappedRowsRaiseNoFalseDamage() throws {
        let (directory, vectors) = try Self.written(200, seed: 5)
        let index = try Self.load(directory)
        var reference = ReferenceIndex(dimension: Self.dimension, metric: .innerProduct)
        for (i, v) in vectors.enumerated() { reference.upsert(id: Int64(i), label: Int64(i), vector: v) }
        var random = SeededRandom(seed: 6)
        let searching = Atomic<Bool>(true)
        let failures = Mutex<[String]>([])
        let searcherDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            defer { searcherDone.signal() }
            var queries = SeededRandom(seed: 7)
            while searching.load(ordering: .acquiring) {
                do {
                    _ = try index.search(queries.quantizedVector(Self.dimension), options: SearchOptions(k: 20))
                } catch {
                    failures.withLock { $0.append("search: \(error)") }
                    return
                }
            }
        }
        do {
            for round in 0..<60 {
                try Self.writeRound(index, &reference, &random, stored: 200, added: Int64(1_000 + round))
            }
        } catch {
            failures.withLock { $0.append("writer: \(error)") }
        }
        searching.store(false, ordering: .releasing)
        searcherDone.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        try index.checkStoredVectors()
        #expect(index.allRows() == reference.allRows())
        for _ in 0..<5 {
            let query = random.quantizedVector(Self.dimension)
            let options = SearchOptions(k: 25)
            #expect(ReferenceIndex.equivalent([try index.search(query, options: options)], [reference.search(query, options: options)], metric: .innerProduct, options: options))
        }
    }
}
