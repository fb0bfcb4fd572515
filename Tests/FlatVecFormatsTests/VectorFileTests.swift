#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import FlatVecFormats

@Suite struct VectorFileTests {
    static func path(_ name: String) -> String { "/tmp/flatvec-formats-\(getpid())-\(name)" }

    static func writeBytes(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    static func readBytes(_ path: String) -> [UInt8] {
        (try? BinaryFile.readAll(path)) ?? []
    }

    static func expectError(_ kind: VectorFileError.Kind, mentioning fragment: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected \(kind)")
        } catch let error as VectorFileError {
            #expect(error.kind == kind, "\(error)")
            #expect(error.message.contains(fragment), "\(error.message) should mention \(fragment)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    let matrix = Matrix<Float>(rows: 3, columns: 4, values: (0..<12).map { Float($0) * 0.25 - 1 })

    @Test(arguments: ["npy", "fvecs"])
    func floatMatricesRoundTrip(ext: String) throws {
        let p = Self.path("m.\(ext)")
        defer { unlink(p) }
        try VectorFile.write(matrix, to: p)
        #expect(try VectorFile.readFloat32Matrix(p) == matrix)
    }

    @Test(arguments: ["npy", "ivecs"])
    func intMatricesRoundTrip(ext: String) throws {
        let ids = Matrix<Int32>(rows: 2, columns: 3, values: [5, -1, 7, 0, 2_000_000_000, 3])
        let p = Self.path("i.\(ext)")
        defer { unlink(p) }
        try VectorFile.write(ids, to: p)
        if ext == "ivecs" {
            #expect(try VecsFile.readIvecs(p) == ids)
        } else {
            let bytes = Self.readBytes(p)
            let header = try NPYFile.parseHeader(bytes, path: p)
            #expect(header.descr == "<i4" && header.shape == [2, 3] && header.dataOffset % 64 == 0)
        }
    }

    @Test func npyHeaderMatchesNumPyLayout() {
        let header = NPYFile.header(descr: "<f4", shape: [3, 4])
        #expect(header.count % 64 == 0)
        #expect(header.last == UInt8(ascii: "\n"))
        let text = String(decoding: header[10...], as: UTF8.self)
        #expect(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"))
        #expect(String(decoding: NPYFile.header(descr: "<i8", shape: [5])[10...], as: UTF8.self).contains("(5,)"))
    }

    @Test func npyVersion2AndDoubleQuotesAreRead() throws {
        var dict = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 2)}"
        dict += String(repeating: " ", count: (64 - (12 + dict.utf8.count + 1) % 64) % 64) + "\n"
        let n = dict.utf8.count
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, UInt8(n & 0xff), UInt8(n >> 8), 0, 0]
        bytes += Array(dict.utf8)
        withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: Float(-2).bitPattern.littleEndian) { bytes += $0 }
        let p = Self.path("v2.npy")
        defer { unlink(p) }
        Self.writeBytes(bytes, to: p)
        #expect(try VectorFile.readFloat32Matrix(p) == Matrix(rows: 1, columns: 2, values: [1.5, -2]))
    }

    @Test func malformedNpyFilesGetClearErrors() throws {
        let p = Self.path("bad.npy")
        defer { unlink(p) }
        try VectorFile.write(matrix, to: p)
        let good = Self.readBytes(p)

        Self.writeBytes(Array(good.dropLast(5)), to: p)
        Self.expectError(.truncated, mentioning: "promises 48") { _ = try VectorFile.readFloat32Matrix(p) }

        Self.writeBytes(good + [0, 0, 0, 0], to: p)
        Self.expectError(.malformed, mentioning: "promises 48") { _ = try VectorFile.readFloat32Matrix(p) }

        Self.writeBytes(Array("hello world, not numpy".utf8), to: p)
        Self.expectError(.malformed, mentioning: "magic") { _ = try VectorFile.readFloat32Matrix(p) }

        var f8 = NPYFile.header(descr: "<f8", shape: [3, 4])
        f8 += [UInt8](repeating: 0, count: 96)
        Self.writeBytes(f8, to: p)
        Self.expectError(.wrongDtype, mentioning: "<f8") { _ = try VectorFile.readFloat32Matrix(p) }

        var oneD = NPYFile.header(descr: "<f4", shape: [12])
        oneD += [UInt8](repeating: 0, count: 48)
        Self.writeBytes(oneD, to: p)
        Self.expectError(.wrongShape, mentioning: "not 2-D") { _ = try VectorFile.readFloat32Matrix(p) }

        var fortran = Array(NPYFile.header(descr: "<f4", shape: [3, 4]))
        let text = String(decoding: fortran[10...], as: UTF8.self).replacingFalse()
        fortran = Array(fortran[0..<10]) + Array(text.utf8)
        fortran += [UInt8](repeating: 0, count: 48)
        Self.writeBytes(fortran, to: p)
        Self.expectError(.malformed, mentioning: "Fortran") { _ = try VectorFile.readFloat32Matrix(p) }
    }

    @Test func malformedFvecsFilesGetClearErrors() throws {
        let p = Self.path("bad.fvecs")
        defer { unlink(p) }
        try VectorFile.write(matrix, to: p)
        let good = Self.readBytes(p)

        Self.writeBytes(Array(good.dropLast(3)), to: p)
        Self.expectError(.truncated, mentioning: "not a whole number") { _ = try VectorFile.readFloat32Matrix(p) }

        var mixed = good
        mixed[20] = 5  // row 1's dimension field
        Self.writeBytes(mixed, to: p)
        Self.expectError(.wrongShape, mentioning: "row 1 declares dimension 5") { _ = try VectorFile.readFloat32Matrix(p) }

        var negative = good
        negative[3] = 0x80
        Self.writeBytes(negative, to: p)
        Self.expectError(.malformed, mentioning: "dimension") { _ = try VectorFile.readFloat32Matrix(p) }
    }

    @Test func unknownExtensionsAndMissingFilesAreRejected() {
        Self.expectError(.unsupportedFormat, mentioning: ".npy or .fvecs") { _ = try VectorFile.readFloat32Matrix("/tmp/x.csv") }
        Self.expectError(.io, mentioning: "cannot open") { _ = try VectorFile.readFloat32Matrix("/nonexistent/x.npy") }
        Self.expectError(.unsupportedFormat, mentioning: ".ivecs") {
            try VectorFile.write(Matrix<Int32>(rows: 0, columns: 0, values: []), to: "/tmp/x.fvecs")
        }
    }

    @Test func integerNpyArraysReadAsInt64() throws {
        let p = Self.path("ids.npy")
        defer { unlink(p) }
        try NPYFile.write(integers: [1, -2, 1 << 40], to: p)
        #expect(try NPYFile.readIntegers(p) == [1, -2, 1 << 40])
    }
}

extension String {
    func replacingFalse() -> String {
        guard let r = firstRange(of: "False") else { return self }
        return String(self[..<r.lowerBound]) + "True " + String(self[r.upperBound...]).dropFirst(0)
    }
}
