/* loader.c: one load of a configuration file (loader.h): naming its files in messages and
 * writing the one error line. Every error is "FILE:LINE: what is wrong", FILE as the user
 * spelled it (or an @include'd file under the folder it was opened from). */
#include "loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawtext.h"

char *loader_path(const struct loader *l, const char *file)
{
    char *out;
    if (!file || strcmp(file, l->path) == 0)
        return strdup(l->path);
    if (file[0] == '/' || !l->incdir)
        return strdup(file);
    size_t n = strlen(l->incdir);
    const char *sep = n > 0 && l->incdir[n - 1] == '/' ? "" : "/";
    if (asprintf(&out, "%s%s%s", l->incdir, sep, file) < 0)
        return NULL;
    return out;
}

void loader_errf(struct loader *l, const char *fmt, ...)
{
    va_list ap;
    if (!l->err || l->errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(l->err, l->errsz, fmt, ap);
    va_end(ap);
}

int loader_fail(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    char *file = loader_path(l, config_setting_source_file(s));

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loader_errf(l, "%s:%u: %s", file ? file : l->path, config_setting_source_line(s), msg);
    free(file);
    return -EINVAL;
}

int loader_fail_oom(struct loader *l)
{
    loader_errf(l, "%s: out of memory while reading the config file", l->path);
    return -ENOMEM;
}

void loader_release(struct loader *l)
{
    raw_release(l);
    free(l->incdir);
    l->incdir = NULL;
}
