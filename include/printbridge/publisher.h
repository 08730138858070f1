/* publisher.h: the MQTT sink. Turns events, temperature reports, progress and the printer
 * model into OctoPrint-MQTT's topics and byte-exact payloads (wire-format.md 1-8), plus
 * printbridge's retained <base>state and <base>stats, and hands them to the mqtt module with
 * the QoS, retain and offline rule of each kind. The decision and payload functions are pure
 * and unit-tested. */
#ifndef PRINTBRIDGE_PUBLISHER_H
#define PRINTBRIDGE_PUBLISHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/printer.h"
#include "printbridge/protocol.h"
#include "printbridge/statetopic.h"

struct mqtt;

#define PUBLISHER_MAX_TOPIC 512

/* Strings are borrowed (from the configuration): keep them alive while in use. */
struct publisher_settings {
    const char *base_topic;         /* "octoprint/" */
    const char *event_topic;        /* "event/{event}"; "" = off */
    const char *progress_topic;     /* "progress/{progress}" */
    const char *temperature_topic;  /* "temperature/{temp}" */
    const char *state_topic;        /* "state" */
    const char *stats_topic;        /* "stats" */
    const char *timestamp_field;    /* "_timestamp" */
    bool retain;                    /* broker.retain */
    bool printer_data;              /* printer_data in progress/printing */
    int qos_event, qos_progress, qos_temperature, qos_state, qos_stats;
    double temperature_threshold;   /* 0.1 */
    double temperature_min_interval;/* s; 0 */
    int temperature_decimals;       /* -1: as read */
    double state_interval;          /* s between two state messages; 0: every change */
    char *const *classes_off;       /* NULL-terminated, or NULL */
    char *const *events_off;
    char *const *events_on;
};

/* The kinds of message, each with its own QoS / retain / offline rule. */
enum publisher_kind {
    PUBLISHER_EVENT, PUBLISHER_PROGRESS_PRINTING, PUBLISHER_PROGRESS_SLICING,
    PUBLISHER_TEMPERATURE, PUBLISHER_STATE, PUBLISHER_STATS,
};

struct publisher_flags {
    int qos;
    bool retain;
    bool keep;      /* kept while the broker is unreachable (QoS > 0 always is) */
};

struct publisher_temp {
    char key[PROTOCOL_SENSOR_NAME + 8];
    bool published;
    double actual, target;
    bool has_target;
    double at;      /* loop time of the last message, s */
    char *last;     /* its payload, republished after a reconnect */
};

struct publisher {
    struct mqtt *mqtt;
    uv_loop_t *loop;
    struct publisher_settings s;
    struct publisher_temp temps[PROTOCOL_MAX_SENSORS];
    int ntemps;
    /* state topic: coalescing timer and the last message without its time stamp */
    uv_timer_t state_timer;
    bool state_timer_open;
    double state_at;
    bool state_dirty;
    char *state_last;
    const struct printer_model *(*model_fn)(void *ctx);  /* where the state comes from */
    void *model_ctx;
    const struct job_view *job;         /* NULL until a job module exists */
    char *progress_last;                /* last progress/printing payload */
    bool progress_from_job;             /* progress_last is a job's, not the start-up reset */
    char *stats_last;
    void (*closed)(void *ctx);
    void *closed_ctx;
};

void publisher_init(struct publisher *p, uv_loop_t *loop, struct mqtt *m, const struct publisher_settings *s);

/* A rebuilt broker connection, or new settings after a reload (last values are kept). */
void publisher_set_mqtt(struct publisher *p, struct mqtt *m);
void publisher_set_settings(struct publisher *p, const struct publisher_settings *s);

/* events sink (see events.h) */
void publisher_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);

/* Publishes each sensor of a report that passes the flood control (wire-format.md 8). */
void publisher_on_temperatures(struct publisher *p, const struct protocol_temps *t, long long timestamp);

/* Where the state topic reads the printer model (e.g. printer_get_model). */
void publisher_set_model_source(struct publisher *p, const struct printer_model *(*fn)(void *ctx), void *ctx);

/* The printer model changed: the state topic follows, at most once per state_interval. */
void publisher_on_model(struct publisher *p);

/* A job's progress on progress/printing (QoS, retain and printer_data as configured); kept
 * and sent again after every reconnect. */
void publisher_publish_progress(struct publisher *p, const char *location, const char *path, int progress);

/* After a broker connect: on the first one the progress reset messages (4.2); on every other
 * one the last temperatures and stats again, and on every one the state topic (retained
 * state survives a broker restart without persistence). */
void publisher_on_connected(struct publisher *p, bool first, long long timestamp);

/* Publishes <base>stats with this payload (see publisher_stats_json). */
void publisher_publish_stats(struct publisher *p, const char *payload);

/* Stops the timer; done runs once it is closed. */
void publisher_close(struct publisher *p, void (*done)(void *ctx), void *ctx);

/* ---- pure helpers ---------------------------------------------------------------------- */

/* base + template with "{name}" replaced by value. Returns length or -1 if it does not fit
 * or the template is empty (a switched-off topic). */
int publisher_topic(char *out, size_t outsz, const char *base, const char *tmpl,
                    const char *placeholder, const char *value);

/* payload keys, then "_event": name, then the timestamp field last, as json.dumps writes it.
 * payload is not modified. Returns a malloc'd string or NULL. */
char *publisher_event_json(const json_t *payload, const char *name, const char *ts_field, long long ts);

/* progress/printing: {"location", "path", "progress"[, "printer_data"], ts}. printer_data is
 * borrowed and may be NULL. */
char *publisher_progress_json(const char *location, const char *path, int progress,
                              const json_t *printer_data, const char *ts_field, long long ts);

/* Retain flag of an event message: only ZChange and FirmwareData (and the synthetic
 * PausedForUser) follow broker.retain; all other events are never retained (wire-format 3). */
bool publisher_event_retained(const char *name, bool retain);

/* The per-class and per-event filter: is this event published? */
bool publisher_event_enabled(const struct publisher_settings *s, const char *name);

/* QoS, retain and offline rule of a message kind (name: the event, for PUBLISHER_EVENT). */
struct publisher_flags publisher_flags_for(const struct publisher_settings *s, enum publisher_kind kind,
                                           const char *name);

/* The threshold rule: should a reading be published given the last published values? */
bool publisher_temperature_due(const struct publisher_temp *last, double actual, double target,
                               bool has_target, double threshold);

/* The whole flood control: threshold, then the minimum interval (a changed target or a first
 * reading is never held back). now and last->at in seconds. */
bool publisher_temperature_due_at(const struct publisher_temp *last, double actual, double target,
                                  bool has_target, const struct publisher_settings *s, double now);

struct publisher_stats {
    double uptime;                  /* s */
    unsigned long lines_sent, resends;
    bool has_timeouts;
    unsigned long timeouts;
    unsigned long published, buffered, dropped;
    long long rss_bytes;            /* < 0: unknown */
};

/* {"uptime", "lines_sent", "resends", "timeouts", "published", "buffered", "dropped",
 * "rss_bytes", ts}. uptime is whole seconds. */
char *publisher_stats_json(const struct publisher_stats *st, const char *ts_field, long long ts);

#endif
