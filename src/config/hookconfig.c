/* hookconfig.c: reads the `events` and `inbound` groups (printbridge/config.h).
 *
 * A subscription written for OctoPrint carries over key for key (event, command, type,
 * enabled, name, debug, shell). Mistakes are found here, at start-up, not when the event
 * first fires: unknown keys, wrong types, a no-shell system command that needs a shell, an
 * invalid topic filter or regular expression. */
#include "printbridge/config.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/serial.h"
#include "printbridge/base.h"

#include "suggest.h"

#define MAX_ENTRIES 256
#define MAX_COMMANDS 64

static const struct hookconfig defaults = {
    .events_enabled = true,
    .timeout = 60,
    .max_concurrent = 4,
    .max_queued = 32,
    .max_output = 4096,
    .progress_percent = 10,
    .inbound_enabled = true,
    .max_payload = 65536,
};

const struct hookconfig *hookconfig_or_defaults(const struct hookconfig *hc)
{
    return hc ? hc : &defaults;
}

bool hookconfig_owns(const char *group)
{
    return strcmp(group, "events") == 0 || strcmp(group, "inbound") == 0;
}

struct rd {
    const config_setting_t **where;
    char *why;
    size_t whysz;
};

static int bad(struct rd *r, const config_setting_t *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct rd *r, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, r->whysz, fmt, ap);
    va_end(ap);
    *r->where = s;
    return -EINVAL;
}

static int oom(struct rd *r, const config_setting_t *s)
{
    snprintf(r->why, r->whysz, "out of memory");
    *r->where = s;
    return -ENOMEM;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void free_hook(struct hook_def *h)
{
    free(h->name);
    free(h->topic);
    free_strv(h->events, h->nevents);
    free_strv(h->commands, h->ncommands);
    memset(h, 0, sizeof *h);
}

void hookconfig_free(struct hookconfig *hc)
{
    if (!hc)
        return;
    for (size_t i = 0; i < hc->nsubs; i++)
        free_hook(&hc->subs[i]);
    free(hc->subs);
    for (size_t i = 0; i < hc->nhandlers; i++)
        free_hook(&hc->handlers[i]);
    free(hc->handlers);
    for (size_t i = 0; i < hc->ntriggers; i++) {
        free(hc->triggers[i].name);
        free(hc->triggers[i].match);
        free_hook(&hc->triggers[i].action);
    }
    free(hc->triggers);
    for (char **p = hc->gcode_allow; p && *p; p++)
        free(*p);
    free(hc->gcode_allow);
    for (char **p = hc->gcode_deny; p && *p; p++)
        free(*p);
    free(hc->gcode_deny);
    free(hc);
}

/* ---- scalar readers ------------------------------------------------------------------ */

static int read_bool(struct rd *r, const config_setting_t *s, const char *what, bool *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return bad(r, s, "%s must be true or false", what);
    *out = config_setting_get_bool(s) != 0;
    return 0;
}

static int read_num(struct rd *r, const config_setting_t *s, const char *what, double min, double max, double *out)
{
    double v;
    if (config_setting_type(s) == CONFIG_TYPE_INT)
        v = config_setting_get_int(s);
    else if (config_setting_type(s) == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(s);
    else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(s);
    else
        return bad(r, s, "%s must be a number between %g and %g", what, min, max);
    if (!(v >= min && v <= max))
        return bad(r, s, "%s must be between %g and %g, not %g", what, min, max, v);
    *out = v;
    return 0;
}

static int read_int(struct rd *r, const config_setting_t *s, const char *what, int min, int max, int *out)
{
    double v;
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return bad(r, s, "%s must be an integer between %d and %d", what, min, max);
    int rc = read_num(r, s, what, min, max, &v);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

static int read_str(struct rd *r, const config_setting_t *s, const char *what, char **out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return bad(r, s, "%s must be a string", what);
    char *v = strdup(config_setting_get_string(s));
    if (!v)
        return oom(r, s);
    free(*out);
    *out = v;
    return 0;
}

/* A string or a list/array of strings, as OctoPrint's event and command nodes. */
static int read_strv(struct rd *r, const config_setting_t *s, const char *what, char ***out, size_t *n)
{
    free_strv(*out, *n);
    *out = NULL;
    *n = 0;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        if (!(*out = calloc(2, sizeof **out)) || !((*out)[0] = strdup(config_setting_get_string(s))))
            return oom(r, s);
        *n = 1;
        return 0;
    }
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return bad(r, s, "%s must be a string or a list of strings", what);
    int len = config_setting_length(s);
    if (len > MAX_COMMANDS)
        return bad(r, s, "%s has more than %d entries", what, MAX_COMMANDS);
    if (!(*out = calloc((size_t)len + 1, sizeof **out)))
        return oom(r, s);
    for (int i = 0; i < len; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return bad(r, e, "%s element %d must be a string", what, i + 1);
        if (!((*out)[i] = strdup(config_setting_get_string(e))))
            return oom(r, e);
        (*n)++;
    }
    return 0;
}

/* ---- one hook ------------------------------------------------------------------------ */

enum hook_role { ROLE_SUBSCRIPTION, ROLE_HANDLER, ROLE_TRIGGER };

static int read_hook_key(struct rd *r, const config_setting_t *s, const char *name, const char *ctx,
                         struct hook_def *h, enum hook_role role, bool *handled)
{
    char what[160];
    snprintf(what, sizeof what, "%s '%s'", ctx, name);
    *handled = true;
    if (strcmp(name, "command") == 0)
        return read_strv(r, s, what, &h->commands, &h->ncommands);
    if (strcmp(name, "type") == 0) {
        if (config_setting_type(s) != CONFIG_TYPE_STRING ||
            (strcmp(config_setting_get_string(s), "gcode") != 0 && strcmp(config_setting_get_string(s), "system") != 0))
            return bad(r, s, "%s must be \"gcode\" or \"system\"", what);
        h->type = config_setting_get_string(s)[0] == 'g' ? HOOK_GCODE : HOOK_SYSTEM;
        return 0;
    }
    if (strcmp(name, "enabled") == 0)
        return read_bool(r, s, what, &h->enabled);
    if (strcmp(name, "debug") == 0)
        return read_bool(r, s, what, &h->debug);
    if (strcmp(name, "shell") == 0)
        return read_bool(r, s, what, &h->shell);
    if (strcmp(name, "timeout") == 0)
        return read_num(r, s, what, 0.1, 86400, &h->timeout);
    if (strcmp(name, "name") == 0 && role != ROLE_TRIGGER)
        return read_str(r, s, what, &h->name);
    if (strcmp(name, "event") == 0 && role == ROLE_SUBSCRIPTION)
        return read_strv(r, s, what, &h->events, &h->nevents);
    if (strcmp(name, "topic") == 0 && role == ROLE_HANDLER)
        return read_str(r, s, what, &h->topic);
    *handled = false;
    return 0;
}

/* Checks a hook once all its keys are read. */
static int check_hook(struct rd *r, const config_setting_t *g, const char *ctx, struct hook_def *h, bool need_commands)
{
    char err[256];
    if (need_commands && h->ncommands == 0)
        return bad(r, g, "%s: missing 'command'", ctx);
    for (size_t i = 0; i < h->ncommands; i++) {
        if (h->commands[i][0] == '\0')
            return bad(r, g, "%s: command %zu is empty", ctx, i + 1);
        if (h->type == HOOK_SYSTEM && !h->shell) {
            struct words w;
            int rc = words_split(h->commands[i], "~", &w, err, sizeof err);
            words_free(&w);
            if (rc < 0)
                return bad(r, g, "%s: command %zu: %s", ctx, i + 1, err);
        }
        if (h->type == HOOK_GCODE && strlen(h->commands[i]) > FRAMING_MAX_LINE * 16)
            return bad(r, g, "%s: command %zu is too long", ctx, i + 1);
    }
    for (size_t i = 0; i < h->nevents; i++) {
        if (h->events[i][0] == '\0')
            return bad(r, g, "%s: event %zu is empty", ctx, i + 1);
        if (strcmp(h->events[i], "HookFinished") == 0)
            return bad(r, g, "%s: HookFinished cannot trigger a hook (every run would trigger another)", ctx);
        if (!events_is_known(h->events[i])) {
            /* a misspelt name would never fire: say so now, at the name's own line */
            const config_setting_t *es = config_setting_get_member(g, "event");
            const config_setting_t *at = es && config_setting_is_aggregate(es) ? config_setting_get_elem(es, (unsigned)i) : es;
            suggest_event(err, sizeof err, h->events[i]);
            return bad(r, at ? at : g, "%s: printbridge publishes no event \"%s\"%s", ctx, h->events[i], err);
        }
    }
    if (h->topic && topicfilter_check(h->topic, err, sizeof err) < 0)
        return bad(r, g, "%s: topic \"%s\" %s", ctx, h->topic, err);
    if (h->topic && (h->topic[0] == '/' || strncmp(h->topic, "command/", 8) == 0 || strncmp(h->topic, "hassControl/", 12) == 0))
        return bad(r, g, "%s: topic \"%s\" must be relative to mqtt.base_topic and not under command/ or hassControl/, "
                         "which are built in", ctx, h->topic);
    return 0;
}

static int read_list(struct rd *r, const config_setting_t *s, const char *what, int *len)
{
    if (!config_setting_is_list(s) && !config_setting_is_array(s))
        return bad(r, s, "%s must be a list of groups, e.g. %s = ( { ... }, { ... } );", what, what);
    *len = config_setting_length(s);
    if (*len > MAX_ENTRIES)
        return bad(r, s, "%s has more than %d entries", what, MAX_ENTRIES);
    return 0;
}

static int read_hooks(struct rd *r, const config_setting_t *s, const char *what, enum hook_role role,
                      struct hook_def **out, size_t *n)
{
    int len, rc;
    if ((rc = read_list(r, s, what, &len)) < 0)
        return rc;
    if (!(*out = calloc((size_t)len + 1, sizeof **out)))
        return oom(r, s);
    for (int i = 0; i < len; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        struct hook_def *h = &(*out)[i];
        char ctx[96];
        snprintf(ctx, sizeof ctx, "%s entry %d", what, i + 1);
        (*n)++;
        h->enabled = true;
        if (!config_setting_is_group(g))
            return bad(r, g, "%s must be a group { ... }", ctx);
        bool have_type = false;
        for (int k = 0; k < config_setting_length(g); k++) {
            const config_setting_t *e = config_setting_get_elem(g, (unsigned)k);
            bool handled;
            if ((rc = read_hook_key(r, e, config_setting_name(e), ctx, h, role, &handled)) < 0)
                return rc;
            if (!handled)
                return bad(r, e, "%s: unknown setting '%s'", ctx, config_setting_name(e));
            if (strcmp(config_setting_name(e), "type") == 0)
                have_type = true;
        }
        if (!have_type)
            return bad(r, g, "%s: missing 'type' (\"gcode\" or \"system\")", ctx);
        if (role == ROLE_SUBSCRIPTION && h->nevents == 0)
            return bad(r, g, "%s: missing 'event'", ctx);
        if (role == ROLE_HANDLER && !h->name)
            return bad(r, g, "%s: missing 'name' (command/hook/<name> runs it)", ctx);
        if ((rc = check_hook(r, g, ctx, h, true)) < 0)
            return rc;
        if (role == ROLE_HANDLER)
            for (int j = 0; j < i; j++)
                if (strcmp((*out)[j].name, h->name) == 0)
                    return bad(r, g, "%s: name \"%s\" is already used by entry %d", ctx, h->name, j + 1);
        if (!h->name) {
            char def[160];
            snprintf(def, sizeof def, "%s", h->events ? h->events[0] : ctx);
            if (!(h->name = strdup(def)))
                return oom(r, g);
        }
    }
    return 0;
}

/* One key of a trigger entry: its own (name, match, cooldown, direction) or its action's. */
static int read_trigger_key(struct rd *r, const config_setting_t *e, const char *ctx, struct trigger_def *t)
{
    const char *name = config_setting_name(e);
    char what[160];
    bool handled;
    int rc;
    snprintf(what, sizeof what, "%s '%s'", ctx, name);
    if (strcmp(name, "name") == 0)
        return read_str(r, e, what, &t->name);
    if (strcmp(name, "match") == 0)
        return read_str(r, e, what, &t->match);
    if (strcmp(name, "cooldown") == 0)
        return read_num(r, e, what, 0, 86400, &t->cooldown);
    if (strcmp(name, "direction") == 0) {
        const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : "";
        if (strcmp(v, "received") == 0)
            t->direction = TRIGGER_RECEIVED;
        else if (strcmp(v, "sent") == 0)
            t->direction = TRIGGER_SENT;
        else if (strcmp(v, "both") == 0)
            t->direction = TRIGGER_BOTH;
        else
            return bad(r, e, "%s must be \"received\", \"sent\" or \"both\"", what);
        return 0;
    }
    if ((rc = read_hook_key(r, e, name, ctx, &t->action, ROLE_TRIGGER, &handled)) < 0)
        return rc;
    return handled ? 0 : bad(r, e, "%s: unknown setting '%s'", ctx, name);
}

/* Checks a trigger once all its keys are read. */
static int check_trigger(struct rd *r, const config_setting_t *g, const char *ctx, struct trigger_def *t)
{
    if (!t->name)
        return bad(r, g, "%s: missing 'name'", ctx);
    if (!t->match)
        return bad(r, g, "%s: missing 'match' (a regular expression)", ctx);
    regex_t re;
    int rc = regcomp(&re, t->match, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof msg);
        return bad(r, g, "%s: 'match' is not a valid extended regular expression: %s", ctx, msg);
    }
    regfree(&re);
    if (!(t->action.name = strdup(t->name)))
        return oom(r, g);
    return check_hook(r, g, ctx, &t->action, false);
}

static int read_triggers(struct rd *r, const config_setting_t *s, struct hookconfig *hc)
{
    int len, rc;
    if ((rc = read_list(r, s, "events.triggers", &len)) < 0)
        return rc;
    if (!(hc->triggers = calloc((size_t)len + 1, sizeof *hc->triggers)))
        return oom(r, s);
    for (int i = 0; i < len; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        struct trigger_def *t = &hc->triggers[i];
        char ctx[96];
        snprintf(ctx, sizeof ctx, "events.triggers entry %d", i + 1);
        hc->ntriggers++;
        t->direction = TRIGGER_RECEIVED;
        t->action.enabled = true;
        t->action.type = HOOK_SYSTEM;
        if (!config_setting_is_group(g))
            return bad(r, g, "%s must be a group { ... }", ctx);
        for (int k = 0; k < config_setting_length(g); k++)
            if ((rc = read_trigger_key(r, config_setting_get_elem(g, (unsigned)k), ctx, t)) < 0)
                return rc;
        if ((rc = check_trigger(r, g, ctx, t)) < 0)
            return rc;
    }
    return 0;
}

static int read_gcode_list(struct rd *r, const config_setting_t *s, const char *what, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    for (char **p = *out; p && *p; p++)
        free(*p);
    free(*out);
    *out = NULL;
    int rc = read_strv(r, s, what, &v, &n);
    if (rc < 0) {
        free_strv(v, n);
        return rc;
    }
    *out = v;   /* read_strv leaves a NULL after the last entry */
    for (size_t i = 0; i < n; i++)
        if (!v[i][0] || strpbrk(v[i], " \t\n;"))
            return bad(r, s, "%s element %zu must be one G-code word such as \"M112\" or \"M3*\", not \"%s\"", what,
                       i + 1, v[i]);
    return 0;
}

static int read_events(struct rd *r, const config_setting_t *g, struct hookconfig *hc)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        char what[96];
        snprintf(what, sizeof what, "events.%s", name);
        int rc;
        if (strcmp(name, "enabled") == 0)
            rc = read_bool(r, s, what, &hc->events_enabled);
        else if (strcmp(name, "timeout") == 0)
            rc = read_num(r, s, what, 0.1, 86400, &hc->timeout);
        else if (strcmp(name, "max_concurrent") == 0)
            rc = read_int(r, s, what, 1, 64, &hc->max_concurrent);
        else if (strcmp(name, "max_queued") == 0)
            rc = read_int(r, s, what, 0, 1000, &hc->max_queued);
        else if (strcmp(name, "max_output") == 0)
            rc = read_int(r, s, what, 0, 1048576, &hc->max_output);
        else if (strcmp(name, "progress_percent") == 0)
            rc = read_num(r, s, what, 0, 100, &hc->progress_percent);
        else if (strcmp(name, "progress_minutes") == 0)
            rc = read_num(r, s, what, 0, 1440, &hc->progress_minutes);
        else if (strcmp(name, "progress_layers") == 0)
            rc = read_int(r, s, what, 0, 100000, &hc->progress_layers);
        else if (strcmp(name, "subscriptions") == 0) {
            if (hc->subs)
                return bad(r, s, "events.subscriptions is given twice");
            rc = read_hooks(r, s, "events.subscriptions", ROLE_SUBSCRIPTION, &hc->subs, &hc->nsubs);
        } else if (strcmp(name, "triggers") == 0) {
            if (hc->triggers)
                return bad(r, s, "events.triggers is given twice");
            rc = read_triggers(r, s, hc);
        } else
            return bad(r, s, "unknown setting 'events.%s'; the keys are enabled, timeout, max_concurrent, max_queued, "
                             "max_output, progress_percent, progress_minutes, progress_layers, subscriptions, triggers",
                       name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int read_inbound(struct rd *r, const config_setting_t *g, struct hookconfig *hc)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        char what[96];
        snprintf(what, sizeof what, "inbound.%s", name);
        int rc;
        if (strcmp(name, "enabled") == 0)
            rc = read_bool(r, s, what, &hc->inbound_enabled);
        else if (strcmp(name, "max_payload") == 0)
            rc = read_int(r, s, what, 16, 16 * 1024 * 1024, &hc->max_payload);
        else if (strcmp(name, "gcode_allow") == 0)
            rc = read_gcode_list(r, s, what, &hc->gcode_allow);
        else if (strcmp(name, "gcode_deny") == 0)
            rc = read_gcode_list(r, s, what, &hc->gcode_deny);
        else if (strcmp(name, "handlers") == 0) {
            if (hc->handlers)
                return bad(r, s, "inbound.handlers is given twice");
            rc = read_hooks(r, s, "inbound.handlers", ROLE_HANDLER, &hc->handlers, &hc->nhandlers);
        } else
            return bad(r, s, "unknown setting 'inbound.%s'; the keys are enabled, max_payload, gcode_allow, "
                             "gcode_deny, handlers", name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int hookconfig_read(struct hookconfig **hcp, const config_setting_t *group, const config_setting_t **where,
                    char *why, size_t whysz)
{
    struct rd r = { .where = where, .why = why, .whysz = whysz };
    if (!*hcp) {
        if (!(*hcp = malloc(sizeof **hcp)))
            return oom(&r, group);
        **hcp = defaults;
    }
    if (!config_setting_is_group(group))
        return bad(&r, group, "%s must be a group, e.g. %s: { enabled = true; };", config_setting_name(group),
                   config_setting_name(group));
    if (strcmp(config_setting_name(group), "events") == 0)
        return read_events(&r, group, *hcp);
    return read_inbound(&r, group, *hcp);
}
