import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Fixed-size pieces of memory on huge pages for the int8 codes and figures of full chunks mapped
/// from segment files.
///
/// Every search streams the codes of every chunk; from the page cache (4 KiB pages) that stream
/// runs slower than from huge pages, where the hardware prefetcher does not stop every 4 KiB and the
/// translations of the whole index fit the TLB. So a mapped chunk keeps its vectors, ids and labels
/// in the mapping and copies its codes here: pieces carved from 32 MiB slabs marked for transparent
/// huge pages (a piece of its own would be a little over 1 MiB at d = 512, below a huge page).
/// Pieces are reused; slabs are freed with the pool, which its chunks keep alive.
final class CodePool: @unchecked Sendable {
    // @unchecked: the free list and the slabs are behind `state`'s mutex; pieces handed out are
    // owned by one chunk each until given back.
    /// The layout of the chunks whose codes the pieces hold.
    let layout: ChunkLayout
    let pieceBytes: Int
    private struct State {
        var free: [UnsafeMutableRawPointer] = []
        var slabs: [UnsafeMutableRawPointer] = []
    }
    private let state = Mutex(State())
    static let slabBytes = 32 << 20

    init(layout: ChunkLayout) {
        self.layout = layout
        pieceBytes = (VectorChunk.codeSectionBytes(layout) + 4095) & ~4095
    }

    deinit {
        state.withLock { s in for slab in s.slabs { free(slab) } }
    }

    /// Bytes of the slabs (what the pool holds, pieces in use or not).
    var bytes: Int { state.withLock { $0.slabs.count } * Self.slabBytes }

    /// A piece of `pieceBytes` bytes.
    func take() -> UnsafeMutableRawPointer {
        state.withLock { s in
            if let piece = s.free.popLast() { return piece }
            var raw: UnsafeMutableRawPointer?
            let slabBytes = max(Self.slabBytes, pieceBytes)
            guard posix_memalign(&raw, VectorChunk.hugePageBytes, slabBytes) == 0, let slab = raw else {
                fatalError("FlatVec: out of memory allocating \(slabBytes) bytes of codes")
            }
            #if os(Linux)
            _ = madvise(slab, slabBytes, MADV_HUGEPAGE)
            #endif
            s.slabs.append(slab)
            let pieces = slabBytes / pieceBytes
            for p in stride(from: pieces - 1, to: 0, by: -1) { s.free.append(slab + p * pieceBytes) }
            return slab
        }
    }

    /// Gives a piece back.
    func give(_ piece: UnsafeMutableRawPointer) {
        // Through its address: the mutex's closure may not capture a non-Sendable pointer.
        let address = UInt(bitPattern: piece)
        state.withLock { $0.free.append(UnsafeMutableRawPointer(bitPattern: address)!) }
    }
}
