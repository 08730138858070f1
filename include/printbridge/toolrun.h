/* toolrun.h: runs an external tool (snapshot command, ffmpeg, a slicer) from the loop without
 * blocking it and without a shell: uv_spawn in its own process group, stdout and stderr read
 * through uv pipes and split into lines, a timeout that kills the whole group, and one
 * completion callback. Used by timelapse and slicing. The argv placeholder filling is pure. */
#ifndef PRINTBRIDGE_TOOLRUN_H
#define PRINTBRIDGE_TOOLRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define TOOLRUN_MAX_ARGS 64
#define TOOLRUN_MAX_LINE 4096

struct toolrun_result {
    int spawn_error;        /* 0, or the libuv error of uv_spawn (e.g. UV_ENOENT) */
    bool timed_out;         /* killed by the timeout */
    bool killed;            /* killed by toolrun_kill */
    long long exit_status;  /* when it exited */
    int term_signal;        /* when a signal ended it */
    const char *out;        /* captured stdout (capture on), NUL-terminated, else NULL */
    size_t outlen;
    bool out_truncated;     /* more than max_out bytes came */
    const char *last_err;   /* the last non-empty stderr line, "" if none */
};

/* Whether a result is a clean exit 0. */
bool toolrun_ok(const struct toolrun_result *r);

/* Each stdout or stderr line (without the newline; over-long lines are cut into pieces). */
typedef void (*toolrun_line_fn)(void *ctx, const char *line, bool is_stderr);
/* Once, after the process is gone and every handle closed; the result lives for the call. */
typedef void (*toolrun_done_fn)(void *ctx, const struct toolrun_result *r);

struct toolrun_options {
    double timeout;         /* s; <= 0: none */
    bool capture;           /* keep stdout in r->out (up to max_out bytes) */
    size_t max_out;
    toolrun_line_fn on_line;/* may be NULL */
    toolrun_done_fn on_done;
    void *ctx;
};

struct toolrun;

/* Starts argv (NULL-terminated, argv[0] looked up in PATH). Always reports through on_done
 * (also for a failed spawn, then from the loop's next iteration). Returns the run, or NULL
 * when out of memory (no callback then). */
struct toolrun *toolrun_start(uv_loop_t *loop, char *const *argv, const struct toolrun_options *opt);

/* Kills the process group (SIGKILL); on_done still comes, with killed set. */
void toolrun_kill(struct toolrun *t);

/* ---- pure helpers ------------------------------------------------------------------------ */

/* Fills the placeholders "{name}" in each element of tmpl (NULL-terminated) with values
 * (names[i] -> values[i], nnames pairs); an unknown "{word}" is kept as it is. Returns a
 * NULL-terminated malloc'd argv (free with toolrun_argv_free) or NULL (out of memory, empty
 * template, more than TOOLRUN_MAX_ARGS elements). */
char **toolrun_fill(char *const *tmpl, const char *const *names, const char *const *values, int nnames);

/* One string with the placeholders filled, malloc'd, or NULL. */
char *toolrun_fill_one(const char *tmpl, const char *const *names, const char *const *values, int nnames);

void toolrun_argv_free(char **argv);

/* A malloc'd copy of a NULL-terminated list (NULL or empty gives an empty list), or NULL when
 * out of memory. */
char **toolrun_argv_dup(char *const *argv);

/* "ffmpeg -y ..." for logs: argv joined with spaces into out (cut with "..."). */
void toolrun_describe(char *out, size_t outsz, char *const *argv);

#endif
