/// The payloads of a chunk's rows: one slot per row of its capacity, allocated once.
///
/// A slot is written without moving the others, so rows appended past a reader's count never
/// disturb it (a Swift array appended to could reallocate under a reader).
final class PayloadSlots: @unchecked Sendable {
    // @unchecked: slots are written under FlatIndex's writer lock, or, for rows past the counts that
    // segment views and listed candidates read, while those read other slots (distinct memory).
    private let slots: UnsafeMutablePointer<[UInt8]?>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(capacity: max(capacity, 1))
        slots.initialize(repeating: nil, count: max(capacity, 1))
    }

    deinit {
        slots.deinitialize(count: max(capacity, 1))
        slots.deallocate()
    }

    subscript(row: Int) -> [UInt8]? {
        get { slots[row] }
        set { slots[row] = newValue }
    }

    /// Slots for `capacity` rows holding this one's first `rows` payloads.
    func copy(capacity newCapacity: Int, rows: Int) -> PayloadSlots {
        let copy = PayloadSlots(capacity: newCapacity)
        for r in 0..<rows { copy.slots[r] = slots[r] }
        return copy
    }

    /// Clears the slots from `row` on.
    func clear(from row: Int) {
        for r in row..<capacity where slots[r] != nil { slots[r] = nil }
    }
}
