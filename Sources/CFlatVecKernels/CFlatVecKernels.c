#define _GNU_SOURCE
#include "CFlatVecKernels.h"

#include <dlfcn.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#define FV_X86 1
#endif

uint32_t fv_cpu_features(void) {
    uint32_t features = 0;
#if FV_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) features |= FV_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) features |= FV_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) features |= FV_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) features |= FV_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) features |= FV_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) features |= FV_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) features |= FV_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512dq")) features |= FV_CPU_AVX512DQ;
#endif
    return features;
}

/* ---------- CRC-32C ---------- */

static uint32_t crc32c_table[8][256];
static int crc32c_table_ready = 0;

static void crc32c_init_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc32c_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = crc32c_table[0][c & 0xff] ^ (c >> 8);
            crc32c_table[t][n] = c;
        }
    }
    __atomic_store_n(&crc32c_table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc32c_software(uint32_t crc, const unsigned char *p, size_t n) {
    if (!__atomic_load_n(&crc32c_table_ready, __ATOMIC_ACQUIRE)) crc32c_init_table();
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= crc;
        crc = crc32c_table[7][word & 0xff] ^ crc32c_table[6][(word >> 8) & 0xff] ^
              crc32c_table[5][(word >> 16) & 0xff] ^ crc32c_table[4][(word >> 24) & 0xff] ^
              crc32c_table[3][(word >> 32) & 0xff] ^ crc32c_table[2][(word >> 40) & 0xff] ^
              crc32c_table[1][(word >> 48) & 0xff] ^ crc32c_table[0][word >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if FV_X86
__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t fv_crc32c(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
#if FV_X86
    static int has_sse42 = -1;
    if (has_sse42 < 0) has_sse42 = (fv_cpu_features() & FV_CPU_SSE42) != 0;
    if (has_sse42) return ~crc32c_hardware(crc, p, length);
#endif
    return ~crc32c_software(crc, p, length);
}

/* ---------- search kernels ---------- */

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

/* ---------- OpenBLAS runtime ---------- */

const char *fv_openblas_corename(void) {
    char *(*f)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    return f ? f() : NULL;
}

const char *fv_openblas_config(void) {
    char *(*f)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_config");
    return f ? f() : NULL;
}

int fv_openblas_num_threads(void) {
    int (*f)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    return f ? f() : -1;
}

int fv_openblas_set_num_threads(int threads) {
    void (*f)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (!f) return 0;
    f(threads);
    return 1;
}

/* ---------- locks ---------- */

int fv_rwlock_init_writer_preferring(pthread_rwlock_t *lock) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#if defined(__GLIBC__)
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc;
}
