/* toolrun.c: external tools from the loop (see toolrun.h). */
#include "printbridge/base.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct toolrun_stream {
    uv_pipe_t pipe;
    char line[TOOLRUN_MAX_LINE + 1];
    size_t linelen;
    bool is_stderr;
    struct toolrun *t;
};

struct toolrun {
    uv_process_t proc;
    uv_timer_t timer;
    struct toolrun_stream streams[2];   /* stdout, stderr */
    struct toolrun_options opt;
    int open_handles;
    bool exited;
    bool timer_started;
    struct toolrun_result r;
    char *out;
    size_t outlen, outcap;
    char last_err[TOOLRUN_MAX_LINE + 1];
};

bool toolrun_ok(const struct toolrun_result *r)
{
    return r->spawn_error == 0 && !r->timed_out && !r->killed && r->term_signal == 0 && r->exit_status == 0;
}

static void finish_if_done(struct toolrun *t)
{
    if (t->open_handles > 0)
        return;
    t->r.out = t->opt.capture ? (t->out ? t->out : "") : NULL;
    t->r.outlen = t->outlen;
    t->r.last_err = t->last_err;
    t->opt.on_done(t->opt.ctx, &t->r);
    free(t->out);
    free(t);
}

static void on_close(uv_handle_t *h)
{
    struct toolrun *t = h->data;
    t->open_handles--;
    finish_if_done(t);
}

static void on_close_pipe(uv_handle_t *h)
{
    struct toolrun_stream *s = h->data;
    s->t->open_handles--;
    finish_if_done(s->t);
}

static void close_one(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_NAMED_PIPE ? on_close_pipe : on_close);
}

static void emit_line(struct toolrun_stream *s)
{
    struct toolrun *t = s->t;
    s->line[s->linelen] = '\0';
    if (s->linelen && s->line[s->linelen - 1] == '\r')
        s->line[--s->linelen] = '\0';
    if (s->is_stderr && s->linelen > 0)
        memcpy(t->last_err, s->line, s->linelen + 1);
    if (t->opt.on_line)
        t->opt.on_line(t->opt.ctx, s->line, s->is_stderr);
    s->linelen = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char slab[65536];    /* the loop thread is the only reader; data is consumed at once */
    (void)suggested;
    buf->base = slab;
    buf->len = sizeof slab;
}

static void keep_output(struct toolrun *t, const char *data, size_t n)
{
    if (t->outlen + n > t->opt.max_out) {
        t->r.out_truncated = true;
        n = t->opt.max_out - t->outlen;
    }
    if (n == 0)
        return;
    if (t->outlen + n + 1 > t->outcap) {
        size_t cap = t->outcap ? t->outcap : 4096;
        while (cap < t->outlen + n + 1)
            cap *= 2;
        char *grown = realloc(t->out, cap);
        if (!grown) {
            t->r.out_truncated = true;
            return;
        }
        t->out = grown;
        t->outcap = cap;
    }
    memcpy(t->out + t->outlen, data, n);
    t->outlen += n;
    t->out[t->outlen] = '\0';
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct toolrun_stream *s = st->data;
    struct toolrun *t = s->t;
    if (n < 0) {
        if (s->linelen)
            emit_line(s);
        close_one((uv_handle_t *)st);
        return;
    }
    if (!s->is_stderr && t->opt.capture)
        keep_output(t, buf->base, (size_t)n);
    if (!s->is_stderr && t->opt.capture && !t->opt.on_line)
        return;     /* binary output (an image): no lines */
    for (ssize_t i = 0; i < n; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            emit_line(s);
        } else {
            if (s->linelen == TOOLRUN_MAX_LINE)
                emit_line(s);
            s->line[s->linelen++] = c;
        }
    }
}

static void kill_group(struct toolrun *t)
{
    if (!t->exited && t->proc.pid > 0)
        kill(-t->proc.pid, SIGKILL);
}

static void on_timeout(uv_timer_t *tm)
{
    struct toolrun *t = tm->data;
    log_warn("toolrun: pid %d still running after %.1f s; killing its process group", t->proc.pid,
             t->opt.timeout);
    t->r.timed_out = true;
    kill_group(t);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct toolrun *t = p->data;
    t->exited = true;
    t->r.exit_status = status;
    t->r.term_signal = sig;
    /* anything the tool left behind in its group (a grandchild holding the pipes) goes too */
    kill(-p->pid, SIGKILL);
    close_one((uv_handle_t *)&t->timer);
    close_one((uv_handle_t *)p);
}

struct toolrun *toolrun_start(uv_loop_t *loop, char *const *argv, const struct toolrun_options *opt)
{
    struct toolrun *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->opt = *opt;
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    t->open_handles = 1;
    for (int i = 0; i < 2; i++) {
        struct toolrun_stream *s = &t->streams[i];
        s->t = t;
        s->is_stderr = i == 1;
        uv_pipe_init(loop, &s->pipe, 0);
        s->pipe.data = s;
        t->open_handles++;
    }
    uv_stdio_container_t stdio[3] = {
        { .flags = UV_IGNORE },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&t->streams[0].pipe },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&t->streams[1].pipe },
    };
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = argv[0],
        .args = (char **)argv,
        .flags = UV_PROCESS_DETACHED,   /* setsid: its own process group, killed as one */
        .stdio_count = 3,
        .stdio = stdio,
    };
    t->proc.data = t;
    t->open_handles++;
    int rc = uv_spawn(loop, &t->proc, &po);
    if (rc < 0) {
        t->r.spawn_error = rc;
        snprintf(t->last_err, sizeof t->last_err, "cannot run %s: %s", argv[0], uv_strerror(rc));
        t->exited = true;
        close_one((uv_handle_t *)&t->proc);
        close_one((uv_handle_t *)&t->timer);
        close_one((uv_handle_t *)&t->streams[0].pipe);
        close_one((uv_handle_t *)&t->streams[1].pipe);
        return t;
    }
    for (int i = 0; i < 2; i++)
        uv_read_start((uv_stream_t *)&t->streams[i].pipe, on_alloc, on_read);
    if (opt->timeout > 0)
        uv_timer_start(&t->timer, on_timeout, (uint64_t)(opt->timeout * 1000.0), 0);
    return t;
}

void toolrun_kill(struct toolrun *t)
{
    if (!t || t->exited)
        return;
    t->r.killed = true;
    kill_group(t);
}

/* ---- pure helpers ------------------------------------------------------------------------ */

char *toolrun_fill_one(const char *tmpl, const char *const *names, const char *const *values, int nnames)
{
    size_t cap = strlen(tmpl) + 1, len = 0;
    for (int i = 0; i < nnames; i++)
        cap += strlen(values[i]) * 4;   /* upper bound is recomputed below if exceeded */
    char *out = malloc(cap);
    if (!out)
        return NULL;
    const char *p = tmpl;
    while (*p) {
        const char *val = NULL;
        size_t skip = 0;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            for (int i = 0; close && i < nnames; i++) {
                size_t n = strlen(names[i]);
                if ((size_t)(close - p - 1) == n && strncmp(p + 1, names[i], n) == 0) {
                    val = values[i];
                    skip = n + 2;
                    break;
                }
            }
        }
        const char *add = val ? val : p;
        size_t addlen = val ? strlen(val) : 1;
        if (len + addlen + 1 > cap) {
            cap = (len + addlen + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, add, addlen);
        len += addlen;
        p += val ? skip : 1;
    }
    out[len] = '\0';
    return out;
}

void toolrun_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

char **toolrun_argv_dup(char *const *argv)
{
    int n = 0;
    while (argv && argv[n])
        n++;
    char **out = calloc((size_t)n + 1, sizeof *out);
    for (int i = 0; out && i < n; i++) {
        out[i] = strdup(argv[i]);
        if (!out[i]) {
            toolrun_argv_free(out);
            return NULL;
        }
    }
    return out;
}

char **toolrun_fill(char *const *tmpl, const char *const *names, const char *const *values, int nnames)
{
    int n = 0;
    while (tmpl && tmpl[n])
        n++;
    if (n == 0 || n > TOOLRUN_MAX_ARGS)
        return NULL;
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    if (!argv)
        return NULL;
    for (int i = 0; i < n; i++) {
        argv[i] = toolrun_fill_one(tmpl[i], names, values, nnames);
        if (!argv[i]) {
            toolrun_argv_free(argv);
            return NULL;
        }
    }
    return argv;
}

void toolrun_describe(char *out, size_t outsz, char *const *argv)
{
    size_t len = 0;
    if (outsz == 0)
        return;
    out[0] = '\0';
    for (int i = 0; argv && argv[i]; i++) {
        int w = snprintf(out + len, outsz - len, "%s%s", i ? " " : "", argv[i]);
        if (w < 0 || (size_t)w >= outsz - len) {
            if (outsz > 4)
                memcpy(out + outsz - 4, "...", 4);
            return;
        }
        len += (size_t)w;
    }
}
