/* config.c: config_load: the file and its @includes opened, parsed by libconfig, and every
 * way that can fail turned into one line "FILE:LINE: what is wrong" (or "FILE: why it cannot
 * be read"). What the settings mean is the key table's (keys.c); reading them against it is
 * reader.c's. libconfig names neither the reason a file cannot be opened nor the @include that
 * failed, and it calls exit() on an @include'd directory: this file makes up for all three. */
#include "printbridge/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "rawtext.h"
#include "reader.h"

/* Why path cannot be opened for reading as a file: 0, or a negative errno. A directory opens
 * fine for reading, so it is -EISDIR here. */
static int probe(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int e = 0;

    if (fd < 0)
        e = errno;
    else if (fstat(fd, &st) != 0)
        e = errno;
    else if (S_ISDIR(st.st_mode))
        e = EISDIR;
    if (fd >= 0)
        close(fd);
    return -e;
}

/* libconfig's file I/O error forgets errno (and config_error_file() is NULL): ask the file
 * system why. */
static int report_unreadable(struct loader *l, const char *text)
{
    int rc = probe(l->path);
    if (rc == 0) { /* readable now: it changed in between, or an odd file */
        loader_errf(l, "%s: cannot read config file: %s", l->path, text ? text : "I/O error");
        return -EIO;
    }
    loader_errf(l, "%s: cannot read config file: %s", l->path, strerror(-rc));
    return rc;
}

/* The quoted file name of the @include on this line, or NULL. */
static char *include_name(const char *line)
{
    const char *p, *q;
    if (!line || !(p = strstr(line, "@include")) || !(p = strchr(p, '"')) ||
        !(q = strchr(++p, '"')) || memchr(p, '\n', (size_t)(q - p)))
        return NULL;
    return strndup(p, (size_t)(q - p));
}

/* libconfig says only "cannot open include file"; name the file, and say why. Returns the
 * negative errno of opening it (-ENOENT when it cannot be told). */
static int report_include_error(struct loader *l, const char *file, int line)
{
    char *where = loader_path(l, file), *target = NULL;
    char *name = include_name(raw_line(raw_text(l, file), (unsigned)line));
    const char *shown = where ? where : l->path;
    int rc = -ENOENT;

    if (!name) {
        loader_errf(l, "%s:%d: cannot open include file (@include paths are relative to the "
                       "directory of %s)", shown, line, l->path);
    } else if (name[0] == '/' && l->incdir) { /* libconfig prepends incdir even to these */
        loader_errf(l, "%s:%d: cannot open include file '%s': @include paths are relative to "
                       "the directory of %s", shown, line, name, l->path);
    } else if (!(target = loader_path(l, name))) {
        rc = loader_fail_oom(l);
    } else {
        int fd = open(target, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        if (e)
            rc = -e;
        loader_errf(l, "%s:%d: cannot open include file '%s'%s%s", shown, line, target,
                    e ? ": " : "", e ? strerror(e) : "");
    }
    free(name);
    free(target);
    free(where);
    return rc;
}

/* libconfig refused the file: why, as a negative errno with the line in l. */
static int report_parse_error(struct loader *l, const config_t *lc)
{
    const char *file = config_error_file(lc);
    const char *text = config_error_text(lc);
    int line = config_error_line(lc);
    char *shown;

    if (config_error_type(lc) == CONFIG_ERR_FILE_IO || !file)
        return report_unreadable(l, text);
    if (text && strcmp(text, "cannot open include file") == 0)
        return report_include_error(l, file, line);
    shown = loader_path(l, file);
    loader_errf(l, "%s:%d: %s%s", shown ? shown : file, line, text ? text : "parse error",
                raw_error_at_eof(raw_text(l, file), line)
                    ? " (check for an unterminated string or missing brace above)" : "");
    free(shown);
    return -EINVAL;
}

/* The @include on line lineno of file, its name starting at p (just after the quote). */
static int check_include_line(struct loader *l, const char *file, int lineno, const char *p,
                              const char *end, int depth);

/* libconfig 1.5 reads an @include'd directory, FIFO or device with its flex scanner, which
 * then calls exit(): a reload (SIGHUP) would end the daemon in the middle of a print. So
 * every @include target, nested ones too, must be a regular file before libconfig sees the
 * file (found by make fuzz: test/fuzz/config/crashes/include-directory). A missing target is
 * left to libconfig, which reports it. Returns 0, or -EINVAL with FILE:LINE in l->err. */
static int check_includes(struct loader *l, const char *file, int depth)
{
    FILE *f = fopen(file, "re");
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    struct stat st;
    ssize_t len;

    if (!f)
        return 0;   /* libconfig reports it */
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        goto out;   /* the top-level file: report_unreadable tells why */
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* libconfig's own pattern: line start, blanks, @include, blanks, a quote */
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
            continue;
        p += 8 + strspn(p + 8, " \t");
        if (*p != '"')
            continue;
        rc = check_include_line(l, file, lineno, p + 1, line + len, depth);
    }
out:
    free(line);
    fclose(f);
    return rc;
}

static int check_include_line(struct loader *l, const char *file, int lineno, const char *p,
                              const char *end, int depth)
{
    char target[PATH_MAX];
    struct stat st;
    int rc = 0;

    /* libconfig reads the name across line ends, drops a lone backslash, unescapes \\ and
     * \" and cuts it at a NUL byte: ".\." names "..". Rather than follow all that, a name
     * must be plain: one line, no backslash, no NUL, closed by its quote. */
    const char *q = p;
    while (q < end && *q != '"' && *q != '\0' && *q != '\n' && *q != '\\')
        q++;
    if (q >= end || *q != '"') {
        loader_errf(l, "%s:%d: @include: write the file name on one line between double quotes, "
                    "without backslashes", file, lineno);
        return -EINVAL;
    }
    char *name = strndup(p, (size_t)(q - p));
    if (!name)
        return 0;   /* libconfig meets it next, and reports what it finds */
    int n = l->incdir ? snprintf(target, sizeof target, "%s/%s", l->incdir, name)
                      : snprintf(target, sizeof target, "%s", name);
    if (n < 0 || (size_t)n >= sizeof target) {
        loader_errf(l, "%s:%d: @include \"%s\": path too long", file, lineno, name);
        rc = -ENAMETOOLONG;
    } else if (stat(target, &st) == 0 && !S_ISREG(st.st_mode)) {
        loader_errf(l, "%s:%d: @include \"%s\": %s is not a regular file", file, lineno, name,
                    target);
        rc = -EINVAL;
    } else if (stat(target, &st) == 0 && depth < 10) {
        rc = check_includes(l, target, depth + 1);
    }
    free(name);
    return rc;
}

/* Parses and reads path into c (holding the defaults); l->incdir is set. */
static int parse_and_read(struct loader *l, const char *path, struct config *c)
{
    config_t lc;
    int rc;

    if ((rc = check_includes(l, path, 0)) < 0)
        return rc;
    config_init(&lc);
    if (l->incdir)
        config_set_include_dir(&lc, l->incdir);
    if (!config_read_file(&lc, path))
        rc = report_parse_error(l, &lc);
    else if ((rc = reader_read(l, &lc, c)) == 0 && !(c->path = strdup(path)))
        rc = loader_fail_oom(l);
    config_destroy(&lc);
    return rc;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errsz)
{
    struct loader l = { .path = path, .err = err, .errsz = errsz };
    struct config c;
    const char *slash;
    int rc;

    if (err && errsz)
        err[0] = '\0';
    config_defaults(&c);
    if (!path) {
        l.path = "(null)";
        loader_errf(&l, "(null): no config file given");
        rc = -EINVAL;
    } else if (!c.mqtt_base_topic || !c.mqtt_host || !c.printer_port || !c.mqtt_client_id) {
        rc = loader_fail_oom(&l);
    } else if ((slash = strrchr(path, '/')) &&
               !(l.incdir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path)))) {
        /* @include relative to the file, not the daemon's CWD. A bare file name needs
         * nothing: libconfig then opens includes from the CWD, which is its folder. */
        rc = loader_fail_oom(&l);
    } else {
        rc = parse_and_read(&l, path, &c);
    }
    loader_release(&l);
    if (rc < 0) {
        config_free(&c);
        memset(cfg, 0, sizeof *cfg);
    } else {
        *cfg = c;
    }
    return rc;
}
