import Foundation
import Testing
import FlatVecFormats
import FlatVecModel
import FlatVecTestSupport

/// Runs the `flatvec` binary built next to the test bundle.
func runFlatVec(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = CrashRecoveryTests.flatvecBinary
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

@Suite(.timeLimit(.minutes(5))) struct KnnCommandTests {
    let directory: String = {
        let path = TestDirectory.path("flatvec-cli")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Multiples of 1/4 in [-1, 1]: every dot product is exact, so the expected order is unique up to ties,
    /// which both sides break by the smaller row number.
    func quantized(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix<Float> {
        var state = seed
        let values = (0..<(rows * columns)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 61) - 4) / 4
        }
        return Matrix(rows: rows, columns: columns, values: values)
    }

    func bruteForce(base: Matrix<Float>, queries: Matrix<Float>, k: Int) -> [[Int32]] {
        var reference = ReferenceIndex(dimension: base.columns)
        for r in 0..<base.rows {
            reference.upsert(id: Int64(r), label: 0, vector: Array(base.values[(r * base.columns)..<((r + 1) * base.columns)]))
        }
        return (0..<queries.rows).map { q in
            let query = Array(queries.values[(q * queries.columns)..<((q + 1) * queries.columns)])
            return reference.search(query, options: SearchOptions(k: k)).map { Int32($0.id) }
        }
    }

    @Test(arguments: [("npy", "npy", "npy"), ("fvecs", "ivecs", "fvecs")])
    func knnReturnsTheBruteForceNeighbours(formats: (String, String, String)) throws {
        let base = quantized(3000, 17, seed: 1)
        let queries = quantized(25, 17, seed: 2)
        let basePath = "\(directory)/base.\(formats.0)"
        let queryPath = "\(directory)/queries.\(formats.0)"
        let outPath = "\(directory)/ids.\(formats.1)"
        let scorePath = "\(directory)/scores.\(formats.2)"
        try VectorFile.write(base, to: basePath)
        try VectorFile.write(queries, to: queryPath)
        let result = try runFlatVec(["knn", "--base", basePath, "--queries", queryPath, "--k", "10", "--out", outPath, "--scores", scorePath])
        #expect(result.status == 0, "\(result.stderr)")
        let ids: Matrix<Int32>
        if formats.1 == "ivecs" {
            ids = try VecsFile.readIvecs(outPath)
        } else {
            let raw = try NPYFile.readIntegers2D(outPath)
            ids = raw
        }
        #expect(ids.rows == 25 && ids.columns == 10)
        let expected = bruteForce(base: base, queries: queries, k: 10)
        for q in 0..<25 { #expect(Array(ids.row(q)) == expected[q], "query \(q)") }
        let scores = try VectorFile.readFloat32Matrix(scorePath)
        #expect(scores.rows == 25 && scores.columns == 10)
        for q in 0..<25 {
            let row = Array(scores.row(q))
            #expect(row == row.sorted(by: >))
        }
    }

    @Test func kLargerThanTheBaseIsPaddedLikeFAISS() throws {
        let base = quantized(3, 4, seed: 3)
        let queries = quantized(2, 4, seed: 4)
        try VectorFile.write(base, to: "\(directory)/small.npy")
        try VectorFile.write(queries, to: "\(directory)/q.npy")
        let result = try runFlatVec(["knn", "--base", "\(directory)/small.npy", "--queries", "\(directory)/q.npy", "--k", "5",
                                     "--out", "\(directory)/ids.ivecs", "--scores", "\(directory)/s.fvecs"])
        #expect(result.status == 0, "\(result.stderr)")
        let ids = try VecsFile.readIvecs("\(directory)/ids.ivecs")
        #expect(Array(ids.row(0)[3...]) == [-1, -1])
        #expect(Set(ids.row(0)[..<3]) == [0, 1, 2])
        let scores = try VectorFile.readFloat32Matrix("\(directory)/s.fvecs")
        #expect(scores.row(1).last == -Float.greatestFiniteMagnitude)
    }

    @Test func badInputsGetOneLineErrorsAndExitStatus1() throws {
        try VectorFile.write(quantized(10, 8, seed: 5), to: "\(directory)/b8.npy")
        try VectorFile.write(quantized(2, 6, seed: 6), to: "\(directory)/q6.npy")
        _ = FileManager.default.createFile(atPath: "\(directory)/junk.npy", contents: Data("not numpy".utf8))
        let truncated = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/b8.npy")).dropLast(10)
        _ = FileManager.default.createFile(atPath: "\(directory)/short.npy", contents: truncated)
        let cases: [([String], String)] = [
            (["--base", "\(directory)/b8.npy", "--queries", "\(directory)/q6.npy"], "dimension 8"),
            (["--base", "\(directory)/junk.npy", "--queries", "\(directory)/q6.npy"], "magic"),
            (["--base", "\(directory)/short.npy", "--queries", "\(directory)/q6.npy"], "promises"),
            (["--base", "\(directory)/missing.npy", "--queries", "\(directory)/q6.npy"], "cannot open"),
            (["--base", "\(directory)/b8.npy", "--queries", "\(directory)/b8.npy", "--metric", "l2"], "unknown metric"),
        ]
        for (arguments, fragment) in cases {
            let result = try runFlatVec(["knn"] + arguments + ["--k", "3", "--out", "\(directory)/o.npy"])
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(fragment), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        let badK = try runFlatVec(["knn", "--base", "\(directory)/b8.npy", "--queries", "\(directory)/b8.npy", "--k", "0", "--out", "\(directory)/o.npy"])
        #expect(badK.status == 1 && badK.stderr.contains("--k 0"))
    }

    @Test func infoReportsBLASAndKernel() throws {
        let result = try runFlatVec(["info"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("blas kernel:"))
        #expect(result.stdout.contains("search threads:"))
    }

    @Test func genericKernelIsReplacedByReexecution() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["FLATVEC_BLAS_AUTOSELECTED"] = nil
        // Pretend OpenBLAS fell back to its generic kernel: flatvec must re-execute itself with the
        // kernel this CPU supports, and report that it did.
        environment["FLATVEC_ASSUME_OPENBLAS_CORE"] = "Prescott"
        let result = try runFlatVec(["info"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let features = result.stdout.split(separator: "\n").first { $0.hasPrefix("cpu features:") } ?? ""
        guard features.contains("avx2") else { return }  // no faster kernel to pick on this CPU
        let expected = features.contains("avx512f") ? "SkylakeX" : "Haswell"
        #expect(result.stdout.contains("blas kernel: \(expected) (auto-selected by FlatVec)"), "\(result.stdout)")
    }
}
