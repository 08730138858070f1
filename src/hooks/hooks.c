/* hooks.c: runs G-code and system hooks (see hooks.h for the contract).
 *
 * A system run is a short chain of commands, each one a proc run (see base.h): the next
 * command starts when the previous one exited 0, as OctoPrint's check_call stops at the first
 * failure. Commands may leave background children behind (keep_children); the timeout and
 * the shutdown kill a command's whole process group. The chain's stdout and stderr are
 * captured together, max_output bytes each. Placeholders are expanded when the hook is
 * triggered, never later, so no payload has to be kept. */
#include "printbridge/hooks.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"
#include "printbridge/printer.h"

/* Linux refuses a single exec argument longer than this (MAX_ARG_STRLEN) with E2BIG. */
#define MAX_WORD (128 * 1024 - 1)
/* Unknown placeholders logged once per hook and name, up to this many pairs. */
#define MAX_WARNED 64

struct run {
    struct hooks *h;
    struct run *next;
    char *name, *trigger;
    bool debug;
    double timeout;
    char ***argvs;              /* n NULL-terminated argument vectors */
    size_t n, idx;
    hooks_done_fn *done;
    void *ctx;
    struct proc *proc;          /* the command running now */
    struct strbuf out, err;     /* the whole chain's output */
    bool has_returncode;
    int returncode;             /* of the last command that ran */
    double duration;            /* s, summed over the commands */
    char *error;
};

struct hooks {
    uv_loop_t *loop;
    struct events *ev;
    const struct hookconfig *hc;
    struct printer *printer;
    hooks_job_fn *job_fn;
    void *job_ctx;
    char *home;
    struct run *running, *queue;
    size_t nrunning, nqueued;
    char *warned[MAX_WARNED];
    size_t nwarned;
    bool destroying;
};

static void start_queued(struct hooks *h);

/* ---- set-up ---------------------------------------------------------------------------- */

int hooks_create(struct hooks **out, uv_loop_t *loop, struct events *ev, const struct hookconfig *hc)
{
    struct hooks *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    const char *home = getenv("HOME");
    h->home = strdup(home ? home : "");
    if (!h->home) {
        free(h);
        return -ENOMEM;
    }
    h->loop = loop;
    h->ev = ev;
    h->hc = hookconfig_or_defaults(hc);
    *out = h;
    return 0;
}

void hooks_set_config(struct hooks *h, const struct hookconfig *hc)
{
    h->hc = hookconfig_or_defaults(hc);
    start_queued(h);    /* a larger max_concurrent may let waiting runs start */
}

void hooks_set_printer(struct hooks *h, struct printer *p)
{
    h->printer = p;
}

size_t hooks_active(const struct hooks *h)
{
    return h->nrunning + h->nqueued;
}

void hooks_set_job(struct hooks *h, hooks_job_fn *fn, void *ctx)
{
    h->job_fn = fn;
    h->job_ctx = ctx;
}

void hooks_fill_placeholders(const struct hooks *h, struct placeholders *ph)
{
    if (h->printer) {
        const struct printer_model *m = printer_get_model(h->printer);
        ph->has_z = m->has_z;
        ph->current_z = m->current_z;
    }
    if (h->job_fn)
        h->job_fn(h->job_ctx, ph);
    /* a print job event carries the percent at which it happened (PrintCancelled, PrintFailed,
     * PrintProgress): that is the progress its hooks mean */
    const json_t *pr = ph->eventname && ph->payload ? json_object_get(ph->payload, "progress") : NULL;
    if (json_is_integer(pr))
        ph->progress = (double)json_integer_value(pr);
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0) {
        ph->now_sec = tv.tv_sec;
        ph->now_usec = tv.tv_usec;
    }
}

/* ---- expansion -------------------------------------------------------------------------- */

struct warn_ctx {
    struct hooks *h;
    const char *hook;
};

static void on_unknown(void *ctx, const char *name, size_t len)
{
    struct warn_ctx *w = ctx;
    char *key;
    if (asprintf(&key, "%s\x1f%.*s", w->hook, (int)len, name) < 0)
        return;
    for (size_t i = 0; i < w->h->nwarned; i++)
        if (strcmp(w->h->warned[i], key) == 0) {
            free(key);
            return;
        }
    log_warn("hooks: %s: unknown placeholder {%.*s} left as written", w->hook, (int)len, name);
    if (w->h->nwarned < MAX_WARNED)
        w->h->warned[w->h->nwarned++] = key;
    else
        free(key);
}

/* argv for a shell hook: /bin/sh -c with every value shell-quoted. */
static int expand_shell(struct warn_ctx *w, const char *tmpl, const struct placeholders *ph, char ***out, char *err,
                        size_t errsz)
{
    char *cmd = NULL;
    char **v = calloc(4, sizeof *v);
    int rc = placeholders_expand(&cmd, tmpl, ph, true, MAX_WORD, on_unknown, w);
    if (rc == 0 && (!v || !(v[0] = strdup("/bin/sh")) || !(v[1] = strdup("-c"))))
        rc = -ENOMEM;
    if (rc < 0) {
        snprintf(err, errsz, rc == -E2BIG ? "the command is longer than %d bytes after placeholder substitution"
                                          : "out of memory", MAX_WORD);
        free(cmd);
        proc_argv_free(v);
        return rc;
    }
    v[2] = cmd;
    *out = v;
    return 0;
}

/* argv for one command template: words first, then placeholders inside each word. */
static int expand_system(struct hooks *h, const struct hook_def *def, const char *tmpl, const struct placeholders *ph,
                         char ***out, char *err, size_t errsz)
{
    struct warn_ctx w = { h, def->name };
    *out = NULL;
    if (def->shell)
        return expand_shell(&w, tmpl, ph, out, err, errsz);
    struct words words;
    int rc = words_split(tmpl, h->home, &words, err, errsz);
    char **v = rc == 0 ? calloc(words.n + 1, sizeof *v) : NULL;
    if (rc == 0 && !v) {
        snprintf(err, errsz, "out of memory");
        rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < words.n; i++) {
        rc = placeholders_expand(&v[i], words.v[i], ph, false, MAX_WORD, on_unknown, &w);
        if (rc < 0)
            snprintf(err, errsz, rc == -E2BIG ? "argument %zu is longer than %d bytes after placeholder substitution"
                                              : "out of memory", i + 1, MAX_WORD);
    }
    words_free(&words);
    if (rc < 0) {
        proc_argv_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ---- HookFinished ---------------------------------------------------------------------- */

static void publish_finished(struct hooks *h, const struct hooks_result *r, const char *trigger)
{
    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "trigger", pyjson_string_lossy(trigger, strlen(trigger)));
    json_object_set_new(o, "type", json_string(r->type == HOOK_GCODE ? "gcode" : "system"));
    json_object_set_new(o, "returncode", r->has_returncode ? json_integer(r->returncode) : json_null());
    json_object_set_new(o, "stdout", pyjson_string_lossy(r->out ? r->out : "", r->out_len));
    json_object_set_new(o, "stderr", pyjson_string_lossy(r->err ? r->err : "", r->err_len));
    json_object_set_new(o, "duration", pyjson_real_or_null((double)(long long)(r->duration * 1000.0 + 0.5) / 1000.0));
    if (r->error)
        json_object_set_new(o, "error", json_string(r->error));
    events_fire(h->ev, EVENT_HOOK_FINISHED, o);
}

/* Reports a run that never started (or a G-code hook) to the caller and, for system hooks,
 * as HookFinished. */
static void finish_early(struct hooks *h, const struct hook_def *def, const char *trigger, const char *error,
                         hooks_done_fn *done, void *ctx)
{
    struct hooks_result r = { .name = def->name, .type = def->type, .error = error, .out = "", .err = "" };
    if (error)
        log_warn("hooks: %s (%s): %s", def->name, trigger, error);
    if (def->type == HOOK_SYSTEM)
        publish_finished(h, &r, trigger);
    if (done)
        done(ctx, &r);
}

/* ---- system runs ------------------------------------------------------------------------- */

static void set_error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replaces the run's error (the last reason wins). */
static void set_error(struct run *r, const char *fmt, ...)
{
    va_list ap;
    free(r->error);
    va_start(ap, fmt);
    if (vasprintf(&r->error, fmt, ap) < 0)
        r->error = NULL;
    va_end(ap);
}

static void free_run(struct run *r)
{
    for (size_t i = 0; i < r->n; i++)
        proc_argv_free(r->argvs[i]);
    free(r->argvs);
    free(r->name);
    free(r->trigger);
    strbuf_free(&r->out);
    strbuf_free(&r->err);
    free(r->error);
    free(r);
}

static void unlink_run(struct run **list, struct run *r)
{
    for (struct run **p = list; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

static void finish_run(struct run *r)
{
    struct hooks *h = r->h;
    struct hooks_result res = {
        .name = r->name, .type = HOOK_SYSTEM, .has_returncode = r->has_returncode, .returncode = r->returncode,
        .out = r->out.s ? r->out.s : "", .out_len = r->out.len, .err = r->err.s ? r->err.s : "",
        .err_len = r->err.len, .error = r->error, .duration = r->duration,
    };
    if (r->error)
        log_warn("hooks: %s (%s): %s", r->name, r->trigger, r->error);
    else if (res.returncode != 0)
        log_warn("hooks: %s (%s) exited with %d", r->name, r->trigger, res.returncode);
    else
        log_debug("hooks: %s (%s) done in %.3f s", r->name, r->trigger, res.duration);
    publish_finished(h, &res, r->trigger);
    if (r->done)
        r->done(r->ctx, &res);
    free_run(r);
    start_queued(h);
}

/* Takes a running run off the list and reports it. */
static void end_run(struct run *r)
{
    unlink_run(&r->h->running, r);
    r->h->nrunning--;
    finish_run(r);
}

static void on_command_done(void *ctx, const struct proc_result *res);

static int start_command(struct run *r)
{
    char **argv = r->argvs[r->idx];
    if (r->debug) {
        char d[2048];
        proc_describe(d, sizeof d, argv);
        log_info("hooks: %s (%s): running %s", r->name, r->trigger, d);
    }
    r->out.max = r->err.max = (size_t)r->h->hc->max_output;
    struct proc_options o = { .timeout = r->timeout, .keep_children = true, .out = &r->out, .err = &r->err,
                              .on_done = on_command_done, .ctx = r };
    return proc_start(&r->proc, r->h->loop, argv, &o);
}

static void on_command_done(void *ctx, const struct proc_result *res)
{
    struct run *r = ctx;
    r->proc = NULL;
    r->duration += res->duration;
    r->has_returncode = res->spawn_error == 0;
    r->returncode = res->term_signal ? -res->term_signal : (int)res->exit_status;
    if (res->timed_out)
        set_error(r, "timed out after %g s; killed it and its process group", r->timeout);
    else if (res->spawn_error)
        set_error(r, "cannot run '%s': %s", r->argvs[r->idx][0], uv_strerror(res->spawn_error));
    if (!r->error && proc_ok(res) && r->idx + 1 < r->n && !r->h->destroying) {
        r->idx++;
        if (start_command(r) == 0)
            return;
        set_error(r, "out of memory");
    }
    end_run(r);
}

/* Moves r to the running list and starts its first command. */
static int launch(struct hooks *h, struct run *r)
{
    r->next = h->running;
    h->running = r;
    h->nrunning++;
    int rc = start_command(r);
    if (rc < 0) {
        set_error(r, "out of memory");
        end_run(r);
    }
    return rc;
}

static void start_queued(struct hooks *h)
{
    while (!h->destroying && h->queue && h->nrunning < (size_t)h->hc->max_concurrent) {
        struct run *r = h->queue;
        h->queue = r->next;
        h->nqueued--;
        launch(h, r);
    }
}

static int new_run(struct run **out, struct hooks *h, const struct hook_def *def, const char *trigger,
                   hooks_done_fn *done, void *ctx)
{
    struct run *r = calloc(1, sizeof *r);
    *out = r;
    if (!r || !(r->argvs = calloc(def->ncommands, sizeof *r->argvs)) || !(r->name = strdup(def->name)) ||
        !(r->trigger = strdup(trigger)))
        return -ENOMEM;
    r->h = h;
    r->debug = def->debug;
    r->timeout = def->timeout > 0 ? def->timeout : h->hc->timeout;
    r->done = done;
    r->ctx = ctx;
    return 0;
}

static int run_system(struct hooks *h, const struct hook_def *def, const char *trigger, const struct placeholders *ph,
                      hooks_done_fn *done, void *ctx)
{
    char err[512], why[600];
    struct run *r;
    int rc = new_run(&r, h, def, trigger, done, ctx);
    snprintf(why, sizeof why, "out of memory");
    for (size_t i = 0; rc == 0 && i < def->ncommands; i++) {
        rc = expand_system(h, def, def->commands[i], ph, &r->argvs[i], err, sizeof err);
        r->n = i + 1;               /* what free_run frees */
        if (rc < 0)
            snprintf(why, sizeof why, "command %zu: %s", i + 1, err);
    }
    if (rc == 0 && h->nrunning >= (size_t)h->hc->max_concurrent && h->nqueued >= (size_t)h->hc->max_queued) {
        snprintf(why, sizeof why, "dropped: %zu hooks are running and %zu waiting (events.max_concurrent, "
                                  "events.max_queued)", h->nrunning, h->nqueued);
        rc = -EBUSY;
    }
    if (rc < 0) {
        if (r)
            free_run(r);
        finish_early(h, def, trigger, why, done, ctx);
        return rc;
    }
    if (h->nrunning < (size_t)h->hc->max_concurrent)
        return launch(h, r);
    struct run **p = &h->queue;   /* FIFO */
    while (*p)
        p = &(*p)->next;
    *p = r;
    h->nqueued++;
    return 0;
}

/* ---- G-code ------------------------------------------------------------------------------ */

struct gcode_lines {
    char **v;
    size_t n, cap;
};

static void free_lines(struct gcode_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int add_line(struct gcode_lines *l, char *line)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = line;
    return 0;
}

/* Every line of every command, expanded: a hook is sent whole or not at all. */
static int expand_gcode(struct hooks *h, const struct hook_def *def, const struct placeholders *ph,
                        struct gcode_lines *out, char *err, size_t errsz)
{
    struct warn_ctx w = { h, def->name };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < def->ncommands; i++) {
        for (const char *p = def->commands[i]; rc == 0 && *p;) {
            size_t len = strcspn(p, "\n");
            char *tmpl = strndup(p, len), *line = NULL;
            rc = tmpl ? placeholders_expand(&line, tmpl, ph, false, 4096, on_unknown, &w) : -ENOMEM;
            free(tmpl);
            if (rc == 0 && strpbrk(line, "\r\n")) {
                snprintf(err, errsz, "a placeholder value contains a line break; nothing was sent");
                rc = -EINVAL;
            } else if (rc < 0) {
                snprintf(err, errsz, rc == -E2BIG ? "a G-code line is too long after placeholder substitution"
                                                  : "out of memory");
            } else if ((rc = add_line(out, line)) < 0) {
                snprintf(err, errsz, "out of memory");
            }
            if (rc < 0)
                free(line);
            p += len + (p[len] == '\n');
        }
    }
    return rc;
}

static int run_gcode(struct hooks *h, const struct hook_def *def, const char *trigger, const struct placeholders *ph,
                     hooks_done_fn *done, void *ctx)
{
    struct gcode_lines lines = { 0 };
    char err[256] = "";
    int rc = expand_gcode(h, def, ph, &lines, err, sizeof err);
    if (rc == 0 && (!h->printer || !printer_state_is_operational(printer_get_state(h->printer)))) {
        snprintf(err, sizeof err, "the printer is not connected; nothing was sent");
        rc = -ENOTCONN;
    }
    for (size_t i = 0; rc == 0 && i < lines.n; i++) {
        if (def->debug)
            log_info("hooks: %s (%s): sending %s", def->name, trigger, lines.v[i]);
        rc = printer_send(h->printer, lines.v[i]);
        if (rc < 0)
            snprintf(err, sizeof err, "could not queue \"%.60s\": %s", lines.v[i], strerror(-rc));
    }
    free_lines(&lines);
    if (rc < 0) {
        finish_early(h, def, trigger, err, done, ctx);
        return rc;
    }
    if (done) {
        struct hooks_result r = { .name = def->name, .type = HOOK_GCODE, .has_returncode = true, .out = "", .err = "" };
        done(ctx, &r);
    }
    return 0;
}

int hooks_run(struct hooks *h, const struct hook_def *def, const char *trigger, const struct placeholders *ph,
              hooks_done_fn *done, void *ctx)
{
    if (h->destroying) {
        finish_early(h, def, trigger, "shutting down", done, ctx);
        return -ECANCELED;
    }
    if (def->type == HOOK_GCODE)
        return run_gcode(h, def, trigger, ph, done, ctx);
    return run_system(h, def, trigger, ph, done, ctx);
}

void hooks_on_event(void *ctx, const char *name, json_t *payload, long long timestamp)
{
    struct hooks *h = ctx;
    (void)timestamp;
    if (!h->hc->events_enabled || h->destroying)
        return;
    for (size_t i = 0; i < h->hc->nsubs; i++) {
        const struct hook_def *def = &h->hc->subs[i];
        if (!def->enabled)
            continue;
        for (size_t k = 0; k < def->nevents; k++) {
            if (strcmp(def->events[k], name) != 0)
                continue;
            struct placeholders ph = { .eventname = name, .payload = payload };
            hooks_fill_placeholders(h, &ph);
            hooks_run(h, def, name, &ph, NULL, NULL);
            break;
        }
    }
}

void hooks_stop(struct hooks *h)
{
    if (!h || h->destroying)
        return;
    h->destroying = true;
    while (h->queue) {
        struct run *r = h->queue;
        h->queue = r->next;
        h->nqueued--;
        set_error(r, "not run: shutting down");
        finish_run(r);
    }
    for (struct run *r = h->running; r; r = r->next) {
        if (!r->error)
            set_error(r, "killed: shutting down");
        proc_kill(r->proc);
    }
}

void hooks_free(struct hooks *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nwarned; i++)
        free(h->warned[i]);
    free(h->home);
    free(h);
}
