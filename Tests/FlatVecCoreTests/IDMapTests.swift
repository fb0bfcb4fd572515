import Testing
@testable import FlatVecCore

@Suite struct IDMapTests {
    @Test func agreesWithDictionaryThroughGrowthAndRemovals() {
        var map = IDMap()
        var reference: [Int64: Int] = [:]
        var random = SeededRandom(seed: 1)
        for step in 0..<200_000 {
            let key = Int64.random(in: -50_000...50_000, using: &random) &* 1_000_003
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<6:
                map.set(key, row: step)
                reference[key] = step
            case 6..<9:
                let removed = map.remove(key)
                #expect(removed == (reference.removeValue(forKey: key) != nil))
            default:
                #expect(map.row(of: key) == reference[key])
            }
        }
        #expect(map.count == reference.count)
        for (key, row) in reference { #expect(map.row(of: key) == row) }
    }

    @Test func handlesExtremeKeys() {
        var map = IDMap()
        let keys: [Int64] = [.min, .max, 0, -1, 1]
        for (i, k) in keys.enumerated() { map.set(k, row: i) }
        for (i, k) in keys.enumerated() { #expect(map.row(of: k) == i) }
        let removed = map.remove(.min)
        #expect(removed)
        #expect(map.row(of: .min) == nil)
        #expect(map.count == 4)
    }
}
