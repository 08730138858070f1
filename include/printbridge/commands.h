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
#include "printbridge/jobs.h"

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
 *   command/job              {"command": "start"|"cancel"|"pause"|"resume"|"toggle"|"select",
 *                            "path": .., "origin": "local"|"sdcard"}
 *   command/hook/<name>      runs inbound handler <name>; JSON object keys are placeholders
 *   command/status           re-publishes state and temperatures now
 *   command/snapshot         runs the snapshot command; the image goes to <base>camera
 *   hassControl/{connect,stop,cancel,pause,home,jog,commands}  (see docs/wire-format.md) */

#define COMMANDS_DEDUPE_WINDOW 600.0    /* s: a repeated id within this is not run again */
#define COMMANDS_DEDUPE_CAPACITY 4096   /* ids remembered at most (oldest forgotten first) */
#define COMMANDS_MAX_LINES 1000         /* G-code lines in one command */

enum command_kind {
    COMMAND_GCODE,          /* lines */
    COMMAND_CONNECT,        /* port (NULL: configured), baudrate (0: configured) */
    COMMAND_DISCONNECT,
    COMMAND_FIRMWARE_RESTART, /* FIRMWARE_RESTART (Klipper) or M999, then reconnect */
    COMMAND_JOB,            /* job, path, origin */
    COMMAND_HOOK,           /* name = the inbound handler */
    COMMAND_STATUS,
    COMMAND_SNAPSHOT,
};

/* What the printer must be doing for a command to be allowed. */
/* The job actions of command/job (and hassControl/pause and cancel). */
enum command_job {
    COMMAND_JOB_SELECT, COMMAND_JOB_START, COMMAND_JOB_PAUSE, COMMAND_JOB_RESUME, COMMAND_JOB_TOGGLE,
    COMMAND_JOB_CANCEL,
};

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
    char *name;             /* COMMAND_HOOK: the handler */
    enum command_job job;   /* COMMAND_JOB */
    char *path;             /* COMMAND_JOB: the file, or NULL (the selected one) */
    enum job_origin origin; /* COMMAND_JOB: where path lives */
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

/* Whether the command may run in state s: 0, or -EPERM with the reason in err. */
int commands_check_state(const struct command *c, enum printer_state s, char *err, size_t errsz);

/* Checks one G-code line against the lists (NULL-terminated, entries like "M112" or "M1*",
 * case-insensitive; an empty allow list allows everything not denied): 0, or -EACCES with
 * the reason in err. */
int commands_check_gcode(const char *line, char *const *allow, char *const *deny, char *err, size_t errsz);

/* Runs a COMMAND_JOB command on the job: 0, or a negative errno with the reason in err. */
int commands_run_job(struct job *j, const struct command *c, char *err, size_t errsz);

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
struct publisher;
struct timelapse;

/* What commands act on. Only printer and hooks are required. */
struct commands_targets {
    struct printer *printer;
    struct hooks *hooks;
    struct job *job;                /* NULL: job commands are refused */
    struct storage *storage;        /* NULL: uploads are refused */
    size_t upload_limit;            /* bytes: the largest upload (storage.max_upload_size) */
    struct timelapse *camera;       /* NULL: no snapshot command is configured */
    struct publisher *publisher;    /* where a snapshot's image goes (<base>camera) */
};

/* Subscribes <base>command/#, <base>hassControl/+ and every handler's topic on m (unless
 * inbound.enabled is false) and routes what arrives. hc and base_topic must outlive it;
 * t is copied. */
int commands_router_create(struct commands_router **out, const char *base_topic, const struct hookconfig *hc,
                           struct mqtt *m, const struct commands_targets *t);

/* A configuration reload: new settings (hc may be freed right after the old one is
 * replaced) and possibly a new broker client m, on which the command topics are then
 * subscribed. New handler topics on the same client need a restart (logged). */
int commands_router_reconfigure(struct commands_router *r, const char *base_topic, const struct hookconfig *hc,
                                struct mqtt *m);

/* The mqtt message callback (ctx is the router); exposed for tests. */
void commands_router_on_message(void *ctx, const struct mqtt_message *msg);

/* Before mqtt_stop: no more replies (hook runs finishing later are not answered). */
void commands_router_detach(struct commands_router *r);

/* After the loop has ended (hooks destroyed). */
void commands_router_free(struct commands_router *r);

#endif
