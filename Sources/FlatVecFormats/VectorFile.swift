import FlatVecModel

/// Reads and writes vector files by extension: `.npy`, `.fvecs`, `.ivecs`.
public enum VectorFile {
    /// Reads a float32 matrix from `.npy` or `.fvecs`.
    /// - Parameter path: The file.
    /// - Returns: The matrix.
    /// - Throws: ``VectorFileError``.
    public static func readFloat32Matrix(_ path: String) throws(VectorFileError) -> Matrix<Float> {
        switch fileExtension(path) {
        case "npy": return try NPYFile.readFloat32Matrix(path)
        case "fvecs": return try VecsFile.readFvecs(path)
        default:
            throw VectorFileError(.unsupportedFormat, path: path, "expected a .npy or .fvecs file of float32 vectors")
        }
    }

    /// Writes a float32 matrix as `.npy` or `.fvecs`.
    /// - Parameters:
    ///   - matrix: The values.
    ///   - path: The file.
    /// - Throws: ``VectorFileError``.
    public static func write(_ matrix: Matrix<Float>, to path: String) throws(VectorFileError) {
        switch fileExtension(path) {
        case "npy": try NPYFile.write(matrix, to: path)
        case "fvecs": try VecsFile.write(matrix, to: path)
        default:
            throw VectorFileError(.unsupportedFormat, path: path, "scores are written as .npy or .fvecs")
        }
    }

    /// Writes an int32 matrix as `.npy` or `.ivecs`.
    /// - Parameters:
    ///   - matrix: The values.
    ///   - path: The file.
    /// - Throws: ``VectorFileError``.
    public static func write(_ matrix: Matrix<Int32>, to path: String) throws(VectorFileError) {
        switch fileExtension(path) {
        case "npy": try NPYFile.write(matrix, to: path)
        case "ivecs": try VecsFile.write(matrix, to: path)
        default:
            throw VectorFileError(.unsupportedFormat, path: path, "ids are written as .npy or .ivecs")
        }
    }

    static func fileExtension(_ path: String) -> String {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return "" }
        return path[path.index(after: dot)...].lowercased()
    }
}

extension VectorFile {
    /// Reads a list of integers (ids or labels) from `.npy` (int32 or int64, 1-D or n x 1), `.ivecs`
    /// (one value per row) or text (one integer per line; blank lines skipped).
    /// - Parameter path: The file.
    /// - Returns: The values.
    /// - Throws: ``VectorFileError``.
    public static func readIntegers(_ path: String) throws(VectorFileError) -> [Int64] {
        switch fileExtension(path) {
        case "npy":
            return try NPYFile.readIntegers(path)
        case "ivecs":
            let m = try VecsFile.readIvecs(path)
            guard m.columns == 1 || m.rows == 0 else {
                throw VectorFileError(.wrongShape, path: path, "rows have \(m.columns) values; ids and labels need one per row")
            }
            return m.values.map(Int64.init)
        default:
            let bytes = try BinaryFile.readAll(path)
            var values: [Int64] = []
            for (n, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                let text = String(decoding: line, as: UTF8.self).trimmingWhitespace()
                if text.isEmpty { continue }
                guard let v = Int64(text) else {
                    throw VectorFileError(.malformed, path: path, "line \(n + 1) is not an integer: '\(text.prefix(40))'")
                }
                values.append(v)
            }
            return values
        }
    }

    /// Reads one payload per line (JSON lines, or any UTF-8 text); an empty line means no payload.
    /// - Parameter path: The file.
    /// - Returns: The payload bytes per line.
    /// - Throws: ``VectorFileError`` for invalid UTF-8.
    public static func readPayloadLines(_ path: String) throws(VectorFileError) -> [[UInt8]?] {
        let bytes = try BinaryFile.readAll(path)
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        var payloads: [[UInt8]?] = []
        payloads.reserveCapacity(lines.count)
        for (n, line) in lines.enumerated() {
            var line = line
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            guard String(validating: line, as: UTF8.self) != nil else {
                throw VectorFileError(.malformed, path: path, "line \(n + 1) is not valid UTF-8")
            }
            payloads.append(line.isEmpty ? nil : line)
        }
        return payloads
    }

    /// Writes ids as `.npy` (int64) or `.ivecs` (int32; fails if an id does not fit).
    /// - Parameters:
    ///   - ids: Row-major ids, `rows * columns`.
    ///   - rows: Rows.
    ///   - columns: Columns.
    ///   - path: The file.
    /// - Throws: ``VectorFileError``.
    public static func writeIDs(_ ids: [Int64], rows: Int, columns: Int, to path: String) throws(VectorFileError) {
        switch fileExtension(path) {
        case "npy":
            let head = NPYFile.header(descr: "<i8", shape: [rows, columns])
            try BinaryFile.write(path, head, ids.map(\.littleEndian))
        case "ivecs":
            var narrow: [Int32] = []
            narrow.reserveCapacity(ids.count)
            for id in ids {
                guard let v = Int32(exactly: id) else {
                    throw VectorFileError(.unsupportedFormat, path: path, "id \(id) does not fit the int32 of .ivecs; write .npy")
                }
                narrow.append(v)
            }
            try VecsFile.write(Matrix(rows: rows, columns: columns, values: narrow), to: path)
        default:
            throw VectorFileError(.unsupportedFormat, path: path, "ids are written as .npy or .ivecs")
        }
    }
}
