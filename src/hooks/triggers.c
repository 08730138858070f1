/* triggers.c: regular expressions on serial lines (see hooks.h).
 *
 * Firmware repeats some lines every couple of seconds while it waits (echo:busy: paused for
 * user), so each trigger has a cooldown; without one every repetition fires. The patterns
 * are compiled once per configuration, and lines are matched as they are, without their
 * line break. */
#include "printbridge/hooks.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "printbridge/base.h"

struct compiled {
    regex_t re;
    double last;            /* s (monotonic) of the last match that fired; < 0: never */
};

struct triggers {
    const struct hookconfig *hc;
    struct events *ev;
    struct hooks *hooks;
    struct compiled *c;
    size_t n;
};

static void free_compiled(struct compiled *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        regfree(&c[i].re);
    free(c);
}

int triggers_set_config(struct triggers *t, const struct hookconfig *hcfg, char *err, size_t errsz)
{
    const struct hookconfig *hc = hookconfig_or_defaults(hcfg);
    struct compiled *c = calloc(hc->ntriggers + 1, sizeof *c);
    int rc = c ? 0 : -ENOMEM;
    if (!c)
        snprintf(err, errsz, "out of memory compiling the line triggers; they are off until the next reload");
    for (size_t i = 0; c && i < hc->ntriggers; i++) {
        int re = regcomp(&c[i].re, hc->triggers[i].match, REG_EXTENDED | REG_NOSUB);
        if (re != 0) {
            char msg[128];
            regerror(re, &c[i].re, msg, sizeof msg);
            snprintf(err, errsz, "events.triggers %s: %s; line triggers are off until the next reload",
                     hc->triggers[i].name, msg);
            free_compiled(c, i);
            c = NULL;
            rc = -EINVAL;
            break;
        }
        c[i].last = -1;
    }
    /* on failure the old patterns cannot stay: their configuration is being freed */
    free_compiled(t->c, t->n);
    t->c = c;
    t->n = c ? hc->ntriggers : 0;
    t->hc = hc;
    return rc;
}

int triggers_create(struct triggers **out, const struct hookconfig *hc, struct events *ev, struct hooks *h, char *err,
                    size_t errsz)
{
    struct triggers *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errsz, "out of memory");
        return -ENOMEM;
    }
    t->ev = ev;
    t->hooks = h;
    int rc = triggers_set_config(t, hc, err, errsz);
    if (rc < 0) {
        triggers_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void triggers_on_line(struct triggers *t, enum trigger_direction direction, const char *line)
{
    if (!t || t->n == 0)
        return;
    const char *dir = direction == TRIGGER_SENT ? "sent" : "received";
    double now = (double)uv_hrtime() / 1e9;
    for (size_t i = 0; i < t->n; i++) {
        const struct trigger_def *def = &t->hc->triggers[i];
        if (!(def->direction & direction) || regexec(&t->c[i].re, line, 0, NULL, 0) != 0)
            continue;
        if (t->c[i].last >= 0 && now - t->c[i].last < def->cooldown)
            continue;
        t->c[i].last = now;
        json_t *payload = json_pack("{s:s, s:s, s:o}", "name", def->name, "direction", dir, "line",
                                    pyjson_string_lossy(line, strlen(line)));
        if (!payload)
            continue;
        if (def->action.ncommands > 0 && def->action.enabled && t->hc->events_enabled && t->hooks) {
            struct placeholders ph = { .eventname = EVENT_SERIAL_LINE_MATCHED, .payload = payload };
            hooks_fill_placeholders(t->hooks, &ph);
            hooks_run(t->hooks, &def->action, EVENT_SERIAL_LINE_MATCHED, &ph, NULL, NULL);
        }
        events_fire(t->ev, EVENT_SERIAL_LINE_MATCHED, payload);
    }
}

void triggers_free(struct triggers *t)
{
    if (!t)
        return;
    free_compiled(t->c, t->n);
    free(t);
}
