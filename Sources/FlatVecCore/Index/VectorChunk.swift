#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CFlatVecKernels
import Synchronization

/// A fixed-capacity block of rows: vectors (64-byte aligned, row-major, one BLAS block),
/// ids, labels and payloads, and, when the index scans int8 codes first, the codes of every row
/// (see `int8_kernels.c` for their layout) with their error figures. A chunk never moves or grows,
/// so adding rows never copies stored vectors; the last chunk of an index may be smaller than the
/// others and is replaced by a larger copy when it fills (small collections hold little memory).
///
/// The fixed-size sections share one block of memory laid out as ``ChunkLayout`` says: allocated,
/// or mapped privately from a segment file (copy on write: a write to a mapped chunk touches only
/// the pages it changes, which become the process's own; the file never changes).
final class VectorChunk: @unchecked Sendable {
    // @unchecked: a chunk in an index is read and written under FlatIndex's reader/writer lock. A
    // segment view or a listing scan may also hold it and read its first rows without the lock:
    // ChunkedRows copies the chunk before changing any row it already holds, and writes a new row in
    // place only past the rows such a reader counted (distinct memory, but for the padding rows of
    // the codes' last 16-row block, which readers never use and a segment writer checksums from its
    // own copy). The row-by-row codes are built once, under a mutex, by readers holding the reader
    // lock. A mapped chunk's codes move once at most, with no writer running, to memory holding the
    // same bytes (their address is an atomic; the mapping outlives every reader of the old one). A
    // spare chunk is touched only by the background thread that prefaults it, and is handed to the
    // index through ChunkReserve's mutex, which orders the prefault before any use.
    let layout: ChunkLayout
    var capacity: Int { layout.capacity }
    var dimension: Int { layout.dimension }
    let vectors: UnsafeMutablePointer<Float>
    let ids: UnsafeMutablePointer<Int64>
    let labels: UnsafeMutablePointer<Int64>
    /// Each row's payload.
    var payloads: PayloadSlots
    /// int8 codes of every row in blocks of 16 rows (nil when the index scans float32 only): in the
    /// block, or in a piece of their own once ``moveCodes(into:from:)`` moved them there.
    var codes: UnsafeMutablePointer<UInt8>? { codeSection?.assumingMemoryBound(to: UInt8.self) }
    /// Scale and error figures of each row's codes, `FV_I8_META_DOUBLES` columns of `capacity` (nil
    /// with `codes`); they follow the codes wherever these live.
    var codeMeta: UnsafeMutablePointer<Double>? {
        codeSection.map { ($0 + (layout.codeMeta - layout.blockedCodes)).assumingMemoryBound(to: Double.self) }
    }
    /// Where the codes and figures section starts (0 without codes). It changes once at most, from
    /// the block of a mapped chunk to a piece of memory holding the same bytes, with no writer running:
    /// a reader that took the old address finishes on bytes that are still mapped and still the same.
    private let codeSectionAddress: Atomic<UInt>
    /// The same codes row by row (`fv_i8_padded_dim(dimension)` bytes a row), for filtered scans that
    /// gather a few rows: in the blocks, one row's codes are spread over every cache line of its block
    /// (nil with `codes`). Valid only once ``rowCodesReady``: built by the first gathered scan of the
    /// chunk (``prepareRowCodes(rows:)``), kept up to date by writes from then on.
    let rowCodes: UnsafeMutablePointer<UInt8>?
    /// Whether ``rowCodes`` holds every row's codes (segments do not store them: a mapped chunk builds
    /// them too, into its own pages).
    private let rowCodesBuilt = Atomic<Bool>(false)
    private let rowCodesBuilding = Mutex(())
    /// One column per attribute of the index, in the order of ``ChunkedRows/schema`` (empty in a spare chunk).
    var attributes: [AttributeColumn] = []
    /// For a chunk mapped from a segment whose vectors were not checked when it was mapped: their
    /// checksums, which every reader of the vectors consults first (nil otherwise). A writer checks a
    /// row's group before it changes the row in place, so a group is never checked against bytes
    /// its checksum does not cover.
    let vectorChecks: VectorChecks?
    /// The segment file that holds exactly this chunk's rows, while nothing changed them since it was
    /// written or mapped (nil otherwise): a compaction keeps that file instead of writing the chunk again.
    var segment: SegmentFile?
    private let base: UnsafeMutableRawPointer
    /// Where `base` came from: nil for an allocation, else the mapping to unmap (start and length).
    private let mapping: (start: UnsafeMutableRawPointer, length: Int)?
    /// For a mapped chunk with the code pool's layout: the pool its codes' piece comes from.
    let codePool: CodePool?
    /// For a mapped chunk whose codes were moved out of the mapping: the piece (from `codePool`, or
    /// an allocation of its own without one) as an address; 0 otherwise.
    private let codePiece = Atomic<UInt>(0)

    init(capacity: Int, dimension: Int, codes withCodes: Bool) {
        layout = ChunkLayout(capacity: capacity, dimension: dimension, codes: withCodes)
        base = Self.allocate(layout.bytes)
        mapping = nil
        codePool = nil
        vectorChecks = nil
        payloads = PayloadSlots(capacity: capacity)
        let codes: UnsafeMutablePointer<UInt8>?
        (vectors, ids, labels, codes, _, rowCodes) = Self.sections(of: layout, at: base)
        codeSectionAddress = Atomic(UInt(bitPattern: codes))
    }

    /// Bytes of the codes and figures section (from the blocked codes to the row-by-row codes).
    static func codeSectionBytes(_ layout: ChunkLayout) -> Int { layout.codes ? layout.rowCodes - layout.blockedCodes : 0 }

    /// A chunk over the block at `base` of a private mapping (`start`, `length`), unmapped with the
    /// chunk. Its codes and figures are read from the mapping (the page cache) until
    /// ``moveCodes(into:from:)`` moves them to a piece of `pool` (when `pool` is for this layout) or
    /// of their own: see ``CodePool``. `vectorChecks` are its vectors' checksums when they are still
    /// to be checked.
    init(
        layout: ChunkLayout, mappedAt base: UnsafeMutableRawPointer, mapping start: UnsafeMutableRawPointer, length: Int,
        pool: CodePool?, vectorChecks: VectorChecks? = nil
    ) {
        self.layout = layout
        self.base = base
        self.vectorChecks = vectorChecks
        mapping = (start, length)
        codePool = pool?.layout == layout ? pool : nil
        payloads = PayloadSlots(capacity: layout.capacity)
        let codes: UnsafeMutablePointer<UInt8>?
        (vectors, ids, labels, codes, _, rowCodes) = Self.sections(of: layout, at: base)
        codeSectionAddress = Atomic(UInt(bitPattern: codes))
    }

    /// Where the codes and figures section starts (in the block, or in the chunk's own piece).
    var codeSection: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: codeSectionAddress.load(ordering: .acquiring)) }

    /// Whether the chunk's codes are still read from its segment's mapping.
    var codesInMapping: Bool { isMapped && layout.codes && codePiece.load(ordering: .acquiring) == 0 }

    /// A piece of memory for this chunk's codes and figures (``codeSectionBytes(_:)`` bytes): from
    /// its code pool, or an allocation of its own. With `touched`, every page of it is written, so
    /// that copying into it later faults nothing (the first touch of fresh memory is what costs).
    func newCodePiece(touched: Bool) -> UnsafeMutableRawPointer {
        let bytes = Self.codeSectionBytes(layout)
        let piece = codePool?.take() ?? Self.allocate(bytes)
        if touched { memset(piece, 0, bytes) }
        return piece
    }

    /// Gives back a piece from ``newCodePiece(touched:)`` that holds no codes.
    func discardCodePiece(_ piece: UnsafeMutableRawPointer) {
        if let codePool {
            codePool.give(piece)
        } else {
            Self.deallocate(piece, bytes: Self.codeSectionBytes(layout))
        }
    }

    /// Moves a mapped chunk's codes and figures into `piece` (from ``newCodePiece(touched:)``),
    /// copied from `source` (the same bytes already in memory) or from the mapping, and reads them
    /// from there on: scans stream memory on huge pages faster than the page cache's 4 KiB pages.
    /// Called with no writer running (under the index's reader lock, or before the index holds the
    /// chunk) and by one thread at a time. A reader that took the mapping's address finishes on the
    /// same bytes, which stay mapped.
    ///
    /// When the codes were read through the mapping (no `source`), the mapping's pages of them are
    /// then handed back to the system (`MADV_PAGEOUT`): kept,
    /// they would hold the codes twice, and at 10M x 512 that is 5 GiB the page cache no longer has
    /// for the vectors searches rescore. Paging out never changes what the mapping reads (a page
    /// the process wrote is its own and stays), so a reader still on the old address reads the same
    /// bytes, from the file again if it must.
    /// - Returns: Whether it moved them (not when they were moved already: `piece` is then unused).
    func moveCodes(into piece: UnsafeMutableRawPointer, from source: UnsafeRawPointer? = nil) -> Bool {
        guard codesInMapping, let section = codeSection else { return false }
        let bytes = Self.codeSectionBytes(layout)
        piece.copyMemory(from: source ?? UnsafeRawPointer(section), byteCount: bytes)
        codePiece.store(UInt(bitPattern: piece), ordering: .releasing)
        codeSectionAddress.store(UInt(bitPattern: piece), ordering: .releasing)
        #if os(Linux)
        guard source == nil else { return true }
        // Whole pages inside the section only: the pages it shares with the labels and the
        // row-by-row codes are still read.
        let page = UInt(ChunkLayout.pageBytes)
        let first = (UInt(bitPattern: section) + page - 1) & ~(page - 1)
        let end = (UInt(bitPattern: section) + UInt(bytes)) & ~(page - 1)
        if end > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), Int(end - first), MADV_PAGEOUT) }
        #endif
        return true
    }

    /// Whether ``rowCodes`` holds every row's codes.
    var rowCodesReady: Bool { rowCodesBuilt.load(ordering: .acquiring) }

    /// Builds ``rowCodes`` for the first `rows` rows unless built already (later rows get theirs as
    /// they are written). Called under the index's reader lock, so no writer runs meanwhile; readers
    /// of the same chunk build it once between them.
    func prepareRowCodes(rows: Int) {
        guard !rowCodesReady, let codes, let rowCodes else { return }
        rowCodesBuilding.withLock { _ in
            guard !rowCodesReady else { return }
            let bytes = fv_i8_padded_dim(dimension)
            for r in 0..<rows { fv_i8_row_codes(codes, dimension, r, rowCodes + r * bytes) }
            rowCodesBuilt.store(true, ordering: .releasing)
        }
    }

    private static func sections(of layout: ChunkLayout, at base: UnsafeMutableRawPointer) -> (
        UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int64>, UnsafeMutablePointer<Int64>,
        UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Double>?, UnsafeMutablePointer<UInt8>?
    ) {
        let vectors = base.bindMemory(to: Float.self, capacity: layout.capacity * layout.dimension)
        let ids = (base + layout.ids).bindMemory(to: Int64.self, capacity: layout.capacity)
        let labels = (base + layout.labels).bindMemory(to: Int64.self, capacity: layout.capacity)
        guard layout.codes else { return (vectors, ids, labels, nil, nil, nil) }
        let codes = (base + layout.blockedCodes).bindMemory(to: UInt8.self, capacity: layout.rowCodes - layout.blockedCodes)
        let rowCodes = (base + layout.rowCodes).bindMemory(to: UInt8.self, capacity: layout.codeMeta - layout.rowCodes)
        let meta = (base + layout.codeMeta).bindMemory(to: Double.self, capacity: Int(FV_I8_META_DOUBLES) * layout.capacity)
        return (vectors, ids, labels, codes, meta, rowCodes)
    }

    /// Bytes of a huge page on x86-64 and arm64 Linux.
    static var hugePageBytes: Int { 2 << 20 }

    /// Page-aligned storage; from ``hugePageBytes`` on, aligned to a huge page and marked for
    /// transparent huge pages (`MADV_HUGEPAGE`, a hint the system may ignore). The rows a search
    /// rescores or gathers are scattered over hundreds of megabytes: with 4 KiB pages nearly every
    /// one costs a page walk, with 2 MiB pages the translations of a whole index fit the TLB. Small
    /// chunks (small collections) stay on small pages, so they hold only the memory they use.
    ///
    /// Huge blocks are mapped from the system, not taken from malloc: chunks are replaced all the
    /// time (a compaction maps a file in place of each one it wrote), and a freed block must go back
    /// to the system at once. From malloc, blocks of a few MiB come from its heaps once its mmap
    /// threshold has risen past them, and stay there, scattered, as resident memory nobody uses.
    static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= hugePageBytes else {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, ChunkLayout.pageBytes, bytes) == 0, let raw else {
                fatalError("FlatVec: out of memory allocating a chunk of \(bytes) bytes")
            }
            return raw
        }
        // Map a huge page more than needed, then unmap what lies outside the aligned block.
        let length = bytes + hugePageBytes
        guard let start = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), start != MAP_FAILED else {
            fatalError("FlatVec: out of memory mapping a chunk of \(bytes) bytes")
        }
        let address = UInt(bitPattern: start)
        let aligned = (address + UInt(hugePageBytes - 1)) & ~UInt(hugePageBytes - 1)
        let head = Int(aligned - address)
        if head > 0 { munmap(start, head) }
        let tail = length - head - bytes
        let block = start + head
        if tail > 0 { munmap(block + bytes, tail) }
        #if os(Linux)
        _ = madvise(block, bytes, MADV_HUGEPAGE)
        #endif
        return block
    }

    /// Returns a block from ``allocate(_:)``.
    static func deallocate(_ block: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= hugePageBytes {
            munmap(block, bytes)
        } else {
            free(block)
        }
    }

    deinit {
        if let mapping {
            munmap(mapping.start, mapping.length)
        } else {
            Self.deallocate(base, bytes: layout.bytes)
        }
        if let piece = UnsafeMutableRawPointer(bitPattern: codePiece.load(ordering: .acquiring)) {
            discardCodePiece(piece)
        }
    }

    /// Bytes of the process's own memory the chunk holds beyond its attribute columns: the block, or
    /// for a mapped chunk its codes and figures, and the row-by-row codes once built (in pages of
    /// the mapping that became its own).
    var ownBytes: Int {
        let rowCodeBytes = rowCodesReady ? layout.rowCodeBytes : 0
        guard isMapped else { return layout.bytes - layout.rowCodeBytes + rowCodeBytes }
        return (codePiece.load(ordering: .relaxed) == 0 ? 0 : Self.codeSectionBytes(layout)) + rowCodeBytes
    }

    /// Whether the fixed sections are mapped from a segment file.
    var isMapped: Bool { mapping != nil }

    /// Readies the vectors of `rows` for a read of them all: asks the system for their pages in one
    /// request when they come from a mapping (a mapped chunk with codes reads a page per fault
    /// otherwise: its vectors are mapped for random access), then checks their groups
    /// (``VectorChecks/check(_:)``). Called before every read of a chunk's vectors whole.
    /// - Returns: false if a group is damaged (recorded in the index's damage).
    @discardableResult
    func prepareVectors(_ rows: Range<Int>) -> Bool {
        if isMapped, !rows.isEmpty { VectorChecks.readAhead(UnsafeRawPointer(vectors), rows: rows, dimension: dimension) }
        return vectorChecks?.check(rows) ?? true
    }

    /// The block of fixed sections (``ChunkLayout/bytes`` bytes).
    var block: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: layout.bytes) }

    /// Touches every page so later writes do not fault (run off the writer's path), but those of the
    /// row-by-row codes, which only a filtered scan builds.
    func prefault() {
        memset(base, 0, layout.codes ? layout.rowCodes : layout.bytes)
        if let codes { memset(codes, 128, fv_i8_code_bytes(capacity, dimension)) }
    }

    /// A chunk of `newCapacity` rows (the same, or larger for a growing last chunk) holding this
    /// one's first `rows` rows: vectors, ids, labels, payloads, attributes and codes. Vectors still
    /// unchecked are checked first (the copy has no checksums: damage is recorded, never copied unseen).
    func copy(capacity newCapacity: Int? = nil, rows: Int) -> VectorChunk {
        prepareVectors(0..<rows)
        let target = newCapacity ?? capacity
        let copy = VectorChunk(capacity: target, dimension: dimension, codes: codes != nil)
        let withRowCodes = rowCodesReady
        if target == capacity {
            copy.base.copyMemory(from: base, byteCount: layout.codes && !withRowCodes ? layout.rowCodes : layout.bytes)
            if codePiece.load(ordering: .acquiring) != 0, let from = codeSection, let to = copy.codeSection {
                to.copyMemory(from: from, byteCount: Self.codeSectionBytes(layout))
            }
        } else {
            copy.vectors.update(from: vectors, count: rows * dimension)
            copy.ids.update(from: ids, count: rows)
            copy.labels.update(from: labels, count: rows)
            if let codes, let codeMeta, let rowCodes, let toCodes = copy.codes, let toMeta = copy.codeMeta, let toRowCodes = copy.rowCodes {
                // The blocks of the first rows are a prefix of the codes whatever the capacity; the
                // figures are columns of `capacity`: four of doubles, then four of floats.
                toCodes.update(from: codes, count: fv_i8_code_bytes(rows, dimension))
                if withRowCodes { toRowCodes.update(from: rowCodes, count: rows * fv_i8_padded_dim(dimension)) }
                for c in 0..<4 { (toMeta + c * target).update(from: codeMeta + c * capacity, count: rows) }
                let floats = UnsafeMutableRawPointer(codeMeta + 4 * capacity).assumingMemoryBound(to: Float.self)
                let toFloats = UnsafeMutableRawPointer(toMeta + 4 * target).assumingMemoryBound(to: Float.self)
                for c in 0..<4 { (toFloats + c * target).update(from: floats + c * capacity, count: rows) }
            }
        }
        if withRowCodes { copy.rowCodesBuilt.store(true, ordering: .releasing) }
        copy.payloads = payloads.copy(capacity: target, rows: rows)
        copy.attributes = attributes.map { $0.copy(capacity: target, rows: rows) }
        return copy
    }

    /// Writes row `offset`'s vector and, when the chunk keeps codes, its codes (in the same move,
    /// so a code is never stale).
    @inline(__always)
    func setVector(at offset: Int, from source: UnsafePointer<Float>) {
        vectorChecks?.check(row: offset)
        vector(at: offset).update(from: source, count: dimension)
        if let codes, let codeMeta, let rowCodes {
            fv_i8_encode_row(source, dimension, codes, codeMeta, capacity, offset)
            if rowCodesReady { fv_i8_row_codes(codes, dimension, offset, rowCodes + offset * fv_i8_padded_dim(dimension)) }
        }
    }

    /// Copies row `sourceOffset` of `source` (vector and codes) into row `offset` (the row-by-row
    /// codes from the blocked ones, so the source need not have built them).
    @inline(__always)
    func copyVector(at offset: Int, from source: VectorChunk, offset sourceOffset: Int) {
        source.vectorChecks?.check(row: sourceOffset)
        vectorChecks?.check(row: offset)
        vector(at: offset).update(from: source.vector(at: sourceOffset), count: dimension)
        if let codes, let codeMeta, let rowCodes, let sourceCodes = source.codes, let sourceMeta = source.codeMeta {
            fv_i8_copy_row(sourceCodes, sourceMeta, sourceOffset, codes, codeMeta, offset, capacity, dimension)
            if rowCodesReady { fv_i8_row_codes(codes, dimension, offset, rowCodes + offset * fv_i8_padded_dim(dimension)) }
        }
    }

    /// The first float of row `offset`.
    @inline(__always)
    func vector(at offset: Int) -> UnsafeMutablePointer<Float> {
        vectors + offset * dimension
    }

    /// Bytes of vector, id, label and attribute storage (payloads not included), codes included
    /// (the row-by-row codes once built).
    var fixedBytes: Int { layout.bytes - (rowCodesReady ? 0 : layout.rowCodeBytes) + attributes.reduce(0) { $0 + $1.bytes } }

    /// Bytes of attribute columns.
    var attributeBytes: Int { attributes.reduce(0) { $0 + $1.bytes } }

    /// Bytes of int8 codes (blocked, and row by row once built) and their figures (0 without codes).
    var codeBytes: Int { layout.blockedCodeBytes + (rowCodesReady ? layout.rowCodeBytes : 0) }
}
