#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CFlatVecKernels

/// A fixed-capacity block of rows: vectors (64-byte aligned, row-major, one BLAS block),
/// ids, labels and payloads, and, when the index scans int8 codes first, the codes of every row
/// (see `int8_kernels.c` for their layout) with their error figures. Chunks never move or grow, so
/// adding rows never copies stored vectors.
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
    /// int8 codes of every row in blocks of 16 rows (nil when the index scans float32 only).
    let codes: UnsafeMutablePointer<UInt8>?
    /// Scale and error figures of each row's codes, `FV_I8_META_DOUBLES` columns of `capacity` (nil with `codes`).
    let codeMeta: UnsafeMutablePointer<Double>?
    /// The same codes row by row (`fv_i8_padded_dim(dimension)` bytes a row), for filtered scans that
    /// gather a few rows: in the blocks, one row's codes are spread over every cache line of its block
    /// (nil with `codes`).
    let rowCodes: UnsafeMutablePointer<UInt8>?
    /// One column per attribute of the index, in the order of ``ChunkedRows/schema`` (empty in a spare chunk).
    var attributes: [AttributeColumn] = []

    init(capacity: Int, dimension: Int, codes withCodes: Bool) {
        self.capacity = capacity
        self.dimension = dimension
        vectors = Self.allocateAligned(capacity * dimension, of: Float.self)
        ids = .allocate(capacity: capacity)
        labels = .allocate(capacity: capacity)
        payloads = []
        payloads.reserveCapacity(capacity)
        if withCodes {
            // The two layouts of the codes share one allocation (2 MiB at 2,048 rows of d = 512: one
            // huge page where the system grants them).
            let blocked = Self.roundedToLine(fv_i8_code_bytes(capacity, dimension))
            let both = Self.allocateAligned(blocked + capacity * fv_i8_padded_dim(dimension), of: UInt8.self)
            codes = both
            rowCodes = both + blocked
            codeMeta = Self.allocateAligned(Int(FV_I8_META_DOUBLES) * capacity, of: Double.self)
        } else {
            codes = nil
            codeMeta = nil
            rowCodes = nil
        }
    }

    /// Bytes of a huge page on x86-64 and arm64 Linux.
    static var hugePageBytes: Int { 2 << 20 }

    private static func roundedToLine(_ bytes: Int) -> Int { (bytes + 63) & ~63 }

    /// 64-byte aligned storage; from ``hugePageBytes`` on, aligned to a huge page and marked for
    /// transparent huge pages (`MADV_HUGEPAGE`, a hint the system may ignore). The rows a search
    /// rescores or gathers are scattered over hundreds of megabytes: with 4 KiB pages nearly every
    /// one costs a page walk, with 2 MiB pages the translations of a whole index fit the TLB.
    private static func allocateAligned<T>(_ count: Int, of type: T.Type) -> UnsafeMutablePointer<T> {
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count * MemoryLayout<T>.stride, 64)
        let huge = bytes >= hugePageBytes
        guard posix_memalign(&raw, huge ? hugePageBytes : 64, bytes) == 0, let raw else {
            fatalError("FlatVec: out of memory allocating a chunk of \(bytes) bytes")
        }
        #if os(Linux)
        if huge { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
        #endif
        return raw.bindMemory(to: T.self, capacity: count)
    }

    deinit {
        free(vectors)
        ids.deallocate()
        labels.deallocate()
        if let codes { free(codes) }  // rowCodes share its allocation
        if let codeMeta { free(codeMeta) }
    }

    /// Touches every page so later writes do not fault (run off the writer's path).
    func prefault() {
        memset(vectors, 0, capacity * dimension * MemoryLayout<Float>.stride)
        ids.initialize(repeating: 0, count: capacity)
        labels.initialize(repeating: 0, count: capacity)
        if let codes { memset(codes, 128, fv_i8_code_bytes(capacity, dimension)) }
        codeMeta?.initialize(repeating: 0, count: Int(FV_I8_META_DOUBLES) * capacity)
        if let rowCodes { memset(rowCodes, 128, capacity * fv_i8_padded_dim(dimension)) }
    }

    /// Writes row `offset`'s vector and, when the chunk keeps codes, its codes (in the same move,
    /// so a code is never stale).
    @inline(__always)
    func setVector(at offset: Int, from source: UnsafePointer<Float>) {
        vector(at: offset).update(from: source, count: dimension)
        if let codes, let codeMeta, let rowCodes {
            fv_i8_encode_row(source, dimension, codes, codeMeta, capacity, offset)
            fv_i8_row_codes(codes, dimension, offset, rowCodes + offset * fv_i8_padded_dim(dimension))
        }
    }

    /// Copies row `sourceOffset` of `source` (vector and codes) into row `offset`.
    @inline(__always)
    func copyVector(at offset: Int, from source: VectorChunk, offset sourceOffset: Int) {
        vector(at: offset).update(from: source.vector(at: sourceOffset), count: dimension)
        if let codes, let codeMeta, let rowCodes, let sourceCodes = source.codes, let sourceMeta = source.codeMeta,
           let sourceRowCodes = source.rowCodes
        {
            fv_i8_copy_row(sourceCodes, sourceMeta, sourceOffset, codes, codeMeta, offset, capacity, dimension)
            let bytes = fv_i8_padded_dim(dimension)
            (rowCodes + offset * bytes).update(from: sourceRowCodes + sourceOffset * bytes, count: bytes)
        }
    }

    /// The first float of row `offset`.
    @inline(__always)
    func vector(at offset: Int) -> UnsafeMutablePointer<Float> {
        vectors + offset * dimension
    }

    /// Bytes of vector, id, label and attribute storage (payloads not included), codes included.
    var fixedBytes: Int { capacity * (dimension * 4 + 16) + codeBytes + attributes.reduce(0) { $0 + $1.bytes } }

    /// Bytes of int8 codes (blocked and row by row) and their figures (0 without codes).
    var codeBytes: Int {
        codes == nil ? 0 : fv_i8_code_bytes(capacity, dimension) + capacity * fv_i8_padded_dim(dimension)
            + Int(FV_I8_META_DOUBLES) * capacity * MemoryLayout<Double>.stride
    }
}
