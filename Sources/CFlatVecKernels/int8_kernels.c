// The int8 first pass of an exact search: 8-bit codes of the stored rows, a scan of the codes that
// gives every row a lower and an upper bound on its float32 score, and the selection of the rows
// whose upper bound can still reach the k-th best score. Only those are rescored in float32 (by
// fv_dot_rows, the kernel of the float32 path), so the hits and scores are exactly the float32 ones.
//
// Layout. The codes of a chunk are stored in blocks of 16 rows; inside a block, for every group of
// four components (a "quad"), 64 bytes hold 4 bytes of each of the 16 rows:
//
//     byte(row, i) = codes[(row / 16) * 16 * dpad + (i / 4) * 64 + (row % 16) * 4 + i % 4]
//
// where dpad is the dimension rounded up to 4 (padding codes are 128, i.e. the value 0). One
// 64-byte load then feeds one `vpdpbusd`, which multiplies the 16 x 4 unsigned bytes by 4 signed
// bytes of a query broadcast to every lane and adds each row's 4 products into its own int32 lane:
// no horizontal sums, and a block of 16 rows x any number of queries is a small matrix product.
//
// Codes. Row x gets the scale s = max|x_i| / 127 and codes c_i = round(x_i / s) in [-127, 127],
// stored as c_i + 128 in [1, 255] because `vpdpbusd` takes unsigned x signed bytes; the + 128 is
// removed exactly with the integer 128 * sum(query codes). A query gets t = max|q_i| / L and codes
// e_i = round(q_i / t) in [-L, L], with L = 127, or 63 for `vpmaddubsw` (AVX2), whose pairwise
// int16 sums would saturate at 255 * 127 * 2.
//
// ## The bound (why skipping a row never changes the result)
//
// Write x = s c + r (r is the row's quantisation residual) and q = t e + p (p the query's). Then,
// exactly in real numbers,
//
//     q . x  =  s t (e . c)  +  q . r  +  s (p . c),
//
// so with Cauchy-Schwarz, |q . x - s t (e . c)| <= |q| |r| + |p| |s c| =: E. Each row stores upper
// bounds of |r|, |s c| and |x|; each query upper bounds of |q| and |p| (computed in double and
// inflated by 1e-9 relative and 1e-9 |x| absolute, far above double rounding at any dimension up to
// 16,000). The integer e . c is exact in int32 (|e . c + 128 sum e| <= 255 * 127 * 16,000 < 2^31).
//
// The float32 score F that fv_dot_rows computes differs from q . x by at most gamma_d sum |q_i x_i|
// <= gamma_d |q| |x| =: G, gamma_d = d u / (1 - d u), u = 2^-24, for any summation order and with
// or without fused multiply-adds (Higham, Accuracy and Stability of Numerical Algorithms, 3.1),
// as long as nothing overflows or underflows. Underflow adds at most 2^-149 per product and per
// addition: the absolute term 1e-30 covers it for any d. Overflow is excluded: a row with
// |q| |x| > 1e37 is always rescored and never tightens the threshold.
//
// The estimate est = (e . c) * (s t) is computed in double: two roundings, relative error below
// 2^-52. The margin M = (E + G + 1e-12 |est|) (1 + 1e-12) + 1e-30 covers that, the rounding of E and
// G themselves (a few double roundings each) and the rounding of est -/+ M. Hence
//
//     lower = est - M  <=  F  <=  est + M = upper          (as real numbers, for every row).
//
// Per row, |r| + gamma_d |x| is stored as one figure (the slack), so the margin costs two
// multiply-adds per row and query: M = (|q| slack + |p| |s c| + 1e-12 |est|) (1 + 1e-12) + 1e-30.
//
// Selection. A row can change the top-k of a query only if F >= T, where T is the score the
// collector needs for admission (its k-th best so far, or minScore; ties are admitted because they
// may win on the smaller id). Every row with upper < T therefore has F < T and is skipped. In plain
// mode, T may also be raised to the k-th largest lower bound among the rows of the chunk that pass
// the label filter: those k distinct rows have F >= that value, so the final k-th best is at least
// it. Everything else is rescored in float32 and offered to the same collector as in the float32
// path, so the hits (a strict order: score, then smaller id) and their scores are the float32 ones.
#include "CFlatVecKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define FV_X86 1
#endif

#define FV_UNROLL _Pragma("clang loop unroll(full)")

size_t fv_i8_padded_dim(size_t dim) { return (dim + 3) & ~(size_t)3; }

size_t fv_i8_code_bytes(size_t rows, size_t dim) { return ((rows + 15) / 16) * 16 * fv_i8_padded_dim(dim); }

static inline size_t fv_i8_offset(size_t row, size_t i, size_t dpad) {
    return (row / 16) * 16 * dpad + (i / 4) * 64 + (row % 16) * 4 + (i % 4);
}

static const double fv_i8_relative = 1e-9;

/* The largest padded dimension (16,000 is FlatVec's largest dimension). */
#define FV_I8_MAX_PADDED 16000

/* The smallest float >= v (v >= 0); +infinity above the float range. */
static inline float fv_float_up(double v) {
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

static double fv_i8_gamma(size_t dim) {
    const double u = 1.0 / 16777216.0;
    return (double)dim * u / (1 - (double)dim * u);
}

#if FV_X86
#define FV_I8_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FV_I8_CLONES
#endif

// Codes in a flat temporary first (branch-free loops the compiler vectorises), then 4 bytes per quad
// into the blocked layout. Any rounding of x_i / s to a code is valid: the residual is computed from
// the code actually stored. The double sums run in four partial sums (any order is within the 1e-9
// inflation: their relative error is below d 2^-53).
FV_I8_CLONES
void fv_i8_encode_row(const float *x, size_t dim, uint8_t *codes, double *meta, size_t capacity, size_t row) {
    size_t dpad = fv_i8_padded_dim(dim);
    float maxabs = 0;
    for (size_t i = 0; i < dim; i++) {
        float a = fabsf(x[i]);
        maxabs = a > maxabs ? a : maxabs;
    }
    double s = (double)maxabs / 127.0;
    float inverse = maxabs > 0 ? (float)(127.0 / (double)maxabs) : 0.0f;
    uint8_t flat[FV_I8_MAX_PADDED];
    double norm2[4] = {0}, residual2[4] = {0}, coded2[4] = {0};
    for (size_t i = 0; i < dim; i++) {
        float scaled = x[i] * inverse;
        float rounded = scaled + (scaled >= 0 ? 0.5f : -0.5f);
        int c = (int)rounded;
        c = c > 127 ? 127 : c < -127 ? -127 : c;
        flat[i] = (uint8_t)(c + 128);
        double v = x[i], approx = s * c, r = v - approx;
        norm2[i & 3] += v * v;
        residual2[i & 3] += r * r;
        coded2[i & 3] += approx * approx;
    }
    for (size_t i = dim; i < dpad; i++) flat[i] = 128;
    uint8_t *block = codes + (row / 16) * 16 * dpad + (row % 16) * 4;
    for (size_t quad = 0; quad < dpad / 4; quad++) memcpy(block + quad * 64, flat + quad * 4, 4);
    double norm = sqrt((norm2[0] + norm2[1]) + (norm2[2] + norm2[3])) * (1 + fv_i8_relative);
    double residual = sqrt((residual2[0] + residual2[1]) + (residual2[2] + residual2[3])) * (1 + fv_i8_relative)
                    + fv_i8_relative * norm;
    double figures[4];
    figures[FV_I8_SCALE] = s;
    figures[FV_I8_SLACK] = (residual + fv_i8_gamma(dim) * norm) * (1 + fv_i8_relative);
    figures[FV_I8_CODED_NORM] =
        sqrt((coded2[0] + coded2[1]) + (coded2[2] + coded2[3])) * (1 + fv_i8_relative) + fv_i8_relative * norm;
    figures[FV_I8_NORM] = norm;
    float *floats = (float *)(meta + 4 * capacity);
    for (int c = 0; c < 4; c++) {
        meta[c * capacity + row] = figures[c];
        floats[c * capacity + row] = fv_float_up(figures[c]);
    }
}

void fv_i8_copy_row(const uint8_t *source_codes, const double *source_meta, size_t source_row, uint8_t *codes,
                    double *meta, size_t row, size_t capacity, size_t dim) {
    size_t dpad = fv_i8_padded_dim(dim);
    for (size_t quad = 0; quad < dpad / 4; quad++) {
        memcpy(codes + fv_i8_offset(row, quad * 4, dpad), source_codes + fv_i8_offset(source_row, quad * 4, dpad), 4);
    }
    for (size_t c = 0; c < 4; c++) meta[c * capacity + row] = source_meta[c * capacity + source_row];
    const float *source_floats = (const float *)(source_meta + 4 * capacity);
    float *floats = (float *)(meta + 4 * capacity);
    for (size_t c = 0; c < 4; c++) floats[c * capacity + row] = source_floats[c * capacity + source_row];
}

void fv_i8_row_codes(const uint8_t *codes, size_t dim, size_t row, uint8_t *dst) {
    size_t dpad = fv_i8_padded_dim(dim);
    for (size_t quad = 0; quad < dpad / 4; quad++) memcpy(dst + quad * 4, codes + fv_i8_offset(row, quad * 4, dpad), 4);
}

void fv_i8_encode_query(const float *q, size_t dim, int levels, int8_t *codes, fv_i8_query *out) {
    size_t dpad = fv_i8_padded_dim(dim);
    double maxabs = 0, norm2 = 0;
    for (size_t i = 0; i < dim; i++) {
        double v = q[i];
        if (fabs(v) > maxabs) maxabs = fabs(v);
        norm2 += v * v;
    }
    double t = maxabs / levels;
    double residual2 = 0;
    int32_t sum = 0;
    for (size_t i = 0; i < dim; i++) {
        int e = 0;
        if (t > 0) {
            double scaled = nearbyint((double)q[i] / t);
            e = scaled > levels ? levels : scaled < -levels ? -levels : (int)scaled;
        }
        double r = (double)q[i] - t * e;
        residual2 += r * r;
        sum += e;
        codes[i] = (int8_t)e;
    }
    for (size_t i = dim; i < dpad; i++) codes[i] = 0;
    double norm = sqrt(norm2) * (1 + fv_i8_relative);
    out->scale = t;
    out->norm = norm;
    out->residual_norm = sqrt(residual2) * (1 + fv_i8_relative) + fv_i8_relative * norm;
    out->bias = 128 * sum;
    out->levels = levels;
}

// ---- The scan of the codes: out[q * out_stride + r] = sum_i (c_ri + 128) e_qi ----------------------

static void fv_i8_portable(const uint8_t *codes, size_t nblocks, size_t dpad, const int8_t *qcodes, size_t nq,
                           int32_t *out, size_t out_stride) {
    size_t quads = dpad / 4;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *block = codes + b * 16 * dpad;
        for (size_t q = 0; q < nq; q++) {
            const int8_t *e = qcodes + q * dpad;
            int32_t acc[16] = {0};
            for (size_t quad = 0; quad < quads; quad++) {
                const uint8_t *a = block + quad * 64;
                const int8_t *f = e + quad * 4;
                for (int lane = 0; lane < 16; lane++) {
                    acc[lane] += a[lane * 4] * f[0] + a[lane * 4 + 1] * f[1] + a[lane * 4 + 2] * f[2] +
                                 a[lane * 4 + 3] * f[3];
                }
            }
            memcpy(out + q * out_stride + b * 16, acc, sizeof acc);
        }
    }
}

#if FV_X86
static inline int32_t fv_i8_load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// AVX-512 VNNI: R blocks (16 rows each) x Q queries of int32 accumulators, one vpdpbusd each per quad.
#define FV_VNNI_RMAX 4
#define FV_VNNI_QMAX 6
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline __attribute__((always_inline)) void
fv_i8_vnni_tile(const uint8_t *block, size_t dpad, const int8_t *qcodes, int32_t *out, size_t out_stride,
                const uint8_t *prefetch, size_t prefetch_lines, const int R, const int Q) {
    __m512i acc[FV_VNNI_RMAX][FV_VNNI_QMAX];
    FV_UNROLL for (int r = 0; r < R; r++) FV_UNROLL for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_si512();
    size_t quads = dpad / 4, block_bytes = 16 * dpad;
    /* The lines of the next tile this call brings in, a few per quad (see fv_i8_avx512vnni). */
    size_t per_quad = (prefetch_lines + quads - 1) / quads;
    for (size_t quad = 0; quad < quads; quad++) {
        for (size_t line = quad * per_quad; line < (quad + 1) * per_quad && line < prefetch_lines; line++)
            __builtin_prefetch(prefetch + line * 64, 0, 3);
        __m512i a[FV_VNNI_RMAX];
        FV_UNROLL for (int r = 0; r < R; r++) a[r] = _mm512_loadu_si512(block + r * block_bytes + quad * 64);
        FV_UNROLL for (int q = 0; q < Q; q++) {
            __m512i e = _mm512_set1_epi32(fv_i8_load4(qcodes + q * dpad + quad * 4));
            FV_UNROLL for (int r = 0; r < R; r++) acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], a[r], e);
        }
    }
    FV_UNROLL for (int q = 0; q < Q; q++) FV_UNROLL for (int r = 0; r < R; r++)
        _mm512_storeu_si512(out + q * out_stride + r * 16, acc[r][q]);
}

// One block (16 rows) x up to 10 queries: the tile of small batches, which stream the codes once in
// address order (see fv_i8_avx512vnni).
#define FV_VNNI_STREAM_QMAX 10
/* The largest batch that streams (above it, the 4-block tile with prefetch is faster). */
#define FV_VNNI_STREAM_BATCH 16
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline __attribute__((always_inline)) void
fv_i8_vnni_stream_tile(const uint8_t *block, size_t dpad, const int8_t *qcodes, int32_t *out, size_t out_stride,
                       const int Q) {
    __m512i acc[FV_VNNI_STREAM_QMAX];
    FV_UNROLL for (int q = 0; q < Q; q++) acc[q] = _mm512_setzero_si512();
    size_t quads = dpad / 4;
    for (size_t quad = 0; quad < quads; quad++) {
        __m512i a = _mm512_loadu_si512(block + quad * 64);
        FV_UNROLL for (int q = 0; q < Q; q++)
            acc[q] = _mm512_dpbusd_epi32(acc[q], a, _mm512_set1_epi32(fv_i8_load4(qcodes + q * dpad + quad * 4)));
    }
    FV_UNROLL for (int q = 0; q < Q; q++) _mm512_storeu_si512(out + q * out_stride, acc[q]);
}

#define FV_I8_DISPATCH_Q(TILE, BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, Q) \
    switch (Q) {                                                              \
    case 1: TILE(BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, 1); break;         \
    case 2: TILE(BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, 2); break;         \
    case 3: TILE(BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, 3); break;         \
    case 4: TILE(BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, 4); break;         \
    case 5: TILE(BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, 5); break;         \
    default: TILE(BLOCK, DPAD, QC, OUT, STRIDE, PF, PFN, R, 6); break;        \
    }

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
fv_i8_avx512vnni(const uint8_t *codes, size_t nblocks, size_t dpad, const int8_t *qcodes, size_t nq, int32_t *out,
                 size_t out_stride) {
    size_t b = 0;
    if (nq == 1) {
        /* One query: one block at a time, in address order, four accumulators over the quads.
           Measured on Zen 4 (one core, 100k x 512 from DRAM): 1.4-1.6 ms, against 2.5 ms for the
           4-block tile, whose four interleaved streams the hardware prefetcher follows less well. */
        size_t quads = dpad / 4;
        for (; b < nblocks; b++) {
            const uint8_t *block = codes + b * 16 * dpad;
            __builtin_prefetch(block + 16 * dpad * 2, 0, 2);
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
            size_t quad = 0;
            for (; quad + 4 <= quads; quad += 4) {
                a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(block + quad * 64), _mm512_set1_epi32(fv_i8_load4(qcodes + quad * 4)));
                a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(block + quad * 64 + 64), _mm512_set1_epi32(fv_i8_load4(qcodes + quad * 4 + 4)));
                a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(block + quad * 64 + 128), _mm512_set1_epi32(fv_i8_load4(qcodes + quad * 4 + 8)));
                a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(block + quad * 64 + 192), _mm512_set1_epi32(fv_i8_load4(qcodes + quad * 4 + 12)));
            }
            for (; quad < quads; quad++)
                a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(block + quad * 64), _mm512_set1_epi32(fv_i8_load4(qcodes + quad * 4)));
            _mm512_storeu_si512(out + b * 16, _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)));
        }
        return;
    }
    if (nq <= FV_VNNI_STREAM_BATCH) {
        /* A small batch: block after block in address order, each block (8 KiB at d = 512) summed
           against its group(s) of queries while it sits in L1. The codes stream from DRAM once, in
           the order the hardware prefetcher follows best (one group of up to 10 queries, or two
           balanced groups: the first pass over a block waits on DRAM, the later ones hit L1).
           Measured on Zen 4 (one core, 100k x 512, 2048-row chunks, the variants interleaved in one
           process): nq = 2 2.7 -> 1.95 ms, nq = 4 3.0 -> 2.15 ms, nq = 8 4.1 -> 3.2 ms, nq = 16
           5.9 -> 5.2 ms against the 4-block tile. */
        size_t groups = (nq + FV_VNNI_STREAM_QMAX - 1) / FV_VNNI_STREAM_QMAX, size = (nq + groups - 1) / groups;
        for (; b < nblocks; b++) {
            const uint8_t *block = codes + b * 16 * dpad;
            for (size_t q = 0; q < nq; q += size) {
                size_t n = nq - q < size ? nq - q : size;
                const int8_t *e = qcodes + q * dpad;
                int32_t *o = out + q * out_stride + b * 16;
                switch (n) {
                case 1: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 1); break;
                case 2: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 2); break;
                case 3: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 3); break;
                case 4: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 4); break;
                case 5: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 5); break;
                case 6: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 6); break;
                case 7: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 7); break;
                case 8: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 8); break;
                case 9: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 9); break;
                default: fv_i8_vnni_stream_tile(block, dpad, e, o, out_stride, 10); break;
                }
            }
        }
        return;
    }
    /* Larger batches: tiles of 4 blocks (32 KiB at d = 512) x up to 6 queries, every query group
       re-reading the tile from L1/L2. The first group of a tile would wait on DRAM for all of it, so
       while this tile is summed, the next one is prefetched, its lines spread over the query groups.
       Measured on Zen 4 (one core, 100k x 512, 2048-row chunks, interleaved): nq = 24 8.2 -> 6.2 ms,
       nq = 32 9.7 -> 8.5 ms, nq = 128 31.4 -> 29.7 ms (220 G int8 products/s, the core's vpdpbusd rate). */
    size_t groups = (nq + FV_VNNI_QMAX - 1) / FV_VNNI_QMAX, tile_lines = FV_VNNI_RMAX * 16 * dpad / 64;
    for (; b + FV_VNNI_RMAX <= nblocks; b += FV_VNNI_RMAX) {
        const uint8_t *next = codes + (b + FV_VNNI_RMAX) * 16 * dpad;
        size_t next_lines = b + 2 * FV_VNNI_RMAX <= nblocks ? tile_lines : (nblocks - b - FV_VNNI_RMAX) * 16 * dpad / 64;
        for (size_t g = 0, q = 0; q < nq; g++, q += FV_VNNI_QMAX) {
            size_t n = nq - q < FV_VNNI_QMAX ? nq - q : FV_VNNI_QMAX;
            size_t first = next_lines * g / groups, end = next_lines * (g + 1) / groups;
            FV_I8_DISPATCH_Q(fv_i8_vnni_tile, codes + b * 16 * dpad, dpad, qcodes + q * dpad,
                             out + q * out_stride + b * 16, out_stride, next + first * 64, end - first,
                             FV_VNNI_RMAX, n)
        }
    }
    for (; b < nblocks; b++) {
        for (size_t q = 0; q < nq; q += FV_VNNI_QMAX) {
            size_t n = nq - q < FV_VNNI_QMAX ? nq - q : FV_VNNI_QMAX;
            FV_I8_DISPATCH_Q(fv_i8_vnni_tile, codes + b * 16 * dpad, dpad, qcodes + q * dpad,
                             out + q * out_stride + b * 16, out_stride, codes, 0, 1, n)
        }
    }
}

// AVX2: vpmaddubsw (unsigned x signed bytes to saturating int16 pairs; queries use 7 bits so no pair
// saturates: 255 * 63 * 2 < 32,767), then vpmaddwd by ones to int32. A 16-row block is two ymm halves.
#define FV_AVX2_QMAX 4
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void
fv_i8_avx2_tile(const uint8_t *block, size_t dpad, const int8_t *qcodes, int32_t *out, size_t out_stride,
                const int R, const int Q) {
    (void)R;
    __m256i lo[FV_AVX2_QMAX], hi[FV_AVX2_QMAX];
    FV_UNROLL for (int q = 0; q < Q; q++) lo[q] = hi[q] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    size_t quads = dpad / 4;
    for (size_t quad = 0; quad < quads; quad++) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(block + quad * 64));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(block + quad * 64 + 32));
        FV_UNROLL for (int q = 0; q < Q; q++) {
            __m256i e = _mm256_set1_epi32(fv_i8_load4(qcodes + q * dpad + quad * 4));
            lo[q] = _mm256_add_epi32(lo[q], _mm256_madd_epi16(_mm256_maddubs_epi16(a0, e), ones));
            hi[q] = _mm256_add_epi32(hi[q], _mm256_madd_epi16(_mm256_maddubs_epi16(a1, e), ones));
        }
    }
    FV_UNROLL for (int q = 0; q < Q; q++) {
        _mm256_storeu_si256((__m256i *)(out + q * out_stride), lo[q]);
        _mm256_storeu_si256((__m256i *)(out + q * out_stride + 8), hi[q]);
    }
}

__attribute__((target("avx2"))) static void fv_i8_avx2(const uint8_t *codes, size_t nblocks, size_t dpad,
                                                       const int8_t *qcodes, size_t nq, int32_t *out,
                                                       size_t out_stride) {
    for (size_t b = 0; b < nblocks; b++) {
        for (size_t q = 0; q < nq; q += FV_AVX2_QMAX) {
            size_t n = nq - q < FV_AVX2_QMAX ? nq - q : FV_AVX2_QMAX;
            const uint8_t *block = codes + b * 16 * dpad;
            int32_t *o = out + q * out_stride + b * 16;
            switch (n) {
            case 1: fv_i8_avx2_tile(block, dpad, qcodes + q * dpad, o, out_stride, 1, 1); break;
            case 2: fv_i8_avx2_tile(block, dpad, qcodes + q * dpad, o, out_stride, 1, 2); break;
            case 3: fv_i8_avx2_tile(block, dpad, qcodes + q * dpad, o, out_stride, 1, 3); break;
            default: fv_i8_avx2_tile(block, dpad, qcodes + q * dpad, o, out_stride, 1, 4); break;
            }
        }
    }
}
#endif

// ---- Gathered rows, row-major codes ---------------------------------------------------------------
// One row at a time (a filter's matching rows): the row's dpad bytes against the query's, in 64-byte
// (VNNI) or 32-byte (AVX2) steps, the tail byte by byte; integer sums, so exactly the blocked scan's.

/* Rows prefetched ahead: a row's 8 lines arrive in about the time 12 rows are summed. */
#define FV_I8_GATHER_AHEAD 12

/* Prefetches row r's codes and, with meta, the four figures its double bound reads (one line each:
   the columns are `capacity` apart). */
/* Prefetches row r's four double figures (the columns the exact bound reads). */
static inline void fv_i8_prefetch_figures(const double *meta, size_t capacity, size_t r) {
    __builtin_prefetch(meta + FV_I8_SCALE * capacity + r, 0, 0);
    __builtin_prefetch(meta + FV_I8_SLACK * capacity + r, 0, 0);
    __builtin_prefetch(meta + FV_I8_CODED_NORM * capacity + r, 0, 0);
    __builtin_prefetch(meta + FV_I8_NORM * capacity + r, 0, 0);
}

static inline void fv_i8_gather_prefetch(const uint8_t *row_codes, size_t dpad, size_t r, const double *meta, size_t capacity) {
    const uint8_t *codes = row_codes + r * dpad;
    for (size_t line = 0; line < dpad; line += 64) __builtin_prefetch(codes + line, 0, 0);
    if (meta) fv_i8_prefetch_figures(meta, capacity, r);
}

static void fv_i8_gather_portable(const uint8_t *row_codes, size_t dpad, const uint32_t *rows, size_t m,
                                  const int8_t *qcodes, int32_t *out, const double *meta, size_t capacity) {
    (void)meta;
    (void)capacity;
    for (size_t j = 0; j < m; j++) {
        const uint8_t *a = row_codes + (size_t)rows[j] * dpad;
        int32_t acc = 0;
        for (size_t i = 0; i < dpad; i++) acc += (int32_t)a[i] * qcodes[i];
        out[j] = acc;
    }
}

#if FV_X86
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
fv_i8_gather_avx512vnni(const uint8_t *row_codes, size_t dpad, const uint32_t *rows, size_t m, const int8_t *qcodes,
                        int32_t *out, const double *meta, size_t capacity) {
    size_t full = dpad / 64, tail = dpad % 64;
    __mmask64 tail_mask = tail ? (~0ULL >> (64 - tail)) : 0;
    for (size_t j = 0; j < m; j++) {
        if (j + FV_I8_GATHER_AHEAD < m) fv_i8_gather_prefetch(row_codes, dpad, rows[j + FV_I8_GATHER_AHEAD], meta, capacity);
        const uint8_t *a = row_codes + (size_t)rows[j] * dpad;
        __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0;
        size_t c = 0;
        for (; c + 2 <= full; c += 2) {
            acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(a + c * 64), _mm512_loadu_si512(qcodes + c * 64));
            acc1 = _mm512_dpbusd_epi32(acc1, _mm512_loadu_si512(a + c * 64 + 64), _mm512_loadu_si512(qcodes + c * 64 + 64));
        }
        if (c < full) acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(a + c * 64), _mm512_loadu_si512(qcodes + c * 64));
        if (tail)
            acc1 = _mm512_dpbusd_epi32(acc1, _mm512_maskz_loadu_epi8(tail_mask, a + full * 64),
                                       _mm512_maskz_loadu_epi8(tail_mask, qcodes + full * 64));
        out[j] = _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
    }
}

// AVX2: vpmaddubsw on 7-bit queries cannot saturate (see fv_i8_avx2_tile), then vpmaddwd by ones.
__attribute__((target("avx2"))) static void fv_i8_gather_avx2(const uint8_t *row_codes, size_t dpad, const uint32_t *rows,
                                                              size_t m, const int8_t *qcodes, int32_t *out,
                                                              const double *meta, size_t capacity) {
    size_t full = dpad / 32;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t j = 0; j < m; j++) {
        if (j + FV_I8_GATHER_AHEAD < m) fv_i8_gather_prefetch(row_codes, dpad, rows[j + FV_I8_GATHER_AHEAD], meta, capacity);
        const uint8_t *a = row_codes + (size_t)rows[j] * dpad;
        __m256i acc = _mm256_setzero_si256();
        for (size_t c = 0; c < full; c++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(a + c * 32));
            __m256i e = _mm256_loadu_si256((const __m256i *)(qcodes + c * 32));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, e), ones));
        }
        __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4E));
        sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xB1));
        int32_t total = _mm_cvtsi128_si32(sum);
        for (size_t i = full * 32; i < dpad; i++) total += (int32_t)a[i] * qcodes[i];
        out[j] = total;
    }
}
#endif

int fv_i8_gather_variant(int variant, const uint8_t *row_codes, size_t dim, const uint32_t *rows, size_t m,
                         const int8_t *qcodes, int32_t *out, const double *meta, size_t capacity) {
    if (!(fv_i8_variants() & (1u << variant))) return 0;
    size_t dpad = fv_i8_padded_dim(dim);
    switch (variant) {
#if FV_X86
    case FV_I8_AVX512VNNI: fv_i8_gather_avx512vnni(row_codes, dpad, rows, m, qcodes, out, meta, capacity); break;
    case FV_I8_AVX2: fv_i8_gather_avx2(row_codes, dpad, rows, m, qcodes, out, meta, capacity); break;
#endif
    default: fv_i8_gather_portable(row_codes, dpad, rows, m, qcodes, out, meta, capacity); break;
    }
    return 1;
}

uint32_t fv_i8_variants(void) {
    uint32_t variants = 1u << FV_I8_PORTABLE;
#if FV_X86
    uint32_t features = fv_cpu_features();
    if (features & FV_CPU_AVX2) variants |= 1u << FV_I8_AVX2;
    if ((features & FV_CPU_AVX512F) && (features & FV_CPU_AVX512BW) && (features & FV_CPU_AVX512VNNI))
        variants |= 1u << FV_I8_AVX512VNNI;
#endif
    return variants;
}

int fv_i8_variant_named(const char *name) {
    if (name == NULL) return -1;
    if (strcmp(name, "avx512-vnni") == 0) return FV_I8_AVX512VNNI;
    if (strcmp(name, "avx2") == 0) return FV_I8_AVX2;
    if (strcmp(name, "portable") == 0) return FV_I8_PORTABLE;
    return -1;
}

int fv_i8_best_variant(void) {
    static int best = -1;
    if (best < 0) {
        uint32_t variants = fv_i8_variants();
        /* FLATVEC_INT8_KERNEL names a slower variant to run instead (for measuring it); ignored if
           unknown or not runnable here. */
        int chosen = fv_i8_variant_named(getenv("FLATVEC_INT8_KERNEL"));
        if (chosen >= 0 && (variants & (1u << chosen))) {
            best = chosen;
        } else {
            best = (variants & (1u << FV_I8_AVX512VNNI)) ? FV_I8_AVX512VNNI
                 : (variants & (1u << FV_I8_AVX2))       ? FV_I8_AVX2
                                                         : FV_I8_PORTABLE;
        }
    }
    return best;
}

int fv_i8_query_levels(int variant) { return variant == FV_I8_AVX2 ? 63 : 127; }

int fv_i8_scan_variant(int variant, const uint8_t *codes, size_t nrows, size_t dim, const int8_t *qcodes,
                       size_t nq, int32_t *out, size_t out_stride) {
    if (!(fv_i8_variants() & (1u << variant))) return 0;
    size_t nblocks = (nrows + 15) / 16, dpad = fv_i8_padded_dim(dim);
    if (nblocks == 0 || nq == 0) return 1;
    switch (variant) {
#if FV_X86
    case FV_I8_AVX512VNNI: fv_i8_avx512vnni(codes, nblocks, dpad, qcodes, nq, out, out_stride); break;
    case FV_I8_AVX2: fv_i8_avx2(codes, nblocks, dpad, qcodes, nq, out, out_stride); break;
#endif
    default: fv_i8_portable(codes, nblocks, dpad, qcodes, nq, out, out_stride); break;
    }
    return 1;
}

// ---- Bounds and candidates ---------------------------------------------------------------------

// First a conservative upper bound of every row in float (16 lanes per AVX-512 op, branch-free), then
// the exact double bounds of the few rows that pass it, sixteen at a time.
//
// The float bound is never below the double one: its inputs are the figures rounded up, its
// estimate is within 4 float roundings (< 3e-7 relative) of the double estimate, and it adds 1e-5
// of the estimate and of the margin (and 1e-30 for underflow); an overflow gives +infinity or NaN,
// and both pass (the test is "not below"). So a row it drops is one the double test drops too.
// The float first bound of one query over a chunk: the float columns and the query's figures rounded up.
typedef struct {
    const float *scale, *slack, *coded, *norm;
    float qn, pn, t;
    int32_t bias;
} fv_i8_float_bound;

static inline fv_i8_float_bound fv_i8_float_bound_make(const double *meta, size_t capacity, const fv_i8_query *query) {
    const float *floats = (const float *)(meta + 4 * capacity);
    fv_i8_float_bound b = {
        floats + FV_I8_SCALE * capacity, floats + FV_I8_SLACK * capacity,
        floats + FV_I8_CODED_NORM * capacity, floats + FV_I8_NORM * capacity,
        fv_float_up(query->norm), fv_float_up(query->residual_norm), (float)query->scale, query->bias,
    };
    return b;
}

/* Row r's float estimate and margin (see above for why they never undercut the double ones). */
static inline __attribute__((always_inline)) void fv_i8_float_estimate(const fv_i8_float_bound *b, const int32_t *dots,
                                                                       size_t r, float *est, float *margin) {
    float e = (float)(dots[r] - b->bias) * (b->t * b->scale[r]);
    *est = e;
    *margin = (b->qn * b->slack[r] + b->pn * b->coded[r]) * 1.00001f + fabsf(e) * 1e-5f + 1e-30f;
}

/* Whether |q| |x| is large enough that the float32 sum of row r could overflow (such rows are always kept). */
static inline __attribute__((always_inline)) int fv_i8_float_may_overflow(const fv_i8_float_bound *b, size_t r) {
    return b->qn * b->norm[r] > 0.99e37f;
}

/* The double bounds of one row (the proof is above): inputs of one query over one chunk. */
typedef struct {
    const double *scale, *slack, *coded, *norm;
    double qn, pn, t;
    int32_t bias;
} fv_i8_double_bounds;

static inline fv_i8_double_bounds fv_i8_double_bounds_make(const double *meta, size_t capacity, const fv_i8_query *query) {
    fv_i8_double_bounds b = {
        meta + FV_I8_SCALE * capacity, meta + FV_I8_SLACK * capacity, meta + FV_I8_CODED_NORM * capacity,
        meta + FV_I8_NORM * capacity, query->norm, query->residual_norm, query->scale, query->bias,
    };
    return b;
}

/* Writes row r's index and bounds if its upper bound reaches `threshold` (a row whose float32 sum
   could overflow always does, with infinite bounds); returns 1 if it did, else 0. */
static inline __attribute__((always_inline)) size_t fv_i8_double_bound(const fv_i8_double_bounds *b, int32_t dot, size_t r,
                                                                       double threshold, uint32_t *index, double *lower,
                                                                       double *upper) {
    if (b->qn * b->norm[r] > 1e37) {
        *index = (uint32_t)r;
        *lower = -INFINITY;
        *upper = INFINITY;
        return 1;
    }
    double est = (double)(dot - b->bias) * (b->t * b->scale[r]);
    double margin = (b->qn * b->slack[r] + b->pn * b->coded[r] + fabs(est) * 1e-12) * (1 + 1e-12) + 1e-30;
    double hi = est + margin;
    if (!(hi >= threshold)) return 0;
    *index = (uint32_t)r;
    *lower = est - margin;
    *upper = hi;
    return 1;
}

FV_I8_CLONES
size_t fv_i8_candidates(const int32_t *dots, size_t nrows, const double *meta, size_t capacity,
                        const fv_i8_query *query, double threshold, uint32_t *indices, double *lower, double *upper,
                        double *scratch) {
    const fv_i8_double_bounds db = fv_i8_double_bounds_make(meta, capacity, query);
    const fv_i8_float_bound fb = fv_i8_float_bound_make(meta, capacity, query);
    /* threshold is a float score or a double lower bound; round it down so the float test stays conservative. */
    float threshold_f = (float)threshold;
    if ((double)threshold_f > threshold) threshold_f = nextafterf(threshold_f, -INFINITY);
    uint8_t *pass = (uint8_t *)scratch;
    for (size_t r = 0; r < nrows; r++) {
        float est, margin;
        fv_i8_float_estimate(&fb, dots, r, &est, &margin);
        pass[r] = !(est + margin < threshold_f) | fv_i8_float_may_overflow(&fb, r);
    }
    for (size_t r = nrows; r < ((nrows + 15) & ~(size_t)15); r++) pass[r] = 0;
    /* The rows that pass, listed first (in `indices`), so that the double figures of the next ones are
       prefetched while one is bounded: they sit in four columns the scan of the codes did not touch,
       often out of cache (the codes of every chunk stream through it between two scans). */
    size_t passed = 0;
    for (size_t r = 0; r < nrows; r += 16) {
        /* Sixteen flags at a time: almost every group is all zero. */
        uint64_t low, high;
        memcpy(&low, pass + r, 8);
        memcpy(&high, pass + r + 8, 8);
        if ((low | high) == 0) continue;
        size_t end = r + 16 < nrows ? r + 16 : nrows;
        for (size_t j = r; j < end; j++) {
            indices[passed] = (uint32_t)j;
            passed += pass[j];
        }
    }
    enum { ahead = 8 };
    for (size_t j = 0; j < passed && j < ahead; j++) fv_i8_prefetch_figures(meta, capacity, indices[j]);
    size_t found = 0;
    for (size_t j = 0; j < passed; j++) {
        if (j + ahead < passed) fv_i8_prefetch_figures(meta, capacity, indices[j + ahead]);
        /* found <= j: row j is read before slot `found` is written. */
        size_t r = indices[j];
        found += fv_i8_double_bound(&db, dots[r], r, threshold, indices + found, lower + found, upper + found);
    }
    return found;
}

size_t fv_i8_candidates_listed(const int32_t *dots, const uint32_t *rows, size_t m, const double *meta,
                               size_t capacity, const fv_i8_query *query, double threshold, uint32_t *indices,
                               double *lower, double *upper) {
    const fv_i8_double_bounds db = fv_i8_double_bounds_make(meta, capacity, query);
    size_t found = 0;
    for (size_t j = 0; j < m; j++) {
        found += fv_i8_double_bound(&db, dots[j], rows[j], threshold, indices + found, lower + found, upper + found);
    }
    return found;
}

// A threshold for a chunk whose collector is not full yet: the k-th largest float lower bound of its
// rows. Each float lower bound is at most the double one (the same inflations as the float upper
// bound above, subtracted), so k rows score at least the result: a valid threshold, found without
// computing the double bounds of every row.
FV_I8_CLONES
double fv_i8_kth_lower_bound(const int32_t *dots, size_t nrows, const double *meta, size_t capacity,
                             const fv_i8_query *query, size_t k, float *scratch) {
    if (k == 0 || k > nrows) return -INFINITY;
    const fv_i8_float_bound fb = fv_i8_float_bound_make(meta, capacity, query);
    for (size_t r = 0; r < nrows; r++) {
        float est, margin;
        fv_i8_float_estimate(&fb, dots, r, &est, &margin);
        float lo = est - margin;
        /* NaN (an overflow) and rows whose float32 sum could overflow count as -infinity. */
        scratch[r] = (lo == lo && !fv_i8_float_may_overflow(&fb, r)) ? lo : -INFINITY;
    }
    return (double)fv_kth_largest_float(scratch, nrows, k);
}

// The k-th largest (index k - 1 in descending order). Up to FV_KTH_FILTERED, the k largest so far
// are kept sorted and the values are checked sixteen at a time against the smallest of them: almost
// every group of a chunk's bounds is below it, so a chunk costs one pass of compares instead of a
// quickselect's data-dependent branches (measured: ~10 us per 2,048 values, most of it mispredicted
// branches). Above it, quickselect, finished by a sort below 17 values. Both give the k-th largest of
// the multiset (duplicates count), so they agree exactly.
#define FV_KTH_FILTERED 64
#define FV_DEFINE_KTH_LARGEST(NAME, TYPE)                                                 \
    static int NAME##_descending(const void *a, const void *b) {                          \
        TYPE x = *(const TYPE *)a, y = *(const TYPE *)b;                                  \
        return (x < y) - (x > y);                                                         \
    }                                                                                     \
                                                                                          \
    /* Inserts v into the m largest so far (descending); keeps at most k. */              \
    static inline void NAME##_insert(TYPE *top, size_t *m, size_t k, TYPE v) {            \
        size_t p = *m < k ? (*m)++ : k - 1;                                               \
        while (p > 0 && top[p - 1] < v) {                                                 \
            top[p] = top[p - 1];                                                          \
            p--;                                                                          \
        }                                                                                 \
        top[p] = v;                                                                       \
    }                                                                                     \
                                                                                          \
    static TYPE NAME##_filtered(const TYPE *values, size_t count, size_t k) {             \
        TYPE top[FV_KTH_FILTERED];                                                        \
        size_t m = 0, i = 0;                                                              \
        for (; i < k; i++) NAME##_insert(top, &m, k, values[i]);                          \
        TYPE bar = top[k - 1];                                                            \
        for (; i + 16 <= count; i += 16) {                                                \
            int any = 0;                                                                  \
            for (size_t j = 0; j < 16; j++) any |= values[i + j] > bar;                   \
            if (!any) continue;                                                           \
            for (size_t j = 0; j < 16; j++) {                                             \
                if (values[i + j] > bar) {                                                \
                    NAME##_insert(top, &m, k, values[i + j]);                             \
                    bar = top[k - 1];                                                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        for (; i < count; i++) {                                                          \
            if (values[i] > bar) {                                                        \
                NAME##_insert(top, &m, k, values[i]);                                     \
                bar = top[k - 1];                                                         \
            }                                                                             \
        }                                                                                 \
        return bar;                                                                       \
    }                                                                                     \
                                                                                          \
    TYPE NAME(TYPE *values, size_t count, size_t k) {                                     \
        if (k == 0 || k > count) return -INFINITY;                                        \
        if (k <= FV_KTH_FILTERED) return NAME##_filtered(values, count, k);               \
        size_t lo = 0, hi = count - 1, target = k - 1;                                    \
        while (hi - lo > 16) {                                                            \
            TYPE pivot = values[lo + (hi - lo) / 2];                                      \
            size_t i = lo, j = hi;                                                        \
            while (i <= j) {                                                              \
                while (values[i] > pivot) i++;                                            \
                while (values[j] < pivot) j--;                                            \
                if (i <= j) {                                                             \
                    TYPE swap = values[i];                                                \
                    values[i] = values[j];                                                \
                    values[j] = swap;                                                     \
                    i++;                                                                  \
                    if (j == 0) break;                                                    \
                    j--;                                                                  \
                }                                                                         \
            }                                                                             \
            if (target <= j) hi = j;                                                      \
            else if (target >= i) lo = i;                                                 \
            else return values[target];                                                   \
        }                                                                                 \
        qsort(values + lo, hi - lo + 1, sizeof(TYPE), NAME##_descending);                 \
        return values[target];                                                            \
    }

FV_DEFINE_KTH_LARGEST(fv_kth_largest, double)
FV_DEFINE_KTH_LARGEST(fv_kth_largest_float, float)
