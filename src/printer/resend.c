/* resend.c: resend-request rules (docs/protocol.md 8), as a small state machine
 * (see resend.h). The printer owns the history and the writing; this only decides. */
#include "resend.h"

#include <ctype.h>
#include <string.h>

void resend_reset(struct resend *r)
{
    unsigned long requests = r->requests;
    memset(r, 0, sizeof *r);
    r->requests = requests;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

void resend_note_error(struct resend *r, const char *error_line)
{
    r->error_line_number = contains_ci(error_line, "line number") || contains_ci(error_line, "expected line");
}

enum resend_verdict resend_request(struct resend *r, unsigned long n, unsigned long next, bool available)
{
    r->requests++;
    if (n == next) {
        /* The printer has every line sent so far. During a replay this happens when an ok
         * was lost, the timeout sent the last replayed line again and the firmware, which
         * had it already, asks for the next one: the replay is complete, not a request
         * beyond the history (found by make check-faults' noisy-line drill: it ended the
         * print with M112). */
        if (r->active) {
            r->active = false;
            r->same_count = 0;
            r->has_last = false;
        }
        return RESEND_IGNORED_UNSENT;
    }
    if (r->active && r->error_line_number && r->has_last && n == r->last_requested && r->dups < r->distance) {
        r->dups++;
        return RESEND_IGNORED_STALE;
    }
    if (r->has_last && n == r->last_requested)
        r->same_count++;
    else
        r->same_count = 1;
    r->has_last = true;
    r->last_requested = n;
    if (r->same_count >= RESEND_MAX_SAME)
        return RESEND_LOOP;
    if (n >= next || !available)
        return RESEND_NO_HISTORY;
    r->active = true;
    r->from = r->pos = n;
    r->end = next;
    r->distance = next - n;
    r->dups = 0;
    return RESEND_STARTED;
}

bool resend_pending(const struct resend *r)
{
    return r->active && r->pos < r->end;
}

unsigned long resend_take(struct resend *r)
{
    return r->pos++;
}

void resend_on_ok(struct resend *r)
{
    if (r->active && r->pos >= r->end) {
        r->active = false;
        r->same_count = 0;
        r->has_last = false;
    }
}

void resend_on_timeout(struct resend *r)
{
    if (r->active && r->pos > r->from)
        r->pos--;
}
