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

    /// A map reserved for a load holds one table of the size it needs; inserting only absent keys
    /// names the first present one and leaves its row alone.
    @Test func aReservedMapTakesItsLoadInOneTableAndRefusesPresentKeys() {
        var map = IDMap()
        map.reserve(100_000)
        let reserved = map.memoryBytes
        #expect(reserved == 262_144 * 16)
        var inserted = 0
        for k in 0..<Int64(100_000) where map.insertIfAbsent(k &* 7_919, row: Int(k)) { inserted += 1 }
        #expect(inserted == 100_000)
        #expect(map.memoryBytes == reserved && map.count == 100_000)
        let again = map.insertIfAbsent(5 &* 7_919, row: 42)
        #expect(!again)
        #expect(map.row(of: 5 &* 7_919) == 5)
        for k in 0..<Int64(100_000) { #expect(map.row(of: k &* 7_919) == Int(k)) }
        // Reserving a map that holds ids changes nothing.
        map.reserve(10_000_000)
        #expect(map.memoryBytes == reserved)
    }
}
