/* strbuf.h: a growable, always NUL-terminated string with an optional size limit, for the
 * pure text builders (placeholder expansion, word splitting and quoting). */
#ifndef PRINTBRIDGE_STRBUF_H
#define PRINTBRIDGE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
    char *s;            /* malloc'd, owned by the caller once built */
    size_t len, cap;
    size_t max;         /* longest allowed length; SIZE_MAX for none (0 allows nothing) */
    bool toolong;       /* an append was refused because of max */
};

/* Appends n bytes; returns 0, or -1 when out of memory or over max (toolong is then set). */
int strbuf_put(struct strbuf *b, const char *s, size_t n);
int strbuf_puts(struct strbuf *b, const char *s);

#endif
