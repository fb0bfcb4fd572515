// Starts writeback of a file range and waits for it (sync_file_range(2)); a no-op where unsupported.
#define _GNU_SOURCE
#include <fcntl.h>
#include "CFlatVecKernels.h"

int fv_write_back(int fd, long long offset, long long count) {
#if defined(__linux__)
    return sync_file_range(fd, offset, count,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
#else
    (void)fd; (void)offset; (void)count;
    return 0;
#endif
}
