/* journal.c: the crash journal. A running print is recorded in a small JSON file, rewritten
 * in place (a temporary file renamed over it, so a reader never sees half a record), and
 * removed when the print ends; finding it at start-up means the previous process died
 * during a print. */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"

int journal_write(const char *path, const json_t *record)
{
    char tmp[4200];
    char *s = pyjson_dumps(record);
    if (!s)
        return -ENOMEM;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = -errno;
    } else {
        bool ok = fputs(s, f) >= 0;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) < 0) {
            rc = -(errno ? errno : EIO);
            unlink(tmp);
        }
    }
    free(s);
    return rc;
}

json_t *journal_read(const char *path)
{
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

void journal_clear(const char *path)
{
    unlink(path);
}

void journal_prepare(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
}
