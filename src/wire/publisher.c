/* publisher.c: events and readings to OctoPrint-MQTT messages (docs/wire-format.md 1-9), plus the
 * retained <base>state and <base>stats topics. Everything a subscriber compares byte for
 * byte is built here with pyjson, so the exact formatting lives in one place; the QoS, retain
 * and offline rule of every kind of message is the one table in publisher_flags_for. */
#include "printbridge/wire.h"

#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "printbridge/base.h"
#include "printbridge/mqtt.h"

#define EVENT_PAUSED_FOR_USER "PausedForUser"
#define EVENT_CONNECTIVITY_CHANGED "ConnectivityChanged"

/* ---- pure helpers ---------------------------------------------------------------------- */

int publisher_topic(char *out, size_t outsz, const char *base, const char *tmpl,
                    const char *placeholder, const char *value)
{
    if (!tmpl || !*tmpl)
        return -ENOENT;
    char ph[64];
    snprintf(ph, sizeof ph, "{%s}", placeholder);
    const char *at = strstr(tmpl, ph);
    int n;
    if (at)
        n = snprintf(out, outsz, "%s%.*s%s%s", base, (int)(at - tmpl), tmpl, value, at + strlen(ph));
    else
        n = snprintf(out, outsz, "%s%s", base, tmpl);
    return n < 0 || (size_t)n >= outsz ? -E2BIG : n;
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

char *publisher_progress_json(const char *location, const char *path, int progress,
                              const json_t *printer_data, const char *ts_field, long long ts)
{
    json_t *o = json_object();
    char *out = NULL;
    if (!o)
        return NULL;
    if (json_object_set_new(o, "location", pyjson_string_lossy(location, strlen(location))) == 0 &&
        json_object_set_new(o, "path", pyjson_string_lossy(path, strlen(path))) == 0 &&
        json_object_set_new(o, "progress", json_integer(progress)) == 0 &&
        (!printer_data || json_object_set(o, "printer_data", (json_t *)printer_data) == 0) &&
        json_object_set_new(o, ts_field, json_integer(ts)) == 0)
        out = pyjson_dumps(o);
    json_decref(o);
    return out;
}

bool publisher_event_retained(const char *name, bool retain)
{
    return retain && (strcmp(name, "ZChange") == 0 || strcmp(name, "FirmwareData") == 0 ||
                      strcmp(name, EVENT_PAUSED_FOR_USER) == 0);
}

static bool listed(char *const *list, const char *name)
{
    for (int i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

bool publisher_event_enabled(const struct publisher_settings *s, const char *name)
{
    if (listed(s->events_on, name))
        return true;
    if (listed(s->events_off, name))
        return false;
    /* PausedForUser bypasses the class filter in OctoPrint-MQTT (docs/wire-format.md 5.2) */
    if (strcmp(name, EVENT_PAUSED_FOR_USER) == 0)
        return true;
    return !listed(s->classes_off, events_class(name));
}

struct publisher_flags publisher_flags_for(const struct publisher_settings *s, enum publisher_kind kind,
                                           const char *name)
{
    struct publisher_flags f = { 0, false, false, 0 };
    switch (kind) {
    case PUBLISHER_EVENT:
        f.qos = s->qos_event;
        f.retain = name && publisher_event_retained(name, s->retain);
        /* rare news that can arrive late (the broker link was down, or is being rebuilt
         * after a reload): always kept */
        f.keep = name && (strcmp(name, EVENT_CONNECTIVITY_CHANGED) == 0 ||
                          strcmp(name, "SettingsUpdated") == 0 || strcmp(name, "PrinterProfileModified") == 0);
        break;
    case PUBLISHER_PROGRESS_PRINTING:
        f.qos = s->qos_progress;
        f.retain = true;            /* always, whatever retain says (docs/wire-format.md 3.1) */
        f.offline = MQTT_SNAPSHOT;
        break;
    case PUBLISHER_PROGRESS_SLICING:
        f.qos = s->qos_progress;
        f.retain = s->retain;
        f.offline = MQTT_SNAPSHOT;
        break;
    case PUBLISHER_TEMPERATURE:
        f.qos = s->qos_temperature;
        f.retain = s->retain;
        f.keep = true;              /* queued while offline, as upstream (bounded here) */
        f.offline = MQTT_READING;
        break;
    case PUBLISHER_STATE:
        f.qos = s->qos_state;
        f.retain = true;
        f.offline = MQTT_SNAPSHOT;
        break;
    case PUBLISHER_STATS:
        f.qos = s->qos_stats;
        f.retain = true;
        f.offline = MQTT_SNAPSHOT;
        break;
    }
    if (f.qos > 0)
        f.keep = true;
    return f;
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

bool publisher_temperature_due_at(const struct publisher_temp *last, double actual, double target,
                                  bool has_target, const struct publisher_settings *s, double now)
{
    if (!publisher_temperature_due(last, actual, target, has_target, s->temperature_threshold))
        return false;
    if (!last || !last->published || last->actual == 0.0 || s->temperature_min_interval <= 0)
        return true;
    if (has_target != last->has_target || (has_target && fabs(target - last->target) >= 0.1))
        return true;    /* a new target is news at once */
    return now - last->at >= s->temperature_min_interval;
}

char *publisher_stats_json(const struct publisher_stats *st, const char *ts_field, long long ts)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o}",
                          "uptime", (json_int_t)st->uptime, "lines_sent", (json_int_t)st->lines_sent,
                          "resends", (json_int_t)st->resends,
                          "timeouts", st->has_timeouts ? json_integer((json_int_t)st->timeouts) : json_null(),
                          "published", (json_int_t)st->published, "buffered", (json_int_t)st->buffered,
                          "dropped", (json_int_t)st->dropped,
                          "rss_bytes", st->rss_bytes >= 0 ? json_integer(st->rss_bytes) : json_null());
    char *out = NULL;
    if (!o)
        return NULL;
    if (json_object_set_new(o, ts_field, json_integer(ts)) == 0)
        out = pyjson_dumps(o);
    json_decref(o);
    return out;
}

/* ---- the sink -------------------------------------------------------------------------- */

static double now_s(const struct publisher *p)
{
    return (double)uv_now(p->loop) / 1000.0;
}

void publisher_init(struct publisher *p, uv_loop_t *loop, struct mqtt *m, const struct publisher_settings *s)
{
    memset(p, 0, sizeof *p);
    p->mqtt = m;
    p->loop = loop;
    p->s = *s;
    uv_timer_init(loop, &p->state_timer);
    p->state_timer.data = p;
    p->state_timer_open = true;
    p->state_at = -1e9;
}

void publisher_set_mqtt(struct publisher *p, struct mqtt *m)
{
    p->mqtt = m;
}

void publisher_set_settings(struct publisher *p, const struct publisher_settings *s)
{
    p->s = *s;
    /* new topics, rounding or time stamp name: the next state message must go out */
    free(p->state_last);
    p->state_last = NULL;
}

void publisher_set_sources(struct publisher *p, struct printer *printer, struct job *job)
{
    p->printer = printer;
    p->job = job;
}

/* The job's part of the state, in v, or NULL when no file is selected. */
static const struct job_view *job_view_of(const struct publisher *p, struct job_view *v)
{
    return p->job && job_fill_view(p->job, v) ? v : NULL;
}

static void send_kind(struct publisher *p, const char *topic, const char *payload, enum publisher_kind kind,
                      const char *name)
{
    struct publisher_flags f = publisher_flags_for(&p->s, kind, name);
    if (p->mqtt)
        mqtt_publish(p->mqtt, topic, payload, strlen(payload), f.qos, f.retain, (f.keep ? MQTT_KEEP : 0) | f.offline);
}

static void publish_owned(struct publisher *p, const char *topic, char *payload, enum publisher_kind kind,
                          const char *name)
{
    if (!payload) {
        log_warn("publisher: could not serialise the message for %s", topic);
        return;
    }
    send_kind(p, topic, payload, kind, name);
    free(payload);
}

void publisher_on_event(void *ctx, const char *name, json_t *payload, long long timestamp)
{
    struct publisher *p = ctx;
    char topic[PUBLISHER_MAX_TOPIC];
    if (!publisher_event_enabled(&p->s, name))
        return;
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.event_topic, "event", name) < 0)
        return;
    publish_owned(p, topic, publisher_event_json(payload, name, p->s.timestamp_field, timestamp),
                  PUBLISHER_EVENT, name);
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
    double now = now_s(p);
    for (int i = 0; i < t->count; i++) {
        const struct protocol_temp *r = &t->t[i];
        char key[PROTOCOL_SENSOR_NAME + 8], topic[PUBLISHER_MAX_TOPIC];
        /* a heater that is not there reports 0/0 (or nothing): hide it (wire-format 8, rule 1) */
        if (r->actual == 0.0 && (!r->has_target || r->target == 0.0))
            continue;
        if (protocol_sensor_key(r->sensor, key, sizeof key) < 0)
            continue;
        double actual = statetopic_round(r->actual, p->s.temperature_decimals);
        double target = statetopic_round(r->target, p->s.temperature_decimals);
        struct publisher_temp *last = find_temp(p, key);
        if (!last || !publisher_temperature_due_at(last, actual, target, r->has_target, &p->s, now))
            continue;
        if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.temperature_topic, "temp", key) < 0)
            continue;
        json_t *obj = json_object();
        if (!obj)
            continue;
        json_object_set_new(obj, "actual", pyjson_real_or_null(actual));
        json_object_set_new(obj, "target", r->has_target ? pyjson_real_or_null(target) : json_null());
        json_object_set_new(obj, p->s.timestamp_field, json_integer(timestamp));
        char *payload = pyjson_dumps(obj);
        json_decref(obj);
        if (!payload)
            continue;
        send_kind(p, topic, payload, PUBLISHER_TEMPERATURE, NULL);
        free(last->last);
        last->last = payload;
        last->published = true;
        last->actual = actual;
        last->target = target;
        last->has_target = r->has_target;
        last->at = now;
    }
}

/* ---- state topic ----------------------------------------------------------------------- */

static void publish_state(struct publisher *p, bool force)
{
    char topic[PUBLISHER_MAX_TOPIC];
    p->state_dirty = false;
    if (!p->printer || publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.state_topic, "", "") < 0)
        return;
    const struct printer_model *m = printer_get_model(p->printer);
    struct job_view jv;
    const struct job_view *job = job_view_of(p, &jv);
    /* compare without the time stamp: an unchanged state is not news */
    char *body = statetopic_json(m, job, p->s.temperature_decimals, NULL, 0);
    if (!body)
        return;
    if (!force && p->state_last && strcmp(body, p->state_last) == 0) {
        free(body);
        return;
    }
    free(p->state_last);
    p->state_last = body;
    p->state_at = now_s(p);
    free(p->state_sent);
    p->state_sent = statetopic_json(m, job, p->s.temperature_decimals, p->s.timestamp_field, (long long)time(NULL));
    if (!p->state_sent) {
        log_warn("publisher: could not serialise the message for %s", topic);
        return;
    }
    send_kind(p, topic, p->state_sent, PUBLISHER_STATE, NULL);
}

char *publisher_state_payload(struct publisher *p)
{
    if (!p->printer)
        return NULL;
    if (p->state_dirty) {       /* a change waiting for state_interval: let it out first */
        uv_timer_stop(&p->state_timer);
        publish_state(p, false);
    }
    if (p->state_sent)
        return strdup(p->state_sent);
    struct job_view jv;         /* the state topic is off: the payload it would carry */
    return statetopic_json(printer_get_model(p->printer), job_view_of(p, &jv), p->s.temperature_decimals,
                           p->s.timestamp_field, (long long)time(NULL));
}

static void on_state_timer(uv_timer_t *t)
{
    struct publisher *p = t->data;
    if (p->state_dirty)
        publish_state(p, false);
}

/* What makes a state change a transition rather than a refresh: the state, its error, the
 * SD card, the connection, the selected file and whether its print finished. Hashed (FNV-1a):
 * only a change matters. */
static uint64_t sig_add(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0x1f) * 1099511628211ull;
}

static uint64_t transition_sig(struct publisher *p)
{
    const struct printer_model *m = printer_get_model(p->printer);
    struct job_view jv;
    const struct job_view *job = job_view_of(p, &jv);
    char nums[64];
    snprintf(nums, sizeof nums, "%d %d %d %d", (int)m->state, m->sd_ready, job != NULL,
             job && job->has_completion && job->completion >= 100.0 && !printer_state_is_printing(m->state));
    uint64_t h = sig_add(14695981039346656037ull, nums);
    h = sig_add(h, m->error);
    h = sig_add(h, m->port);
    h = sig_add(h, m->firmware_name);
    if (job) {
        h = sig_add(h, job->path);
        h = sig_add(h, job->origin);
    }
    return h;
}

void publisher_on_model(struct publisher *p)
{
    p->state_dirty = true;
    if (p->printer) {
        uint64_t sig = transition_sig(p);
        if (sig != p->state_sig) {
            /* a transition goes out at once, on the next turn of the loop, so that the changes
             * made in the same turn (PrintDone, then the state) arrive together */
            p->state_sig = sig;
            uv_timer_start(&p->state_timer, on_state_timer, 0, 0);
            return;
        }
    }
    if (uv_is_active((uv_handle_t *)&p->state_timer))
        return;     /* already waiting: this change rides along */
    double wait = p->state_at + p->s.state_interval - now_s(p);
    if (wait <= 0) {
        publish_state(p, false);
        return;
    }
    uv_timer_start(&p->state_timer, on_state_timer, (uint64_t)(wait * 1000.0) + 1, 0);
}

/* ---- progress ------------------------------------------------------------------------- */

void publisher_publish_progress(struct publisher *p, const char *location, const char *path, int progress)
{
    char topic[PUBLISHER_MAX_TOPIC];
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "printing") < 0)
        return;
    json_t *pd = NULL;
    if (p->s.printer_data && p->printer) {
        struct job_view jv;
        pd = statetopic_printer_data(printer_get_model(p->printer), job_view_of(p, &jv));
    }
    free(p->progress_last);
    p->progress_last = publisher_progress_json(location, path, progress, pd, p->s.timestamp_field,
                                               (long long)time(NULL));
    json_decref(pd);
    p->progress_from_job = true;
    if (p->progress_last)
        send_kind(p, topic, p->progress_last, PUBLISHER_PROGRESS_PRINTING, NULL);
}

void publisher_publish_slicing_progress(struct publisher *p, const char *slicer, const char *stl, const char *gcode,
                                        int progress)
{
    char topic[PUBLISHER_MAX_TOPIC];
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "slicing") < 0)
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "slicer", slicer, "source_location", "local",
                          "source_path", stl, "destination_location", "local", "destination_path", gcode,
                          "progress", progress);
    if (o && json_object_set_new(o, p->s.timestamp_field, json_integer((long long)time(NULL))) == 0)
        publish_owned(p, topic, pyjson_dumps(o), PUBLISHER_PROGRESS_SLICING, NULL);
    json_decref(o);
}

/* ---- camera ----------------------------------------------------------------------------- */

void publisher_publish_camera(struct publisher *p, const void *image, size_t len)
{
    char topic[PUBLISHER_MAX_TOPIC];
    if (p->mqtt && publisher_topic(topic, sizeof topic, p->s.base_topic, "camera", "", "") > 0)
        mqtt_publish(p->mqtt, topic, image, len, 0, false, 0);
}

/* ---- connects and republishing --------------------------------------------------------- */

/* The last message of each temperature sensor, as it was (its time stamp included). */
static void send_last_temperatures(struct publisher *p)
{
    char topic[PUBLISHER_MAX_TOPIC];
    for (int i = 0; i < p->ntemps; i++)
        if (p->temps[i].last &&
            publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.temperature_topic, "temp", p->temps[i].key) >= 0)
            send_kind(p, topic, p->temps[i].last, PUBLISHER_TEMPERATURE, NULL);
}

static void send_last_progress(struct publisher *p)
{
    char topic[PUBLISHER_MAX_TOPIC];
    if (p->progress_last &&
        publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "printing") >= 0)
        send_kind(p, topic, p->progress_last, PUBLISHER_PROGRESS_PRINTING, NULL);
}

void publisher_on_connected(struct publisher *p, bool first, long long timestamp)
{
    char topic[PUBLISHER_MAX_TOPIC];
    /* clear stale retained progress left from before a restart, on the first connect only
     * (docs/wire-format.md 4.3), unless a job already published its own before it */
    if (first && !p->progress_from_job &&
        publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "printing") >= 0) {
        free(p->progress_last);
        p->progress_last = publisher_progress_json("", "", 0, NULL, p->s.timestamp_field, timestamp);
        if (p->progress_last)
            send_kind(p, topic, p->progress_last, PUBLISHER_PROGRESS_PRINTING, NULL);
    }
    if (first &&
        publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.progress_topic, "progress", "slicing") >= 0) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "slicer", "", "source_location", "",
                              "source_path", "", "destination_location", "", "destination_path", "",
                              "progress", 0);
        if (o) {
            json_object_set_new(o, p->s.timestamp_field, json_integer(timestamp));
            publish_owned(p, topic, pyjson_dumps(o), PUBLISHER_PROGRESS_SLICING, NULL);
            json_decref(o);
        }
    }
    if (!first) {
        /* a broker restarted without persistence forgot every retained message; a job's
         * progress is state worth restoring, the start-up reset is sent once only */
        send_last_temperatures(p);
        if (p->stats_last &&
            publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.stats_topic, "", "") >= 0)
            send_kind(p, topic, p->stats_last, PUBLISHER_STATS, NULL);
        if (p->progress_from_job)
            send_last_progress(p);
    }
    uv_timer_stop(&p->state_timer);
    publish_state(p, true);
}

void publisher_republish(struct publisher *p)
{
    if (!p->mqtt || !mqtt_connected(p->mqtt))
        return;     /* offline: the next connect publishes the state anyway */
    send_last_temperatures(p);
    send_last_progress(p);
    uv_timer_stop(&p->state_timer);
    publish_state(p, true);
}

void publisher_publish_stats(struct publisher *p, const char *payload)
{
    char topic[PUBLISHER_MAX_TOPIC];
    char *copy = strdup(payload);
    if (!copy)
        return;
    free(p->stats_last);
    p->stats_last = copy;
    if (publisher_topic(topic, sizeof topic, p->s.base_topic, p->s.stats_topic, "", "") >= 0)
        send_kind(p, topic, payload, PUBLISHER_STATS, NULL);
}

static void on_state_timer_closed(uv_handle_t *h)
{
    struct publisher *p = h->data;
    for (int i = 0; i < p->ntemps; i++) {
        free(p->temps[i].last);
        p->temps[i].last = NULL;
    }
    free(p->state_last);
    free(p->state_sent);
    free(p->progress_last);
    free(p->stats_last);
    p->state_last = p->state_sent = p->progress_last = p->stats_last = NULL;
    if (p->closed)
        p->closed(p->closed_ctx);
}

void publisher_close(struct publisher *p, void (*done)(void *ctx), void *ctx)
{
    p->closed = done;
    p->closed_ctx = ctx;
    p->mqtt = NULL;
    if (p->state_timer_open) {
        p->state_timer_open = false;
        uv_close((uv_handle_t *)&p->state_timer, on_state_timer_closed);
    }
}
