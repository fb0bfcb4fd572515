import CFlatVecKernels
@testable import FlatVecCore
import Foundation
import Testing

/// Snapshots of segments (version 3): a view is the rows at its instant whatever writers do after,
/// segments round-trip every row, attribute, payload and code, a chunk nothing changed keeps its
/// file, mapped chunks take writes without touching their files, and a small collection's first
/// chunk grows with it.
@Suite struct SegmentTests {
    static func directory() -> String {
        let path = TestDirectory.path("flatvec-segments")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let schema = [
        try! AttributeDefinition(name: "visible", type: .bool), try! AttributeDefinition(name: "tier", type: .keyword),
        try! AttributeDefinition(name: "price", type: .float64),
    ]

    static func configuration(scan: ScanMode, rowsPerChunk: Int = 64) -> FlatIndex.Configuration {
        var c = FlatIndex.Configuration(searchThreads: 2, scan: scan)
        c.rowsPerChunk = rowsPerChunk
        return c
    }

    /// An index and its reference with `n` rows: labels, payloads on some, attributes on most.
    static func filled(_ n: Int, scan: ScanMode, metric: Metric = .innerProduct, seed: UInt64 = 1) throws -> (FlatIndex, ReferenceIndex, SeededRandom) {
        var random = SeededRandom(seed: seed)
        let index = try FlatIndex(dimension: 24, metric: metric, configuration: configuration(scan: scan), attributes: schema)
        var reference = ReferenceIndex(dimension: 24, metric: metric)
        for start in stride(from: 0, to: n, by: 37) {
            try addRows(Array(start..<min(start + 37, n)).map(Int64.init), to: index, reference: &reference, random: &random)
        }
        return (index, reference, random)
    }

    static func addRows(_ ids: [Int64], to index: FlatIndex, reference: inout ReferenceIndex, random: inout SeededRandom) throws {
        let vectors = ids.map { _ in random.quantizedVector(24) }
        let payloads = ids.map { $0 % 4 == 0 ? nil : Array("p\($0)".utf8) }
        let attributes: [[String: AttributeValue]] = ids.map {
            $0 % 5 == 0 ? [:] : ["visible": .bool($0 % 2 == 0), "tier": .keyword("t\($0 % 7)"), "price": .float64(Double($0) / 4)]
        }
        try index.add(VectorBatch(
            dimension: 24, ids: ids, labels: ids.map { $0 % 11 }, vectors: vectors.flatMap { $0 }, payloads: payloads, attributes: attributes
        ))
        for (i, id) in ids.enumerated() {
            reference.upsert(id: id, label: id % 11, vector: vectors[i], payload: payloads[i], attributes: attributes[i])
        }
    }

    static func expectSameSearches(_ index: FlatIndex, _ reference: ReferenceIndex, random: inout SeededRandom) throws {
        for _ in 0..<6 {
            let query = random.quantizedVector(24)
            for options in [
                SearchOptions(k: 10), SearchOptions(k: 1_000, includePayloads: true),
                SearchOptions(k: 5, filter: try Filter(parsing: "visible and tier in ('t1', 't3')")),
                SearchOptions(k: 7, groupByLabel: true),
            ] {
                let got = try index.search(query, options: options)
                let expected = reference.search(query, options: options)
                #expect(ReferenceIndex.equivalent([got], [expected], metric: index.metric, options: options), "\(options)")
            }
        }
    }

    @Test(arguments: [ScanMode.int8, .float32])
    func segmentsRoundTripEveryRow(scan: ScanMode) throws {
        let (index, reference, random) = try Self.filled(300, scan: scan)
        var searches = random
        let directory = Self.directory()
        let view = index.segmentView()
        let (segments, written) = try FlatIndex.writeSegments(view, to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        #expect(segments.count == 5 && written.count == 5)
        #expect(try FlatIndex.segmentNames(ofSnapshot: directory + "/c.1.flatvec") == segments.map(\.name))
        // Loaded as written (mapped), and under the other scan mode and another chunk size (copied in).
        for configuration in [Self.configuration(scan: scan), Self.configuration(scan: scan == .int8 ? .float32 : .int8),
                              Self.configuration(scan: scan, rowsPerChunk: 32)] {
            let loaded = try FlatIndex.loadSnapshot(from: directory + "/c.1.flatvec", configuration: configuration)
            #expect(loaded.allRows() == reference.allRows())
            #expect(loaded.allRows() == index.allRows())
            try Self.expectSameSearches(loaded, reference, random: &searches)
        }
        let mapped = try FlatIndex.loadSnapshot(from: directory + "/c.1.flatvec", configuration: Self.configuration(scan: scan))
        #expect(mapped.lock.withReaderLock { mapped.rows.chunks.allSatisfy(\.isMapped) })
        if scan == .int8 {
            // The codes are the ones the index computed, not computed again.
            for (c, (a, b)) in zip(index.rows.chunks, mapped.rows.chunks).enumerated() {
                #expect(memcmp(a.codes!, b.codes!, fv_i8_code_bytes(index.rows.rows(inChunk: c), 24)) == 0)
            }
        }
    }

    @Test func aViewIsTheRowsAtItsInstant() throws {
        var (index, reference, random) = try Self.filled(200, scan: .int8)
        let view = index.segmentView()
        let atTheInstant = reference.allRows()
        // Every kind of write after the view: upserts in place, removals (moving rows), additions, updates, a new attribute.
        var later = reference
        try Self.addRows([3, 70, 150, 500, 501], to: index, reference: &later, random: &random)
        try index.remove(ids: [0, 64, 65, 199])
        for id: Int64 in [0, 64, 65, 199] { later.remove(id: id) }
        let update = RowUpdate(id: 10, label: 77, payload: .set(Array("u".utf8)), set: ["visible": .bool(true)])
        try index.update([update])
        later.apply(update)
        try index.addAttribute(try AttributeDefinition(name: "extra", type: .int64))
        let directory = Self.directory()
        _ = try FlatIndex.writeSegments(view, to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        let loaded = try FlatIndex.loadSnapshot(from: directory + "/c.1.flatvec", configuration: Self.configuration(scan: .int8))
        #expect(loaded.allRows() == atTheInstant)
        #expect(index.allRows() == later.allRows())
        try Self.expectSameSearches(loaded, reference, random: &random)
    }

    @Test func onlyChangedChunksAreWrittenAgain() throws {
        var (index, reference, random) = try Self.filled(300, scan: .int8)
        let directory = Self.directory()
        let first = index.segmentView()
        let one = try FlatIndex.writeSegments(first, to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        index.adoptSegments(first, written: one.written, segmentsDirectory: directory)
        #expect(index.lock.withReaderLock { index.rows.chunks.prefix(5).allSatisfy(\.isMapped) })
        // Nothing changed: nothing written.
        let same = try FlatIndex.writeSegments(index.segmentView(), to: directory + "/c.2.flatvec", segmentsDirectory: directory) { "c.2.\($0).seg" }
        #expect(same.written.isEmpty && same.segments == one.segments)
        // An update of a row of chunk 1 and an addition (to chunk 4): those two chunks only.
        let update = RowUpdate(id: 70, label: 5)
        try index.update([update])
        reference.apply(update)
        try Self.addRows([1_000], to: index, reference: &reference, random: &random)
        let view = index.segmentView()
        let three = try FlatIndex.writeSegments(view, to: directory + "/c.3.flatvec", segmentsDirectory: directory) { "c.3.\($0).seg" }
        #expect(Set(three.written.keys) == [1, 4])
        #expect(three.segments[0] == one.segments[0] && three.segments[2] == one.segments[2])
        index.adoptSegments(view, written: three.written, segmentsDirectory: directory)
        let loaded = try FlatIndex.loadSnapshot(from: directory + "/c.3.flatvec", configuration: Self.configuration(scan: .int8))
        #expect(loaded.allRows() == reference.allRows())
        #expect(index.allRows() == reference.allRows())
    }

    /// Rows appended to the last chunk between a view and the adoption of its segments (in place:
    /// appends go past the rows the view holds) keep that chunk out of the adoption, and the next
    /// compaction writes it again with them.
    @Test func rowsAppendedBeforeTheAdoptionAreWrittenByTheNextCompaction() throws {
        var (index, reference, random) = try Self.filled(100, scan: .int8)
        let directory = Self.directory()
        let view = index.segmentView()
        let one = try FlatIndex.writeSegments(view, to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        try Self.addRows(Array(100..<120), to: index, reference: &reference, random: &random)
        index.adoptSegments(view, written: one.written, segmentsDirectory: directory)
        #expect(index.lock.withReaderLock { index.rows.chunks[0].isMapped && !index.rows.chunks[1].isMapped })
        let two = try FlatIndex.writeSegments(index.segmentView(), to: directory + "/c.2.flatvec", segmentsDirectory: directory) { "c.2.\($0).seg" }
        #expect(Set(two.written.keys) == [1])
        let loaded = try FlatIndex.loadSnapshot(from: directory + "/c.2.flatvec", configuration: Self.configuration(scan: .int8))
        #expect(loaded.allRows() == reference.allRows())
    }

    @Test func mappedChunksTakeWritesAndTheirFilesStayAsWritten() throws {
        var (index, reference, random) = try Self.filled(300, scan: .int8)
        let directory = Self.directory()
        _ = try FlatIndex.writeSegments(index.segmentView(), to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }
        let loaded = try FlatIndex.loadSnapshot(from: directory + "/c.1.flatvec", configuration: Self.configuration(scan: .int8))
        try Self.addRows([5, 100, 299, 300, 301], to: loaded, reference: &reference, random: &random)
        try loaded.remove(ids: [0, 1, 130])
        for id: Int64 in [0, 1, 130] { reference.remove(id: id) }
        let update = RowUpdate(id: 200, set: ["tier": .keyword("new")], clear: ["price"])
        try loaded.update([update])
        reference.apply(update)
        #expect(loaded.allRows() == reference.allRows())
        try Self.expectSameSearches(loaded, reference, random: &random)
        let after = try files.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }
        #expect(after == before, "a write to a mapped chunk reached its segment file")
    }

    /// The row-by-row codes a filtered scan gathers from are built by the first such scan of a chunk
    /// and kept up to date by every later write (appends, upserts in place, removals that move rows,
    /// copies for a view, a growing first chunk), before and after they are built.
    @Test func rowByRowCodesAreBuiltOnFirstGatherAndKeptUpToDate() throws {
        var (index, reference, random) = try Self.filled(100, scan: .int8)
        let sparse = SearchOptions(k: 5, filter: try Filter(parsing: "tier = 't3' and visible"))
        func expectSame() throws {
            for _ in 0..<4 {
                let q = random.quantizedVector(24)
                let got = try index.search(q, options: sparse)
                #expect(ReferenceIndex.equivalent([got], [reference.search(q, options: sparse)], metric: .innerProduct, options: sparse))
            }
        }
        #expect(index.lock.withReaderLock { !index.rows.chunks[0].rowCodesReady })
        try Self.addRows(Array(100..<140), to: index, reference: &reference, random: &random)
        try expectSame()
        #expect(index.lock.withReaderLock { index.rows.chunks[0].rowCodesReady })
        let view = index.segmentView()
        try Self.addRows([3, 66, 141, 142, 143], to: index, reference: &reference, random: &random)
        try index.remove(ids: [0, 70, 128])
        for id: Int64 in [0, 70, 128] { reference.remove(id: id) }
        try Self.addRows(Array(143..<400), to: index, reference: &reference, random: &random)
        try expectSame()
        _ = view
        #expect(index.lock.withReaderLock { index.rows.chunks.allSatisfy(\.rowCodesReady) })
    }

    @Test func aSmallCollectionHoldsTheMemoryItsRowsNeed() throws {
        var random = SeededRandom(seed: 4)
        let index = try FlatIndex(dimension: 512, configuration: FlatIndex.Configuration(scan: .int8))
        var reference = ReferenceIndex(dimension: 512)
        try Self.add(0..<10, to: index, &reference, &random)
        // 16 rows of d = 512: 32 KiB of vectors and their codes, not a 2,048-row chunk (6 MiB).
        #expect(index.statistics.memoryBytes < 64 << 10, "\(index.statistics.memoryBytes)")
        try Self.add(10..<3_000, to: index, &reference, &random)
        try index.remove(ids: [0, 17, 2_047, 2_999])
        for id: Int64 in [0, 17, 2_047, 2_999] { reference.remove(id: id) }
        #expect(index.allRows() == reference.allRows())
        try Self.expectSameTop20(index, reference, &random)
    }

    /// Adds random d = 512 rows with ids `ids` (label: the id modulo `labels`) to both.
    static func add(
        _ ids: Range<Int64>, to index: FlatIndex, _ reference: inout ReferenceIndex, _ random: inout SeededRandom, labels: Int64 = 1
    ) throws {
        for id in ids {
            let v = random.quantizedVector(512)
            try index.add(id: id, label: id % labels, vector: v)
            reference.upsert(id: id, label: id % labels, vector: v)
        }
    }

    /// Five random d = 512 queries: `index` answers each as `reference` does.
    static func expectSameTop20(_ index: FlatIndex, _ reference: ReferenceIndex, _ random: inout SeededRandom) throws {
        for _ in 0..<5 {
            let q = random.quantizedVector(512)
            #expect(try index.search(q, options: SearchOptions(k: 20)) == reference.search(q, options: SearchOptions(k: 20)))
        }
    }

    /// A full chunk at d = 512 is several pieces of ``SegmentFormat/writeOutBytes``, each pushed to
    /// the disk before the next and the first one short (the pieces end at multiples of its size):
    /// every byte lands where the format puts it.
    @Test func aSegmentWrittenInPiecesRoundTrips() throws {
        var random = SeededRandom(seed: 5)
        let index = try FlatIndex(dimension: 512, configuration: FlatIndex.Configuration(scan: .int8))
        var reference = ReferenceIndex(dimension: 512)
        try Self.add(0..<2_100, to: index, &reference, &random, labels: 7)
        let view = index.segmentView()
        let directory = Self.directory()
        let (segments, _) = try FlatIndex.writeSegments(view, to: directory + "/c.1.flatvec", segmentsDirectory: directory) { "c.1.\($0).seg" }
        #expect(segments.count == 2 && segments[0].bytes > 2 * SegmentFormat.writeOutBytes)
        let loaded = try FlatIndex.loadSnapshot(from: directory + "/c.1.flatvec", configuration: FlatIndex.Configuration(scan: .int8))
        #expect(loaded.allRows() == reference.allRows())
        try Self.expectSameTop20(loaded, reference, &random)
        // The helper reports the write's error rather than letting it pass.
        #expect(fv_write_out(-1, 0, 4096) == EBADF)
    }
}
