/* memory.c: owns how the process's allocator gives memory back (glibc malloc).
 *
 * glibc serves large blocks with mmap, but raises that threshold (up to 32 MiB) each time one
 * is freed, so that the next 25 MB upload landed on the heap, and the heap's top is only given
 * back when nothing above it is in use: three uploads left 100 MB resident for good. A fixed
 * threshold keeps every large block (an upload, a long reply) in its own mapping, returned on
 * free; the trim threshold gives back a freed heap top early. memory_trim is for the moments
 * after a burst (an upload written): it also returns free pages inside the heap. */
#include <malloc.h>

#include "printbridge/base.h"

#define MMAP_THRESHOLD (128 * 1024)     /* glibc's default, but no longer moving */
#define TRIM_THRESHOLD (256 * 1024)

void memory_tune(void)
{
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
}

void memory_trim(void)
{
    malloc_trim(0);
}
