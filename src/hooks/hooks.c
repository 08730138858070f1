/* hooks.c: runs G-code and system hooks (see hooks.h for the contract).
 *
 * A system run is a short chain: spawn a command, read its two pipes, wait for exit and EOF
 * on both, close the handles, then spawn the next command of the hook (if the previous one
 * exited 0, as OctoPrint's check_call stops at the first failure) or finish. Every command is
 * spawned detached, which makes it a process-group leader; the timeout kills the group, so
 * a hook's own children die with it. Placeholders are expanded when the hook is triggered,
 * never later, so no payload has to be kept. */
#include "printbridge/hooks.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"
#include "printbridge/printer.h"

/* Linux refuses a single exec argument longer than this (MAX_ARG_STRLEN) with E2BIG. */
#define MAX_WORD (128 * 1024 - 1)
/* Unknown placeholders logged once per hook and name, up to this many pairs. */
#define MAX_WARNED 64

struct capture {
    char *buf;
    size_t len;
    bool cut;
};

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

    uv_process_t proc;
    uv_pipe_t pout, perr;
    uv_timer_t timer;
    int open;                   /* handles of the current command still open */
    bool exited, out_eof, err_eof, timed_out, spawn_failed;
    int64_t status;
    int signal;
    struct capture o, e;
    uint64_t t0;
    char *error;
};

struct hooks {
    uv_loop_t *loop;
    struct events *ev;
    const struct hookconfig *hc;
    struct printer *printer;
    char *home;
    struct run *running, *queue;
    size_t nrunning, nqueued;
    char *warned[MAX_WARNED];
    size_t nwarned;
    bool destroying;
};

static char read_buf[65536];

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

void hooks_fill_placeholders(const struct hooks *h, struct placeholders *ph)
{
    if (h->printer) {
        const struct printer_model *m = printer_get_model(h->printer);
        ph->has_z = m->has_z;
        ph->current_z = m->current_z;
    }
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

static void free_argv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* argv for one command template: words first, then placeholders inside each word. */
static int expand_system(struct hooks *h, const struct hook_def *def, const char *tmpl, const struct placeholders *ph,
                         char ***out, char *err, size_t errsz)
{
    struct warn_ctx w = { h, def->name };
    bool toolong = false;
    *out = NULL;
    if (def->shell) {
        char *cmd = placeholders_expand(tmpl, ph, true, MAX_WORD, &toolong, on_unknown, &w);
        char **v = calloc(4, sizeof *v);
        if (!cmd || !v || !(v[0] = strdup("/bin/sh")) || !(v[1] = strdup("-c"))) {
            snprintf(err, errsz, toolong ? "the command is longer than %d bytes after placeholder substitution"
                                         : "out of memory", MAX_WORD);
            free(cmd);
            free_argv(v);
            return -1;
        }
        v[2] = cmd;
        *out = v;
        return 0;
    }
    struct words words;
    if (words_split(tmpl, h->home, &words, err, errsz) < 0) {
        words_free(&words);
        return -1;
    }
    char **v = calloc(words.n + 1, sizeof *v);
    if (!v) {
        words_free(&words);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < words.n; i++) {
        v[i] = placeholders_expand(words.v[i], ph, false, MAX_WORD, &toolong, on_unknown, &w);
        if (!v[i]) {
            snprintf(err, errsz, toolong ? "argument %zu is longer than %d bytes after placeholder substitution"
                                         : "out of memory", i + 1, MAX_WORD);
            words_free(&words);
            free_argv(v);
            return -1;
        }
    }
    words_free(&words);
    *out = v;
    return 0;
}

/* A command line for the log: words quoted where needed. */
static char *describe(char **argv)
{
    size_t cap = 1;
    for (char **a = argv; *a; a++)
        cap += strlen(*a) * 4 + 3;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (char **a = argv; *a; a++) {
        bool plain = **a && strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == strlen(*a);
        char *q = plain ? NULL : words_shell_quote(*a);
        p += sprintf(p, "%s%s", a == argv ? "" : " ", q ? q : *a);
        free(q);
    }
    return s;
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

static void start_command(struct run *r);

static void free_run(struct run *r)
{
    for (size_t i = 0; i < r->n; i++)
        free_argv(r->argvs[i]);
    free(r->argvs);
    free(r->name);
    free(r->trigger);
    free(r->o.buf);
    free(r->e.buf);
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
        .name = r->name, .type = HOOK_SYSTEM, .out = r->o.buf ? r->o.buf : "", .out_len = r->o.len,
        .err = r->e.buf ? r->e.buf : "", .err_len = r->e.len, .error = r->error,
        .duration = r->t0 ? (double)(uv_hrtime() - r->t0) / 1e9 : 0,
    };
    if (r->exited && !r->spawn_failed) {
        res.has_returncode = true;
        res.returncode = r->signal ? -r->signal : (int)r->status;
    }
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

static void on_closed(uv_handle_t *handle)
{
    struct run *r = handle->data;
    if (--r->open > 0)
        return;
    bool ok = !r->error && !r->timed_out && r->exited && r->signal == 0 && r->status == 0;
    if (ok && r->idx + 1 < r->n && !r->h->destroying) {
        r->idx++;
        start_command(r);
        return;
    }
    struct hooks *h = r->h;
    unlink_run(&h->running, r);
    h->nrunning--;
    finish_run(r);
}

static void close_all(struct run *r)
{
    uv_handle_t *hs[] = { (uv_handle_t *)&r->proc, (uv_handle_t *)&r->pout, (uv_handle_t *)&r->perr,
                          (uv_handle_t *)&r->timer };
    for (size_t i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_closed);
}

static void check_done(struct run *r)
{
    if (r->exited && r->out_eof && r->err_eof)
        close_all(r);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int signal)
{
    struct run *r = p->data;
    r->exited = true;
    r->status = status;
    r->signal = signal;
    check_done(r);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    /* one loop thread, and each read is consumed before the next alloc */
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void capture(struct capture *c, const char *data, size_t n, size_t max)
{
    size_t room = c->len < max ? max - c->len : 0;
    size_t take = n < room ? n : room;
    if (take < n)
        c->cut = true;
    if (take == 0)
        return;
    char *b = realloc(c->buf, c->len + take + 1);
    if (!b) {
        c->cut = true;
        return;
    }
    memcpy(b + c->len, data, take);
    c->len += take;
    b[c->len] = '\0';
    c->buf = b;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct run *r = s->data;
    bool is_out = s == (uv_stream_t *)&r->pout;
    if (nread < 0) {
        uv_read_stop(s);
        if (is_out)
            r->out_eof = true;
        else
            r->err_eof = true;
        check_done(r);
        return;
    }
    capture(is_out ? &r->o : &r->e, buf->base, (size_t)nread, (size_t)r->h->hc->max_output);
}

static void kill_group(struct run *r)
{
    if (r->proc.pid > 0)
        kill(-r->proc.pid, SIGKILL);
}

/* Kills the process group and stops waiting for the pipes. */
static void abandon(struct run *r)
{
    kill_group(r);
    /* a grandchild that left the group may keep the pipes open: stop waiting for them */
    if (!r->out_eof) {
        uv_read_stop((uv_stream_t *)&r->pout);
        r->out_eof = true;
    }
    if (!r->err_eof) {
        uv_read_stop((uv_stream_t *)&r->perr);
        r->err_eof = true;
    }
    check_done(r);
}

static void on_timeout(uv_timer_t *t)
{
    struct run *r = t->data;
    r->timed_out = true;
    free(r->error);
    if (asprintf(&r->error, "timed out after %g s; killed it and its process group", r->timeout) < 0)
        r->error = NULL;
    abandon(r);
}

static void start_command(struct run *r)
{
    struct hooks *h = r->h;
    char **argv = r->argvs[r->idx];
    r->exited = r->out_eof = r->err_eof = false;
    r->status = 0;
    r->signal = 0;
    uv_pipe_init(h->loop, &r->pout, 0);
    uv_pipe_init(h->loop, &r->perr, 0);
    uv_timer_init(h->loop, &r->timer);
    r->proc.data = r->pout.data = r->perr.data = r->timer.data = r;
    r->open = 4;
    if (!r->t0)
        r->t0 = uv_hrtime();
    if (r->debug) {
        char *d = describe(argv);
        log_info("hooks: %s (%s): running %s", r->name, r->trigger, d ? d : argv[0]);
        free(d);
    }
    uv_stdio_container_t stdio[3] = {
        { .flags = UV_IGNORE },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->pout },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->perr },
    };
    uv_process_options_t opt = {
        .exit_cb = on_exit_cb,
        .file = argv[0],
        .args = argv,
        .stdio = stdio,
        .stdio_count = 3,
        /* its own session and so its own process group: the timeout kills the whole group */
        .flags = UV_PROCESS_DETACHED,
    };
    int rc = uv_spawn(h->loop, &r->proc, &opt);
    if (rc < 0) {
        free(r->error);
        if (asprintf(&r->error, "cannot run '%s': %s", argv[0], uv_strerror(rc)) < 0)
            r->error = NULL;
        r->spawn_failed = true;
        r->exited = r->out_eof = r->err_eof = true;
        close_all(r);
        return;
    }
    uv_read_start((uv_stream_t *)&r->pout, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&r->perr, on_alloc, on_read);
    uv_timer_start(&r->timer, on_timeout, (uint64_t)(r->timeout * 1000.0), 0);
}

static void start_queued(struct hooks *h)
{
    while (!h->destroying && h->queue && h->nrunning < (size_t)h->hc->max_concurrent) {
        struct run *r = h->queue;
        h->queue = r->next;
        h->nqueued--;
        r->next = h->running;
        h->running = r;
        h->nrunning++;
        start_command(r);
    }
}

static int run_system(struct hooks *h, const struct hook_def *def, const char *trigger, const struct placeholders *ph,
                      hooks_done_fn *done, void *ctx)
{
    char err[512];
    struct run *r = calloc(1, sizeof *r);
    if (!r || !(r->argvs = calloc(def->ncommands, sizeof *r->argvs)) || !(r->name = strdup(def->name)) ||
        !(r->trigger = strdup(trigger))) {
        if (r)
            free_run(r);
        finish_early(h, def, trigger, "out of memory", done, ctx);
        return -1;
    }
    r->h = h;
    r->debug = def->debug;
    r->timeout = def->timeout > 0 ? def->timeout : h->hc->timeout;
    r->done = done;
    r->ctx = ctx;
    for (size_t i = 0; i < def->ncommands; i++) {
        if (expand_system(h, def, def->commands[i], ph, &r->argvs[i], err, sizeof err) < 0) {
            char why[600];
            snprintf(why, sizeof why, "command %zu: %s", i + 1, err);
            free_run(r);
            finish_early(h, def, trigger, why, done, ctx);
            return -1;
        }
        r->n++;
    }
    if (h->nrunning >= (size_t)h->hc->max_concurrent) {
        if (h->nqueued >= (size_t)h->hc->max_queued) {
            snprintf(err, sizeof err, "dropped: %zu hooks are running and %zu waiting (events.max_concurrent, "
                                      "events.max_queued)", h->nrunning, h->nqueued);
            free_run(r);
            finish_early(h, def, trigger, err, done, ctx);
            return -1;
        }
        struct run **p = &h->queue;   /* FIFO */
        while (*p)
            p = &(*p)->next;
        *p = r;
        h->nqueued++;
        return 0;
    }
    r->next = h->running;
    h->running = r;
    h->nrunning++;
    start_command(r);
    return 0;
}

/* ---- G-code ------------------------------------------------------------------------------ */

static int run_gcode(struct hooks *h, const struct hook_def *def, const char *trigger, const struct placeholders *ph,
                     hooks_done_fn *done, void *ctx)
{
    struct warn_ctx w = { h, def->name };
    char **lines = NULL, err[256] = "";
    size_t n = 0, cap = 0;
    int rc = -1;

    /* expand everything first: a hook is sent whole or not at all */
    for (size_t i = 0; i < def->ncommands && !err[0]; i++) {
        const char *p = def->commands[i];
        while (*p && !err[0]) {
            size_t len = strcspn(p, "\n");
            char *tmpl = strndup(p, len);
            bool toolong = false;
            char *line = tmpl ? placeholders_expand(tmpl, ph, false, 4096, &toolong, on_unknown, &w) : NULL;
            free(tmpl);
            if (!line)
                snprintf(err, sizeof err, toolong ? "a G-code line is too long after placeholder substitution"
                                                  : "out of memory");
            else if (strpbrk(line, "\r\n"))
                snprintf(err, sizeof err, "a placeholder value contains a line break; nothing was sent");
            if (!err[0] && n == cap) {
                char **nl = realloc(lines, (cap = cap ? cap * 2 : 8) * sizeof *nl);
                if (nl)
                    lines = nl;
                else
                    snprintf(err, sizeof err, "out of memory");
            }
            if (err[0])
                free(line);
            else
                lines[n++] = line;
            p += len + (p[len] == '\n');
        }
    }
    if (!err[0] && (!h->printer || !printer_state_is_operational(printer_get_state(h->printer))))
        snprintf(err, sizeof err, "the printer is not connected; nothing was sent");
    for (size_t i = 0; i < n && !err[0]; i++) {
        if (def->debug)
            log_info("hooks: %s (%s): sending %s", def->name, trigger, lines[i]);
        int src = printer_send(h->printer, lines[i]);
        if (src < 0)
            snprintf(err, sizeof err, "could not queue \"%.60s\": %s", lines[i], strerror(-src));
    }
    if (!err[0])
        rc = 0;
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    if (rc < 0) {
        finish_early(h, def, trigger, err, done, ctx);
        return -1;
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
        return -1;
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
        free(r->error);
        r->error = strdup("not run: shutting down");
        finish_run(r);
    }
    for (struct run *r = h->running; r; r = r->next) {
        if (!r->error)
            r->error = strdup("killed: shutting down");
        abandon(r);
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
