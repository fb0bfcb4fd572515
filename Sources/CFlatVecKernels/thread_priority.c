// Lowers the calling thread's priority; a no-op where unsupported.
#define _GNU_SOURCE
#include "CFlatVecKernels.h"

#include <errno.h>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int fv_lower_this_thread(int increment) {
#if defined(__linux__)
    // On Linux a nice value belongs to a thread: the thread's id names this thread alone.
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int current = getpriority(PRIO_PROCESS, tid);
    if (current == -1 && errno != 0) return errno;
    return setpriority(PRIO_PROCESS, tid, current + increment) == 0 ? 0 : errno;
#else
    (void)increment;
    return 0;
#endif
}
