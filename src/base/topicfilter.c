/* topicfilter.c: MQTT filter validation and matching, for the configured inbound handlers.
 * Checked at start-up so an invalid filter is one clear error line rather than the silent
 * broken subscription OctoPrint-MQTT users hit. */
#include "printbridge/base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int topicfilter_check(const char *filter, char *why, size_t whysz)
{
    size_t n = strlen(filter);
    if (n == 0) {
        snprintf(why, whysz, "must not be empty");
        return -EINVAL;
    }
    if (n > 65535) {
        snprintf(why, whysz, "is longer than MQTT allows (65535 bytes)");
        return -EINVAL;
    }
    for (const char *p = filter; *p; p++) {
        bool level_start = p == filter || p[-1] == '/';
        bool level_end = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(level_start && level_end)) {
            snprintf(why, whysz, "has '+' mixed with other characters in one level; '+' must be a level of its own");
            return -EINVAL;
        }
        if (*p == '#' && !(level_start && p[1] == '\0')) {
            snprintf(why, whysz, "has '#' that is not the whole last level; use it only as \".../#\"");
            return -EINVAL;
        }
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(why, whysz, "must not contain control characters");
            return -EINVAL;
        }
    }
    return 0;
}

bool topicfilter_match(const char *filter, const char *topic)
{
    const char *f = filter, *t = topic;

    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return false;
    for (;;) {
        const char *fe = strchr(f, '/'), *te = strchr(t, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f);
        size_t tl = te ? (size_t)(te - t) : strlen(t);
        if (fl == 1 && f[0] == '#')
            return true;    /* also matches the parent level: "a/#" matches "a" */
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        if (!fe && !te)
            return true;
        if (!te)            /* topic ended: only "x/#" may still match */
            return fe && strcmp(fe + 1, "#") == 0;
        if (!fe)
            return false;
        f = fe + 1;
        t = te + 1;
    }
}
