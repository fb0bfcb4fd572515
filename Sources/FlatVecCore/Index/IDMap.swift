#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open-addressing map from external id to row number that grows without a stall.
///
/// Swift's `Dictionary` rehashes everything when it doubles (tens of milliseconds at a few million
/// ids). This map instead allocates the larger table (zeroed lazily by the kernel) and moves a few
/// slots from the old table on every later operation, so no single insert costs more than O(1).
/// Not thread-safe: ``FlatIndex`` guards it with its lock.
struct IDMap {
    /// One slot: `row + 1` in `stored` (0 = empty, -1 = deleted, only in a draining table).
    private final class Table {
        let keys: UnsafeMutablePointer<Int64>
        let stored: UnsafeMutablePointer<Int64>
        let capacity: Int
        let shift: Int

        init(capacity: Int) {
            precondition(capacity >= 16 && capacity & (capacity - 1) == 0)
            self.capacity = capacity
            self.shift = 64 - capacity.trailingZeroBitCount
            guard let k = calloc(capacity, MemoryLayout<Int64>.stride),
                  let s = calloc(capacity, MemoryLayout<Int64>.stride)
            else { fatalError("FlatVec: out of memory allocating an id map of \(capacity) slots") }
            keys = k.assumingMemoryBound(to: Int64.self)
            stored = s.assumingMemoryBound(to: Int64.self)
        }

        deinit {
            free(keys)
            free(stored)
        }

        @inline(__always)
        func home(_ key: Int64) -> Int {
            Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
        }

        /// The slot holding `key`, or nil.
        @inline(__always)
        func find(_ key: Int64) -> Int? {
            let mask = capacity - 1
            var i = home(key)
            while true {
                let s = stored[i]
                if s == 0 { return nil }
                if s > 0 && keys[i] == key { return i }
                i = (i + 1) & mask
            }
        }

        /// Inserts a key known to be absent; returns nothing. The table never holds deleted slots.
        @inline(__always)
        func insertAbsent(_ key: Int64, stored value: Int64) {
            let mask = capacity - 1
            var i = home(key)
            while stored[i] != 0 { i = (i + 1) & mask }
            keys[i] = key
            stored[i] = value
        }

        /// Deletes slot `i` by shifting later members of its probe run back (no tombstones).
        func deleteShifting(at slot: Int) {
            let mask = capacity - 1
            var hole = slot
            var j = slot
            while true {
                j = (j + 1) & mask
                if stored[j] == 0 { break }
                let h = home(keys[j])
                // Move j into the hole if its home is not cyclically within (hole, j].
                let distanceToJ = (j &- h) & mask
                let distanceToHole = (hole &- h) & mask
                if distanceToHole < distanceToJ {
                    keys[hole] = keys[j]
                    stored[hole] = stored[j]
                    hole = j
                }
            }
            stored[hole] = 0
        }
    }

    private var table: Table
    private var draining: Table?
    private var drainCursor = 0
    private var liveInTable = 0
    private var liveInDraining = 0

    /// Creates an empty map.
    init() {
        table = Table(capacity: 64)
    }

    /// Number of ids in the map.
    var count: Int { liveInTable + liveInDraining }

    /// Bytes held by the map's tables.
    var memoryBytes: Int {
        var bytes = table.capacity * 16
        if let d = draining { bytes += d.capacity * 16 }
        return bytes
    }

    /// The row of `key`, or nil.
    func row(of key: Int64) -> Int? {
        if let i = table.find(key) { return Int(table.stored[i] - 1) }
        if let d = draining, let i = d.find(key) { return Int(d.stored[i] - 1) }
        return nil
    }

    /// Whether `key` is in the map.
    func contains(_ key: Int64) -> Bool { row(of: key) != nil }

    /// Makes room for `total` ids at once while the map is empty (a load that knows its count
    /// builds one table instead of every smaller one on the way).
    mutating func reserve(_ total: Int) {
        guard count == 0, draining == nil else { return }
        var capacity = table.capacity
        while total * 10 > capacity * 7 { capacity *= 2 }
        if capacity > table.capacity { table = Table(capacity: capacity) }
    }

    /// Inserts `key` at `row` unless it is present; returns whether it was inserted.
    mutating func insertIfAbsent(_ key: Int64, row: Int) -> Bool {
        guard self.row(of: key) == nil else { return false }
        growIfNeeded()
        table.insertAbsent(key, stored: Int64(row) + 1)
        liveInTable += 1
        drainStep()
        return true
    }

    /// Sets the row of `key`, inserting it if absent.
    mutating func set(_ key: Int64, row: Int) {
        let value = Int64(row) + 1
        if let i = table.find(key) {
            table.stored[i] = value
            return
        }
        if let d = draining, let i = d.find(key) {
            d.stored[i] = value
            return
        }
        growIfNeeded()
        table.insertAbsent(key, stored: value)
        liveInTable += 1
        drainStep()
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    mutating func remove(_ key: Int64) -> Bool {
        if let i = table.find(key) {
            table.deleteShifting(at: i)
            liveInTable -= 1
            drainStep()
            return true
        }
        if let d = draining, let i = d.find(key) {
            d.stored[i] = -1
            liveInDraining -= 1
            drainStep()
            return true
        }
        return false
    }

    private mutating func growIfNeeded() {
        guard (liveInTable + 1) * 10 > table.capacity * 7 else { return }
        if draining != nil { finishDraining() }
        let bigger = Table(capacity: table.capacity * 2)
        draining = table
        table = bigger
        drainCursor = 0
        liveInDraining = liveInTable
        liveInTable = 0
    }

    /// Moves a bounded number of slots from the draining table; enough to finish long before
    /// the new table fills up.
    private mutating func drainStep(slots: Int = 16) {
        guard let drainingTable = draining else { return }
        let end = min(drainCursor + slots, drainingTable.capacity)
        for i in drainCursor..<end {
            let s = drainingTable.stored[i]
            if s > 0 {
                // Leave a deletion mark: the key now lives in the new table, and a stale copy here
                // would resurface once the key is removed there.
                drainingTable.stored[i] = -1
                table.insertAbsent(drainingTable.keys[i], stored: s)
                liveInTable += 1
                liveInDraining -= 1
            }
        }
        drainCursor = end
        if drainCursor == drainingTable.capacity {
            draining = nil
            liveInDraining = 0
        }
    }

    private mutating func finishDraining() {
        while draining != nil { drainStep(slots: 4096) }
    }
}
