import FlatVecCore
import FlatVecFormats

/// Reads what commands take from their options, exiting with a clear error when it cannot.
enum CommandInputs {
    /// The filter of a `--filter` option (nil without one).
    static func filter(_ text: String?) -> Filter? {
        guard let text else { return nil }
        do {
            return try Filter(parsing: text)
        } catch {
            fail("--\(error.message)")
        }
    }

    /// The float32 vectors of a .npy or .fvecs file.
    static func vectors(_ path: String) -> Matrix<Float> {
        do {
            return try VectorFile.readFloat32Matrix(path)
        } catch {
            fail(error.description)
        }
    }
}
