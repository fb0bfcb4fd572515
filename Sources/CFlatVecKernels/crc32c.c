// CRC-32C (Castagnoli): SSE4.2 instruction when the CPU has it, a table otherwise.
#include "CFlatVecKernels.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#define FV_X86 1
#endif

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
static uint64_t crc32c_hardware_words(uint64_t c, const unsigned char *p, size_t words) {
    for (size_t i = 0; i < words; i++) {
        uint64_t word;
        memcpy(&word, p + 8 * i, 8);
        c = __builtin_ia32_crc32di(c, word);
    }
    return c;
}

// Three streams at once. The crc32 instruction takes three cycles and can start one a cycle, so one
// stream runs at a third of its speed (the checks of every segment at start-up wait on it). Each
// round checksums three lanes of FV_CRC_LANE bytes independently, the second and third from a
// register of zero, then joins them: for the register r after some bytes, the register after
// FV_CRC_LANE more bytes D is shift(r) ^ crc(0, D), where shift(r) (the register after that many zero
// bytes) is linear in r, so four tables of 256 entries, one per byte of r, give it.
#define FV_CRC_LANE 4096
static uint32_t crc32c_shift_table[4][256];
static pthread_once_t crc32c_shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t crc32c_zeros(uint32_t c, size_t n) {
    static const unsigned char zeros[64] = {0};
    uint64_t r = c;
    while (n >= 64) {
        r = crc32c_hardware_words(r, zeros, 8);
        n -= 64;
    }
    return (uint32_t)crc32c_hardware_words(r, zeros, n / 8);
}

__attribute__((target("sse4.2")))
static void crc32c_init_shift(void) {
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) crc32c_shift_table[k][b] = crc32c_zeros(b << (8 * k), FV_CRC_LANE);
    }
}

static inline uint32_t crc32c_shift(uint32_t r) {
    return crc32c_shift_table[0][r & 0xff] ^ crc32c_shift_table[1][(r >> 8) & 0xff] ^
           crc32c_shift_table[2][(r >> 16) & 0xff] ^ crc32c_shift_table[3][r >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    if (n >= 3 * FV_CRC_LANE) {
        pthread_once(&crc32c_shift_once, crc32c_init_shift);
        while (n >= 3 * FV_CRC_LANE) {
            uint64_t c0 = c, c1 = 0, c2 = 0;
            for (size_t i = 0; i < FV_CRC_LANE; i += 8) {
                uint64_t w0, w1, w2;
                memcpy(&w0, p + i, 8);
                memcpy(&w1, p + FV_CRC_LANE + i, 8);
                memcpy(&w2, p + 2 * FV_CRC_LANE + i, 8);
                c0 = __builtin_ia32_crc32di(c0, w0);
                c1 = __builtin_ia32_crc32di(c1, w1);
                c2 = __builtin_ia32_crc32di(c2, w2);
            }
            c = crc32c_shift(crc32c_shift((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
            p += 3 * FV_CRC_LANE;
            n -= 3 * FV_CRC_LANE;
        }
    }
    c = crc32c_hardware_words(c, p, n / 8);
    p += n & ~(size_t)7;
    n &= 7;
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
