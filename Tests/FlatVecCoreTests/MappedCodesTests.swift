@testable import FlatVecCore
import Dispatch
import Foundation
import Synchronization
import Testing

/// A load leaves the int8 codes of its segments in their mappings; ``FlatIndex/moveMappedCodesIntoMemory()``
/// then moves them into memory while searches and writes go on, and neither sees a difference.
@Suite struct MappedCodesTests {
    static let dimension = VectorChecksTests.dimension

    /// Chunks whose codes are still read from their mapping, and chunks in all.
    static func inMapping(_ index: FlatIndex) -> (mapped: Int, chunks: Int) {
        index.lock.withReaderLock {
            let chunks = index.rows.chunks.prefix(index.rows.occupiedChunkCount)
            return (chunks.filter(\.codesInMapping).count, chunks.count)
        }
    }

    static func reference(_ vectors: [[Float]]) -> ReferenceIndex {
        var reference = ReferenceIndex(dimension: dimension, metric: .innerProduct)
        for (i, v) in vectors.enumerated() { reference.upsert(id: Int64(i), label: Int64(i), vector: v) }
        return reference
    }

    static func expectEquivalent(_ index: FlatIndex, _ reference: ReferenceIndex, random: inout SeededRandom, searches: Int = 10) throws {
        for _ in 0..<searches {
            let query = random.quantizedVector(dimension)
            let options = SearchOptions(k: 25)
            #expect(ReferenceIndex.equivalent(
                [try index.search(query, options: options)], [reference.search(query, options: options)], metric: .innerProduct, options: options
            ))
        }
    }

    @Test func searchesWhileTheCodesMoveEqualTheReference() throws {
        // 31 full chunks of 64 rows and a last one of 16: the full ones take pieces of the code pool,
        // the last one a piece of its own.
        let (directory, vectors) = try VectorChecksTests.written(2_000, seed: 11)
        let reference = Self.reference(vectors)
        let index = try VectorChecksTests.load(directory)
        #expect(Self.inMapping(index) == (32, 32))
        let before = index.statistics
        var random = SeededRandom(seed: 12)
        try Self.expectEquivalent(index, reference, random: &random)

        let searching = Atomic<Bool>(true)
        let failures = Mutex<[String]>([])
        let searches = Atomic<Int>(0)
        let searcherDone = DispatchSemaphore(value: 0)
        let options = SearchOptions(k: 10)
        var queries = SeededRandom(seed: 13)
        let expected = (0..<64).map { _ in
            let query = queries.quantizedVector(Self.dimension)
            return (query, reference.search(query, options: options))
        }
        DispatchQueue.global().async {
            defer { searcherDone.signal() }
            var next = 0
            while searching.load(ordering: .acquiring) || searches.load(ordering: .relaxed) < 20 {
                let (query, want) = expected[next % expected.count]
                next += 1
                do {
                    let hits = try index.search(query, options: options)
                    if !ReferenceIndex.equivalent([hits], [want], metric: .innerProduct, options: options) {
                        failures.withLock { $0.append("a search differs from the reference") }
                    }
                } catch {
                    failures.withLock { $0.append("search: \(error)") }
                    return
                }
                searches.add(1, ordering: .relaxed)
            }
        }
        let moved = index.moveMappedCodesIntoMemory()
        searching.store(false, ordering: .releasing)
        searcherDone.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(moved == 32 && Self.inMapping(index) == (0, 32))
        #expect(index.moveMappedCodesIntoMemory() == 0)
        // The codes are now the process's own memory; the rows are still mapped.
        let after = index.statistics
        #expect(after.mappedBytes == before.mappedBytes && after.memoryBytes >= before.memoryBytes + after.codeBytes, "\(before) \(after)")
        try Self.expectEquivalent(index, reference, random: &random)
    }

    @Test func writesWhileTheCodesMoveLoseNothing() throws {
        let (directory, vectors) = try VectorChecksTests.written(1_000, seed: 14)
        var reference = Self.reference(vectors)
        let index = try VectorChecksTests.load(directory)
        var random = SeededRandom(seed: 15)
        /// Upserts in place, removals that move rows, and appends.
        func write(_ rounds: Int) throws {
            for round in 0..<rounds {
                try VectorChecksTests.writeRound(index, &reference, &random, stored: 1_000, added: Int64(10_000 + rounds * 1_000 + round))
            }
        }
        try write(20)
        let moverDone = DispatchSemaphore(value: 0)
        let moved = Atomic<Int>(-1)
        DispatchQueue.global().async {
            moved.store(index.moveMappedCodesIntoMemory(), ordering: .releasing)
            moverDone.signal()
        }
        try write(200)
        moverDone.wait()
        #expect(moved.load(ordering: .acquiring) > 0)
        #expect(Self.inMapping(index).mapped == 0)
        // Writes after the move change the moved codes.
        try write(50)
        #expect(index.allRows() == reference.allRows())
        try Self.expectEquivalent(index, reference, random: &random)
        // The segments a compaction writes from the moved codes load to the same index.
        _ = try FlatIndex.writeSegments(index.segmentView(), to: directory + "/c.2.flatvec", segmentsDirectory: directory) { "c.2.\($0).seg" }
        let reloaded = try FlatIndex.loadSnapshot(from: directory + "/c.2.flatvec", configuration: SegmentTests.configuration(scan: .int8))
        #expect(reloaded.allRows() == reference.allRows())
        try Self.expectEquivalent(reloaded, reference, random: &random)
    }
}
