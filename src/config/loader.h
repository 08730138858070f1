/* loader.h: one load of a configuration file (loader.c): the file as the user named it, the
 * folder its @includes are relative to, and the one error line every mistake ends in. */
#ifndef PRINTBRIDGE_CONFIG_LOADER_H
#define PRINTBRIDGE_CONFIG_LOADER_H

#include <libconfig.h>
#include <stddef.h>

struct raw_file;

struct loader {
    const char *path;     /* as given by the user */
    char *incdir;         /* include directory handed to libconfig, NULL for the CWD */
    char *err;            /* the caller's buffer, or NULL */
    size_t errsz;
    struct raw_file *raw; /* the files' text, read once for the raw checks (rawtext.c) */
};

/* The path of a file libconfig names: the config itself as given, or an @include'd file,
 * which libconfig names as written in the @include line but opened under incdir. NULL when
 * memory ran out. */
char *loader_path(const struct loader *l, const char *file);

/* Writes the error line (printf-style) into the caller's buffer. */
void loader_errf(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "FILE:LINE: <message>" for setting s; returns -EINVAL. */
int loader_fail(struct loader *l, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "FILE: out of memory while reading the config file"; returns -ENOMEM. */
int loader_fail_oom(struct loader *l);

/* Frees what the load kept (incdir and the raw text); the loader can be dropped then. */
void loader_release(struct loader *l);

#endif
