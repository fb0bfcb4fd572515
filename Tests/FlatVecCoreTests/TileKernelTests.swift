import CFlatVecKernels
import Testing
@testable import FlatVecCore

/// The tiled scoring kernel: every instruction-set variant this CPU runs against a double-precision
/// reference and against the portable variant, and each score independent of the batch it is in.
@Suite struct TileKernelTests {
    static let variants: [(Int32, String)] = [
        (Int32(FV_TILE_PORTABLE), "portable"), (Int32(FV_TILE_AVX2), "avx2"), (Int32(FV_TILE_AVX512), "avx512"),
    ]

    static var runnable: [(Int32, String)] {
        variants.filter { fv_tile_variants() & (1 << UInt32($0.0)) != 0 }
    }

    /// Scores of `nq` queries against `rows` rows with one variant, row stride = rows.
    static func scores(variant: Int32, rows: [Float], count n: Int, dimension d: Int, queries: [Float], nq: Int) -> [Float]? {
        var out = [Float](repeating: .nan, count: nq * n)
        var scratch = [Float](repeating: 0, count: fv_tile_scratch_floats(nq, d))
        let ran = fv_scores_tiled_variant(variant, rows, n, d, queries, nq, &out, n, &scratch)
        return ran == 1 ? out : nil
    }

    @Test func theCPUReportsItsVariants() {
        let features = BLASRuntime.CPUFeatures.current
        let variants = fv_tile_variants()
        #expect(variants & (1 << UInt32(FV_TILE_PORTABLE)) != 0)
        #expect((variants & (1 << UInt32(FV_TILE_AVX2)) != 0) == (features.contains(.avx2) && features.contains(.fma)))
        #expect((variants & (1 << UInt32(FV_TILE_AVX512)) != 0) == (features.contains(.avx512f) && features.contains(.fma)))
        #expect(variants & (1 << UInt32(fv_tile_best_variant())) != 0)
        // A variant the CPU cannot run computes nothing and says so.
        for (variant, _) in Self.variants where variants & (1 << UInt32(variant)) == 0 {
            #expect(Self.scores(variant: variant, rows: [1], count: 1, dimension: 1, queries: [1], nq: 1) == nil)
        }
    }

    /// Odd shapes (rows and queries not multiples of any tile, dimensions not multiples of 16) on
    /// every variant: each score within float rounding of the double-precision dot product, and
    /// equal to the portable variant's within the same bound.
    @Test(arguments: [1, 3, 16, 17, 100, 512])
    func everyVariantMatchesTheReferenceAndThePortableOne(dimension d: Int) throws {
        var random = SeededRandom(seed: UInt64(d) + 1_000)
        for (n, nq) in [(1, 1), (5, 3), (13, 17), (37, 33), (64, 64), (29, 130)] {
            let rows = random.uniformVector(n * d)
            let queries = random.uniformVector(nq * d)
            let portable = try #require(Self.scores(variant: Int32(FV_TILE_PORTABLE), rows: rows, count: n, dimension: d, queries: queries, nq: nq))
            for (variant, name) in Self.runnable {
                let got = try #require(Self.scores(variant: variant, rows: rows, count: n, dimension: d, queries: queries, nq: nq))
                for q in 0..<nq {
                    for r in 0..<n {
                        var exact = 0.0
                        var magnitude = 0.0
                        for i in 0..<d {
                            exact += Double(rows[r * d + i]) * Double(queries[q * d + i])
                            magnitude += abs(Double(rows[r * d + i]) * Double(queries[q * d + i]))
                        }
                        let bound = Float(magnitude) * Float(d) * Float.ulpOfOne + Float.leastNormalMagnitude
                        let value = got[q * n + r]
                        if abs(Double(value) - exact) > Double(bound) || abs(value - portable[q * n + r]) > 2 * bound {
                            Issue.record("\(name) d=\(d) n=\(n) nq=\(nq) q=\(q) r=\(r): \(value), portable \(portable[q * n + r]), exact \(exact)")
                            return
                        }
                    }
                }
            }
        }
    }

    /// A query's scores are bit for bit the same alone, in a batch of any size and at any position:
    /// so merging waiting searches into one scan cannot change anyone's hits.
    @Test func aScoreDoesNotDependOnTheBatch() throws {
        var random = SeededRandom(seed: 77)
        let d = 77
        let n = 41
        let rows = random.uniformVector(n * d)
        let batch = random.uniformVector(100 * d)
        for (variant, name) in Self.runnable {
            let all = try #require(Self.scores(variant: variant, rows: rows, count: n, dimension: d, queries: batch, nq: 100))
            for (start, count) in [(0, 5), (37, 1), (50, 50), (99, 1), (3, 64)] {
                let part = Array(batch[(start * d)..<((start + count) * d)])
                let got = try #require(Self.scores(variant: variant, rows: rows, count: n, dimension: d, queries: part, nq: count))
                #expect(got == Array(all[(start * n)..<((start + count) * n)]), "\(name): queries \(start)..<\(start + count)")
            }
        }
    }
}

@Suite struct GatherKernelTests {
    /// A filtered batch scores its gathered rows with the multi-query kernel: every score must be the
    /// single-query kernel's bit for bit (the int8 scan promises the float32 scores of each query
    /// searched alone), whatever the dimension's tail and the number of queries.
    @Test func multiQueryGatherEqualsTheSingleQueryKernelBitForBit() {
        var random = SeededRandom(seed: 19)
        for d in [1, 15, 16, 17, 63, 64, 100, 512, 513] {
            let n = 200
            let rows = (0..<(n * d)).map { _ in Float.random(in: -1...1, using: &random) }
            let indices: [UInt32] = (0..<57).map { _ in UInt32.random(in: 0..<UInt32(n), using: &random) }
            for nq in [1, 2, 3, 5] {
                let queries = (0..<(nq * d)).map { _ in Float.random(in: -1...1, using: &random) }
                var multi = [Float](repeating: .nan, count: nq * 64)
                fv_dot_rows_gather_multi(rows, indices, indices.count, d, queries, nq, &multi, 64)
                for q in 0..<nq {
                    var single = [Float](repeating: .nan, count: indices.count)
                    queries.withUnsafeBufferPointer { qs in
                        fv_dot_rows_gather(rows, indices, indices.count, d, qs.baseAddress! + q * d, &single)
                    }
                    for j in 0..<indices.count {
                        #expect(multi[q * 64 + j].bitPattern == single[j].bitPattern, "d \(d) nq \(nq) q \(q) row \(j)")
                    }
                }
            }
        }
    }
}
