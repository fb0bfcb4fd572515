import FlatVecModel

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), little-endian, C order.
public enum NPYFile {
    /// The parsed header of an `.npy` file.
    struct Header: Equatable {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
        var dataOffset: Int
    }

    /// Parses the header of an `.npy` file.
    static func parseHeader(_ bytes: [UInt8], path: String) throws(VectorFileError) -> Header {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw VectorFileError(.malformed, path: path, "not an .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw VectorFileError(.truncated, path: path, "header is truncated") }
            headerLength = Int(UInt32(bytes[8]) | UInt32(bytes[9]) << 8 | UInt32(bytes[10]) << 16 | UInt32(bytes[11]) << 24)
            headerStart = 12
        default:
            throw VectorFileError(.malformed, path: path, "unsupported .npy format version \(major).\(bytes[7])")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw VectorFileError(.truncated, path: path, "header is truncated")
        }
        let text = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = Self.value(of: "descr", in: text).flatMap(Self.unquote) else {
            throw VectorFileError(.malformed, path: path, "header has no 'descr'")
        }
        guard let fortran = Self.value(of: "fortran_order", in: text) else {
            throw VectorFileError(.malformed, path: path, "header has no 'fortran_order'")
        }
        guard let shapeText = Self.value(of: "shape", in: text), let shape = Self.parseShape(shapeText) else {
            throw VectorFileError(.malformed, path: path, "header has no readable 'shape'")
        }
        return Header(descr: descr, fortranOrder: fortran == "True", shape: shape, dataOffset: headerStart + headerLength)
    }

    /// The raw text after `'key':` up to the next top-level comma or closing brace.
    private static func value(of key: String, in text: String) -> String? {
        for quote in ["'", "\""] {
            guard let range = text.firstRange(of: "\(quote)\(key)\(quote)") else { continue }
            var rest = text[range.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
            var depth = 0
            var end = rest.startIndex
            while end < rest.endIndex {
                let c = rest[end]
                if c == "(" { depth += 1 }
                if c == ")" { depth -= 1 }
                if depth == 0 && (c == "," || c == "}") { break }
                end = rest.index(after: end)
            }
            return String(rest[rest.startIndex..<end]).trimmingWhitespace()
        }
        return nil
    }

    private static func unquote(_ s: String) -> String? {
        guard s.count >= 2, let first = s.first, first == s.last, first == "'" || first == "\"" else { return nil }
        return String(s.dropFirst().dropLast())
    }

    private static func parseShape(_ s: String) -> [Int]? {
        guard s.hasPrefix("("), s.hasSuffix(")") else { return nil }
        let inner = s.dropFirst().dropLast()
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let t = String(part).trimmingWhitespace()
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { return nil }
            dims.append(v)
        }
        return dims
    }

    /// Reads a 2-D float32 matrix.
    /// - Parameter path: The file.
    /// - Returns: The matrix.
    /// - Throws: ``VectorFileError`` for a bad magic, a dtype other than `<f4`, Fortran order, a shape
    ///   that is not 2-D, or a data section of the wrong length.
    public static func readFloat32Matrix(_ path: String) throws(VectorFileError) -> Matrix<Float> {
        // Parse the header from a prefix, then read the data straight into the result.
        var (prefix, fileSize) = try BinaryFile.readPrefix(path, limit: 4096)
        if prefix.count >= 12 && prefix[6] >= 2 {
            let declared = Int(UInt32(prefix[8]) | UInt32(prefix[9]) << 8 | UInt32(prefix[10]) << 16 | UInt32(prefix[11]) << 24)
            if declared + 12 > prefix.count && declared + 12 <= fileSize {
                prefix = try BinaryFile.readPrefix(path, limit: declared + 12).bytes
            }
        }
        let header = try parseHeader(prefix, path: path)
        let (rows, columns) = try checkedShape(
            header, dtypes: ["<f4", "=f4"], typeName: "float32", itemSize: 4, dataBytes: fileSize - header.dataOffset, path: path
        )
        let values = try BinaryFile.readArray(path, of: Float.self, offset: header.dataOffset, count: rows * columns)
        return Matrix(rows: rows, columns: columns, values: values)
    }

    /// Reads a 1-D (or n x 1) integer array of int32 or int64.
    /// - Parameter path: The file.
    /// - Returns: The values widened to `Int64`.
    /// - Throws: ``VectorFileError`` as ``readFloat32Matrix(_:)``.
    public static func readIntegers(_ path: String) throws(VectorFileError) -> [Int64] {
        let bytes = try BinaryFile.readAll(path)
        let header = try parseHeader(bytes, path: path)
        guard header.shape.count == 1 || (header.shape.count == 2 && header.shape[1] == 1) else {
            throw VectorFileError(.wrongShape, path: path, "shape \(header.shape) is not 1-D")
        }
        let itemSize: Int
        switch header.descr {
        case "<i8", "=i8": itemSize = 8
        case "<i4", "=i4": itemSize = 4
        default:
            throw VectorFileError(.wrongDtype, path: path, "dtype is \(header.descr), expected int64 (<i8) or int32 (<i4)")
        }
        let count = header.shape[0]
        try checkLength(actual: bytes.count - header.dataOffset, expected: count * itemSize, path: path)
        if itemSize == 8 { return bytes.loadArray(of: Int64.self, at: header.dataOffset, count: count) }
        return bytes.loadArray(of: Int32.self, at: header.dataOffset, count: count).map(Int64.init)
    }

    /// Reads a 2-D int32 matrix (as written for neighbour ids).
    /// - Parameter path: The file.
    /// - Returns: The matrix.
    /// - Throws: ``VectorFileError`` as ``readFloat32Matrix(_:)``.
    public static func readIntegers2D(_ path: String) throws(VectorFileError) -> Matrix<Int32> {
        let bytes = try BinaryFile.readAll(path)
        let header = try parseHeader(bytes, path: path)
        let (rows, columns) = try checkedShape(
            header, dtypes: ["<i4", "=i4"], typeName: "int32", itemSize: 4, dataBytes: bytes.count - header.dataOffset, path: path
        )
        return Matrix(rows: rows, columns: columns, values: bytes.loadArray(of: Int32.self, at: header.dataOffset, count: rows * columns))
    }

    private static func checkedShape(
        _ header: Header,
        dtypes: Set<String>,
        typeName: String,
        itemSize: Int,
        dataBytes: Int,
        path: String
    ) throws(VectorFileError) -> (Int, Int) {
        guard dtypes.contains(header.descr) else {
            throw VectorFileError(.wrongDtype, path: path, "dtype is \(header.descr), expected \(typeName) (\(dtypes.sorted().first!))")
        }
        guard !header.fortranOrder else {
            throw VectorFileError(.malformed, path: path, "array is in Fortran order; save it in C order")
        }
        guard header.shape.count == 2 else {
            throw VectorFileError(.wrongShape, path: path, "shape \(header.shape) is not 2-D")
        }
        let (rows, columns) = (header.shape[0], header.shape[1])
        let (elements, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, elements <= Int.max / itemSize else {
            throw VectorFileError(.malformed, path: path, "shape \(header.shape) is too large")
        }
        try checkLength(actual: dataBytes, expected: elements * itemSize, path: path)
        return (rows, columns)
    }

    private static func checkLength(actual: Int, expected: Int, path: String) throws(VectorFileError) {
        if actual < expected {
            throw VectorFileError(.truncated, path: path, "data is \(actual) bytes, the header promises \(expected)")
        }
        if actual > expected {
            throw VectorFileError(.malformed, path: path, "data is \(actual) bytes, the header promises \(expected)")
        }
    }

    /// The bytes of a version 1.0 header for `descr` and `shape`, padded to 64 bytes as NumPy does.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = dict.utf8.count
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(length & 0xff), UInt8(length >> 8)] + Array(dict.utf8)
    }

    /// Writes a 2-D float32 matrix.
    /// - Parameters:
    ///   - matrix: The values.
    ///   - path: The file, replaced if present.
    /// - Throws: ``VectorFileError`` if writing fails.
    public static func write(_ matrix: Matrix<Float>, to path: String) throws(VectorFileError) {
        let head = header(descr: "<f4", shape: [matrix.rows, matrix.columns])
        try BinaryFile.write(path, head, matrix.values)
    }

    /// Writes a 2-D int32 matrix.
    /// - Parameters:
    ///   - matrix: The values.
    ///   - path: The file, replaced if present.
    /// - Throws: ``VectorFileError`` if writing fails.
    public static func write(_ matrix: Matrix<Int32>, to path: String) throws(VectorFileError) {
        let head = header(descr: "<i4", shape: [matrix.rows, matrix.columns])
        let little = matrix.values.map(\.littleEndian)
        try BinaryFile.write(path, head, little)
    }

    /// Writes a 1-D int64 array.
    /// - Parameters:
    ///   - values: The values.
    ///   - path: The file, replaced if present.
    /// - Throws: ``VectorFileError`` if writing fails.
    public static func write(integers values: [Int64], to path: String) throws(VectorFileError) {
        let head = header(descr: "<i8", shape: [values.count])
        let little = values.map(\.littleEndian)
        try BinaryFile.write(path, head, little)
    }
}
