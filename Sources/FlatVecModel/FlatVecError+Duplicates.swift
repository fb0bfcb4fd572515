extension FlatVecError {
    /// The ``FlatVecError/Code/duplicateVector`` error of an ADD that rejects duplicates: its message
    /// lists each offending new vector as `id A ~ stored id B (score)` or `id A ~ new id B (score)`.
    /// - Parameters:
    ///   - matches: The new vectors that duplicate others, each with its best match.
    ///   - threshold: The ADD's threshold.
    /// - Returns: The error.
    public static func duplicateVectors(_ matches: [DuplicateMatch], threshold: Float) -> FlatVecError {
        let listed = matches.prefix(100).map { m in
            "id \(m.id) ~ \(m.otherIsStored ? "stored" : "new") id \(m.other) (\(m.score))"
        }
        let more = matches.count > 100 ? ", and \(matches.count - 100) more" : ""
        let count = matches.count == 1 ? "1 new vector duplicates" : "\(matches.count) new vectors duplicate"
        return FlatVecError(
            .duplicateVector,
            "\(count) another at or above \(threshold), nothing was added: " + listed.joined(separator: ", ") + more
        )
    }
}
