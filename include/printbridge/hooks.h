/* printbridge/hooks.h: the hooks layer:
 * Event hooks, inbound handlers and serial-line triggers, with their placeholders. */
#ifndef PRINTBRIDGE_HOOKS_H
#define PRINTBRIDGE_HOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/base.h"
#include "printbridge/config.h"

/* ---- placeholders: OctoPrint's event-hook placeholders ({__eventname}, {name}, {position.z},
 * ...) expanded into hook commands. Pure: every input comes in struct placeholders.
 *
 * Syntax follows Python's str.format as OctoPrint uses it: "{name}" is replaced, "{{" and
 * "}}" are literal braces. A "{...}" that is not a placeholder name (JSON such as
 * {"content": 1}) or names nothing known is left exactly as written, so hand-written JSON
 * bodies mostly survive; double the braces when one would otherwise be taken for a name.
 * "{name!j}" writes the value escaped for the inside of a JSON string (" \ and control
 * characters), so a webhook body stays valid JSON whatever a file is called. */

struct placeholders {
    const char *eventname;      /* {__eventname}; NULL: not an event */
    const json_t *payload;      /* event payload or inbound JSON object; keys are placeholders */
    bool has_z;                 /* {__currentZ}: current_z, or -1 when unknown */
    double current_z;
    const char *filename;       /* {__filename}, {__filepath}, {__fileorigin}: NULL -> "NO FILE" */
    const char *filepath;
    const char *fileorigin;
    double progress;            /* {__progress}: percent; an event's own "progress" wins */
    long long now_sec;          /* {__now}: local time, ISO 8601 like Python's isoformat() */
    long now_usec;
    const char *raw_payload;    /* {__payload}: the inbound payload text (NUL-free), or NULL */
    const char *topic;          /* {__topic}, {__topic0}, {__topic1}, ...: inbound topic, or NULL */
};

/* Called once per unknown placeholder occurrence; the name is not NUL-terminated. */
typedef void placeholders_unknown_fn(void *ctx, const char *name, size_t len);

/* The text of one placeholder (name of len bytes) into *out, malloc'd. Strings are
 * substituted as they are, integers in decimal, reals as Python's repr, true/false/null as
 * Python's True/False/None, objects and lists as Python's str(). 0; -ENOENT when name is no
 * placeholder name or names nothing known; -ENOMEM. */
int placeholders_value(char **out, const struct placeholders *ph, const char *name, size_t len);

/* Expands tmpl into *out, malloc'd. With shell_quote every substituted value is quoted with
 * words_shell_quote. unknown (may be NULL) hears of each name left as written. 0; -E2BIG when
 * the result would be longer than max_len bytes; -ENOMEM. */
int placeholders_expand(char **out, const char *tmpl, const struct placeholders *ph, bool shell_quote,
                        size_t max_len, placeholders_unknown_fn *unknown, void *ctx);

/* True if tmpl contains at least one "{name}" that placeholders_expand would look up. */
bool placeholders_present(const char *tmpl);

/* ---- hooks: the hook runner. Event subscriptions (events sink), inbound handlers and trigger
 * actions all run through it.
 *
 * G-code hooks expand their lines and queue them with printer_send, so they go through the
 * normal send queue, between job lines when printing. System hooks run as child processes
 * (proc, never blocking the loop): without a shell by default (words, in base.h), each in its
 * own process group so a timeout kills the hook and everything it started, at most
 * max_concurrent at once with a bounded queue behind, stdout and stderr captured up to
 * max_output bytes each. Every system run publishes HookFinished {name, trigger, type,
 * returncode, stdout, stderr, duration} (plus "error" when it could not run or timed out). */

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

/* Fills the job's placeholders ({__filename}, {__filepath}, {__fileorigin}, {__progress}) at
 * the moment a hook is triggered; the strings must stay valid until the call returns. */
typedef void hooks_job_fn(void *ctx, struct placeholders *ph);
void hooks_set_job(struct hooks *h, hooks_job_fn *fn, void *ctx);

/* events sink: runs every enabled subscription of the event. ctx is the struct hooks. */
void hooks_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);

/* Runs def now (or queues it) with the given placeholders, which are expanded before this
 * returns (ph need not outlive the call). trigger names what started it (event name, topic).
 * done, if not NULL, is called exactly once, possibly before hooks_run returns. Returns 0, or
 * when the run was refused at once (done has then been called with the reason): -E2BIG (a
 * command too long after substitution), -EINVAL (a command that does not split into words, a
 * line break in a G-code line), -EBUSY (the queue is full), -ENOTCONN (G-code without a
 * connected printer), -ECANCELED (shutting down), -ENOMEM, or printer_send's error. */
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

/* ---- triggers: line triggers. Configured extended regular expressions (events.triggers) are
 * tried on every line received from the printer and/or every command sent to it; a match
 * fires SerialLineMatched {name, direction, line} and, when the trigger has a command, runs
 * it through the hook runner with {name}, {direction} and {line} as placeholders.
 *
 * The printer module calls triggers_on_line for each line: the hook point belongs to the
 * printer. */

#define EVENT_SERIAL_LINE_MATCHED "SerialLineMatched"

struct triggers;
struct hooks;

/* Compiles hc's triggers. h may be NULL (then only the event fires). Returns 0, or with one
 * line in err -EINVAL (a regex that does not compile: config validation already catches it)
 * or -ENOMEM. */
int triggers_create(struct triggers **out, const struct hookconfig *hc, struct events *ev, struct hooks *h,
                    char *err, size_t errsz);

/* A configuration reload (hc may be freed right after the old one is replaced). On error
 * (out of memory, or a pattern config validation let through) every trigger is off, since
 * the old ones belong to the configuration being freed; err says so. */
int triggers_set_config(struct triggers *t, const struct hookconfig *hc, char *err, size_t errsz);

/* direction: TRIGGER_RECEIVED or TRIGGER_SENT. line without its line break. */
void triggers_on_line(struct triggers *t, enum trigger_direction direction, const char *line);

void triggers_free(struct triggers *t);

#endif
