/// Result slots written by parallel workers, each slot by exactly one worker.
final class ResultSlots: @unchecked Sendable {
    // @unchecked: each index is written by one worker, and read only after ScanWorkers.perform returns.
    private let slots: UnsafeMutablePointer<[SearchHit]>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [], count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ index: Int, _ hits: [SearchHit]) { slots[index] = hits }

    func take() -> [[SearchHit]] { Array(UnsafeBufferPointer(start: slots, count: count)) }
}
