import CFlatVecKernels
import FlatVecFormats
import Foundation
import Synchronization
import Testing
@testable import FlatVecCore

/// A way to scan an index: float32, or int8 with one of the int8 kernels this CPU runs.
struct ScanChoice: Sendable, CustomTestStringConvertible {
    var scan: ScanMode
    var variant: Int32
    var name: String

    var testDescription: String { name }

    static let int8Variants: [(Int32, String)] = [
        (Int32(FV_I8_PORTABLE), "portable"), (Int32(FV_I8_AVX2), "avx2"), (Int32(FV_I8_AVX512VNNI), "avx512-vnni"),
    ]

    /// The int8 variants this CPU runs.
    static var runnableInt8: [(Int32, String)] {
        int8Variants.filter { fv_i8_variants() & (1 << UInt32($0.0)) != 0 }
    }

    /// float32 and int8 with every int8 kernel this CPU runs.
    static var all: [ScanChoice] {
        [ScanChoice(scan: .float32, variant: fv_i8_best_variant(), name: "float32")]
            + runnableInt8.map { ScanChoice(scan: .int8, variant: $0.0, name: "int8 \($0.1)") }
    }

    /// int8 with every int8 kernel this CPU runs.
    static var int8: [ScanChoice] { all.filter { $0.scan == .int8 } }

    func configuration(searchThreads: Int = 2, rowsPerChunk: Int? = nil) -> FlatIndex.Configuration {
        var configuration = FlatIndex.Configuration(searchThreads: searchThreads, scan: scan)
        configuration.int8Variant = variant
        configuration.rowsPerChunk = rowsPerChunk
        return configuration
    }
}

/// The int8 first pass: its kernels against an integer reference, its bounds against the float32
/// scores, and its searches against the float32 path, hit for hit and bit for bit.
@Suite struct Int8ScanTests {
    /// The stored code of (row, component) in the blocked layout.
    static func code(_ codes: [UInt8], row: Int, component i: Int, dimension d: Int) -> UInt8 {
        let dpad = fv_i8_padded_dim(d)
        return codes[(row / 16) * 16 * dpad + (i / 4) * 64 + (row % 16) * 4 + i % 4]
    }

    @Test func theCPUReportsItsInt8Variants() {
        let features = BLASRuntime.CPUFeatures.current
        let variants = fv_i8_variants()
        #expect(variants & (1 << UInt32(FV_I8_PORTABLE)) != 0)
        #expect((variants & (1 << UInt32(FV_I8_AVX2)) != 0) == features.contains(.avx2))
        let vnni = features.contains(.avx512f) && features.contains(.avx512bw) && features.contains(.avx512vnni)
        #expect((variants & (1 << UInt32(FV_I8_AVX512VNNI)) != 0) == vnni)
        #expect(variants & (1 << UInt32(fv_i8_best_variant())) != 0)
        for (variant, _) in ScanChoice.int8Variants where variants & (1 << UInt32(variant)) == 0 {
            var out = [Int32](repeating: 0, count: 16)
            #expect(fv_i8_scan_variant(variant, [UInt8](repeating: 128, count: 64), 1, 4, [0, 0, 0, 0], 1, &out, 16) == 0)
        }
        #expect(BLASRuntime.info.int8Kernel == BLASRuntime.int8KernelName(fv_i8_best_variant()))
        // FLATVEC_INT8_KERNEL takes the names `flatvec info` prints.
        for (variant, name) in ScanChoice.int8Variants {
            #expect(fv_i8_variant_named(name) == variant && BLASRuntime.int8KernelName(variant) == name)
        }
        #expect(fv_i8_variant_named("sse9") == -1)
    }

    /// Encoding round-trips within the scale, and each row's figures bound what they claim to.
    @Test(arguments: [1, 3, 4, 17, 512, 515])
    func rowsEncodeWithinTheirScale(dimension d: Int) {
        var random = SeededRandom(seed: UInt64(d))
        let n = 37
        var codes = [UInt8](repeating: 0, count: fv_i8_code_bytes(n, d))
        var meta = [Double](repeating: 0, count: Int(FV_I8_META_DOUBLES) * n)
        var rows: [[Float]] = []
        for r in 0..<n {
            var v = random.uniformVector(d).map { $0 * Float([1e-3, 1, 1e4][r % 3]) }
            if r == 5 { v = [Float](repeating: 0, count: d) }
            rows.append(v)
            fv_i8_encode_row(v, d, &codes, &meta, n, r)
        }
        func figure(_ column: Int, _ r: Int) -> Double { meta[column * n + r] }
        for r in 0..<n {
            var residual = 0.0, coded = 0.0, norm = 0.0
            for i in 0..<d {
                let c = Int(Self.code(codes, row: r, component: i, dimension: d)) - 128
                #expect((-127...127).contains(c))
                let approx = figure(FV_I8_SCALE, r) * Double(c)
                residual += (Double(rows[r][i]) - approx) * (Double(rows[r][i]) - approx)
                coded += approx * approx
                norm += Double(rows[r][i]) * Double(rows[r][i])
                #expect(abs(Double(rows[r][i]) - approx) <= figure(FV_I8_SCALE, r) * 0.5001)
            }
            for i in d..<fv_i8_padded_dim(d) { #expect(Self.code(codes, row: r, component: i, dimension: d) == 128) }
            #expect(residual.squareRoot() <= figure(FV_I8_SLACK, r))
            #expect(coded.squareRoot() <= figure(FV_I8_CODED_NORM, r))
            #expect(norm.squareRoot() <= figure(FV_I8_NORM, r))
        }
    }

    /// Every variant this CPU runs computes exactly the integer sums, at odd shapes.
    @Test(arguments: [1, 3, 4, 17, 100, 515])
    func everyScanVariantComputesTheExactIntegerSums(dimension d: Int) throws {
        var random = SeededRandom(seed: UInt64(d) + 99)
        // One query; small batches (one group of up to 10 queries, or two); tiles of 4 blocks with a
        // partial or full next tile to prefetch and single blocks after.
        for (n, nq) in [(1, 1), (15, 2), (16, 6), (17, 7), (40, 10), (64, 13), (130, 16), (100, 32), (200, 23), (90, 19), (70, 37)] {
            let rows = (0..<n).map { _ in random.uniformVector(d) }
            var codes = [UInt8](repeating: 0, count: fv_i8_code_bytes(n, d))
            var meta = [Double](repeating: 0, count: Int(FV_I8_META_DOUBLES) * n)
            for r in 0..<n { fv_i8_encode_row(rows[r], d, &codes, &meta, n, r) }
            let dpad = fv_i8_padded_dim(d)
            let stride = (n + 15) / 16 * 16
            for (variant, name) in ScanChoice.runnableInt8 {
                let levels = Int(fv_i8_query_levels(variant))
                // Extreme codes included: every query uses the full range at least once.
                var queryCodes = [Int8](repeating: 0, count: nq * dpad)
                for q in 0..<nq {
                    for i in 0..<d { queryCodes[q * dpad + i] = Int8(Int.random(in: -levels...levels, using: &random)) }
                    queryCodes[q * dpad] = Int8(levels)
                    queryCodes[q * dpad + d - 1] = Int8(-levels)
                }
                var out = [Int32](repeating: 0, count: nq * stride)
                #expect(fv_i8_scan_variant(variant, codes, n, d, queryCodes, nq, &out, stride) == 1)
                for q in 0..<nq {
                    for r in 0..<n {
                        var exact: Int32 = 0
                        for i in 0..<d {
                            exact += Int32(Self.code(codes, row: r, component: i, dimension: d)) * Int32(queryCodes[q * dpad + i])
                        }
                        if out[q * stride + r] != exact {
                            Issue.record("\(name) d=\(d) n=\(n) nq=\(nq) q=\(q) r=\(r): \(out[q * stride + r]) != \(exact)")
                            return
                        }
                    }
                }
                // The row-major copy, gathered in any order, gives the same sums.
                var rowCodes = [UInt8](repeating: 0, count: n * dpad)
                for r in 0..<n { rowCodes.withUnsafeMutableBufferPointer { fv_i8_row_codes(codes, d, r, $0.baseAddress! + r * dpad) } }
                let list = (0..<n).map(UInt32.init).shuffled(using: &random)
                for q in 0..<nq {
                    var gathered = [Int32](repeating: 0, count: n)
                    let ran = queryCodes.withUnsafeBufferPointer {
                        fv_i8_gather_variant(variant, rowCodes, d, list, n, $0.baseAddress! + q * dpad, &gathered, meta, n)
                    }
                    #expect(ran == 1)
                    for (j, r) in list.enumerated() where gathered[j] != out[q * stride + Int(r)] {
                        Issue.record("\(name) gathered d=\(d) n=\(n) q=\(q) r=\(r): \(gathered[j]) != \(out[q * stride + Int(r)])")
                        return
                    }
                }
            }
        }
    }

    /// lower <= float32 score <= upper for every row, whatever the magnitudes (queries of norm 1e-3
    /// to 1e4, rows of norm 0.25 to 4, outlier components, zero rows), on every variant.
    @Test func theBoundsHoldTheFloat32ScoreOfEveryRow() {
        var random = SeededRandom(seed: 5)
        for d in [3, 64, 515] {
            let n = 200
            var rows: [[Float]] = []
            for r in 0..<n {
                var v = ReferenceIndex.normalised(random.uniformVector(d)).map { $0 * Float(0.25 + 3.75 * Double(r) / Double(n)) }
                if r % 7 == 0 { v[r % d] *= 10 }  // an outlier component
                if r == 13 { v = [Float](repeating: 0, count: d) }
                if r == 14 { v = rows[12] }  // an exact duplicate
                rows.append(v)
            }
            var codes = [UInt8](repeating: 0, count: fv_i8_code_bytes(n, d))
            var meta = [Double](repeating: 0, count: Int(FV_I8_META_DOUBLES) * n)
            for r in 0..<n { fv_i8_encode_row(rows[r], d, &codes, &meta, n, r) }
            let flat = rows.flatMap { $0 }
            for norm: Float in [1e-3, 1, 1e4] {
                var query = ReferenceIndex.normalised(random.uniformVector(d)).map { $0 * norm }
                query[0] *= 10
                for (variant, name) in ScanChoice.runnableInt8 {
                    let dpad = fv_i8_padded_dim(d)
                    var queryCodes = [Int8](repeating: 0, count: dpad)
                    var queryMeta = fv_i8_query()
                    fv_i8_encode_query(query, d, fv_i8_query_levels(variant), &queryCodes, &queryMeta)
                    let stride = (n + 15) / 16 * 16
                    var dots = [Int32](repeating: 0, count: stride)
                    _ = fv_i8_scan_variant(variant, codes, n, d, queryCodes, 1, &dots, stride)
                    var indices = [UInt32](repeating: 0, count: n)
                    var lower = [Double](repeating: 0, count: n)
                    var upper = [Double](repeating: 0, count: n)
                    var scratch = [Double](repeating: 0, count: n)
                    let found = fv_i8_candidates(dots, n, meta, n, &queryMeta, -.infinity, &indices, &lower, &upper, &scratch)
                    #expect(found == n)
                    var scores = [Float](repeating: 0, count: n)
                    fv_dot_rows(flat, n, d, query, &scores)
                    for j in 0..<found {
                        let score = Double(scores[Int(indices[j])])
                        if !(lower[j] <= score && score <= upper[j]) {
                            Issue.record("\(name) d=\(d) |q|=\(norm) row \(indices[j]): \(score) outside [\(lower[j]), \(upper[j])]")
                        }
                    }
                    // The float first filter never drops a row the double bound keeps: with the
                    // threshold at a row's own upper bound, that row is still a candidate.
                    for j in Swift.stride(from: 0, to: found, by: 7) {
                        var again = [UInt32](repeating: 0, count: n)
                        var lowerAgain = [Double](repeating: 0, count: n)
                        var upperAgain = [Double](repeating: 0, count: n)
                        let kept = fv_i8_candidates(dots, n, meta, n, &queryMeta, upper[j], &again, &lowerAgain, &upperAgain, &scratch)
                        if !again[0..<kept].contains(indices[j]) {
                            Issue.record("\(name) d=\(d) |q|=\(norm) row \(indices[j]) dropped at its own upper bound \(upper[j])")
                        }
                        #expect(upperAgain[0..<kept].allSatisfy { $0 >= upper[j] })
                    }
                    // The threshold of a chunk whose collector is not full: k rows score at least it.
                    var floatScratch = [Float](repeating: 0, count: n)
                    for k in [1, 10, n] {
                        let floor = fv_i8_kth_lower_bound(dots, n, meta, n, &queryMeta, k, &floatScratch)
                        #expect(floor > -.infinity)
                        #expect(scores.filter { Double($0) >= floor }.count >= k, "\(name) d=\(d) k=\(k)")
                    }
                    #expect(fv_i8_kth_lower_bound(dots, n, meta, n, &queryMeta, n + 1, &floatScratch) == -.infinity)
                    // The bound is tight enough to be useful: well under the scores' spread.
                    let widest = (0..<found).map { upper[$0] - lower[$0] }.max() ?? 0
                    #expect(widest < Double(norm) * 4 * (d > 3 ? 0.6 : 2))
                }
            }
        }
    }

    @Test func theKthLargestMatchesSorting() {
        var random = SeededRandom(seed: 8)
        for count in [1, 2, 5, 17, 100, 2_048] {
            for round in 0..<20 {
                // Few distinct values (many ties), or spread ones; ascending runs make the filter for
                // k <= 64 replace its k-th largest at almost every value.
                var values = (0..<count).map { _ in
                    round % 2 == 0 ? Double(Int.random(in: -5...5, using: &random)) : Double.random(in: -1...1, using: &random)
                }
                if round % 5 == 4 { values.sort() }
                let sorted = values.sorted(by: >)
                // Both sides of the filter's limit (64), and the quickselect above it.
                for k in [1, 2, 10, 63, 64, 65, 200, count / 2, count].filter({ $0 >= 1 && $0 <= count }) {
                    var copy = values
                    #expect(fv_kth_largest(&copy, count, k) == sorted[k - 1], "count \(count) k \(k)")
                    var floats = values.map { Float($0) }
                    #expect(fv_kth_largest_float(&floats, count, k) == Float(sorted[k - 1]), "count \(count) k \(k)")
                }
                var copy = values
                #expect(fv_kth_largest(&copy, count, count + 1) == -.infinity)
                #expect(fv_kth_largest(&copy, count, 0) == -.infinity)
            }
        }
    }

    /// Kinds of catalogue the int8 path must be exact on.
    enum Catalogue: String, CaseIterable, Sendable {
        /// Uniform components in [-1, 1].
        case uniform
        /// Random directions with norms from 0.25 to 4.
        case unnormalised
        /// Ten components with ten times the spread of the others.
        case outlierDimensions
        /// Groups of 50 identical and 50 near-identical vectors among random ones.
        case clusters
    }

    static func vectors(_ kind: Catalogue, count n: Int, dimension d: Int, random: inout SeededRandom) -> [[Float]] {
        switch kind {
        case .uniform:
            return (0..<n).map { _ in random.uniformVector(d) }
        case .unnormalised:
            return (0..<n).map { i in
                ReferenceIndex.normalised(random.uniformVector(d)).map { $0 * Float(0.25 + 3.75 * Double(i % 97) / 96) }
            }
        case .outlierDimensions:
            return (0..<n).map { _ in
                var v = random.uniformVector(d)
                for i in 0..<min(10, d) { v[i * 7 % d] *= 10 }
                return v
            }
        case .clusters:
            var all: [[Float]] = []
            while all.count < n {
                let center = random.uniformVector(d)
                for _ in 0..<50 where all.count < n { all.append(center) }
                for j in 0..<50 where all.count < n {
                    var near = center
                    near[j % d] += Float(j + 1) * 1e-6
                    all.append(near)
                }
                for _ in 0..<100 where all.count < n { all.append(random.uniformVector(d)) }
            }
            return all
        }
    }

    /// Searches `queries` in both indexes: the int8 index in one batch, its first 8 queries in
    /// another, and all of them four times over in a third (below 64 queries threads claim chunks and
    /// share their thresholds, from 64 on they split the queries), the float32 index one query at a
    /// time (its single-query kernel is the one int8 rescores with), and expects equal hits.
    static func expectSameHits(
        int8 index: FlatIndex, float32 reference: FlatIndex, queries: [[Float]], options: SearchOptions,
        context: String
    ) throws {
        let whole = try index.search(batch: queries.flatMap { $0 }, options: options)
        let few = try index.search(batch: queries.prefix(8).flatMap { $0 }, options: options)
        let repeats = max(1, (64 + queries.count - 1) / queries.count)
        let many = try index.search(batch: Array(repeating: queries.flatMap { $0 }, count: repeats).flatMap { $0 }, options: options)
        #expect(many.count >= 64)
        let manyFirst = (0..<queries.count).map { many[$0] }
        let manyLast = (0..<queries.count).map { many[(repeats - 1) * queries.count + $0] }
        for (q, query) in queries.enumerated() {
            let expected = try reference.search(query, options: options)
            for got in [whole, few, manyFirst, manyLast] where q < got.count && got[q] != expected {
                Issue.record("\(context) query \(q) k=\(options.k): int8 \(got[q].prefix(5).map { ($0.id, $0.score) }) float32 \(expected.prefix(5).map { ($0.id, $0.score) })")
                return
            }
        }
    }

    /// Every catalogue kind, both metrics, queries of norm 1e-3 to 1e4 and stored vectors as queries
    /// (ties in the clusters), k from 1 to 1,000, label filters, minScore and grouping: the int8 path
    /// returns exactly the float32 path's hits and scores, with every int8 kernel this CPU runs.
    @Test(arguments: ScanChoice.int8)
    func int8SearchesReturnTheFloat32Hits(choice: ScanChoice) throws {
        for kind in Catalogue.allCases {
            for metric in Metric.allCases {
                var random = SeededRandom(seed: 40 + UInt64(kind.rawValue.count))
                let d = [37, 100, 130, 515][kind.rawValue.count % 4]
                let n = 3_000
                let vectors = Self.vectors(kind, count: n, dimension: d, random: &random)
                // In the clusters, the 100 rows of each cluster share label 0: grouping by label must
                // then look past them for the other labels.
                let labels = (0..<n).map { i in
                    kind == .clusters && i % 200 < 100 ? 0 : Int64.random(in: 0..<20, using: &random)
                }
                let batch = try VectorBatch(
                    dimension: d, ids: (0..<Int64(n)).map { $0 * 3 + 1 }, labels: labels, vectors: vectors.flatMap { $0 },
                    payloads: (0..<n).map { i in i % 2 == 0 ? Array("p\(i)".utf8) : nil }
                )
                let index = try FlatIndex(dimension: d, metric: metric, configuration: choice.configuration(rowsPerChunk: 512))
                let reference = try FlatIndex(
                    dimension: d, metric: metric, configuration: ScanChoice.all[0].configuration(rowsPerChunk: 512)
                )
                try index.add(batch)
                try reference.add(batch)
                #expect(index.statistics.scan == .int8 && reference.statistics.scan == .float32)
                var queries: [[Float]] = []
                for norm: Float in [1e-3, 1, 1e4] {
                    queries += (0..<4).map { _ in ReferenceIndex.normalised(random.uniformVector(d)).map { $0 * norm } }
                }
                queries += [vectors[0], vectors[77], vectors[n - 1], vectors[160]]
                for k in [1, 10, 57, 1_000] {
                    try Self.expectSameHits(
                        int8: index, float32: reference, queries: queries, options: SearchOptions(k: k, includePayloads: true),
                        context: "\(kind) \(metric)"
                    )
                    try Self.expectSameHits(
                        int8: index, float32: reference, queries: queries, options: SearchOptions(k: k, groupByLabel: true),
                        context: "\(kind) \(metric) grouped"
                    )
                }
                for _ in 0..<12 {
                    var options = random.searchOptions(labels: 20)
                    if let floor = options.minScore { options.minScore = floor / 8 }
                    try Self.expectSameHits(int8: index, float32: reference, queries: queries, options: options, context: "\(kind) \(metric) \(options)")
                }
                let rescoring = index.statistics.rescoring
                #expect(rescoring.rowsBounded > 0 && rescoring.rowsRescored > 0)
                // k = 1,000 against chunks of 512 rows: whole chunks go to float32.
                #expect(rescoring.chunksInFloat32 > 0 && rescoring.rowsRescored >= rescoring.chunksInFloat32 * 512 / 2)
            }
        }
    }

    /// Copies of one vector under many ids (one photo for many products) tie on every query: the
    /// hits among them are those of the smallest ids, on every scan, whichever order the ids lie in
    /// the chunks (shuffled, ascending, descending), with grouping, payloads and a floor at the tie.
    @Test(arguments: ScanChoice.all)
    func copiesOfOneVectorTieBySmallerIDOnEveryScan(choice: ScanChoice) throws {
        var random = SeededRandom(seed: 77)
        let d = 64
        let copy = random.quantizedVector(d)
        for order in ["shuffled", "ascending", "descending"] {
            let index = try FlatIndex(dimension: d, configuration: choice.configuration(rowsPerChunk: 256))
            var reference = ReferenceIndex(dimension: d)
            var ids = (0..<Int64(3_000)).map { $0 * 7 + 2 }
            switch order {
            case "shuffled": ids.shuffle(using: &random)
            case "descending": ids.reverse()
            default: break
            }
            for (i, id) in ids.enumerated() {
                // The first half random rows, the second half copies, added one at a time as an
                // admin adds products.
                let vector = i < 1_500 ? random.quantizedVector(d) : copy
                let label = Int64(i % 5)
                let payload: [UInt8]? = i % 3 == 0 ? Array("p\(id)".utf8) : nil
                try index.add(VectorBatch(dimension: d, ids: [id], labels: [label], vectors: vector, payloads: [payload]))
                reference.upsert(id: id, label: label, vector: vector, payload: payload)
            }
            let queries = [copy, copy.map { -$0 }] + (0..<6).map { _ in random.quantizedVector(d) }
            for q in queries {
                let tie = zip(q, copy).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                var optionSets = [1, 10, 300, 2_000].map { SearchOptions(k: $0, includePayloads: true) }
                optionSets += [SearchOptions(k: 3, groupByLabel: true), SearchOptions(k: 50, minScore: tie)]
                for options in optionSets {
                    let got = try index.search(q, options: options)
                    let expected = reference.search(q, options: options)
                    #expect(ReferenceIndex.equivalent([got], [expected], metric: .innerProduct, options: options), "\(order) \(options)")
                }
            }
        }
    }

    /// A batch of 16 or more plain queries lists its candidates and rescores, after the whole index
    /// is bounded, only those that can reach the final bound: exactly the float32 hits, with fewer
    /// rows rescored than the same queries in batches of 8 (rescored chunk by chunk).
    @Test(arguments: ScanChoice.int8)
    func aLargeBatchRescoresOnlyWhatTheWholeIndexAllows(choice: ScanChoice) throws {
        var random = SeededRandom(seed: 91)
        let d = 64, n = 6_000
        let vectors = (0..<n).map { _ in random.uniformVector(d) }
        let batch = try VectorBatch(
            dimension: d, ids: (0..<Int64(n)).map { $0 }, labels: Array(repeating: 0, count: n), vectors: vectors.flatMap { $0 }
        )
        let index = try FlatIndex(dimension: d, configuration: choice.configuration(rowsPerChunk: 256))
        let reference = try FlatIndex(dimension: d, configuration: ScanChoice.all[0].configuration(rowsPerChunk: 256))
        try index.add(batch)
        try reference.add(batch)
        // Random queries and stored rows (each its own best hit, ties with nothing).
        let queries = (0..<24).map { _ in random.uniformVector(d) } + (0..<8).map { vectors[$0 * 700] }
        for options in [SearchOptions(k: 10), SearchOptions(k: 1), SearchOptions(k: 300), SearchOptions(k: 10, minScore: 2)] {
            let before = index.statistics.rescoring.rowsRescored
            let listed = try index.search(batch: queries.flatMap { $0 }, options: options)
            let rescoredListing = index.statistics.rescoring.rowsRescored - before
            var chunked: [[SearchHit]] = []
            for start in stride(from: 0, to: queries.count, by: 8) {
                chunked += try index.search(batch: queries[start..<(start + 8)].flatMap { $0 }, options: options)
            }
            let rescoredChunked = index.statistics.rescoring.rowsRescored - before - rescoredListing
            for (q, query) in queries.enumerated() {
                let expected = try reference.search(query, options: options)
                #expect(listed[q] == expected, "query \(q) \(options): \(listed[q].prefix(3)) against \(expected.prefix(3))")
                #expect(chunked[q] == expected, "query \(q) \(options), batches of 8")
            }
            if options.k == 10 && options.minScore == nil {
                #expect(rescoredListing * 2 < rescoredChunked, "rescored \(rescoredListing) listing, \(rescoredChunked) chunk by chunk")
            }
        }
    }

    /// A writer that runs between a listing scan's pass and its rescoring (here: it replaces the
    /// queries' own rows, in place) does not spoil the pass: the rows rescored are the ones the pass
    /// bounded (their chunks were copied before the writer changed them), so the search answers from
    /// the index as the pass read it, without scanning again; the index then serves the writer's rows.
    /// A removal (which moves rows) between them makes the search scan again.
    @Test(arguments: ScanChoice.int8)
    func aWriteBeforeTheRescoringLeavesTheListedRowsAsThePassReadThem(choice: ScanChoice) throws {
        // Two threads claim chunks; one thread scans the block of queries alone.
        for threads in [2, 1] {
            try Self.expectListedRowsAfterAWrite(choice: choice, threads: threads, remove: false)
            try Self.expectListedRowsAfterAWrite(choice: choice, threads: threads, remove: true)
        }
    }

    static func expectListedRowsAfterAWrite(choice: ScanChoice, threads: Int, remove: Bool) throws {
        var random = SeededRandom(seed: 92)
        let d = 48, n = 3_000
        let vectors = (0..<n).map { _ in random.uniformVector(d) }
        let batch = try VectorBatch(
            dimension: d, ids: (0..<Int64(n)).map { $0 }, labels: Array(repeating: 0, count: n), vectors: vectors.flatMap { $0 }
        )
        let index = try FlatIndex(dimension: d, configuration: choice.configuration(searchThreads: threads, rowsPerChunk: 128))
        let before = try FlatIndex(dimension: d, configuration: ScanChoice.all[0].configuration(rowsPerChunk: 128))
        let after = try FlatIndex(dimension: d, configuration: ScanChoice.all[0].configuration(rowsPerChunk: 128))
        try index.add(batch)
        try before.add(batch)
        try after.add(batch)
        let queried = (0..<20).map { $0 * 150 }
        let queries = queried.flatMap { vectors[$0] }
        let replaced = try VectorBatch(
            dimension: d, ids: queried.map { Int64($0) }, labels: Array(repeating: 0, count: queried.count),
            vectors: queried.flatMap { vectors[$0].map { -$0 } }
        )
        // The removal takes a row of the first chunk (the last row moves into its place) and the
        // queried rows with it.
        let removed = [Int64(5)] + queried.map { Int64($0) }
        if remove { try after.remove(ids: removed) } else { try after.add(replaced) }
        let calls = Atomic<Int>(0)
        index.afterListingPass = {
            guard calls.add(1, ordering: .relaxed).newValue == 1 else { return }
            if remove { try! index.remove(ids: removed) } else { try! index.add(replaced) }
        }
        let hits = try index.search(batch: queries, options: SearchOptions(k: 1))
        #expect(calls.load(ordering: .relaxed) == 1)
        // Answers as the pass read the index after an in-place write (a scan again would find the
        // writer's rows), as the writer left it after a removal (scanned again).
        for (q, row) in queried.enumerated() {
            let expected = try (remove ? after : before).search(vectors[row], options: SearchOptions(k: 1))
            #expect(hits[q] == expected, "\(threads) threads, query \(q): \(hits[q]) against \(expected)")
            #expect((hits[q].first?.id == Int64(row)) == !remove)
        }
        // The index serves the writer's rows now.
        index.afterListingPass = nil
        let now = try index.search(batch: queries, options: SearchOptions(k: 1))
        for (q, row) in queried.enumerated() {
            #expect(now[q] == (try after.search(vectors[row], options: SearchOptions(k: 1))))
        }
    }

    /// The sample catalogue (CLIP embeddings) with its own queries: exact, and few rows rescored.
    @Test(arguments: ScanChoice.int8)
    func theSampleCatalogueIsSearchedExactly(choice: ScanChoice) throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data")
        let products = try VectorFile.readFloat32Matrix(data.appendingPathComponent("products.npy").path)
        let queries = try VectorFile.readFloat32Matrix(data.appendingPathComponent("queries.npy").path)
        let batch = try VectorBatch(
            dimension: products.columns, ids: (0..<Int64(products.rows)).map { $0 },
            labels: Array(repeating: 0, count: products.rows), vectors: products.values
        )
        let index = try FlatIndex(dimension: products.columns, metric: .cosine, configuration: choice.configuration())
        let reference = try FlatIndex(dimension: products.columns, metric: .cosine, configuration: ScanChoice.all[0].configuration())
        try index.add(batch)
        try reference.add(batch)
        let rows = (0..<queries.rows).map { Array(queries.values[($0 * queries.columns)..<(($0 + 1) * queries.columns)]) }
        for k in [1, 10, 100] {
            try Self.expectSameHits(int8: index, float32: reference, queries: rows, options: SearchOptions(k: k), context: "sample")
        }
    }

    /// Codes are derived data: a snapshot holds only the float32 rows, and loading it (in either
    /// mode) computes the codes again; after removals moved rows, the loaded index still searches exactly.
    @Test func aSnapshotLoadsWithFreshCodes() throws {
        var random = SeededRandom(seed: 21)
        let d = 64
        let n = 2_000
        let vectors = Self.vectors(.clusters, count: n, dimension: d, random: &random)
        let batch = try VectorBatch(
            dimension: d, ids: (0..<Int64(n)).map { $0 }, labels: (0..<n).map { Int64($0 % 7) }, vectors: vectors.flatMap { $0 }
        )
        let int8 = ScanChoice.int8.last!
        let index = try FlatIndex(dimension: d, configuration: int8.configuration(rowsPerChunk: 256))
        let reference = try FlatIndex(dimension: d, configuration: ScanChoice.all[0].configuration(rowsPerChunk: 256))
        for target in [index, reference] {
            try target.add(batch)
            try target.remove(ids: (0..<Int64(n)).filter { $0 % 5 == 0 })
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("int8-\(UUID().uuidString).snapshot").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try index.writeSnapshot(to: path)
        let loaded = try FlatIndex.loadSnapshot(from: path, configuration: int8.configuration())
        #expect(loaded.statistics.scan == .int8 && loaded.statistics.codeBytes > 0)
        let queries = [vectors[1], vectors[101], vectors[333]] + (0..<5).map { _ in random.uniformVector(d) }
        for options in [SearchOptions(k: 10), SearchOptions(k: 3, groupByLabel: true), SearchOptions(k: 50, labels: [2, 3])] {
            try Self.expectSameHits(int8: loaded, float32: reference, queries: queries, options: options, context: "loaded")
        }
        let asFloat32 = try FlatIndex.loadSnapshot(from: path, configuration: ScanChoice.all[0].configuration())
        #expect(asFloat32.statistics.scan == .float32 && asFloat32.statistics.codeBytes == 0)
        #expect(asFloat32.allRows() == reference.allRows())
    }

    /// STATS-level figures: the blocked int8 codes take about a quarter of the vectors' memory at
    /// d = 512, and about half once a filtered scan has built the codes row by row for gathering;
    /// the per-collection override wins over the default.
    @Test func theCodesMemoryIsCountedAndCollectionsCanOverrideTheMode() throws {
        var configuration = FlatIndex.Configuration(scan: .int8)
        configuration.scanByCollection = ["old": .float32]
        let index = try FlatIndex(dimension: 512, configuration: configuration.forCollection("products"))
        var random = SeededRandom(seed: 3)
        try index.add(VectorBatch(
            dimension: 512, ids: (1...48).map { $0 }, labels: Array(repeating: 0, count: 48),
            vectors: (0..<48).flatMap { _ in random.uniformVector(512) }
        ))
        let s = index.statistics
        let vectorBytes = index.lock.withReaderLock { index.rows.chunks.reduce(0) { $0 + $1.capacity } } * 512 * 4
        #expect(s.scan == .int8)
        #expect(Double(s.codeBytes) / Double(vectorBytes) > 0.25 && Double(s.codeBytes) / Double(vectorBytes) < 0.28, "\(s.codeBytes)")
        // A filter that matches no row of the chunk gathers nothing and builds nothing.
        _ = try index.search([Float](repeating: 0.5, count: 512), options: SearchOptions(k: 1, filter: try Filter(parsing: "id in (1000)")))
        #expect(index.statistics.codeBytes == s.codeBytes)
        _ = try index.search([Float](repeating: 0.5, count: 512), options: SearchOptions(k: 1, filter: try Filter(parsing: "id in (1)")))
        let gathered = index.statistics
        #expect(Double(gathered.codeBytes) / Double(vectorBytes) > 0.50 && Double(gathered.codeBytes) / Double(vectorBytes) < 0.53, "\(gathered.codeBytes)")
        #expect(configuration.forCollection("old").effectiveScan == .float32)
        #expect(configuration.forCollection("products").effectiveScan == .int8)
    }
}
