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
    FV_CPU_AVX512VNNI = 1u << 8,
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

/// out[j] = dot(rows[indices[j] * dim ..< (indices[j] + 1) * dim], query) for j < count: exactly the
/// scores fv_dot_rows gives those rows, fetching rows ahead.
void fv_dot_rows_gather(const float *rows, const uint32_t *indices, size_t count, size_t dim, const float *query,
                        float *out);

/// out[q * out_stride + j] = dot(rows[indices[j]], queries[q]) for j < count and q < nq: every row is
/// read once for up to four queries, and every score is bit for bit the one fv_dot_rows computes
/// (the same accumulators in the same order), so a filtered batch scores as single queries do.
void fv_dot_rows_gather_multi(const float *rows, const uint32_t *indices, size_t count, size_t dim,
                              const float *queries, size_t nq, float *out, size_t out_stride);

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

/// Instruction-set variants of the int8 code scan.
enum {
    FV_I8_PORTABLE = 0,
    FV_I8_AVX2 = 1,
    FV_I8_AVX512VNNI = 2,
};

/// Per-row figures of the int8 codes of a stored vector x = scale * codes + residual: four columns of
/// `capacity` doubles (column c of row r at meta[c * capacity + r]; all upper bounds except the
/// scale), then the same four as floats (rounded up; a fast conservative first filter), in
/// FV_I8_META_DOUBLES * capacity doubles.
enum {
    /// max|x_i| / 127.
    FV_I8_SCALE = 0,
    /// |residual| + gamma_d |x|: the row's part of the error bound (gamma_d: float32 dot rounding).
    FV_I8_SLACK = 1,
    /// |scale * codes|.
    FV_I8_CODED_NORM = 2,
    /// |x|.
    FV_I8_NORM = 3,
    /// Doubles of figures per row: 4 double columns and 4 float columns.
    FV_I8_META_DOUBLES = 6,
};

/// A query's int8 codes: q = scale * codes + residual.
typedef struct {
    double scale;
    /// Upper bound of |q|.
    double norm;
    /// Upper bound of |residual|.
    double residual_norm;
    /// 128 * sum of the codes (removes the + 128 of the stored codes).
    int32_t bias;
    /// Largest code magnitude used (127, or 63 for the AVX2 scan).
    int32_t levels;
} fv_i8_query;

/// The dimension rounded up to a multiple of 4.
size_t fv_i8_padded_dim(size_t dim);

/// Bytes of codes for `rows` rows (rounded up to blocks of 16 rows).
size_t fv_i8_code_bytes(size_t rows, size_t dim);

/// Encodes row `row` of a chunk's codes from `x` and writes its figures into `meta` (columns of `capacity`).
void fv_i8_encode_row(const float *x, size_t dim, uint8_t *codes, double *meta, size_t capacity, size_t row);

/// Copies the codes and figures of one row to another position (possibly in another chunk of the same capacity).
void fv_i8_copy_row(const uint8_t *source_codes, const double *source_meta, size_t source_row, uint8_t *codes,
                    double *meta, size_t row, size_t capacity, size_t dim);

/// Copies row `row`'s codes out of the blocked layout into `dst` (fv_i8_padded_dim(dim) bytes, in
/// dimension order): the row-major copy that gathered scans read.
void fv_i8_row_codes(const uint8_t *codes, size_t dim, size_t row, uint8_t *dst);

/// Encodes a query with codes in [-levels, levels]; `codes` holds fv_i8_padded_dim(dim) bytes.
void fv_i8_encode_query(const float *q, size_t dim, int levels, int8_t *codes, fv_i8_query *out);

/// Bit (1 << variant) set for every variant of the int8 scan this CPU runs.
uint32_t fv_i8_variants(void);

/// The fastest int8 scan variant this CPU runs, unless the environment variable FLATVEC_INT8_KERNEL
/// names another one it runs ("avx512-vnni", "avx2", "portable"); read once per process.
int fv_i8_best_variant(void);

/// The variant called `name` ("avx512-vnni", "avx2", "portable"), or -1.
int fv_i8_variant_named(const char *name);

/// The query code range a variant needs (127, or 63 for AVX2).
int fv_i8_query_levels(int variant);

/// out[q * out_stride + r] = sum_i stored_code(r, i) * query_code(q, i) (stored codes carry + 128) for
/// r < nrows rounded up to 16 (out_stride must allow it), q < nq; queries are fv_i8_padded_dim(dim)
/// bytes apart. Returns 0 (and computes nothing) if this CPU cannot run the variant.
int fv_i8_scan_variant(int variant, const uint8_t *codes, size_t nrows, size_t dim, const int8_t *qcodes,
                       size_t nq, int32_t *out, size_t out_stride);

/// out[j] = sum_i row_codes(rows[j], i) * query_code(i) for j < m, where row r's codes are the
/// fv_i8_padded_dim(dim) bytes at row_codes + r * fv_i8_padded_dim(dim) (see fv_i8_row_codes): the
/// same integers fv_i8_scan_variant gives those rows. With `meta` (columns of `capacity`, may be
/// NULL), the rows' bound figures are prefetched as well, for fv_i8_candidates_listed right after.
/// Returns 0 (and computes nothing) if this CPU cannot run the variant.
int fv_i8_gather_variant(int variant, const uint8_t *row_codes, size_t dim, const uint32_t *rows, size_t m,
                         const int8_t *qcodes, int32_t *out, const double *meta, size_t capacity);

/// fv_i8_candidates for listed rows: `dots[j]` belongs to row `rows[j]`, j < m; the rows that can
/// reach `threshold` go to `indices` (row numbers) with their bounds, in list order.
size_t fv_i8_candidates_listed(const int32_t *dots, const uint32_t *rows, size_t m, const double *meta,
                               size_t capacity, const fv_i8_query *query, double threshold, uint32_t *indices,
                               double *lower, double *upper);

/// The rows r < nrows whose float32 score can reach `threshold` (upper bound >= threshold), with
/// their lower and upper bounds; returns how many. The bound is proven in int8_kernels.c.
/// `meta` holds columns of `capacity`; `scratch` holds max(nrows, 2) doubles.
size_t fv_i8_candidates(const int32_t *dots, size_t nrows, const double *meta, size_t capacity,
                        const fv_i8_query *query, double threshold, uint32_t *indices, double *lower, double *upper,
                        double *scratch);

/// The k-th largest of `count` values (may reorder them); -infinity if k is 0 or above count.
double fv_kth_largest(double *values, size_t count, size_t k);

/// fv_kth_largest for floats.
float fv_kth_largest_float(float *values, size_t count, size_t k);

/// A valid threshold for rows r < nrows: the k-th largest of their (conservative, float) lower
/// bounds, so at least k rows score at least it; -infinity if k is 0 or above nrows. `scratch`
/// holds nrows floats.
double fv_i8_kth_lower_bound(const int32_t *dots, size_t nrows, const double *meta, size_t capacity,
                             const fv_i8_query *query, size_t k, float *scratch);

/// Filter comparison over an attribute column: out[r] = 1 (unknown) where present[r] is 0, else 2
/// (true) if `words[r] op value` holds and 0 (false) if not; op 1-6 is FlatVec's ComparisonOperator
/// (=, !=, <, <=, >, >=).
void fv_filter_compare_i64(const int64_t *words, const uint8_t *present, size_t n, int op, int64_t value, uint8_t *out);

/// fv_filter_compare_i64 over doubles.
void fv_filter_compare_f64(const double *words, const uint8_t *present, size_t n, int op, double value, uint8_t *out);

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

/// The float stored (as its bits) in `word`, read atomically.
float fv_atomic_load_float(const uint32_t *word);

/// Atomically raises the float stored in `word` to `value` if `value` is larger (NaN is ignored).
void fv_atomic_raise_float(uint32_t *word, float value);

/// Names the calling thread (at most 15 bytes are kept); a no-op where the C library has no such call.
void fv_name_this_thread(const char *name);

/// Adds `increment` nice levels to the calling thread's priority, for that thread alone (Linux:
/// setpriority on the thread's id); a no-op elsewhere. Returns 0, or the errno of a refusal.
int fv_lower_this_thread(int increment);

/// Writes the dirty pages of `length` bytes at `offset` of file `fd` to the disk and waits until
/// they are written (Linux `sync_file_range`, waiting before and after), without flushing the disk's
/// cache or the file's metadata: not durable, an `fsync` still is. Returns 0 or an errno value; 0
/// where unsupported.
int fv_write_out(int fd, int64_t offset, int64_t length);

#ifdef __cplusplus
}
#endif

#endif
