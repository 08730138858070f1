/* rawtext.c: the text of the config files, for what libconfig does not tell (rawtext.h).
 *
 * libconfig 1.5 is quiet about some mistakes: integers wider than 32 bits are stored wrapped
 * (10000000000 -> 1410065408) and "\x00" in a string is dropped without a word. Both are found
 * by reading the literal back from the file, at the line libconfig gives for the setting. */
#include "rawtext.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Config files are small; a bigger "config" is not worth re-reading for the raw checks. */
#define RAW_MAX_BYTES (1024 * 1024)

/* A file's text, kept for the raw checks while one load runs. */
struct raw_file {
    struct raw_file *next;
    char *path;
    char *text; /* NULL when it could not be read */
};

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (!f)
        return NULL;
    buf = malloc(RAW_MAX_BYTES + 1);
    if (buf) {
        n = fread(buf, 1, RAW_MAX_BYTES + 1, f);
        if (ferror(f) || n > RAW_MAX_BYTES || memchr(buf, '\0', n)) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

const char *raw_text(struct loader *l, const char *file)
{
    char *path = loader_path(l, file);
    struct raw_file *r;

    if (!path)
        return NULL;
    for (r = l->raw; r; r = r->next)
        if (strcmp(r->path, path) == 0) {
            free(path);
            return r->text;
        }
    r = calloc(1, sizeof *r);
    if (!r) {
        free(path);
        return NULL;
    }
    r->path = path;
    r->text = read_text(path);
    r->next = l->raw;
    l->raw = r;
    return r->text;
}

const char *raw_line(const char *text, unsigned line)
{
    for (unsigned i = 1; text && i < line; i++) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    return text;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* Skips white space and the three comment styles libconfig knows. */
static const char *skip_blank(const char *p)
{
    for (;;) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* The text of setting s's value: its name is on its source line, then '=' or ':'. */
static const char *raw_value(struct loader *l, const config_setting_t *s)
{
    const char *name = config_setting_name(s);
    const char *p = raw_line(raw_text(l, config_setting_source_file(s)),
                               config_setting_source_line(s));
    size_t n;

    if (!p || !name)
        return NULL;
    n = strlen(name);
    for (const char *q = p; *q && *q != '\n'; q++) {
        if (*q == '"') { /* the name inside a string is not the name */
            while (*++q && *q != '"' && *q != '\n')
                if (*q == '\\' && q[1])
                    q++;
            if (*q != '"')
                return NULL;
            continue;
        }
        if (*q == '#' || (q[0] == '/' && (q[1] == '/' || q[1] == '*')))
            return NULL;
        if (strncmp(q, name, n) != 0 || (q > p && is_name_char(q[-1])) || is_name_char(q[n]))
            continue;
        const char *r = skip_blank(q + n);
        if (*r == '=' || *r == ':')
            return skip_blank(r + 1);
    }
    return NULL;
}

int raw_wrapped_int(struct loader *l, const config_setting_t *s, const char **lit)
{
    const char *p = raw_value(l, s), *d;
    char *end;
    long long v;
    int base = 10;

    if (!p)
        return 0;
    d = p + (*p == '-' || *p == '+');
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))
        base = 16;
    if (!isxdigit((unsigned char)d[base == 16 ? 2 : 0]))
        return 0;
    errno = 0;
    v = strtoll(p, &end, base);
    if (errno != ERANGE && v >= INT_MIN && v <= INT_MAX)
        return 0;
    *lit = p;
    return end - p > 40 ? 40 : (int)(end - p);
}

bool raw_has_nul(struct loader *l, const config_setting_t *s)
{
    const char *p = raw_value(l, s);
    int depth = 0;

    while (p && *p) {
        p = skip_blank(p);
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p != '\\')
                    continue;
                if (p[1] == 'x' && p[2] == '0' && p[3] == '0')
                    return true;
                if (p[1])
                    p++;
            }
            if (*p)
                p++;
        } else if (*p == '(' || *p == '[') {
            depth++;
            p++;
        } else if (depth > 0 && *p) {
            if ((*p == ')' || *p == ']') && --depth == 0)
                break;
            p++;
        } else {
            break;
        }
    }
    return false;
}

bool raw_error_at_eof(const char *text, int line)
{
    int n = 1, last = 0;
    if (!text)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            n++;
        else if (!isspace((unsigned char)*p))
            last = n;
    }
    return line > last;
}

void raw_release(struct loader *l)
{
    while (l->raw) {
        struct raw_file *next = l->raw->next;
        free(l->raw->path);
        free(l->raw->text);
        free(l->raw);
        l->raw = next;
    }
}
