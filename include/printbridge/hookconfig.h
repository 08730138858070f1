/* hookconfig.h: the `events` and `inbound` configuration groups: OctoPrint-style event
 * subscriptions, PrintProgress steps, serial line triggers, inbound handlers and the inbound
 * safety settings. config.c hands these two groups to hookconfig_read, because their lists
 * of groups need more than its key table; every key is documented in etc/printbridge.conf. */
#ifndef PRINTBRIDGE_HOOKCONFIG_H
#define PRINTBRIDGE_HOOKCONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

enum hook_type { HOOK_GCODE, HOOK_SYSTEM };

enum trigger_direction { TRIGGER_RECEIVED = 1, TRIGGER_SENT = 2, TRIGGER_BOTH = 3 };

/* One subscription, inbound handler or trigger action. */
struct hook_def {
    char *name;                 /* never NULL after reading */
    char **events;              /* subscriptions: event names (nevents) */
    size_t nevents;
    char *topic;                /* inbound handlers: MQTT filter relative to the base topic, or NULL */
    char **commands;            /* ncommands strings, run one after the other */
    size_t ncommands;
    enum hook_type type;
    bool enabled, debug, shell;
    double timeout;             /* s; 0 means events.timeout */
};

struct trigger_def {
    char *name;
    char *match;                /* POSIX extended regular expression */
    enum trigger_direction direction;
    double cooldown;            /* s between two matches that fire (0: every match) */
    struct hook_def action;     /* ncommands == 0: only the SerialLineMatched event */
};

struct hookconfig {
    /* events */
    bool events_enabled;        /* default true */
    double timeout;             /* default 60 s */
    int max_concurrent;         /* default 4 */
    int max_queued;             /* default 32 */
    int max_output;             /* bytes kept of each of stdout and stderr, default 4096 */
    struct hook_def *subs;
    size_t nsubs;
    double progress_percent;    /* PrintProgress every N %, default 10; 0 off */
    double progress_minutes;    /* every N minutes, default 0 (off) */
    int progress_layers;        /* every N layers, default 0 (off) */
    struct trigger_def *triggers;
    size_t ntriggers;
    /* inbound */
    bool inbound_enabled;       /* default true */
    int max_payload;            /* bytes, default 65536 */
    char **gcode_allow;         /* NULL-terminated, or NULL */
    char **gcode_deny;          /* NULL-terminated, or NULL */
    struct hook_def *handlers;
    size_t nhandlers;
};

/* True for the group names this module reads ("events", "inbound"). */
bool hookconfig_owns(const char *group);

/* Reads one of the owned groups into *hc (allocated with defaults on first use). On error
 * returns -1, points *where at the offending setting and writes the message (without
 * FILE:LINE, which the caller adds) into why; why is "" when memory ran out. */
int hookconfig_read(struct hookconfig **hc, const config_setting_t *group, const config_setting_t **where,
                    char *why, size_t whysz);

/* hc, or the defaults when hc is NULL (no events or inbound group in the file). */
const struct hookconfig *hookconfig_or_defaults(const struct hookconfig *hc);

void hookconfig_free(struct hookconfig *hc);

#endif
