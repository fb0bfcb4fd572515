// Scores of a few to a few hundred queries against stored rows, reading each row from memory once
// and without the packing of the rows that makes a BLAS sgemm slow at small batch sizes.
//
// The queries are transposed into groups of LANES (one vector register holds one k-th component of
// LANES queries); a tile of R rows x G groups keeps R * G accumulators in registers, and for every
// component k loads G query vectors and broadcasts R row components. Each score is one FMA chain
// over k = 0 ..< dim, so its value does not depend on the tile, the batch size or the position of
// the query in the batch.
//
// One body per instruction set, each compiled with its own target attribute; fv_scores_tiled picks
// the best the CPU runs, fv_scores_tiled_variant runs a given one (tests compare them all against
// the portable one).
#include "CFlatVecKernels.h"

#include <string.h>

#if defined(__x86_64__)
#define FV_X86 1
#endif

#define FV_UNROLL _Pragma("clang loop unroll(full)")

#define FV_DEFINE_TILE_KERNEL(NAME, TARGET, LANES, RMAX, GMAX)                                          \
    typedef float NAME##_vec __attribute__((vector_size(LANES * 4), aligned(4)));                       \
                                                                                                        \
    TARGET static inline __attribute__((always_inline)) void NAME##_tile(                               \
        const float *rows, size_t dim, const float *packed, size_t nq, size_t group0, float *out,       \
        size_t out_stride, const int R, const int G, const int prefetch) {                               \
        NAME##_vec acc[RMAX][GMAX];                                                                     \
        FV_UNROLL for (int r = 0; r < R; r++)                                                           \
            FV_UNROLL for (int g = 0; g < G; g++) acc[r][g] = (NAME##_vec){0};                          \
        const float *qbase = packed + group0 * dim * LANES;                                             \
        const float *next = rows + 2 * R * dim; /* rows two tiles on, fetched while these are scored */ \
        for (size_t k = 0; k < dim; k++) {                                                              \
            if ((k & 15) < (size_t)R && prefetch)                                                       \
                __builtin_prefetch(next + (k & 15) * dim + (k & ~(size_t)15), 0, 2);                    \
            NAME##_vec q[GMAX];                                                                         \
            FV_UNROLL for (int g = 0; g < G; g++) q[g] = *(const NAME##_vec *)(qbase + (g * dim + k) * LANES); \
            FV_UNROLL for (int r = 0; r < R; r++) {                                                     \
                /* x - (+0) is x for every x, so this folds into a broadcast load. */                  \
                NAME##_vec b = rows[r * dim + k] - (NAME##_vec){0};                                     \
                FV_UNROLL for (int g = 0; g < G; g++) acc[r][g] += b * q[g];                            \
            }                                                                                           \
        }                                                                                               \
        FV_UNROLL for (int g = 0; g < G; g++) {                                                         \
            size_t first = (group0 + g) * LANES;                                                        \
            size_t lanes = nq - first < LANES ? nq - first : LANES;                                     \
            for (size_t l = 0; l < lanes; l++)                                                          \
                for (int r = 0; r < R; r++) out[(first + l) * out_stride + r] = acc[r][g][l];           \
        }                                                                                               \
    }                                                                                                   \
                                                                                                        \
    TARGET static void NAME##_rows(const float *rows, size_t nrows, size_t dim, const float *packed,   \
                                   size_t nq, float *out, size_t out_stride) {                          \
        size_t groups = (nq + LANES - 1) / LANES;                                                       \
        size_t r = 0;                                                                                   \
        for (; r + RMAX <= nrows; r += RMAX) {                                                          \
            /* The first pass over these rows prefetches the tile two on (into L2; measured on Zen 4:   \
               1.3-1.6x faster from DRAM at 8-32 queries), unless that lies past the last row.      */  \
            int fetch = r + 3 * RMAX <= nrows;                                                          \
            size_t g = 0;                                                                               \
            for (; g + GMAX <= groups; g += GMAX, fetch = 0)                                            \
                NAME##_tile(rows + r * dim, dim, packed, nq, g, out + r, out_stride, RMAX, GMAX, fetch); \
            for (; g < groups; g++, fetch = 0)                                                          \
                NAME##_tile(rows + r * dim, dim, packed, nq, g, out + r, out_stride, RMAX, 1, fetch);   \
        }                                                                                               \
        for (; r < nrows; r++) {                                                                        \
            size_t g = 0;                                                                               \
            for (; g + GMAX <= groups; g += GMAX)                                                       \
                NAME##_tile(rows + r * dim, dim, packed, nq, g, out + r, out_stride, 1, GMAX, 0);       \
            for (; g < groups; g++)                                                                     \
                NAME##_tile(rows + r * dim, dim, packed, nq, g, out + r, out_stride, 1, 1, 0);          \
        }                                                                                               \
    }

// Portable: 4 lanes (SSE2 on x86-64, NEON elsewhere), 4 rows x 2 groups.
FV_DEFINE_TILE_KERNEL(fv_tile_portable, , 4, 4, 2)
#if FV_X86
// AVX2 + FMA: 8 lanes, 6 rows x 2 groups = 12 of the 16 ymm registers.
FV_DEFINE_TILE_KERNEL(fv_tile_avx2, __attribute__((target("avx2,fma"))), 8, 6, 2)
// AVX-512: 16 lanes, 12 rows x 2 groups = 24 of the 32 zmm registers (measured on Zen 4 at 512-d:
// 20-25% faster than 6 x 4 from 16 to 64 queries, where broadcasts rather than FMAs are the limit).
FV_DEFINE_TILE_KERNEL(fv_tile_avx512, __attribute__((target("avx512f,fma"))), 16, 12, 2)
#endif

static size_t fv_tile_lanes(int variant) {
    switch (variant) {
    case FV_TILE_AVX512: return 16;
    case FV_TILE_AVX2: return 8;
    default: return 4;
    }
}

uint32_t fv_tile_variants(void) {
    uint32_t variants = 1u << FV_TILE_PORTABLE;
#if FV_X86
    uint32_t features = fv_cpu_features();
    if ((features & FV_CPU_AVX2) && (features & FV_CPU_FMA)) variants |= 1u << FV_TILE_AVX2;
    if ((features & FV_CPU_AVX512F) && (features & FV_CPU_FMA)) variants |= 1u << FV_TILE_AVX512;
#endif
    return variants;
}

int fv_tile_best_variant(void) {
    static int best = -1;
    if (best < 0) {
        uint32_t variants = fv_tile_variants();
        best = (variants & (1u << FV_TILE_AVX512)) ? FV_TILE_AVX512
             : (variants & (1u << FV_TILE_AVX2))   ? FV_TILE_AVX2
                                                   : FV_TILE_PORTABLE;
    }
    return best;
}

size_t fv_tile_scratch_floats(size_t nq, size_t dim) {
    /* Enough for the widest variant: nq rounded up to 16 lanes. */
    return ((nq + 15) / 16) * 16 * dim;
}

int fv_scores_tiled_variant(int variant, const float *rows, size_t nrows, size_t dim, const float *queries,
                            size_t nq, float *out, size_t out_stride, float *scratch) {
    if (!(fv_tile_variants() & (1u << variant))) return 0;
    if (nq == 0 || nrows == 0) return 1;
    /* Transpose the queries into groups of `lanes`: scratch[(g * dim + k) * lanes + l] = query g*lanes+l, component k. */
    size_t lanes = fv_tile_lanes(variant);
    size_t groups = (nq + lanes - 1) / lanes;
    memset(scratch, 0, groups * lanes * dim * sizeof(float));
    for (size_t q = 0; q < nq; q++) {
        size_t g = q / lanes, l = q % lanes;
        const float *src = queries + q * dim;
        float *dst = scratch + g * dim * lanes + l;
        for (size_t k = 0; k < dim; k++) dst[k * lanes] = src[k];
    }
    switch (variant) {
#if FV_X86
    case FV_TILE_AVX512: fv_tile_avx512_rows(rows, nrows, dim, scratch, nq, out, out_stride); break;
    case FV_TILE_AVX2: fv_tile_avx2_rows(rows, nrows, dim, scratch, nq, out, out_stride); break;
#endif
    default: fv_tile_portable_rows(rows, nrows, dim, scratch, nq, out, out_stride); break;
    }
    return 1;
}

void fv_scores_tiled(const float *rows, size_t nrows, size_t dim, const float *queries, size_t nq, float *out,
                     size_t out_stride, float *scratch) {
    fv_scores_tiled_variant(fv_tile_best_variant(), rows, nrows, dim, queries, nq, out, out_stride, scratch);
}
