#ifndef CFLATVEC_KERNELS_H
#define CFLATVEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CPU feature bits reported by fv_cpu_features().
enum {
    FV_CPU_SSE42 = 1u << 0,
    FV_CPU_AVX = 1u << 1,
    FV_CPU_AVX2 = 1u << 2,
    FV_CPU_FMA = 1u << 3,
    FV_CPU_AVX512F = 1u << 4,
    FV_CPU_AVX512BW = 1u << 5,
    FV_CPU_AVX512VL = 1u << 6,
    FV_CPU_AVX512DQ = 1u << 7,
};

/// Features of the running CPU that the OS has enabled (XSAVE state included).
uint32_t fv_cpu_features(void);

/// CRC-32C (Castagnoli), hardware-accelerated where SSE4.2 is available.
uint32_t fv_crc32c(uint32_t crc, const void *data, size_t length);

/// Writes the indices i with scores[i] >= threshold to `indices`; returns how many.
/// `indices` must hold `count` entries.
size_t fv_select_at_least(const float *scores, size_t count, float threshold, uint32_t *indices);

/// out[r] = dot(rows[r * dim ..< (r + 1) * dim], query) for r in 0 ..< nrows.
void fv_dot_rows(const float *rows, size_t nrows, size_t dim, const float *query, float *out);

/// out[q * out_stride + r] = dot(row r, query q) for r < nrows, q < nq; reads each row from memory once.
void fv_dot_rows_multi(const float *rows, size_t nrows, size_t dim, const float *queries, size_t nq,
                       float *out, size_t out_stride);

/// Instruction-set variants of the tiled scoring kernel.
enum {
    FV_TILE_PORTABLE = 0,
    FV_TILE_AVX2 = 1,
    FV_TILE_AVX512 = 2,
};

/// Bit (1 << variant) set for every variant of the tiled kernel this CPU runs.
uint32_t fv_tile_variants(void);

/// The fastest variant this CPU runs.
int fv_tile_best_variant(void);

/// Floats of scratch space fv_scores_tiled needs for `nq` queries of dimension `dim`.
size_t fv_tile_scratch_floats(size_t nq, size_t dim);

/// out[q * out_stride + r] = dot(row r, query q) for r < nrows, q < nq, reading each row once; every
/// score is one FMA chain over the components, so it does not depend on nq or the query's position.
/// `scratch` holds fv_tile_scratch_floats(nq, dim) floats.
void fv_scores_tiled(const float *rows, size_t nrows, size_t dim, const float *queries, size_t nq, float *out,
                     size_t out_stride, float *scratch);

/// fv_scores_tiled with a given variant; returns 0 (and computes nothing) if this CPU cannot run it.
int fv_scores_tiled_variant(int variant, const float *rows, size_t nrows, size_t dim, const float *queries,
                            size_t nq, float *out, size_t out_stride, float *scratch);

/// Sum of squares of `count` floats, in double precision.
double fv_sum_squares(const float *values, size_t count);

/// OpenBLAS's runtime core name ("Haswell", "Prescott", ...), or NULL if the BLAS is not OpenBLAS.
const char *fv_openblas_corename(void);

/// OpenBLAS's build configuration string, or NULL if the BLAS is not OpenBLAS.
const char *fv_openblas_config(void);

/// OpenBLAS's thread count, or -1 if the BLAS is not OpenBLAS.
int fv_openblas_num_threads(void);

/// Sets OpenBLAS's thread count; returns 0 if the BLAS is not OpenBLAS, 1 otherwise.
int fv_openblas_set_num_threads(int threads);

/// Initialises a reader/writer lock that prefers writers, so a stream of readers cannot starve an add.
int fv_rwlock_init_writer_preferring(pthread_rwlock_t *lock);

#ifdef __cplusplus
}
#endif

#endif
