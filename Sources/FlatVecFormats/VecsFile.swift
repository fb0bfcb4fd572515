/// The TEXMEX `.fvecs` / `.ivecs` formats: each row is a little-endian int32 dimension followed by
/// that many float32 (`.fvecs`) or int32 (`.ivecs`) values.
public enum VecsFile {
    /// Reads an `.fvecs` file.
    /// - Parameter path: The file.
    /// - Returns: The matrix.
    /// - Throws: ``VectorFileError`` for a non-positive dimension, rows of differing dimension or a truncated file.
    public static func readFvecs(_ path: String) throws(VectorFileError) -> Matrix<Float> {
        let (prefix, fileSize) = try BinaryFile.readPrefix(path, limit: 4)
        guard fileSize > 0 else { return Matrix(rows: 0, columns: 0, values: []) }
        guard fileSize % 4 == 0, prefix.count == 4 else {
            throw VectorFileError(.truncated, path: path, "file is \(fileSize) bytes, not a whole number of 4-byte words")
        }
        // Read every word as a float, check the per-row dimension words, then squeeze them out in place.
        var words = try BinaryFile.readArray(path, of: Float.self, offset: 0, count: fileSize / 4)
        let (rows, dimension) = try words.withUnsafeBytes { raw in
            Result { () throws(VectorFileError) in try shape(raw, path: path) }
        }.get()
        words.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<rows {
                let source = buffer.baseAddress! + r * (dimension + 1) + 1
                (buffer.baseAddress! + r * dimension).update(from: source, count: dimension)
            }
        }
        words.removeLast(words.count - rows * dimension)
        return Matrix(rows: rows, columns: dimension, values: words)
    }

    /// Reads an `.ivecs` file.
    /// - Parameter path: The file.
    /// - Returns: The matrix.
    /// - Throws: ``VectorFileError`` as ``readFvecs(_:)``.
    public static func readIvecs(_ path: String) throws(VectorFileError) -> Matrix<Int32> {
        let bytes = try BinaryFile.readAll(path)
        let (rows, dimension) = try bytes.withUnsafeBytes { raw in
            Result { () throws(VectorFileError) in try shape(raw, path: path) }
        }.get()
        var values = [Int32]()
        values.reserveCapacity(rows * dimension)
        for r in 0..<rows {
            values.append(contentsOf: bytes.loadArray(of: Int32.self, at: r * (4 + 4 * dimension) + 4, count: dimension))
        }
        return Matrix(rows: rows, columns: dimension, values: values)
    }

    private static func shape(_ bytes: UnsafeRawBufferPointer, path: String) throws(VectorFileError) -> (rows: Int, dimension: Int) {
        guard !bytes.isEmpty else { return (0, 0) }
        guard bytes.count >= 4 else {
            throw VectorFileError(.truncated, path: path, "file is \(bytes.count) bytes, too short for a row header")
        }
        let dimension = Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: Int32.self)))
        guard dimension > 0 else {
            throw VectorFileError(.malformed, path: path, "first row declares dimension \(dimension)")
        }
        let rowBytes = 4 + 4 * dimension
        guard bytes.count % rowBytes == 0 else {
            throw VectorFileError(
                .truncated,
                path: path,
                "file is \(bytes.count) bytes, not a whole number of \(rowBytes)-byte rows of dimension \(dimension)"
            )
        }
        let rows = bytes.count / rowBytes
        for r in 1..<max(rows, 1) {
            let d = Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: r * rowBytes, as: Int32.self)))
            guard d == dimension else {
                throw VectorFileError(.wrongShape, path: path, "row \(r) declares dimension \(d), row 0 declares \(dimension)")
            }
        }
        return (rows, dimension)
    }

    /// Writes an `.fvecs` file.
    /// - Parameters:
    ///   - matrix: The values.
    ///   - path: The file, replaced if present.
    /// - Throws: ``VectorFileError`` if writing fails.
    public static func write(_ matrix: Matrix<Float>, to path: String) throws(VectorFileError) {
        try write(rows: matrix.rows, columns: matrix.columns, path: path) { r in
            matrix.values[(r * matrix.columns)..<((r + 1) * matrix.columns)].map { $0.bitPattern.littleEndian }
        }
    }

    /// Writes an `.ivecs` file.
    /// - Parameters:
    ///   - matrix: The values.
    ///   - path: The file, replaced if present.
    /// - Throws: ``VectorFileError`` if writing fails.
    public static func write(_ matrix: Matrix<Int32>, to path: String) throws(VectorFileError) {
        try write(rows: matrix.rows, columns: matrix.columns, path: path) { r in
            matrix.values[(r * matrix.columns)..<((r + 1) * matrix.columns)].map { UInt32(bitPattern: $0).littleEndian }
        }
    }

    private static func write(
        rows: Int,
        columns: Int,
        path: String,
        row: (Int) -> [UInt32]
    ) throws(VectorFileError) {
        var words = [UInt32]()
        words.reserveCapacity(rows * (columns + 1))
        for r in 0..<rows {
            words.append(UInt32(columns).littleEndian)
            words.append(contentsOf: row(r))
        }
        try BinaryFile.write(path, [], words)
    }
}
