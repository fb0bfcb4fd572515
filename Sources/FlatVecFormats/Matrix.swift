/// A dense row-major matrix read from or written to a vector file.
public struct Matrix<Element: Sendable & Hashable>: Sendable, Hashable {
    /// Number of rows.
    public var rows: Int
    /// Number of columns (the dimension).
    public var columns: Int
    /// `rows * columns` elements, row-major.
    public var values: [Element]

    /// Creates a matrix.
    /// - Precondition: `values.count == rows * columns`.
    public init(rows: Int, columns: Int, values: [Element]) {
        precondition(values.count == rows * columns, "matrix of \(rows)x\(columns) needs \(rows * columns) values")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Row `index` as an array.
    public func row(_ index: Int) -> ArraySlice<Element> {
        values[(index * columns)..<((index + 1) * columns)]
    }
}
