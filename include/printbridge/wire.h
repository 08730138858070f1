/* printbridge/wire.h: the wire layer:
 * The OctoPrint-MQTT contract: the publisher of events, progress, temperatures,
 * the retained state and stats, and Home Assistant discovery. */
#ifndef PRINTBRIDGE_WIRE_H
#define PRINTBRIDGE_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/printer.h"
#include "printbridge/jobs.h"

/* ---- statetopic: OctoPrint's printer_data (get_current_data(), docs/wire-format.md 8) and the
 * retained <base>state message built from the printer model. Pure: JSON in, nothing sent. */

/* What a job module knows about the current job. NULL everywhere means "no job since
 * start-up": the state topic then carries OctoPrint's start-up shapes with nulls. Strings
 * may be NULL (null in JSON); has_* say whether the number next to it is known. */

/* OctoPrint's printer_data: keys state, job, currentZ, progress, offsets, resends, in that
 * order. New reference, or NULL when out of memory. */
json_t *statetopic_printer_data(const struct printer_model *m, const struct job_view *job);

/* The <base>state payload: printer_data, then "temperature" {key: {"actual", "target"}} (values
 * rounded to decimals unless decimals < 0) and "connection" {"port", "baudrate", "firmware"},
 * then ts_field: ts last. A malloc'd string, or NULL. */
char *statetopic_json(const struct printer_model *m, const struct job_view *job, int decimals,
                      const char *ts_field, long long ts);

/* x rounded to decimals as Python round(x, decimals) does; x itself if decimals < 0. */
double statetopic_round(double x, int decimals);

/* ---- publisher: the MQTT sink. Turns events, temperature reports, progress and the printer
 * model into OctoPrint-MQTT's topics and byte-exact payloads (docs/wire-format.md 1-9), plus
 * printbridge's retained <base>state and <base>stats, and hands them to the mqtt module with
 * the QoS, retain and offline rule of each kind. The decision and payload functions are pure
 * and unit-tested. */

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
    unsigned offline; /* MQTT_READING or MQTT_SNAPSHOT: how it waits in the offline buffer */
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
    char *state_sent;                   /* the last state message, time stamp included */
    uint64_t state_sig;                 /* hash of the last state transition seen */
    struct printer *printer;            /* where the state comes from, NULL: none */
    struct job *job;
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

/* Publishes each sensor of a report that passes the flood control (docs/wire-format.md 7.2). */
void publisher_on_temperatures(struct publisher *p, const struct protocol_temps *t, long long timestamp);

/* What the state topic and printer_data show: the printer's model and the job's view.
 * Either may be NULL (at start-up and shutdown). */
void publisher_set_sources(struct publisher *p, struct printer *printer, struct job *job);

/* The printer model changed: the state topic follows, at most once per state_interval. */
void publisher_on_model(struct publisher *p);

/* A job's progress on progress/printing (QoS, retain and printer_data as configured); kept
 * and sent again after every reconnect. */
void publisher_publish_progress(struct publisher *p, const char *location, const char *path, int progress);

/* After a broker connect: on the first one the progress reset messages (4.2); on every other
 * one the last temperatures and stats again, and on every one the state topic (retained
 * state survives a broker restart without persistence). */
void publisher_on_connected(struct publisher *p, bool first, long long timestamp);

/* progress/slicing: {"slicer", "source_location", "source_path", "destination_location",
 * "destination_path", "progress", ts}. */
void publisher_publish_slicing_progress(struct publisher *p, const char *slicer, const char *stl, const char *gcode,
                                        int progress);

/* A snapshot's image on <base>camera (QoS 0, not retained, not kept while offline). */
void publisher_publish_camera(struct publisher *p, const void *image, size_t len);

/* Publishes again what a late subscriber needs, for brokers that do not hand it retained
 * messages (mqtt.republish_interval): the last message of each temperature sensor, the last
 * progress/printing and the state (new time stamp). Nothing while the broker is unreachable. */
void publisher_republish(struct publisher *p);

/* The payload of the last <base>state message, after a change still waiting for the state
 * interval was published; with the state topic off, the payload it would carry. A new string
 * (free it), or NULL without a printer or memory. */
char *publisher_state_payload(struct publisher *p);

/* Publishes <base>stats with this payload (see publisher_stats_json). */
void publisher_publish_stats(struct publisher *p, const char *payload);

/* Stops the timer; done runs once it is closed. */
void publisher_close(struct publisher *p, void (*done)(void *ctx), void *ctx);

/* ---- pure helpers ---------------------------------------------------------------------- */

/* base + template with "{name}" replaced by value. Returns the length, -E2BIG if it does
 * not fit, or -ENOENT for an empty template (a switched-off topic). */
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

/* ---- discovery: Home Assistant MQTT discovery (docs/wire-format.md 12).
 *
 * printbridge announces one device per instance with device-based discovery: a single
 * retained message on <prefix>/device/<node_id>/config whose "cmps" hold every entity. All
 * state comes from topics printbridge already publishes (the retained <base>state, the
 * retained <base>temperature/<key>, the <base>mqtt will) and every button sends to the
 * inbound command topics (<base>command/job, .../connection, .../gcode).
 *
 * Two layers: pure payload building (discovery_config_json and friends, unit-tested), and a
 * small shell that publishes on every broker connect, again after a random delay when Home
 * Assistant announces "online" on <prefix>/status, and removes the device (an empty retained
 * config) when discovery is switched off. */

struct mqtt;

#define DISCOVERY_MAX_ID 160   /* a client id is at most 128 bytes */

/* Strings are borrowed for the duration of a call; the shell keeps its own copies. */
struct discovery_settings {
    bool enabled;
    const char *prefix;             /* "homeassistant" */
    const char *node_id;            /* [A-Za-z0-9_-]+, see discovery_node_id_from */
    const char *device_name;        /* NULL: "printbridge <node_id>" */
    const char *base_topic;         /* "octoprint/" */
    const char *state_topic;        /* template under base_topic, "state"; "" = off */
    const char *status_topic;       /* "mqtt"; "" = off (no will to follow) */
    const char *temperature_topic;  /* "temperature/{temp}"; "" = read <base>state instead */
    int extruders;                  /* tool0 .. tool<n-1> */
    bool heated_bed, heated_chamber;
    double republish_delay;         /* s: the birth republish waits a random 0..this */
    const char *sw_version;         /* printbridge's version (the origin's) */
    bool camera;                    /* a snapshot command is configured: an MQTT camera on <base>camera */
    const char *event_topic;        /* "event/{event}"; "" = off (no event entity) */
    const char *progress_topic;     /* "progress/{progress}"; "" = off */
    const char *stats_topic;        /* "stats"; "" = off (no uptime sensor) */
    /* the highest target each kind of heater's number entity offers; 0: 300, 120, 80 */
    double max_tool_temperature, max_bed_temperature, max_chamber_temperature;
    const char *support_url;        /* the origin's support URL; NULL or "": none */
    /* The printer's identity from its firmware report: the device's sw_version, hw_version and
     * serial_number. NULL or "": unknown (the key is left out). The shell fills them in from
     * the printer's model (discovery_on_model); callers leave them NULL. */
    const char *firmware, *machine, *serial;
    /* The OctoPrint-HomeAssistant plugin's node id: also announce that plugin's entity set under
     * its topics and unique ids (docs/home-assistant.md). NULL: off. */
    const char *octoprint_node_id;
    const char *octoprint_node_name;    /* its device name, "OctoPrint" */
};

/* One discovery message: a config topic and its retained payload. */
struct discovery_message {
    char *topic;
    char *payload;
};

/* ---- pure ------------------------------------------------------------------------------- */

/* A node id from the MQTT client id: every byte outside [A-Za-z0-9_-] becomes '_'. The
 * client id is stable per install (host name + base topic unless configured) and already
 * unique per broker, so the ids it gives are too. Returns the length, or -EINVAL if it does
 * not fit or the id is empty. */
int discovery_node_id_from(char *out, size_t outsz, const char *client_id);

/* "<prefix>/device/<node_id>/config". Returns the length or -1 if it does not fit. */
int discovery_config_topic(char *out, size_t outsz, const char *prefix, const char *node_id);

/* "<prefix>/status", Home Assistant's birth and will topic. */
int discovery_birth_topic(char *out, size_t outsz, const char *prefix);

/* The device config (abbreviated keys, as json.dumps writes it). NULL when the state topic
 * is off (nothing to read the entities from) or out of memory; malloc'd otherwise. */
char *discovery_config_json(const struct discovery_settings *s);

/* The OctoPrint-HomeAssistant entity set for s->octoprint_node_id: one message per entity on
 * <prefix>/<component>/<octoprint_node_id>_<ID>/config, the topics and unique ids that plugin
 * used. With payloads NULL the topics only (to remove them). Returns the number of messages
 * (0 when the option is off or the state topic is off) with *out malloc'd, or -ENOMEM. */
int discovery_compat_messages(const struct discovery_settings *s, bool payloads, struct discovery_message **out);

void discovery_messages_free(struct discovery_message *m, int n);

/* The event types of the print event entity, NULL-terminated: print_started, print_done,
 * print_failed, print_cancelled, print_paused, print_resumed. */
const char *const *discovery_print_event_types(void);

/* The enum options of the printer state sensor: every printer state text, lower-cased with
 * '_' for ' ', once each; the sensor's value template maps <base>state's state.text the same
 * way. NULL-terminated static array. */
const char *const *discovery_state_options(void);

/* ---- the shell (loop thread) ------------------------------------------------------------- */

struct discovery;

/* Also subscribes Home Assistant's birth topic (<prefix>/status) on m: "online" there
 * schedules one republish after a random delay (several births within the delay give one
 * republish). Returns 0, -EINVAL (a topic too long) or -ENOMEM. */
int discovery_create(struct discovery **out, uv_loop_t *loop, struct mqtt *m, const struct discovery_settings *s);

/* A rebuilt broker connection (configuration reload), where the birth topic is subscribed
 * too; NULL once the connection is gone. Returns 0 or a negative errno from mqtt_subscribe. */
int discovery_set_mqtt(struct discovery *d, struct mqtt *m);

/* New settings (reload): a device under an old topic is removed first; a changed config is
 * published now when connected (else at the next connect); a new prefix moves the birth
 * subscription. Returns 0, -EINVAL or -ENOMEM (the old settings are kept). */
int discovery_set_settings(struct discovery *d, const struct discovery_settings *s);

/* After every broker connect: the config (retained, QoS 1), or with discovery off an empty
 * retained config, which removes a device left by an earlier run. */
void discovery_on_connected(struct discovery *d);

/* The printer model changed: when the firmware reported a new name, machine type or UUID, the
 * device is announced again with them (a report without one keeps the one known). Cheap when
 * nothing of that changed. */
void discovery_on_model(struct discovery *d, const struct printer_model *m);

/* Stops the timer; done runs once it is closed and everything is freed. */
void discovery_close(struct discovery *d, void (*done)(void *ctx), void *ctx);

#endif
