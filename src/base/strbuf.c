/* strbuf.c: the growable string every text builder uses (see base.h).
 *
 * The first refused append sticks (toolong or nomem) and refuses every later one, so a
 * builder that appends many pieces may check once, at the end. */
#include "printbridge/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void strbuf_free(struct strbuf *b)
{
    free(b->s);
    strbuf_init(b, b->max);
}

char *strbuf_take(struct strbuf *b)
{
    char *s = b->s;
    if (strbuf_error(b) < 0) {
        free(s);
        s = NULL;
    } else if (!s) {
        s = strdup("");
    }
    strbuf_init(b, b->max);
    return s;
}

int strbuf_error(const struct strbuf *b)
{
    return b->nomem ? -ENOMEM : b->toolong ? -E2BIG : 0;
}

/* Room for n more bytes plus the NUL. */
static int grow(struct strbuf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    if (n > SIZE_MAX / 4 - b->len) {
        b->nomem = true;
        return -ENOMEM;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *t = realloc(b->s, cap);
    if (!t) {
        b->nomem = true;
        return -ENOMEM;
    }
    b->s = t;
    b->cap = cap;
    return 0;
}

int strbuf_put(struct strbuf *b, const char *s, size_t n)
{
    int rc = strbuf_error(b);
    if (rc < 0)
        return rc;
    if (n > b->max - b->len) {
        b->toolong = true;
        return -E2BIG;
    }
    if ((rc = grow(b, n)) < 0)
        return rc;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int strbuf_puts(struct strbuf *b, const char *s)
{
    return strbuf_put(b, s, strlen(s));
}

int strbuf_putc(struct strbuf *b, char c)
{
    return strbuf_put(b, &c, 1);
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;     /* only a broken format gets here */
    if ((size_t)n < sizeof small)
        return strbuf_put(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->nomem = true;
        return -ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = strbuf_put(b, big, (size_t)n);
    free(big);
    return rc;
}
