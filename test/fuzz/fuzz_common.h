/* fuzz_common.h: helpers shared by the libFuzzer targets in test/fuzz/ (see README.md). */
#ifndef PB_FUZZ_COMMON_H
#define PB_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input as a NUL-terminated string (cut at the first NUL, as a C caller would see it).
 * The caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif

/* Outside the guard: test/test_fuzz_seeds.c includes several targets into one file, renaming
 * LLVMFuzzerTestOneInput before each, and each renamed function needs its prototype. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
