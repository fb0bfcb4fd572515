/// Query vectors searched as groups: each group (say the frames of one burst, or the photos of one
/// returned item) gets one ranking, of ids or (with `groupByLabel`) of labels, by an aggregate of its
/// vectors' scores.
public struct QueryGroups: Sendable, Hashable {
    /// How a group's vectors' scores make one score.
    public enum Aggregate: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The best score of any vector of the group: for an id, its best score; for a label, the best
        /// score of any of its vectors against any vector of the group.
        case max = 1
        /// The mean over the group's vectors: for an id, of its scores; for a label, of each vector's
        /// best score within the label.
        case mean = 2

        /// `max` or `mean`.
        public var description: String { self == .max ? "max" : "mean" }
    }

    /// The number of consecutive query vectors in each group (each at least 1; they add up to the
    /// number of query vectors).
    public var sizes: [Int]
    /// How the scores of a group's vectors combine.
    public var aggregate: Aggregate

    /// Creates groups.
    /// - Parameters:
    ///   - sizes: Consecutive query vectors per group.
    ///   - aggregate: How their scores combine.
    public init(sizes: [Int], aggregate: Aggregate = .max) {
        self.sizes = sizes
        self.aggregate = aggregate
    }

    /// Groups of `size` consecutive vectors each, over `count` vectors.
    /// - Parameters:
    ///   - size: Vectors per group.
    ///   - count: Query vectors in all; must be a multiple of `size`.
    ///   - aggregate: How their scores combine.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` when `count` is not a positive multiple of `size`.
    public init(every size: Int, of count: Int, aggregate: Aggregate = .max) throws(FlatVecError) {
        guard size >= 1, count % size == 0 else {
            throw FlatVecError(.invalidArgument, "\(count) query vectors do not make groups of \(size)")
        }
        self.init(sizes: Array(repeating: size, count: count / size), aggregate: aggregate)
    }

    /// The ranges of query vectors of each group.
    public var ranges: [Range<Int>] {
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return start..<(start + size)
        }
    }

    /// Checks the groups against the number of query vectors.
    /// - Throws: ``FlatVecError/Code/invalidArgument`` naming the problem.
    public func check(queries: Int) throws(FlatVecError) {
        guard !sizes.isEmpty || queries == 0 else { throw FlatVecError(.invalidArgument, "query groups: no group for \(queries) query vectors") }
        if let empty = sizes.firstIndex(where: { $0 < 1 }) {
            throw FlatVecError(.invalidArgument, "query group \(empty) has \(sizes[empty]) vectors; each needs at least 1")
        }
        let total = sizes.reduce(0, +)
        guard total == queries else {
            throw FlatVecError(.invalidArgument, "query groups hold \(total) vectors, the request has \(queries)")
        }
    }
}
