// Queries to OpenBLAS at run time (core name, configuration, threads), found with dlsym so
// other BLAS libraries work too.
#define _GNU_SOURCE
#include "CFlatVecKernels.h"

#include <dlfcn.h>

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
