/* proc.c: owns every child process of the daemon (see base.h). One place spawns, reads the
 * pipes, times out and kills, so hooks, tools and the printer's shutdown command behave
 * alike. Every child is spawned detached, which makes it the leader of its own process
 * group; a kill or a timeout signals the whole group, so whatever the command started goes
 * with it.
 *
 * A run ends when its process has exited and every handle is closed: the pipes after EOF
 * (or at once after a kill or timeout, since a child that left the group may hold them
 * forever), the timer after the pipes. Only then is on_done called, so its caller may start
 * the next run or free what the run wrote into. */
#include "printbridge/base.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct proc_stream {
    uv_pipe_t pipe;
    struct proc *p;
    bool is_stderr;
    bool lines;                     /* split into lines (stderr always: last_err) */
    struct strbuf *keep;            /* capture target, or NULL */
    bool *cut;
    char line[PROC_MAX_LINE + 1];
    size_t linelen;
};

struct proc {
    uv_process_t proc;
    uv_timer_t timer;
    struct proc_stream streams[2];  /* stdout, stderr; unused when not piped */
    struct proc_options opt;
    bool piped;                     /* false: stdout and stderr go to /dev/null */
    int open;                       /* handles not closed yet */
    bool exited, released;
    uint64_t t0;
    char *label;                    /* proc_shell: logs the end under this name */
    struct proc_result r;
    char last_err[PROC_MAX_LINE + 1];
};

bool proc_ok(const struct proc_result *r)
{
    return r->spawn_error == 0 && !r->timed_out && !r->killed && r->term_signal == 0 && r->exit_status == 0;
}

/* ---- the end of a run -------------------------------------------------------------------- */

static void log_end(const struct proc *p)
{
    const struct proc_result *r = &p->r;
    if (r->spawn_error)
        log_error("%s: %s", p->label, p->last_err);
    else if (r->term_signal)
        log_info("%s was ended by signal %d", p->label, r->term_signal);
    else
        log_info("%s exited with status %lld", p->label, r->exit_status);
}

static void finish(struct proc *p)
{
    if (!p->released) {
        p->r.duration = (double)(uv_hrtime() - p->t0) / 1e9;
        p->r.last_err = p->last_err;
        if (p->label)
            log_end(p);
        if (p->opt.on_done)
            p->opt.on_done(p->opt.ctx, &p->r);
    }
    free(p->label);
    free(p);
}

static void closed(struct proc *p)
{
    if (--p->open == 0)
        finish(p);
}

static void on_closed(uv_handle_t *h)
{
    closed(h->data);
}

static void on_pipe_closed(uv_handle_t *h)
{
    closed(((struct proc_stream *)h->data)->p);
}

static void close_one(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_NAMED_PIPE ? on_pipe_closed : on_closed);
}

static bool pipes_closed(struct proc *p)
{
    for (int i = 0; p->piped && i < 2; i++)
        if (!uv_is_closing((uv_handle_t *)&p->streams[i].pipe))
            return false;
    return true;
}

/* The timer guards the pipes too: it goes once the process and both pipes are done. */
static void settle(struct proc *p)
{
    if (p->exited && pipes_closed(p))
        close_one((uv_handle_t *)&p->timer);
}

static void close_pipes(struct proc *p)
{
    for (int i = 0; p->piped && i < 2; i++)
        close_one((uv_handle_t *)&p->streams[i].pipe);
}

static void kill_group(struct proc *p)
{
    if (p->proc.pid > 0)
        kill(-p->proc.pid, SIGKILL);
}

/* Kills the group and stops waiting for the pipes; the exit still comes. */
static void abandon(struct proc *p)
{
    /* after the exit the group was killed already, unless the command may leave children */
    if (!p->exited || p->opt.keep_children)
        kill_group(p);
    uv_timer_stop(&p->timer);
    close_pipes(p);
    settle(p);
}

/* ---- output ------------------------------------------------------------------------------ */

static void emit_line(struct proc_stream *s)
{
    struct proc *p = s->p;
    s->line[s->linelen] = '\0';
    if (s->linelen && s->line[s->linelen - 1] == '\r')
        s->line[--s->linelen] = '\0';
    if (s->is_stderr && s->linelen > 0)
        memcpy(p->last_err, s->line, s->linelen + 1);
    if (p->opt.on_line)
        p->opt.on_line(p->opt.ctx, s->line, s->is_stderr);
    s->linelen = 0;
}

static void split_lines(struct proc_stream *s, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            emit_line(s);
            continue;
        }
        if (s->linelen == PROC_MAX_LINE)
            emit_line(s);
        s->line[s->linelen++] = data[i];
    }
}

/* Appends what still fits under the buffer's max; the rest is cut. */
static void capture(struct proc_stream *s, const char *data, size_t n)
{
    size_t room = s->keep->max > s->keep->len ? s->keep->max - s->keep->len : 0;
    if (n > room) {
        *s->cut = true;
        n = room;
    }
    if (n > 0 && strbuf_put(s->keep, data, n) < 0)
        *s->cut = true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536];    /* one loop thread, and each read is consumed before the next */
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct proc_stream *s = st->data;
    if (n < 0) {
        if (s->lines && s->linelen)
            emit_line(s);
        close_one((uv_handle_t *)st);
        settle(s->p);
        return;
    }
    if (s->keep)
        capture(s, buf->base, (size_t)n);
    if (s->lines)
        split_lines(s, buf->base, (size_t)n);
}

/* ---- the process ------------------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
    struct proc *p = t->data;
    log_debug("proc: pid %d still running after %g s; killing its process group", p->proc.pid, p->opt.timeout);
    p->r.timed_out = true;
    abandon(p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    struct proc *p = h->data;
    p->exited = true;
    p->r.exit_status = status;
    p->r.term_signal = sig;
    /* whatever the command left behind in its group (holding the pipes, say) goes too */
    if (!p->opt.keep_children)
        kill_group(p);
    close_one((uv_handle_t *)h);
    settle(p);
}

static void init_stream(struct proc *p, uv_loop_t *loop, int i)
{
    struct proc_stream *s = &p->streams[i];
    s->p = p;
    s->is_stderr = i == 1;
    s->lines = s->is_stderr || p->opt.on_line;
    s->keep = s->is_stderr ? p->opt.err : p->opt.out;
    s->cut = s->is_stderr ? &p->r.err_cut : &p->r.out_cut;
    uv_pipe_init(loop, &s->pipe, 0);
    s->pipe.data = s;
    p->open++;
}

static void spawn_failed(struct proc *p, const char *file, int rc)
{
    p->r.spawn_error = rc;
    snprintf(p->last_err, sizeof p->last_err, "cannot run %s: %s", file, uv_strerror(rc));
    p->exited = true;
    close_one((uv_handle_t *)&p->proc);
    close_pipes(p);
    settle(p);
}

static int start(struct proc **out, uv_loop_t *loop, char *const *argv, const struct proc_options *opt, bool piped)
{
    if (out)
        *out = NULL;
    if (!argv || !argv[0] || !opt)
        return -EINVAL;
    struct proc *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->opt = *opt;
    p->piped = piped;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->open = 2;                    /* the timer and the process */
    uv_stdio_container_t stdio[3] = { { .flags = UV_IGNORE }, { .flags = UV_IGNORE }, { .flags = UV_IGNORE } };
    for (int i = 0; piped && i < 2; i++) {
        init_stream(p, loop, i);
        stdio[i + 1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[i + 1].data.stream = (uv_stream_t *)&p->streams[i].pipe;
    }
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = argv[0],
        .args = (char **)argv,
        .flags = UV_PROCESS_DETACHED,   /* setsid: its own process group, killed as one */
        .stdio_count = 3,
        .stdio = stdio,
    };
    p->proc.data = p;
    p->t0 = uv_hrtime();
    if (out)
        *out = p;
    int rc = uv_spawn(loop, &p->proc, &po);
    if (rc < 0) {
        spawn_failed(p, argv[0], rc);
        return 0;
    }
    for (int i = 0; piped && i < 2; i++)
        uv_read_start((uv_stream_t *)&p->streams[i].pipe, on_alloc, on_read);
    if (opt->timeout > 0)
        uv_timer_start(&p->timer, on_timeout, (uint64_t)(opt->timeout * 1000.0), 0);
    return 0;
}

int proc_start(struct proc **out, uv_loop_t *loop, char *const *argv, const struct proc_options *opt)
{
    return start(out, loop, argv, opt, true);
}

int proc_shell(struct proc **out, uv_loop_t *loop, const char *command, const char *label, proc_done_fn on_done,
               void *ctx)
{
    if (out)
        *out = NULL;
    if (!command || !label)
        return -EINVAL;
    char *copy = strdup(label);
    if (!copy)
        return -ENOMEM;
    char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
    /* a shutdown command may outlive us: its children are its own business */
    struct proc_options opt = { .keep_children = true, .on_done = on_done, .ctx = ctx };
    struct proc *p;
    int rc = start(&p, loop, argv, &opt, false);
    if (rc < 0) {
        free(copy);
        return rc;
    }
    p->label = copy;
    if (out)
        *out = p;
    return 0;
}

void proc_kill(struct proc *p)
{
    if (!p || (p->exited && pipes_closed(p)))
        return;
    p->r.killed = true;
    abandon(p);
}

void proc_release(struct proc *p)
{
    if (!p)
        return;
    p->released = true;
    close_one((uv_handle_t *)&p->proc);
    close_one((uv_handle_t *)&p->timer);
    close_pipes(p);
}

/* ---- argv templates ---------------------------------------------------------------------- */

char *proc_fill_one(const char *tmpl, const char *const *names, const char *const *values, int nnames)
{
    struct strbuf b = { .max = SIZE_MAX };
    const char *p = tmpl;
    while (*p) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        int i = 0;
        for (; close && i < nnames; i++) {
            size_t n = strlen(names[i]);
            if ((size_t)(close - p - 1) == n && strncmp(p + 1, names[i], n) == 0)
                break;
        }
        if (close && i < nnames) {
            strbuf_puts(&b, values[i]);
            p = close + 1;
        } else {
            strbuf_putc(&b, *p++);
        }
    }
    return strbuf_take(&b);
}

void proc_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

char **proc_argv_dup(char *const *argv)
{
    int n = 0;
    while (argv && argv[n])
        n++;
    char **out = calloc((size_t)n + 1, sizeof *out);
    for (int i = 0; out && i < n; i++) {
        out[i] = strdup(argv[i]);
        if (!out[i]) {
            proc_argv_free(out);
            return NULL;
        }
    }
    return out;
}

char **proc_fill(char *const *tmpl, const char *const *names, const char *const *values, int nnames)
{
    int n = 0;
    while (tmpl && tmpl[n])
        n++;
    if (n == 0 || n > PROC_MAX_ARGS)
        return NULL;
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    if (!argv)
        return NULL;
    for (int i = 0; i < n; i++) {
        argv[i] = proc_fill_one(tmpl[i], names, values, nnames);
        if (!argv[i]) {
            proc_argv_free(argv);
            return NULL;
        }
    }
    return argv;
}

/* A word a shell reads as it is. */
static bool plain_word(const char *w)
{
    return *w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == strlen(w);
}

void proc_describe(char *out, size_t outsz, char *const *argv)
{
    struct strbuf b = { .max = SIZE_MAX };
    for (int i = 0; argv && argv[i]; i++) {
        char *q = plain_word(argv[i]) ? NULL : words_shell_quote(argv[i]);
        if (i)
            strbuf_putc(&b, ' ');
        strbuf_puts(&b, q ? q : argv[i]);
        free(q);
    }
    if (outsz > 0) {
        size_t n = (size_t)snprintf(out, outsz, "%s", b.s && !b.nomem ? b.s : "");
        if (n >= outsz && outsz > 4)
            memcpy(out + outsz - 4, "...", 4);
    }
    strbuf_free(&b);
}
