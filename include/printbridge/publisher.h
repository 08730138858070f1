/* publisher.h: the MQTT sink. Turns events, temperature reports and the progress reset into
 * OctoPrint-MQTT's topics and byte-exact payloads (wire-format.md 1-8) and hands them to the
 * mqtt module. The payload and decision functions are pure and unit-tested. */
#ifndef PRINTBRIDGE_PUBLISHER_H
#define PRINTBRIDGE_PUBLISHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "printbridge/protocol.h"

struct mqtt;

#define PUBLISHER_MAX_TOPIC 512

struct publisher_settings {
    const char *base_topic;         /* "octoprint/" */
    const char *event_topic;        /* "event/{event}" */
    const char *progress_topic;     /* "progress/{progress}" */
    const char *temperature_topic;  /* "temperature/{temp}" */
    const char *timestamp_field;    /* "_timestamp" */
    bool retain;                    /* broker.retain */
    double temperature_threshold;   /* 0.1 */
};

struct publisher_temp {
    char key[PROTOCOL_SENSOR_NAME + 8];
    bool published;
    double actual, target;
    bool has_target;
};

struct publisher {
    struct mqtt *mqtt;
    struct publisher_settings s;
    struct publisher_temp temps[PROTOCOL_MAX_SENSORS];
    int ntemps;
};

void publisher_init(struct publisher *p, struct mqtt *m, const struct publisher_settings *s);

/* events sink (see events.h) */
void publisher_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);

/* Publishes each sensor of a report that passes the threshold rule (wire-format.md 8). */
void publisher_on_temperatures(struct publisher *p, const struct protocol_temps *t, long long timestamp);

/* After a broker connect: on the first one, the retained progress reset messages (4.2). */
void publisher_on_connected(struct publisher *p, bool first, long long timestamp);

/* ---- pure helpers ---------------------------------------------------------------------- */

/* base + template with "{name}" replaced by value. Returns length or -1 if it does not fit
 * or the template is empty (a switched-off topic). */
int publisher_topic(char *out, size_t outsz, const char *base, const char *tmpl,
                    const char *placeholder, const char *value);

/* payload keys, then "_event": name, then the timestamp field last, as json.dumps writes it.
 * payload is not modified. Returns a malloc'd string or NULL. */
char *publisher_event_json(const json_t *payload, const char *name, const char *ts_field, long long ts);

/* Retain flag of an event message: only ZChange and FirmwareData (and the synthetic
 * PausedForUser) follow broker.retain; all other events are never retained (wire-format 3). */
bool publisher_event_retained(const char *name, bool retain);

/* The threshold rule: should a reading be published given the last published values? */
bool publisher_temperature_due(const struct publisher_temp *last, double actual, double target,
                               bool has_target, double threshold);

#endif
