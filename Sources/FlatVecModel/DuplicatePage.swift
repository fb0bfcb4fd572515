/// One page of a duplicate sweep: the pairs found since the last page, and how far the sweep is.
public struct DuplicatePage: Sendable, Hashable {
    /// Pairs, each listed once over the whole sweep, in the order found.
    public var pairs: [DuplicatePair]
    /// Whether the sweep has ended (no pair follows).
    public var finished: Bool
    /// Rows of the collection swept so far.
    public var rowsDone: Int
    /// Rows the collection held when the sweep started.
    public var rowsTotal: Int
    /// Rows, so far, with more partners at or above the threshold than the sweep's per-row limit:
    /// for each of them only the best ones up to the limit were listed.
    public var truncatedRows: Int

    /// Creates a page.
    /// - Parameters:
    ///   - pairs: The pairs.
    ///   - finished: Whether the sweep has ended.
    ///   - rowsDone: Rows swept so far.
    ///   - rowsTotal: Rows when the sweep started.
    ///   - truncatedRows: Rows whose partners were cut at the limit.
    public init(pairs: [DuplicatePair], finished: Bool, rowsDone: Int, rowsTotal: Int, truncatedRows: Int) {
        self.pairs = pairs
        self.finished = finished
        self.rowsDone = rowsDone
        self.rowsTotal = rowsTotal
        self.truncatedRows = truncatedRows
    }
}
