/* resend.h: what to do with a firmware's "Resend: N" (docs/protocol.md 8). Pure: the
 * printer asks, this module answers (ignore, replay from N, or give up) and then hands out
 * the line numbers to replay, one per ack. */
#ifndef PRINTBRIDGE_RESEND_H
#define PRINTBRIDGE_RESEND_H

#include <stdbool.h>

/* The same line requested this many times in a row means the link is stuck (upstream's
 * maxConsecutiveResends). */
#define RESEND_MAX_SAME 10

enum resend_verdict {
    RESEND_STARTED,         /* replay lines N .. next-1 on the following acks */
    RESEND_IGNORED_UNSENT,  /* asks for the line not sent yet: a leftover after a timeout/reset */
    RESEND_IGNORED_STALE,   /* a duplicate for a line that was in flight when N was rejected */
    RESEND_LOOP,            /* the same line RESEND_MAX_SAME times in a row: fatal (resend_loop) */
    RESEND_NO_HISTORY,      /* N is not held any more (or was never sent) */
};

struct resend {
    bool active;            /* replaying, or replay done and its ok not seen yet */
    unsigned long from;     /* first line of the replay */
    unsigned long pos;      /* next line to replay */
    unsigned long end;      /* one past the last line to replay */
    unsigned long distance; /* end - from when the replay started */
    unsigned long dups;     /* stale duplicates ignored since */
    bool has_last;
    unsigned long last_requested;
    int same_count;
    bool error_line_number; /* the last communication error was about line numbers */
    unsigned long requests; /* resend requests seen (statistics) */
};

void resend_reset(struct resend *r);

/* Remember the text of a resend-class "Error:" line; "line number" / "expected line" errors
 * come in a burst, one per line in flight, each followed by a duplicate request. */
void resend_note_error(struct resend *r, const char *error_line);

/* Judges a request for line n. next is the number the host would give its next new line;
 * available tells whether the history still holds line n (and so every line after it). */
enum resend_verdict resend_request(struct resend *r, unsigned long n, unsigned long next, bool available);

/* True while lines remain to be replayed. */
bool resend_pending(const struct resend *r);

/* The next line number to replay (call only while resend_pending). */
unsigned long resend_take(struct resend *r);

/* Every ack: once the replay is complete, resend mode ends (and "in a row" restarts). */
void resend_on_ok(struct resend *r);

/* A communication timeout during a replay: the last replayed line goes out again. */
void resend_on_timeout(struct resend *r);

#endif
