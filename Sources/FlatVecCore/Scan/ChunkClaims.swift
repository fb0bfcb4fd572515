import Synchronization

/// Chunk indices handed out from the last to the first, to the one or several threads of a scan.
///
/// Every thread sees its chunks in decreasing order, as ``FlatIndex/scanInReverse(queries:count:collectors:claims:shared:listing:)``
/// requires when it scans alone; a scan split over threads is redone on one thread if rows moved.
final class ChunkClaims: Sendable {
    private let remaining: Atomic<Int>

    /// Chunks `0 ..< count` are to be claimed.
    init(below count: Int) {
        remaining = Atomic(count)
    }

    /// Whether any chunk may still be claimed.
    var mayHaveChunks: Bool { remaining.load(ordering: .relaxed) > 0 }

    /// The next chunk (the highest not yet claimed), or nil when every chunk is taken.
    func next() -> Int? {
        let chunk = remaining.wrappingSubtract(1, ordering: .relaxed).newValue
        return chunk >= 0 ? chunk : nil
    }
}
