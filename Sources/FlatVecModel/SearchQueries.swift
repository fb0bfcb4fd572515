/// What a search looks for: query vectors, or stored vectors named by id ("more like this one").
public enum SearchQueries: Sendable, Hashable {
    /// `n * dimension` floats, row-major.
    case vectors([Float])
    /// The stored vectors of these ids, one query each; with `excludingThemselves`, no query returns
    /// its own id.
    case storedIDs([Int64], excludingThemselves: Bool)
}
