/* history.c: a fixed ring of numbered lines for resends (see history.h). */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int history_init(struct history *h, size_t cap)
{
    memset(h, 0, sizeof *h);
    if (cap < 1)
        cap = 1;
    h->slots = calloc(cap, sizeof *h->slots);
    if (!h->slots)
        return -ENOMEM;
    h->cap = cap;
    return 0;
}

void history_free(struct history *h)
{
    for (size_t i = 0; h->slots && i < h->cap; i++)
        free(h->slots[i].text);
    free(h->slots);
    memset(h, 0, sizeof *h);
}

void history_clear(struct history *h)
{
    h->count = 0;
}

int history_add(struct history *h, unsigned long n, const char *cmd)
{
    if (h->count > 0 && n != h->last + 1)
        h->count = 0;
    struct history_slot *s = &h->slots[n % h->cap];
    size_t len = strlen(cmd) + 1;
    if (len > s->cap) {
        char *grown = realloc(s->text, len);
        if (!grown) {
            h->count = 0;
            return -ENOMEM;
        }
        s->text = grown;
        s->cap = len;
    }
    memcpy(s->text, cmd, len);
    s->n = n;
    h->last = n;
    if (h->count < h->cap)
        h->count++;
    return 0;
}

const char *history_get(const struct history *h, unsigned long n)
{
    if (h->count == 0 || n > h->last || h->last - n >= h->count)
        return NULL;
    const struct history_slot *s = &h->slots[n % h->cap];
    return s->n == n ? s->text : NULL;
}
