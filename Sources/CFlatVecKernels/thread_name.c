// Names the calling thread (shown by top -H, perf and debuggers); a no-op where unsupported.
#define _GNU_SOURCE
#include "CFlatVecKernels.h"

void fv_name_this_thread(const char *name) {
#if defined(__GLIBC__)
    pthread_setname_np(pthread_self(), name);
#else
    (void)name;
#endif
}
