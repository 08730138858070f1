/* strbuf.c: the growable string shared by the pure text builders (see strbuf.h). */
#include "printbridge/base.h"

#include <stdlib.h>
#include <string.h>

int strbuf_put(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->max) {
        b->toolong = true;
        return -1;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t)
            return -1;
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int strbuf_puts(struct strbuf *b, const char *s)
{
    return strbuf_put(b, s, strlen(s));
}
