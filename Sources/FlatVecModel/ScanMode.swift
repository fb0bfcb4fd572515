/// How a search reads the stored vectors.
///
/// Both modes are exact. `int8` returns the hits and scores the float32 path gives for each query
/// searched alone (FlatVec's single-query kernel), ties broken by the smaller id, whatever batch the
/// query is in; float32 batches go through batch kernels whose scores can differ from those in the
/// last bit. `int8` reads about a quarter of the bytes to find them.
public enum ScanMode: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Scan the float32 vectors (BLAS and FlatVec's float32 kernels).
    case float32 = 0
    /// Scan 8-bit codes of the vectors first (a quarter of the bytes), bound every row's float32
    /// score from them, and rescore in float32 only the rows that can still be among the best; the
    /// codes (kept in blocks for scans and row by row for filtered scans) take about half the
    /// vectors' memory more.
    case int8 = 1
    /// `int8` where the CPU has a fast kernel for it (AVX-512 VNNI or AVX2), `float32` elsewhere.
    case auto = 2

    /// Parses `float32`, `int8` or `auto`.
    /// - Parameter name: The mode's name.
    public init?(name: String) {
        switch name.lowercased() {
        case "float32", "f32", "float": self = .float32
        case "int8", "i8": self = .int8
        case "auto": self = .auto
        default: return nil
        }
    }

    /// `float32`, `int8` or `auto`.
    public var description: String {
        switch self {
        case .float32: "float32"
        case .int8: "int8"
        case .auto: "auto"
        }
    }
}
