/* history.h: the ring of recently sent numbered lines a resend request is answered from
 * (docs/protocol.md 3.5, 8.3). Pure: no I/O. Slots keep their buffers between uses, so
 * streaming a long file does not allocate per line. */
#ifndef PRINTBRIDGE_HISTORY_H
#define PRINTBRIDGE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

struct history_slot {
    unsigned long n;
    char *text;
    size_t cap;
};

struct history {
    struct history_slot *slots;
    size_t cap;
    size_t count;            /* lines held, at most cap */
    unsigned long last;      /* line number of the newest entry (valid when count > 0) */
};

/* Returns 0, or -ENOMEM. cap is the number of lines kept (at least 1). */
int history_init(struct history *h, size_t cap);
void history_free(struct history *h);

/* Forgets every line (M110 sent, link closed); buffers are kept. */
void history_clear(struct history *h);

/* Stores cmd as line n. n must be last + 1, or anything when the history is empty; a gap
 * clears the older lines first, so the ring always holds consecutive numbers. Returns 0 or
 * -ENOMEM (the history is then cleared). */
int history_add(struct history *h, unsigned long n, const char *cmd);

/* The command sent as line n, or NULL when it is not (or no longer) held. Valid until the
 * next history_add/history_clear. */
const char *history_get(const struct history *h, unsigned long n);

#endif
