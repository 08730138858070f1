/* printbridge/commands.h: the commands layer:
 * Inbound commands: decoding command topics into typed commands and routing them to
 * the printer, the job, hooks and tools, with replies. */
#ifndef PRINTBRIDGE_COMMANDS_H
#define PRINTBRIDGE_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "printbridge/printer.h"

/* ---- commands: inbound MQTT commands.
 *
 * Two layers. The pure layer decodes one message (topic relative to the base topic, payload
 * bytes) into a struct command, checks it against the printer state and the G-code allow and
 * deny lists, and remembers ids for duplicate suppression; all of it is unit-tested. The
 * router (struct commands) runs on the loop thread: it receives what its subscriptions bring,
 * applies the safety rules in order (switched off, retained, size, NUL, decode, duplicate id,
 * state, G-code lists), executes through the printer API or the hook runner, and replies on
 * <topic>/response or on the MQTT 5 response topic with its correlation data.
 *
 * Topics (relative to the base topic):
 *   command/gcode            plain text, one command per line; a JSON list of strings; or
 *                            {"id": .., "commands": [..] | "command": ".."}
 *   command/connection       {"command": "connect"|"disconnect", "port": .., "baudrate": ..}
 *   command/job              {"command": "start"|"cancel"|"pause"|"resume"|..} (jobs issue)
 *   command/hook/<name>      runs inbound handler <name>; JSON object keys are placeholders
 *   command/status           re-publishes state and temperatures now
 *   command/snapshot         runs the snapshot command; the image goes to <base>camera (issue 11)
 *   hassControl/{connect,stop,cancel,pause,home,jog,commands}  (wire-format.md 12) */

#define COMMANDS_DEDUPE_WINDOW 600.0    /* s: a repeated id within this is not run again */
#define COMMANDS_DEDUPE_CAPACITY 4096   /* ids remembered at most (oldest forgotten first) */
#define COMMANDS_MAX_LINES 1000         /* G-code lines in one command */

enum command_kind {
    COMMAND_GCODE,          /* lines */
    COMMAND_CONNECT,        /* port (NULL: configured), baudrate (0: configured) */
    COMMAND_DISCONNECT,
    COMMAND_JOB,            /* name = the job action */
    COMMAND_HOOK,           /* name = the inbound handler */
    COMMAND_STATUS,
    COMMAND_SNAPSHOT,       /* issue 11 */
};

/* What the printer must be doing for a command to be allowed. */
enum command_needs {
    NEEDS_NOTHING,
    NEEDS_CONNECTED,        /* operational (printing included) */
    NEEDS_IDLE,             /* operational and not printing or paused */
    NEEDS_OFFLINE,          /* not connected or connecting */
    NEEDS_LINK,             /* connected or connecting: something to disconnect */
};

struct command {
    enum command_kind kind;
    enum command_needs needs;
    json_t *doc;            /* the parsed payload when it was JSON, else NULL (owned) */
    json_t *id;             /* the request id inside doc, or NULL (borrowed from doc) */
    char **lines;           /* COMMAND_GCODE: nlines malloc'd lines */
    size_t nlines;
    char *name;             /* COMMAND_JOB / COMMAND_HOOK */
    char *port;             /* COMMAND_CONNECT */
    long baudrate;
    const char *what;       /* short label for logs and replies: "gcode", "hassControl/jog", ... */
};

/* Decodes a message. rel_topic is the topic without the base topic. Returns 0, or -1 with
 * one line in err (unknown command, invalid JSON, bad payload); on -1 out->id may still be
 * set so the error reply can carry it. Always free out with commands_command_free. */
int commands_decode(const char *rel_topic, const char *payload, size_t len, struct command *out,
                    char *err, size_t errsz);

void commands_command_free(struct command *c);

/* Whether the command may run in state s; on false, err says why in one line. */
bool commands_allowed(const struct command *c, enum printer_state s, char *err, size_t errsz);

/* Checks one G-code line against the lists (NULL-terminated, entries like "M112" or "M1*",
 * case-insensitive; an empty allow list allows everything not denied). */
bool commands_gcode_permitted(const char *line, char *const *allow, char *const *deny, char *err,
                              size_t errsz);

/* Remembered request ids, for the duplicate rule. Keys are compared exactly. */
struct commands_dedupe {
    struct { uint64_t hash; char *key; double t; } ring[COMMANDS_DEDUPE_CAPACITY];
    size_t head, n;
};

/* True if key was seen within COMMANDS_DEDUPE_WINDOW before now; otherwise records it. */
bool commands_dedupe_seen(struct commands_dedupe *d, const char *key, double now);
void commands_dedupe_clear(struct commands_dedupe *d);

/* ---- the router (loop thread) --------------------------------------------------------- */

struct commands_router;
struct mqtt;
struct mqtt_message;
struct hooks;
struct hookconfig;

/* Job actions (command/job, hassControl/cancel and pause). Returns 0 or -1 with err. */
typedef int commands_job_fn(void *ctx, const char *action, const json_t *args, char *err, size_t errsz);
/* command/status: re-publish the state and temperature topics now. */
typedef void commands_status_fn(void *ctx);

/* Subscribes <base>command/#, <base>hassControl/+ and every handler's topic on m (unless
 * inbound.enabled is false) and routes what arrives. hc and base_topic must outlive it. */
int commands_router_create(struct commands_router **out, const char *base_topic, const struct hookconfig *hc,
                           struct mqtt *m, struct printer *p, struct hooks *h);

/* A configuration reload: new settings (hc may be freed right after the old one is
 * replaced) and possibly a new broker client m, on which the command topics are then
 * subscribed. New handler topics on the same client need a restart (logged). */
int commands_router_reconfigure(struct commands_router *r, const char *base_topic, const struct hookconfig *hc,
                                struct mqtt *m);

/* command/upload/<path>: stores len bytes as path; done(done_ctx, rc, error) follows once the
 * file is stored or refused. Returns 0, or -1 with err when refused at once. */
typedef void commands_upload_done_fn(void *done_ctx, int rc, const char *error);
typedef int commands_upload_fn(void *ctx, const char *path, const char *data, size_t len,
                               commands_upload_done_fn *done, void *done_ctx, char *err, size_t errsz);
/* limit: the largest upload in bytes (MQTT payloads up to it are accepted on command/upload/). */
void commands_router_set_upload_handler(struct commands_router *r, commands_upload_fn *fn, void *ctx, size_t limit);

/* Until a job module registers, job commands get the error reply "not supported yet". */
void commands_router_set_job_handler(struct commands_router *r, commands_job_fn *fn, void *ctx);
void commands_router_set_status_handler(struct commands_router *r, commands_status_fn *fn, void *ctx);
/* command/snapshot (issue 11): starts a snapshot; 0, or -1 with err (no camera, busy). */
typedef int commands_snapshot_fn(void *ctx, char *err, size_t errsz);
void commands_router_set_snapshot_handler(struct commands_router *r, commands_snapshot_fn *fn, void *ctx);

/* The mqtt message callback (ctx is the router); exposed for tests. */
void commands_router_on_message(void *ctx, const struct mqtt_message *msg);

/* Before mqtt_stop: no more replies (hook runs finishing later are not answered). */
void commands_router_detach(struct commands_router *r);

/* After the loop has ended (hooks destroyed). */
void commands_router_free(struct commands_router *r);

#endif
