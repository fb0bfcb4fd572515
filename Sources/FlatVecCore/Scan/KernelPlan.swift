import CFlatVecKernels

/// Which kernel scores a block of queries, by block size, chosen once per process from the CPU.
///
/// The crossovers come from the rates each kernel reaches per batch size on the CPUs FlatVec runs
/// on (Benchmarks/README.md "Kernel plan").
///
/// Scores from different kernels can differ in the last bit (their sums run in different orders),
/// as FAISS's do between its batch sizes; within the tiled kernel a score does not depend on the
/// batch, and identical vectors always score identically.
struct KernelPlan: Sendable, Equatable {
    /// Up to this many queries: the dot-product kernels (read each row once, at memory bandwidth).
    var dotProducts: Int
    /// Up to this many queries: the tiled kernel (``fv_scores_tiled``); 0 for never.
    var tiled: Int
    /// Queries per kernel call in larger batches (tiled where `tiled` reaches it, sgemm otherwise).
    var block: Int

    /// AVX-512: the tiled kernel from 3 queries up, in blocks of 128 (at or above the sgemm rate).
    static let avx512 = KernelPlan(dotProducts: 2, tiled: 128, block: 128)
    /// AVX2: the tiled kernel for 5 to 64 queries; sgemm beats it from 128 on.
    static let avx2 = KernelPlan(dotProducts: 4, tiled: 64, block: 256)
    /// No vector tiled kernel: dot products, then sgemm.
    static let blas = KernelPlan(dotProducts: 4, tiled: 0, block: 256)

    /// The plan for this CPU.
    static let current: KernelPlan = {
        switch fv_tile_best_variant() {
        case Int32(FV_TILE_AVX512): .avx512
        case Int32(FV_TILE_AVX2): .avx2
        default: .blas
        }
    }()

    /// Whether `count` queries go through the tiled kernel.
    func usesTiled(_ count: Int) -> Bool { count > dotProducts && count <= tiled }
}
