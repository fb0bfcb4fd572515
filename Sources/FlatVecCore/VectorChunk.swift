#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed-capacity block of rows: vectors (64-byte aligned, row-major, one BLAS block),
/// ids, labels and payloads. Chunks never move or grow, so adding rows never copies stored vectors.
final class VectorChunk: @unchecked Sendable {
    // @unchecked: a chunk in an index is read and written only under FlatIndex's reader/writer lock;
    // a spare chunk is touched only by the background thread that prefaults it, and is handed to the
    // index through ChunkReserve's mutex, which orders the prefault before any use.
    let capacity: Int
    let dimension: Int
    let vectors: UnsafeMutablePointer<Float>
    let ids: UnsafeMutablePointer<Int64>
    let labels: UnsafeMutablePointer<Int64>
    var payloads: [[UInt8]?]

    init(capacity: Int, dimension: Int) {
        self.capacity = capacity
        self.dimension = dimension
        var raw: UnsafeMutableRawPointer?
        let bytes = capacity * dimension * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, max(bytes, 64)) == 0, let raw else {
            fatalError("FlatVec: out of memory allocating a chunk of \(bytes) bytes")
        }
        vectors = raw.bindMemory(to: Float.self, capacity: capacity * dimension)
        ids = .allocate(capacity: capacity)
        labels = .allocate(capacity: capacity)
        payloads = []
        payloads.reserveCapacity(capacity)
    }

    deinit {
        free(vectors)
        ids.deallocate()
        labels.deallocate()
    }

    /// Touches every page so later writes do not fault (run off the writer's path).
    func prefault() {
        memset(vectors, 0, capacity * dimension * MemoryLayout<Float>.stride)
        ids.initialize(repeating: 0, count: capacity)
        labels.initialize(repeating: 0, count: capacity)
    }

    /// The first float of row `offset`.
    @inline(__always)
    func vector(at offset: Int) -> UnsafeMutablePointer<Float> {
        vectors + offset * dimension
    }

    /// Bytes of vector, id and label storage (payloads not included).
    var fixedBytes: Int { capacity * (dimension * 4 + 16) }
}
