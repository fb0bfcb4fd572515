// CPU feature detection (CPUID), for choosing kernels at run time.
#include "CFlatVecKernels.h"

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
    if (__builtin_cpu_supports("avx512vnni")) features |= FV_CPU_AVX512VNNI;
#endif
    return features;
}
