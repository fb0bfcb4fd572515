/// A vector file could not be read or written. The message names the file and the problem.
public struct VectorFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem.
    public enum Kind: String, Sendable, Hashable {
        /// The file could not be opened, read or written.
        case io
        /// The file's extension is not one FlatVec reads or writes.
        case unsupportedFormat
        /// The header or the size is not what the format requires.
        case malformed
        /// The file is shorter than its header says.
        case truncated
        /// The element type is not the one required.
        case wrongDtype
        /// The shape is not the one required (2-D, matching dimension).
        case wrongShape
    }

    /// What kind of problem.
    public var kind: Kind
    /// The path involved.
    public var path: String
    /// A one-line explanation.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}
