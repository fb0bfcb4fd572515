// Floats shared by the threads of one scan: each query's admission threshold, raised by whichever
// thread knows a higher one. Stored as their bits in 32-bit words, changed with compare-and-swap.
#include "CFlatVecKernels.h"

#include <string.h>

static inline float fv_bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float fv_atomic_load_float(const uint32_t *word) {
    return fv_bits_to_float(__atomic_load_n(word, __ATOMIC_RELAXED));
}

void fv_atomic_raise_float(uint32_t *word, float value) {
    if (!(value == value)) return; /* never NaN */
    uint32_t seen = __atomic_load_n(word, __ATOMIC_RELAXED), wanted;
    memcpy(&wanted, &value, sizeof wanted);
    while (fv_bits_to_float(seen) < value) {
        if (__atomic_compare_exchange_n(word, &seen, wanted, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return;
    }
}
