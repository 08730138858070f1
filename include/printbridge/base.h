/* printbridge/base.h: the base layer:
 * The foundations every layer uses: logging, the growable string buffer, the event
 * bus, systemd notifications, secret-file checks, Python-compatible JSON, shell-style word
 * splitting, MQTT topic filters and child processes. */
#ifndef PRINTBRIDGE_BASE_H
#define PRINTBRIDGE_BASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

/* ---- log: one-line log messages on stderr with a level, readable in journald. */

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug" into its level; -EINVAL for anything else. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

/* ---- memory: how freed memory goes back to the system (memory.c says why). */

/* Fixes the allocator's thresholds; once, first thing in main. */
void memory_tune(void);
/* Gives free heap pages back now; after a burst of large allocations. */
void memory_trim(void);

/* ---- strbuf: a growable, always NUL-terminated string with an optional size limit. Every
 * text builder uses it (placeholders, word splitting and quoting, Python-compatible JSON,
 * argv templates, captured child output).
 *
 * An append that is refused (over max, or out of memory) leaves the text as it was and sets
 * toolong or nomem; from then on every append is refused the same way, so a builder may
 * append many pieces and check once at the end (strbuf_error, or the NULL of strbuf_take). */

struct strbuf {
    char *s;            /* malloc'd text, NULL until the first append */
    size_t len, cap;
    size_t max;         /* longest allowed length; SIZE_MAX for none (0 allows nothing) */
    bool toolong;       /* an append was refused because of max */
    bool nomem;         /* an append was refused because memory ran out */
};

/* An empty buffer that will hold at most max bytes. A zeroed struct strbuf with max set, e.g.
 * { .max = SIZE_MAX }, is the same. */
void strbuf_init(struct strbuf *b, size_t max);

/* Frees the text; b is empty again (same max) and may be reused. */
void strbuf_free(struct strbuf *b);

/* Hands the text over: malloc'd, the caller's to free; "" when nothing was appended. NULL
 * when an append was refused (the text is freed) or memory ran out. b is empty again. */
char *strbuf_take(struct strbuf *b);

/* 0, or the error of the first refused append: -E2BIG (max) or -ENOMEM. */
int strbuf_error(const struct strbuf *b);

/* Each appends and returns 0, -E2BIG (the result would exceed max; toolong is set) or
 * -ENOMEM (nomem is set). */
int strbuf_put(struct strbuf *b, const char *s, size_t n);
int strbuf_puts(struct strbuf *b, const char *s);
int strbuf_putc(struct strbuf *b, char c);
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- pyjson: serialise a jansson tree exactly as Python's json.dumps() does with default
 * arguments (docs/wire-format.md): ", " and ": " separators, insertion order, lowercase
 * \uXXXX for everything outside printable ASCII, Python repr() for floats. Pure. */

/* Appends value's text to b. 0; -EINVAL when the tree holds what JSON cannot (a non-finite
 * real, invalid UTF-8, nesting deeper than 512); -E2BIG (b's max) or -ENOMEM. On error b
 * holds a partial text: free it. */
int pyjson_append(struct strbuf *b, const json_t *value);

/* The text as a malloc'd NUL-terminated string the caller frees, or NULL when pyjson_append
 * fails. */
char *pyjson_dumps(const json_t *value);

/* Python repr() of a double ("0.3", "210.0", "1e+16", "-0.0"). Returns the length written,
 * -EDOM for NaN/infinity or -ENOSPC for a too-small buffer. 32 bytes are always enough. */
int pyjson_format_double(double x, char *out, size_t outsz);

/* A JSON real for x, or JSON null when x is not finite (jansson refuses NaN). New reference. */
json_t *pyjson_real_or_null(double x);

/* A JSON string from bytes that may not be valid UTF-8: decoded as UTF-8, falling back to
 * latin-1 for the whole string if that fails, as OctoPrint does with printer text. */
json_t *pyjson_string_lossy(const char *s, size_t n);

/* ---- events: the event bus. An event is an OctoPrint event name plus an ordered JSON payload,
 * fired once on the loop thread and handed to every sink (MQTT publisher, later hooks) in
 * the order the sinks were added. Event names and their OctoPrint-MQTT classes are defined
 * once, here. */

#define EVENTS_MAX_SINKS 8

/* A sink must not keep payload beyond the call (json_incref it if it must). */
typedef void (*events_sink_fn)(void *ctx, const char *name, json_t *payload, long long timestamp);

struct events {
    struct { events_sink_fn fn; void *ctx; } sinks[EVENTS_MAX_SINKS];
    int count;
};

void events_init(struct events *ev);
/* 0, or -ENOSPC when EVENTS_MAX_SINKS sinks are there already. */
int events_add_sink(struct events *ev, events_sink_fn fn, void *ctx);

/* Fires name with payload (a JSON object, reference stolen; NULL means {}), time-stamped now. */
void events_fire(struct events *ev, const char *name, json_t *payload);

/* The OctoPrint-MQTT event class ("server", "comm", "files", "printjob", "gcode",
 * "position", "timelapse", "slicing", "settings") or "unclassified" (docs/wire-format.md). */
const char *events_class(const char *name);

/* Every event printbridge can publish, by index: NULL past the last. The one list that
 * configuration checks (hook subscriptions, filters) hold names against. */
const char *events_name(size_t i);
bool events_is_known(const char *name);

/* Event names used by the daemon (OctoPrint's spelling). */
#define EVENT_STARTUP "Startup"
#define EVENT_SHUTDOWN "Shutdown"
#define EVENT_CONNECTING "Connecting"
#define EVENT_CONNECTED "Connected"
#define EVENT_DISCONNECTING "Disconnecting"
#define EVENT_DISCONNECTED "Disconnected"
#define EVENT_ERROR "Error"
#define EVENT_PRINTER_STATE_CHANGED "PrinterStateChanged"
#define EVENT_FIRMWARE_DATA "FirmwareData"
#define EVENT_PRINTER_RESET "PrinterReset"
#define EVENT_ESTOP "EStop"
#define EVENT_TOOL_CHANGE "ToolChange"
#define EVENT_INVALID_TOOL_REPORTED "InvalidToolReported"
#define EVENT_Z_CHANGE "ZChange"
#define EVENT_POSITION_UPDATE "PositionUpdate"
#define EVENT_COMMAND_SUPPRESSED "CommandSuppressed"
/* The firmware refused a command but carries on (Klipper's "!! Must home axis first",
 * an unknown command): {"command", "error", "firmware"}, unclassified */
#define EVENT_COMMAND_ERROR "CommandError"
/* OctoPrint-MQTT's synthetic event for "echo:busy: paused for user" (docs/wire-format.md) */
#define EVENT_PAUSED_FOR_USER "PausedForUser"
/* "//action:notification <message>": OctoPrint only shows it in its UI; printbridge
 * publishes it as {"message": ...} (unclassified) */
#define EVENT_ACTION_NOTIFICATION "ActionNotification"

/* ---- words: shell-like word splitting and shell quoting, for hooks that run without a shell.
 *
 * words_split() reads a command line the way a POSIX shell reads a simple command: blanks
 * separate words, '...' is literal, "..." keeps blanks and honours \" \\ \$ \` and \newline,
 * a backslash outside quotes escapes the next character, and an unquoted ~ or ~/ at the start
 * of a word becomes the home directory. Everything else a shell would do (pipes, ;, &&,
 * redirections, $VAR, $(...), backquotes, parentheses) is refused with a message that points
 * at shell = true, so a command never silently means something else than it would in a
 * shell. Pure: no I/O, no globals. */

struct words {
    char **v;       /* n words, then NULL; each malloc'd */
    size_t n;
};

/* Splits line into out (which the caller frees with words_free, also on error). home is what
 * ~ becomes (NULL or "" leaves ~ as written). 0; -EINVAL with one line in err for an
 * unterminated quote, a trailing backslash, shell syntax, or no words at all; -ENOMEM. */
int words_split(const char *line, const char *home, struct words *out, char *err, size_t errsz);

void words_free(struct words *w);

/* s quoted for a POSIX shell as one word: '...' with every ' written as '\''. malloc'd;
 * NULL only when memory ran out. */
char *words_shell_quote(const char *s);

/* ---- topicfilter: MQTT topic filters with the + and # wildcards (MQTT 3.1.1 section 4.7).
 * Pure. */

/* 0 if filter is a valid subscription filter; otherwise -EINVAL with the reason (one phrase, e.g.
 * "'#' must be the last level") in why. */
int topicfilter_check(const char *filter, char *why, size_t whysz);

/* True if topic (a concrete topic name) matches filter. A wildcard in the first level does
 * not match topics starting with '$', as brokers do. */
bool topicfilter_match(const char *filter, const char *topic);

/* ---- proc: the one way the daemon starts child processes (hooks, snapshot command, ffmpeg,
 * slicers, the printer's shutdown command), from the loop and without blocking it.
 *
 * Every child is spawned detached: it leads its own process group, and a timeout or
 * proc_kill sends SIGKILL to the whole group, so what the command started dies with it.
 * stdin is /dev/null; stdout and stderr are read through pipes: captured into the caller's
 * strbufs (up to each buffer's max, the rest cut), split into lines for on_line, and the
 * last stderr line is kept for messages. A run is over when the process has exited and both
 * pipes are closed (EOF, or at once after a kill or timeout); then on_done is called once,
 * also when the spawn failed (from the loop, never inside proc_start). After on_done returns
 * the run is freed: forget the pointer in on_done.
 *
 * Fire and forget: proc_shell runs `/bin/sh -c COMMAND` with its output on /dev/null and logs
 * how it ended; keep the pointer only to know it still runs and to proc_release it when the
 * loop is about to end. */

#define PROC_MAX_ARGS 64            /* elements of a proc_fill template */
#define PROC_MAX_LINE 4096          /* longer lines reach on_line in pieces */

struct proc_result {
    int spawn_error;        /* 0, or the negative errno uv_spawn failed with (-ENOENT, ...) */
    bool timed_out;         /* killed by the timeout */
    bool killed;            /* killed by proc_kill */
    long long exit_status;  /* when it exited */
    int term_signal;        /* when a signal ended it (SIGKILL after a timeout or kill) */
    bool out_cut, err_cut;  /* stdout / stderr did not fit in the capture buffer */
    const char *last_err;   /* the last non-empty stderr line, "" if none; for a failed spawn
                             * "cannot run FILE: REASON" */
    double duration;        /* s from the spawn to the end of the run */
};

/* Whether a result is a clean exit 0. */
bool proc_ok(const struct proc_result *r);

/* Each stdout line (only when on_line is set) and stderr line, without the line break. */
typedef void (*proc_line_fn)(void *ctx, const char *line, bool is_stderr);
/* Once, at the end of the run; the result lives for the call. */
typedef void (*proc_done_fn)(void *ctx, const struct proc_result *r);

struct proc_options {
    double timeout;             /* s; <= 0: none. Runs until the pipes are closed too */
    bool keep_children;         /* at exit, leave the group alone and wait for the pipes (until
                                 * the timeout): a command may start something that outlives it.
                                 * Otherwise the rest of the group is killed at exit */
    struct strbuf *out, *err;   /* NULL, or where stdout / stderr are appended; both must live
                                 * until on_done */
    proc_line_fn on_line;       /* may be NULL */
    proc_done_fn on_done;       /* may be NULL */
    void *ctx;
};

struct proc;

/* Starts argv (NULL-terminated; argv[0] is looked up in PATH) with opt (copied). *out (out may
 * be NULL) is the run until on_done. 0; -EINVAL for an empty argv; -ENOMEM (no on_done then).
 * A spawn that fails is reported through on_done. */
int proc_start(struct proc **out, uv_loop_t *loop, char *const *argv, const struct proc_options *opt);

/* Runs `/bin/sh -c command` with stdout and stderr on /dev/null, no timeout, and children left
 * alone. When it ends, logs "<label> exited with status N" (or the signal, or why it could
 * not start) and calls on_done (may be NULL). Otherwise as proc_start. */
int proc_shell(struct proc **out, uv_loop_t *loop, const char *command, const char *label, proc_done_fn on_done,
               void *ctx);

/* Kills the process group (SIGKILL) and stops reading; on_done still comes, with killed set.
 * Does nothing for NULL or a run that is already ending. */
void proc_kill(struct proc *p);

/* Stops watching p without killing it: its handles are closed, on_done never comes and nothing
 * is logged; the process itself runs on (writes to its closed pipes fail). For the end of the
 * loop. NULL does nothing. */
void proc_release(struct proc *p);

/* ---- argv templates and descriptions (pure) ---- */

/* Fills the placeholders "{name}" in each element of tmpl (NULL-terminated) with values
 * (names[i] -> values[i], nnames pairs); an unknown "{word}" is kept as it is. Returns a
 * NULL-terminated malloc'd argv (free with proc_argv_free) or NULL (out of memory, empty
 * template, more than PROC_MAX_ARGS elements). */
char **proc_fill(char *const *tmpl, const char *const *names, const char *const *values, int nnames);

/* One string with the placeholders filled, malloc'd, or NULL when out of memory. */
char *proc_fill_one(const char *tmpl, const char *const *names, const char *const *values, int nnames);

void proc_argv_free(char **argv);

/* A malloc'd copy of a NULL-terminated list (NULL or empty gives an empty list), or NULL when
 * out of memory. */
char **proc_argv_dup(char *const *argv);

/* argv for logs, as a shell would read it: words joined with spaces, quoted where needed,
 * into out (cut with "..."). */
void proc_describe(char *out, size_t outsz, char *const *argv);

/* ---- notify: the systemd service notification protocol (sd_notify(3)), implemented without
 * libsystemd: one datagram per message to the Unix socket named by $NOTIFY_SOCKET (a path,
 * or an abstract name written with a leading '@'). READY=1 once start-up is done, STATUS=
 * with the printer's and the broker's state, WATCHDOG=1 every half $WATCHDOG_USEC from a
 * libuv timer, STOPPING=1 on shutdown. Without $NOTIFY_SOCKET every call does nothing. */

struct notify;

/* Fills *sa and *len for the socket named NAME (an absolute path, or "@name" for an abstract socket).
 * 0, or -EINVAL (empty, not absolute nor '@', or too long for sun_path). */
int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len);

/* "STATUS=Printer: <printer>; broker: <broker>" into buf; the length, or -ENOSPC. */
int notify_format_status(char *buf, size_t size, const char *printer, const char *broker);

/* The watchdog ping interval in ms (half of WATCHDOG_USEC) for the environment values given
 * (either may be NULL), or 0 when there is no watchdog for process `pid`. */
uint64_t notify_watchdog_interval_ms(const char *watchdog_usec, const char *watchdog_pid, long pid);

/* Reads and unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (so child processes do not
 * inherit them), opens the socket and starts the watchdog timer. *out is NULL (and 0
 * returned) when not started by systemd; a negative errno when the socket is unusable. The
 * caller owns *out and releases it with notify_close. */
int notify_start(struct notify **out, uv_loop_t *loop);

/* Each sends one message; all accept NULL and ignore send errors (never blocking). */
void notify_ready(struct notify *n);
/* Sends STATUS= only when it differs from the last one sent. */
void notify_status(struct notify *n, const char *printer, const char *broker);
void notify_stopping(struct notify *n);
/* Stops the timer, closes the socket, frees n once libuv has closed the timer. */
void notify_close(struct notify *n);

/* ---- secrets: start-up checks on the files that hold the broker password. */

/* When path holds a secret (has_secret) and its mode lets others (not owner, not group) read
 * or write it, writes one warning line into msg naming the file and the fix, and returns 1;
 * 0 when the mode is fine or there is no secret; -errno when stat fails. */
int secrets_check_file(const char *path, bool has_secret, char *msg, size_t msgsz);

/* Logs the warnings for the configuration file (when it sets mqtt.password) and for
 * mqtt.password_file (may be NULL). */
void secrets_warn(const char *config_path, bool config_has_password, const char *password_file);

#endif
