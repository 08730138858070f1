/* publisher.c: events and readings to OctoPrint-MQTT messages (wire-format.md 1-8).
 * Everything a subscriber compares byte for byte is built here with pyjson, so the exact
 * formatting lives in one place. */
#include "printbridge/publisher.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/events.h"
#include "printbridge/log.h"
#include "printbridge/mqtt.h"
#include "printbridge/pyjson.h"

void publisher_init(struct publisher *p, struct mqtt *m, const struct publisher_settings *s)
{
    memset(p, 0, sizeof *p);
    p->mqtt = m;
    p->s = *s;
}

int publisher_topic(char *out, size_t outsz, const char *base, const char *tmpl,
                    const char *placeholder, const char *value)
{
    if (!tmpl || !*tmpl)
        return -1;
    char ph[64];
    snprintf(ph, sizeof ph, "{%s}", placeholder);
    const char *at = strstr(tmpl, ph);
    int n;
    if (at)
        n = snprintf(out, outsz, "%s%.*s%s%s", base, (int)(at - tmpl), tmpl, value, at + strlen(ph));
    else
        n = snprintf(out, outsz, "%s%s", base, tmpl);
    return n < 0 || (size_t)n >= outsz ? -1 : n;
}

char *publisher_event_json(const json_t *payload, const char *name, const char *ts_field, long long ts)
{
    json_t *obj = payload ? json_copy((json_t *)payload) : json_object();
    char *out = NULL;
    if (!obj)
        return NULL;
    /* json_object_set keeps an existing key's position, as a Python dict would */
    if (json_object_set_new(obj, "_event", json_string(name)) == 0 &&
        json_object_set_new(obj, ts_field, json_integer(ts)) == 0)
        out = pyjson_dumps(obj);
    json_decref(obj);
    return out;
}

bool publisher_event_retained(const char *name, bool retain)
{
    return retain && (strcmp(name, "ZChange") == 0 || strcmp(name, "FirmwareData") == 0 ||
                      strcmp(name, "PausedForUser") == 0);
}

bool publisher_temperature_due(const struct publisher_temp *last, double actual, double target,
                               bool has_target, double threshold)
{
    if (!last || !last->published || last->actual == 0.0)
        return true;
    if (fabs(actual - last->actual) >= threshold)
        return true;
    if (has_target != last->has_target)
        return true;
    return has_target && fabs(target - last->target) >= 0.1;
}

static void publish_string(struct publisher *p, const char *topic, char *payload, int qos, bool retain)
{
    if (!payload) {
        log_warn("publisher: could not serialise the message for %s", topic);
        return;
    }
    mqtt_publish(p->mqtt, topic, payload, strlen(payload), qos, retain);
    free(payload);
}

void publisher_on_event(void *ctx, const char *name, json_t *payload, long long timestamp)
{
    struct publisher *p = ctx;
    char topic[PUBLISHER_MAX_TOPIC];
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.event_topic, "event", name) < 0)
        return;
    publish_string(p, topic, publisher_event_json(payload, name, p->s.timestamp_field, timestamp), 0,
                   publisher_event_retained(name, p->s.retain));
}

static struct publisher_temp *find_temp(struct publisher *p, const char *key)
{
    for (int i = 0; i < p->ntemps; i++)
        if (strcmp(p->temps[i].key, key) == 0)
            return &p->temps[i];
    if (p->ntemps >= PROTOCOL_MAX_SENSORS)
        return NULL;
    struct publisher_temp *t = &p->temps[p->ntemps++];
    memset(t, 0, sizeof *t);
    snprintf(t->key, sizeof t->key, "%s", key);
    return t;
}

void publisher_on_temperatures(struct publisher *p, const struct protocol_temps *t, long long timestamp)
{
    for (int i = 0; i < t->count; i++) {
        const struct protocol_temp *r = &t->t[i];
        char key[PROTOCOL_SENSOR_NAME + 8], topic[PUBLISHER_MAX_TOPIC];
        /* a heater that is not there reports 0/0 (or nothing): hide it (wire-format 8, rule 1) */
        if (r->actual == 0.0 && (!r->has_target || r->target == 0.0))
            continue;
        if (protocol_sensor_key(r->sensor, key, sizeof key) < 0)
            continue;
        struct publisher_temp *last = find_temp(p, key);
        if (!last || !publisher_temperature_due(last, r->actual, r->target, r->has_target,
                                                p->s.temperature_threshold))
            continue;
        if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.temperature_topic, "temp", key) < 0)
            continue;
        json_t *obj = json_object();
        if (!obj)
            continue;
        json_object_set_new(obj, "actual", pyjson_real_or_null(r->actual));
        json_object_set_new(obj, "target", r->has_target ? pyjson_real_or_null(r->target) : json_null());
        json_object_set_new(obj, p->s.timestamp_field, json_integer(timestamp));
        publish_string(p, topic, pyjson_dumps(obj), 0, p->s.retain);
        json_decref(obj);
        last->published = true;
        last->actual = r->actual;
        last->target = r->target;
        last->has_target = r->has_target;
    }
}

void publisher_on_connected(struct publisher *p, bool first, long long timestamp)
{
    char topic[PUBLISHER_MAX_TOPIC];
    if (!first)
        return;
    /* clear stale retained progress left from before a restart (wire-format.md 4.2) */
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "printing") >= 0) {
        json_t *o = json_pack("{s:s, s:s, s:i}", "location", "", "path", "", "progress", 0);
        if (o) {
            json_object_set_new(o, p->s.timestamp_field, json_integer(timestamp));
            publish_string(p, topic, pyjson_dumps(o), 0, true);
            json_decref(o);
        }
    }
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "slicing") >= 0) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "slicer", "", "source_location", "",
                              "source_path", "", "destination_location", "", "destination_path", "",
                              "progress", 0);
        if (o) {
            json_object_set_new(o, p->s.timestamp_field, json_integer(timestamp));
            publish_string(p, topic, pyjson_dumps(o), 0, p->s.retain);
            json_decref(o);
        }
    }
}
