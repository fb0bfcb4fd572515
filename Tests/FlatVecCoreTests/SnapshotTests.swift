#if canImport(Glibc)
import Glibc
#endif
import CFlatVecKernels
import FlatVecTestSupport
import Testing
@testable import FlatVecCore

@Suite struct SnapshotTests {
    static func temporaryPath(_ name: String) -> String {
        "/tmp/flatvec-test-\(getpid())-\(name)"
    }

    static func populated(metric: Metric = .innerProduct, count: Int = 5000) throws -> FlatIndex {
        var random = SeededRandom(seed: 17)
        let index = try FlatIndex(dimension: 19, metric: metric)
        for start in stride(from: 0, to: count, by: 1000) {
            let n = min(1000, count - start)
            let ids = (0..<n).map { Int64(start + $0) * 13 - 20_000 }
            try index.add(VectorBatch(
                dimension: 19,
                ids: ids,
                labels: ids.map { $0 % 97 },
                vectors: (0..<(n * 19)).map { _ in Float.random(in: -3...3, using: &random) },
                payloads: ids.map { $0 % 5 == 0 ? nil : Array("{\"image\":\"img/\($0)-é.jpg\"}".utf8) }
            ))
        }
        try index.remove(ids: stride(from: 0, to: count, by: 7).map { Int64($0) * 13 - 20_000 })
        return index
    }

    @Test(arguments: [Metric.innerProduct, .cosine])
    func roundTripPreservesEveryRow(metric: Metric) throws {
        let index = try Self.populated(metric: metric)
        let path = Self.temporaryPath("roundtrip-\(metric)")
        defer { unlink(path) }
        try index.writeSnapshot(to: path)
        let loaded = try FlatIndex.loadSnapshot(from: path)
        #expect(loaded.dimension == 19 && loaded.metric == metric)
        #expect(loaded.allRows() == index.allRows())
        let q = (0..<19).map { Float($0) - 9 }
        let options = SearchOptions(k: 20, includePayloads: true)
        #expect(try loaded.search(q, options: options) == index.search(q, options: options))
        // The loaded index keeps working: add, remove.
        try loaded.add(id: 123_456_789, vector: q)
        try loaded.remove(ids: [123_456_789])
        #expect(loaded.count == index.count)
    }

    @Test func emptyIndexRoundTrips() throws {
        let index = try FlatIndex(dimension: 4)
        let path = Self.temporaryPath("empty")
        defer { unlink(path) }
        try index.writeSnapshot(to: path)
        #expect(try FlatIndex.loadSnapshot(from: path).count == 0)
    }

    static func contents(of path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(lseek(fd, 0, SEEK_END)))
        _ = pread(fd, &bytes, bytes.count, 0)
        return bytes
    }

    static func expectCorrupt(_ bytes: [UInt8], mentioning fragment: String) {
        let path = temporaryPath("corrupt-\(fragment.hashValue)")
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        do {
            _ = try FlatIndex.loadSnapshot(from: path)
            Issue.record("a corrupted snapshot loaded (\(fragment))")
        } catch {
            #expect(error.code == .corruptData, "\(error)")
            #expect(error.message.contains(fragment), "\(error.message) should mention \(fragment)")
        }
    }

    @Test func corruptedSnapshotsAreRejectedWithTheReason() throws {
        let index = try Self.populated(count: 600)
        let path = Self.temporaryPath("source")
        defer { unlink(path) }
        try index.writeSnapshot(to: path)
        let bytes = Self.contents(of: path)

        Self.expectCorrupt(Array(bytes.prefix(bytes.count - 7)), mentioning: "truncated")
        Self.expectCorrupt(Array(bytes.prefix(30)), mentioning: "shorter than")
        var flipped = bytes
        flipped[bytes.count - 100] ^= 0x10
        Self.expectCorrupt(flipped, mentioning: "body checksum")
        var header = bytes
        header[16] = 20
        Self.expectCorrupt(header, mentioning: "header checksum")
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        Self.expectCorrupt(magic, mentioning: "magic")
    }

    /// A collection with attributes (every type, nulls, keywords some rows share, rows moved by
    /// removals, an attribute added late and one dropped) round-trips as version 2; its filters give
    /// the same hits after loading.
    @Test func attributesRoundTripInVersion2() throws {
        var random = SeededRandom(seed: 23)
        let index = try FlatIndex(dimension: 6, attributes: [try AttributeDefinition(name: "gone", type: .int64)] + CatalogueAttributes.definitions)
        for i in 0..<3_000 {
            var attributes = random.catalogueAttributes()
            attributes["gone"] = .int64(Int64(i))
            try index.add(VectorBatch(id: Int64(i), label: Int64(i % 9), vector: random.quantizedVector(6), attributes: attributes))
        }
        try index.remove(ids: (0..<3_000).filter { $0 % 5 == 0 }.map(Int64.init))
        try index.dropAttribute(named: "gone")
        try index.addAttribute(AttributeDefinition(name: "late", type: .bool))
        try index.update([RowUpdate(id: 1, set: ["late": .bool(true), "category": .keyword("only-one")])])
        let path = Self.temporaryPath("attributes")
        defer { unlink(path) }
        try index.writeSnapshot(to: path)
        #expect(Self.contents(of: path)[8..<12] == [2, 0, 0, 0], "version 2")
        let loaded = try FlatIndex.loadSnapshot(from: path)
        #expect(loaded.attributes == index.attributes)
        #expect(loaded.allRows() == index.allRows())
        let filter = try Filter(parsing: #"category in ("shoes", "only-one") and (late or price < 50)"#)
        let q = random.quantizedVector(6)
        let options = SearchOptions(k: 3_000, filter: filter, includeAttributes: true)
        #expect(try loaded.search(q, options: options) == index.search(q, options: options))
        #expect(try loaded.search(q, options: options).contains { $0.id == 1 })

        // Without attributes the file stays version 1.
        let plain = try FlatIndex(dimension: 2)
        try plain.writeSnapshot(to: path)
        #expect(Self.contents(of: path)[8..<12] == [1, 0, 0, 0], "version 1")
    }

    /// Damage inside the attributes section (checksums recomputed, so only the section's own checks
    /// can catch it) is refused with the reason.
    @Test func corruptAttributesSectionsAreRejected() throws {
        let index = try FlatIndex(dimension: 2, attributes: [try AttributeDefinition(name: "tier", type: .keyword), try AttributeDefinition(name: "on", type: .bool)])
        try index.add(VectorBatch(id: 1, label: 0, vector: [1, 0], attributes: ["tier": .keyword("gold"), "on": .bool(true)]))
        let path = Self.temporaryPath("attributes-corrupt")
        defer { unlink(path) }
        try index.writeSnapshot(to: path)
        let bytes = Self.contents(of: path)
        func resigned(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var b = bytes
            edit(&b)
            let body = b.withUnsafeBytes { fv_crc32c(0, $0.baseAddress! + 64, $0.count - 64) }
            withUnsafeBytes(of: body.littleEndian) { b.replaceSubrange(40..<44, with: $0) }
            let header = b.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, 44) }
            withUnsafeBytes(of: header.littleEndian) { b.replaceSubrange(44..<48, with: $0) }
            return b
        }
        // Layout after the vectors (0x80, 8 bytes): count, then tier: type, name, presence, strings, numbers; then on.
        let section = 0x88
        Self.expectCorrupt(resigned { $0[section + 4] = 9 }, mentioning: "unknown type 9")
        Self.expectCorrupt(resigned { $0[section + 6] = UInt8(ascii: "T") }, mentioning: "lower-case")
        Self.expectCorrupt(resigned { $0.removeLast(3) }, mentioning: "ends inside")
        Self.expectCorrupt(resigned { $0.append(0) }, mentioning: "bytes follow the attributes section")
        Self.expectCorrupt(resigned { $0[$0.count - 8] = 2 }, mentioning: "of bool attribute on holds 2")
        Self.expectCorrupt(resigned { $0[$0.count - 17] = 5 }, mentioning: "names string 5 of 1")
        Self.expectCorrupt(resigned { $0[8] = 4 }, mentioning: "format version 4")
    }

    @Test func missingFileIsAnIOError() {
        do {
            _ = try FlatIndex.loadSnapshot(from: "/nonexistent/flatvec.snapshot")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.code == .ioError)
            #expect(error.message.contains("/nonexistent/flatvec.snapshot"))
        }
    }
}

@Suite struct SnapshotLayoutTests {
    /// The three-stream CRC-32C (long buffers) agrees with a bit-by-bit reference at every length
    /// around its 12 KiB rounds, and when a buffer is checked in pieces.
    @Test func crc32cOfLongBuffersMatchesABitwiseReference() {
        func reference(_ bytes: ArraySlice<UInt8>, _ start: UInt32 = 0) -> UInt32 {
            var c = ~start
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        var random = SeededRandom(seed: 8)
        let bytes = (0..<40_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for length in [0, 7, 8, 12_287, 12_288, 12_289, 24_576 + 13, 40_000] {
            let expected = reference(bytes[0..<length])
            #expect(bytes.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, length) } == expected, "length \(length)")
            let split = length / 3
            let first = bytes.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, split) }
            #expect(bytes.withUnsafeBytes { fv_crc32c(first, $0.baseAddress! + split, length - split) } == expected, "length \(length) in two")
        }
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { fv_crc32c(0, $0.baseAddress, $0.count) } == 0xE306_9283)
    }

    @Test func fileMatchesTheDocumentedExample() throws {
        let index = try FlatIndex(dimension: 2)
        try index.add(id: 7, label: 1, vector: [1.0, 0.5], payload: "a")
        let path = SnapshotTests.temporaryPath("example")
        defer { unlink(path) }
        try index.writeSnapshot(to: path)
        let fd = open(path, O_RDONLY)
        var bytes = [UInt8](repeating: 0, count: 200)
        let n = read(fd, &bytes, 200)
        close(fd)
        #expect(n == 0x88)
        #expect(Array(bytes[0..<8]) == Array("FLATVEC\0".utf8))
        #expect(Array(bytes[8..<40]) == [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[0x40..<0x55]) == [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x61])
        #expect(bytes[0x55..<0x80].allSatisfy { $0 == 0 })
        #expect(Array(bytes[0x80..<0x88]) == [0, 0, 0x80, 0x3F, 0, 0, 0, 0x3F])
        let bodyCRC = bytes.withUnsafeBytes { fv_crc32c(0, $0.baseAddress! + 64, 0x88 - 64) }
        #expect(Array(bytes[40..<44]) == withUnsafeBytes(of: bodyCRC.littleEndian) { Array($0) })
    }
}
