/// The version of FlatVec.
public enum FlatVecVersion {
    /// Semantic version string.
    public static let string = "0.1.0"
}
