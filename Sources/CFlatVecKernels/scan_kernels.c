// Search kernels: threshold pre-scan, dot products of a few queries, sums of squares;
// one body per instruction set through target_clones.
#include "CFlatVecKernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#define FV_X86 1
#endif

typedef float fv_v16 __attribute__((vector_size(64), aligned(4)));

#if FV_X86
#define FV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FV_CLONES
#endif

FV_CLONES
size_t fv_select_at_least(const float *scores, size_t count, float threshold, uint32_t *indices) {
    size_t found = 0;
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        int any = 0;
        for (int j = 0; j < 16; j++) any |= scores[i + j] >= threshold;
        if (!any) continue;
        for (int j = 0; j < 16; j++) {
            if (scores[i + j] >= threshold) indices[found++] = (uint32_t)(i + j);
        }
    }
    for (; i < count; i++) {
        if (scores[i] >= threshold) indices[found++] = (uint32_t)i;
    }
    return found;
}

FV_CLONES
void fv_dot_rows(const float *rows, size_t nrows, size_t dim, const float *query, float *out) {
    size_t body = dim & ~(size_t)63;
    size_t body16 = dim & ~(size_t)15;
    for (size_t r = 0; r < nrows; r++) {
        const float *row = rows + r * dim;
        fv_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        size_t i = 0;
        for (; i < body; i += 64) {
            a0 += *(const fv_v16 *)(row + i) * *(const fv_v16 *)(query + i);
            a1 += *(const fv_v16 *)(row + i + 16) * *(const fv_v16 *)(query + i + 16);
            a2 += *(const fv_v16 *)(row + i + 32) * *(const fv_v16 *)(query + i + 32);
            a3 += *(const fv_v16 *)(row + i + 48) * *(const fv_v16 *)(query + i + 48);
        }
        for (; i < body16; i += 16) a0 += *(const fv_v16 *)(row + i) * *(const fv_v16 *)(query + i);
        fv_v16 total = (a0 + a1) + (a2 + a3);
        float s = 0;
        for (int j = 0; j < 16; j++) s += total[j];
        for (; i < dim; i++) s += row[i] * query[i];
        out[r] = s;
    }
}

void fv_dot_rows_gather(const float *rows, const uint32_t *indices, size_t count, size_t dim, const float *query,
                        float *out) {
    /* Each row is scored by fv_dot_rows itself (so bit for bit as in a full scan) while the rows two
       ahead are fetched, so the misses of scattered rows overlap instead of queueing one by one. */
    size_t bytes = dim * sizeof(float);
    for (size_t j = 0; j < count && j < 2; j++) {
        const char *row = (const char *)(rows + (size_t)indices[j] * dim);
        for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b, 0, 3);
    }
    for (size_t j = 0; j < count; j++) {
        if (j + 2 < count) {
            const char *ahead = (const char *)(rows + (size_t)indices[j + 2] * dim);
            for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(ahead + b, 0, 3);
        }
        fv_dot_rows(rows + (size_t)indices[j] * dim, 1, dim, query, out + j);
    }
}

/* One query's score of one row, in exactly fv_dot_rows's order: four accumulators over 64-float
   steps, one for the 16-float rest, the sum (a0 + a1) + (a2 + a3), its lanes in order, then the tail. */
#define FV_DOT_FINISH(a0, a1, a2, a3, row, q, i0, dim, out)                        \
    do {                                                                          \
        size_t i_ = (i0);                                                         \
        for (; i_ < body16; i_ += 16) a0 += *(const fv_v16 *)((row) + i_) * *(const fv_v16 *)((q) + i_); \
        fv_v16 t_ = (a0 + a1) + (a2 + a3);                                        \
        float s_ = 0;                                                             \
        for (int j_ = 0; j_ < 16; j_++) s_ += t_[j_];                             \
        for (; i_ < (dim); i_++) s_ += (row)[i_] * (q)[i_];                       \
        (out) = s_;                                                               \
    } while (0)

FV_CLONES
void fv_dot_rows_gather_multi(const float *rows, const uint32_t *indices, size_t count, size_t dim,
                              const float *queries, size_t nq, float *out, size_t out_stride) {
    size_t body = dim & ~(size_t)63;
    size_t body16 = dim & ~(size_t)15;
    size_t bytes = dim * sizeof(float);
    for (size_t j = 0; j < count; j++) {
        if (j + 2 < count) {
            const char *ahead = (const char *)(rows + (size_t)indices[j + 2] * dim);
            for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(ahead + b, 0, 3);
        }
        const float *row = rows + (size_t)indices[j] * dim;
        size_t q = 0;
        for (; q + 2 <= nq; q += 2) {
            const float *q0 = queries + q * dim, *q1 = q0 + dim;
            fv_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            fv_v16 b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            size_t i = 0;
            for (; i < body; i += 64) {
                fv_v16 x0 = *(const fv_v16 *)(row + i), x1 = *(const fv_v16 *)(row + i + 16);
                fv_v16 x2 = *(const fv_v16 *)(row + i + 32), x3 = *(const fv_v16 *)(row + i + 48);
                a0 += x0 * *(const fv_v16 *)(q0 + i);
                a1 += x1 * *(const fv_v16 *)(q0 + i + 16);
                a2 += x2 * *(const fv_v16 *)(q0 + i + 32);
                a3 += x3 * *(const fv_v16 *)(q0 + i + 48);
                b0 += x0 * *(const fv_v16 *)(q1 + i);
                b1 += x1 * *(const fv_v16 *)(q1 + i + 16);
                b2 += x2 * *(const fv_v16 *)(q1 + i + 32);
                b3 += x3 * *(const fv_v16 *)(q1 + i + 48);
            }
            FV_DOT_FINISH(a0, a1, a2, a3, row, q0, i, dim, out[q * out_stride + j]);
            FV_DOT_FINISH(b0, b1, b2, b3, row, q1, i, dim, out[(q + 1) * out_stride + j]);
        }
        for (; q < nq; q++) {
            const float *q0 = queries + q * dim;
            fv_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            size_t i = 0;
            for (; i < body; i += 64) {
                a0 += *(const fv_v16 *)(row + i) * *(const fv_v16 *)(q0 + i);
                a1 += *(const fv_v16 *)(row + i + 16) * *(const fv_v16 *)(q0 + i + 16);
                a2 += *(const fv_v16 *)(row + i + 32) * *(const fv_v16 *)(q0 + i + 32);
                a3 += *(const fv_v16 *)(row + i + 48) * *(const fv_v16 *)(q0 + i + 48);
            }
            FV_DOT_FINISH(a0, a1, a2, a3, row, q0, i, dim, out[q * out_stride + j]);
        }
    }
}

FV_CLONES
void fv_dot_rows_multi(const float *rows, size_t nrows, size_t dim, const float *queries, size_t nq,
                       float *out, size_t out_stride) {
    size_t body16 = dim & ~(size_t)15;
    for (size_t r = 0; r < nrows; r++) {
        const float *row = rows + r * dim;
        size_t q = 0;
        /* Four queries per pass: each row vector load feeds four multiply-adds. */
        for (; q + 4 <= nq; q += 4) {
            const float *q0 = queries + q * dim, *q1 = q0 + dim, *q2 = q1 + dim, *q3 = q2 + dim;
            fv_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            size_t i = 0;
            for (; i < body16; i += 16) {
                fv_v16 x = *(const fv_v16 *)(row + i);
                a0 += x * *(const fv_v16 *)(q0 + i);
                a1 += x * *(const fv_v16 *)(q1 + i);
                a2 += x * *(const fv_v16 *)(q2 + i);
                a3 += x * *(const fv_v16 *)(q3 + i);
            }
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int j = 0; j < 16; j++) {
                s0 += a0[j];
                s1 += a1[j];
                s2 += a2[j];
                s3 += a3[j];
            }
            for (; i < dim; i++) {
                s0 += row[i] * q0[i];
                s1 += row[i] * q1[i];
                s2 += row[i] * q2[i];
                s3 += row[i] * q3[i];
            }
            out[(q + 0) * out_stride + r] = s0;
            out[(q + 1) * out_stride + r] = s1;
            out[(q + 2) * out_stride + r] = s2;
            out[(q + 3) * out_stride + r] = s3;
        }
        for (; q < nq; q++) {
            const float *qq = queries + q * dim;
            fv_v16 a0 = {0}, a1 = {0};
            size_t i = 0;
            for (; i + 32 <= body16; i += 32) {
                a0 += *(const fv_v16 *)(row + i) * *(const fv_v16 *)(qq + i);
                a1 += *(const fv_v16 *)(row + i + 16) * *(const fv_v16 *)(qq + i + 16);
            }
            for (; i < body16; i += 16) a0 += *(const fv_v16 *)(row + i) * *(const fv_v16 *)(qq + i);
            fv_v16 total = a0 + a1;
            float s = 0;
            for (int j = 0; j < 16; j++) s += total[j];
            for (; i < dim; i++) s += row[i] * qq[i];
            out[q * out_stride + r] = s;
        }
    }
}

typedef float fv_v8 __attribute__((vector_size(32), aligned(4)));
typedef double fv_d8 __attribute__((vector_size(64)));

FV_CLONES
double fv_sum_squares(const float *values, size_t count) {
    /* Double accumulators: exact enough to normalise, and no float overflow before the caller's check. */
    fv_d8 a0 = {0}, a1 = {0};
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        fv_d8 x0 = __builtin_convertvector(*(const fv_v8 *)(values + i), fv_d8);
        fv_d8 x1 = __builtin_convertvector(*(const fv_v8 *)(values + i + 8), fv_d8);
        a0 += x0 * x0;
        a1 += x1 * x1;
    }
    fv_d8 total = a0 + a1;
    double s = 0;
    for (int j = 0; j < 8; j++) s += total[j];
    for (; i < count; i++) s += (double)values[i] * (double)values[i];
    return s;
}
