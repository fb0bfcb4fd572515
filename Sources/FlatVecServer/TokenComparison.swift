/// Compares a presented token with the expected one in time that does not depend on where they differ.
func tokensMatch(_ presented: String, _ expected: String) -> Bool {
    let a = Array(presented.utf8)
    let b = Array(expected.utf8)
    var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
    difference |= UInt8(truncatingIfNeeded: (a.count ^ b.count) >> 8)
    for i in 0..<max(a.count, b.count) {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        difference |= x ^ y
    }
    return difference == 0 && a.count == b.count
}

