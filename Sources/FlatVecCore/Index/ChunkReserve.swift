import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Keeps one spare chunk allocated and its pages faulted in, prepared on a background thread.
///
/// A fresh chunk's pages are zeroed by the kernel on first touch; doing that inside the writer lock
/// would make the add that crosses a chunk boundary (and every add, a page at a time) pay for it.
/// With a spare ready, an add only copies into memory that is already mapped.
final class ChunkReserve: Sendable {
    let capacity: Int
    let dimension: Int
    /// Whether chunks keep int8 codes.
    let codes: Bool
    private let spare = Mutex<VectorChunk?>(nil)
    private let preparing = Atomic<Bool>(false)

    /// Where full chunks mapped from segments keep their codes (nil without codes).
    let codePool: CodePool?

    init(capacity: Int, dimension: Int, codes: Bool) {
        self.capacity = capacity
        self.dimension = dimension
        self.codes = codes
        let layout = ChunkLayout(capacity: capacity, dimension: dimension, codes: codes)
        codePool = codes ? CodePool(layout: layout) : nil
    }

    /// The spare chunk if one is ready, else a fresh one (pages faulted lazily); then starts preparing the next.
    func take() -> VectorChunk {
        let ready = spare.withLock { chunk -> VectorChunk? in
            defer { chunk = nil }
            return chunk
        }
        replenish()
        return ready ?? VectorChunk(capacity: capacity, dimension: dimension, codes: codes)
    }

    /// Starts preparing a spare in the background unless one is ready or under way.
    func replenish() {
        guard spare.withLock({ $0 == nil }) else { return }
        guard preparing.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        DispatchQueue.global(qos: .utility).async { [self] in
            let chunk = VectorChunk(capacity: capacity, dimension: dimension, codes: codes)
            chunk.prefault()
            spare.withLock { $0 = chunk }
            preparing.store(false, ordering: .releasing)
        }
    }
}
