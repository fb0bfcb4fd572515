// Filter comparisons over an attribute column, one body per instruction set through target_clones
// (the loops are branch-free, so the compiler vectorises them).
#include "CFlatVecKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define FV_FILTER_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FV_FILTER_CLONES
#endif

/* The bytes of FilterProgram (Swift): false 0, unknown 1, true 2. */
#define FV_FILTER_LOOP(TEST)                                         \
    for (size_t r = 0; r < n; r++) {                                 \
        uint8_t t = (uint8_t)((TEST) ? 2 : 0);                       \
        out[r] = present[r] ? t : 1;                                 \
    }

#define FV_FILTER_SWITCH(X)                                          \
    switch (op) {                                                    \
    case 1: FV_FILTER_LOOP(X[r] == value) break;                     \
    case 2: FV_FILTER_LOOP(X[r] != value) break;                     \
    case 3: FV_FILTER_LOOP(X[r] < value) break;                      \
    case 4: FV_FILTER_LOOP(X[r] <= value) break;                     \
    case 5: FV_FILTER_LOOP(X[r] > value) break;                      \
    default: FV_FILTER_LOOP(X[r] >= value) break;                    \
    }

FV_FILTER_CLONES
void fv_filter_compare_i64(const int64_t *words, const uint8_t *present, size_t n, int op, int64_t value, uint8_t *out) {
    FV_FILTER_SWITCH(words)
}

FV_FILTER_CLONES
void fv_filter_compare_f64(const double *words, const uint8_t *present, size_t n, int op, double value, uint8_t *out) {
    FV_FILTER_SWITCH(words)
}
