extension StringProtocol {
    /// The string without leading and trailing whitespace and newlines (the one trimming helper
    /// every FlatVec target uses; Foundation's needs Foundation).
    package func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
