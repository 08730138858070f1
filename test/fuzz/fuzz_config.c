/* fuzz_config.c: the configuration loader on arbitrary file contents (a temporary file per
 * process, rewritten for every input). A file is either loaded or refused with a message;
 * nothing else may happen. */
#include <stdio.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "printbridge/config.h"

static char path[] = "/tmp/pb-fuzz-config.XXXXXX";
static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0 && (fd = mkstemp(path)) < 0)
        abort();
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct config c;
    char err[1024];
    err[0] = '\0';
    if (config_load(&c, path, err, sizeof err) == 0)
        config_free(&c);
    else if (!err[0])
        abort();    /* refused without saying why */
    return 0;
}

/* libFuzzer has no teardown hook: the file goes when the process exits */
__attribute__((destructor)) static void remove_file(void)
{
    if (fd >= 0)
        unlink(path);
}
