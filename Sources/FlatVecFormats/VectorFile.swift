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
