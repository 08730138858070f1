/* hooks.h: the hook runner. Event subscriptions (events sink), inbound handlers and trigger
 * actions all run through it.
 *
 * G-code hooks expand their lines and queue them with printer_send, so they go through the
 * normal send queue, between job lines when printing. System hooks run as child processes
 * (uv_spawn, never blocking the loop): without a shell by default (words.h), each run in its
 * own process group so a timeout kills the hook and everything it started, at most
 * max_concurrent at once with a bounded queue behind, stdout and stderr captured up to
 * max_output bytes each. Every system run publishes HookFinished {name, trigger, type,
 * returncode, stdout, stderr, duration} (plus "error" when it could not run or timed out). */
#ifndef PRINTBRIDGE_HOOKS_H
#define PRINTBRIDGE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/events.h"
#include "printbridge/hookconfig.h"
#include "printbridge/placeholders.h"

struct hooks;
struct printer;

#define EVENT_HOOK_FINISHED "HookFinished"

/* The outcome of one hook run, for a caller that waits for it (inbound replies). */
struct hooks_result {
    const char *name;
    enum hook_type type;
    bool has_returncode;
    int returncode;             /* exit status, or -signal when killed (as Python's subprocess) */
    const char *out, *err;      /* captured stdout/stderr (system), NUL-terminated, maybe cut */
    size_t out_len, err_len;
    double duration;            /* s */
    const char *error;          /* NULL when the hook ran and exited; else why not (one line) */
};

typedef void hooks_done_fn(void *ctx, const struct hooks_result *r);

/* hc must outlive the runner (it is the daemon's configuration). */
int hooks_create(struct hooks **out, uv_loop_t *loop, struct events *ev, const struct hookconfig *hc);

/* A configuration reload: hc replaces the previous one (which may be freed right after).
 * Runs already triggered keep their expanded commands. */
void hooks_set_config(struct hooks *h, const struct hookconfig *hc);

/* Where G-code hooks go and {__currentZ} comes from; may be NULL (G-code hooks then fail). */
void hooks_set_printer(struct hooks *h, struct printer *p);

/* events sink: runs every enabled subscription of the event. ctx is the struct hooks. */
void hooks_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);

/* Runs def now (or queues it) with the given placeholders, which are expanded before this
 * returns (ph need not outlive the call). trigger names what started it (event name, topic).
 * done, if not NULL, is called exactly once, possibly before hooks_run returns. Returns 0,
 * or -1 when the run was refused at once (done has then been called with the reason). */
int hooks_run(struct hooks *h, const struct hook_def *def, const char *trigger, const struct placeholders *ph,
              hooks_done_fn *done, void *ctx);

/* Placeholders the runner adds for events: current Z from the printer, file and progress
 * (NULL/0 until a job module provides them). */
void hooks_fill_placeholders(const struct hooks *h, struct placeholders *ph);

/* Number of system runs running and waiting. */
size_t hooks_active(const struct hooks *h);

/* Shutdown, step 1: kills every running hook's process group and drops the queue (done
 * callbacks are called with an error once each run's handles are closed); from now on
 * events run nothing. The runner stays valid: events may still be fired at it. */
void hooks_stop(struct hooks *h);

/* Step 2, after the loop has ended (no run is left then). */
void hooks_free(struct hooks *h);

#endif
