/// How scores are computed: larger is more similar under both.
public enum Metric: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Inner product of the stored vector and the query, as FAISS `IndexFlatIP` and pgvector `<#>` (negated).
    case innerProduct = 0
    /// Cosine similarity: vectors and queries are normalised to unit length; a zero vector is an error.
    case cosine = 1

    /// Parses `ip`, `inner_product`, `cosine` or `cos`.
    /// - Parameter name: The metric's name.
    public init?(name: String) {
        switch name.lowercased() {
        case "ip", "inner_product", "innerproduct", "dot": self = .innerProduct
        case "cosine", "cos": self = .cosine
        default: return nil
        }
    }

    /// `ip` or `cosine`.
    public var description: String {
        switch self {
        case .innerProduct: "ip"
        case .cosine: "cosine"
        }
    }
}
