/* discovery.c: Home Assistant MQTT discovery (docs/wire-format.md 12).
 *
 * Device-based discovery rather than one config per entity: one retained message makes the
 * whole device appear, change or disappear at once (no half-discovered device after a broker
 * hiccup, one empty message removes everything), and it is what Home Assistant recommends
 * since 2024.11. The payload stays around 10 kB for a one-tool printer: topics are written in
 * full because "~" expansion inside "cmps" is not documented, but the keys are abbreviated.
 *
 * Availability has two sources with mode "all": the will (<base>mqtt connected/disconnected)
 * and the printer link, read from the retained <base>state with a template (online while the
 * printer is operational). Entities that make sense without a printer (its state, the
 * connected sensor, the connect and disconnect buttons) follow the will only, so Home
 * Assistant can still connect an offline printer. Idle values are 0 or unknown, never
 * "unavailable" (docs/wire-format.md 12.3). */
#include "printbridge/wire.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "printbridge/base.h"
#include "printbridge/mqtt.h"
#include "printbridge/printer.h"

#define MANUFACTURER "printbridge"
#define MODEL "Serial G-code 3D printer"
#define ORIGIN "printbridge"
#define BIRTH_ONLINE "online"
#define BIRTH_OFFLINE "offline"     /* Home Assistant's will */

/* The inbound command topics (include/printbridge/commands.h), under the base. */
#define CMD_JOB "command/job"
#define CMD_CONNECTION "command/connection"
#define CMD_GCODE "command/gcode"

#define TPL_LINK "{{ 'online' if value_json.state.flags.operational else 'offline' }}"

/* ---- pure ------------------------------------------------------------------------------- */

int discovery_node_id_from(char *out, size_t outsz, const char *client_id)
{
    size_t n = client_id ? strlen(client_id) : 0;
    if (n == 0 || n >= outsz)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)client_id[i];
        out[i] = (c < 0x80 && (isalnum(c) || c == '_' || c == '-')) ? (char)c : '_';
    }
    out[n] = '\0';
    return (int)n;
}

static int fit(int n, size_t outsz)
{
    return n < 0 || (size_t)n >= outsz ? -1 : n;
}

int discovery_config_topic(char *out, size_t outsz, const char *prefix, const char *node_id)
{
    return fit(snprintf(out, outsz, "%s/device/%s/config", prefix, node_id), outsz);
}

int discovery_birth_topic(char *out, size_t outsz, const char *prefix)
{
    return fit(snprintf(out, outsz, "%s/status", prefix), outsz);
}

const char *const *discovery_state_options(void)
{
    /* built once from printer_state_string, so a renamed state cannot fall out of the list */
    static char slugs[PRINTER_OFFLINE + 1][64];
    static const char *list[PRINTER_OFFLINE + 2];
    if (list[0])
        return list;
    int n = 0;
    for (int s = 0; s <= PRINTER_OFFLINE; s++) {
        char slug[64];
        snprintf(slug, sizeof slug, "%s", printer_state_string((enum printer_state)s));
        for (char *p = slug; *p; p++)
            *p = *p == ' ' ? '_' : (char)tolower((unsigned char)*p);
        bool seen = false;
        for (int k = 0; k < n && !seen; k++)
            seen = strcmp(slugs[k], slug) == 0;
        if (!seen)
            memcpy(slugs[n++], slug, sizeof slug);
    }
    for (int k = 0; k < n; k++)
        list[k] = slugs[k];
    list[n] = NULL;
    return list;
}

/* What the builder needs while it adds entities. */
struct ctx {
    const struct discovery_settings *s;
    char state[PUBLISHER_MAX_TOPIC];        /* <base>state */
    char will[PUBLISHER_MAX_TOPIC];         /* <base>mqtt, "" when off */
    json_t *cmps;
    bool oom;
};

static json_t *availability(const struct ctx *c, bool needs_printer)
{
    json_t *a = json_array();
    if (c->will[0])
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "t", c->will, "pl_avail", "connected",
                                           "pl_not_avail", "disconnected"));
    if (needs_printer)
        json_array_append_new(a, json_pack("{s:s, s:s}", "t", c->state, "val_tpl", TPL_LINK));
    return a;
}

/* A component with the keys every entity has; NULL (and c->oom) when out of memory. */
static json_t *entity(struct ctx *c, const char *platform, const char *object, const char *name,
                      bool needs_printer)
{
    char uid[DISCOVERY_MAX_ID * 2];
    snprintf(uid, sizeof uid, "%s_%s", c->s->node_id, object);
    json_t *e = json_pack("{s:s, s:s, s:s}", "p", platform, "name", name, "uniq_id", uid);
    json_t *a = availability(c, needs_printer);
    if (!e || !a) {
        json_decref(e);
        json_decref(a);
        c->oom = true;
        return NULL;
    }
    if (json_array_size(a)) {
        json_object_set_new(e, "avty", a);
        json_object_set_new(e, "avty_mode", json_string("all"));
    } else {
        json_decref(a);
    }
    if (json_object_set_new(c->cmps, object, e) < 0) {
        c->oom = true;
        return NULL;
    }
    return e;   /* borrowed from cmps */
}

static void set_str(struct ctx *c, json_t *e, const char *key, const char *value)
{
    if (e && json_object_set_new(e, key, json_string(value)) < 0)
        c->oom = true;
}

/* A sensor on <base>state with a value template (and optional class, unit, state class). */
static json_t *state_sensor(struct ctx *c, const char *object, const char *name, const char *tpl,
                            const char *dev_cla, const char *unit, const char *stat_cla, bool needs_printer)
{
    json_t *e = entity(c, "sensor", object, name, needs_printer);
    set_str(c, e, "stat_t", c->state);
    set_str(c, e, "val_tpl", tpl);
    if (dev_cla)
        set_str(c, e, "dev_cla", dev_cla);
    if (unit)
        set_str(c, e, "unit_of_meas", unit);
    if (stat_cla)
        set_str(c, e, "stat_cla", stat_cla);
    return e;
}

static void button(struct ctx *c, const char *object, const char *name, const char *cmd, const char *press,
                   const char *icon, bool needs_printer)
{
    char topic[PUBLISHER_MAX_TOPIC];
    snprintf(topic, sizeof topic, "%s%s", c->s->base_topic, cmd);
    json_t *e = entity(c, "button", object, name, needs_printer);
    set_str(c, e, "cmd_t", topic);
    set_str(c, e, "pl_prs", press);
    set_str(c, e, "ic", icon);
}

/* Actual and target sensors of one heater, from <base>temperature/<key> when that topic is
 * on (it is retained and follows every 0.1 degree), else from <base>state. */
static void heater(struct ctx *c, const char *key, const char *label)
{
    char topic[PUBLISHER_MAX_TOPIC], object[64], name[96], tpl[160];
    bool own = c->s->temperature_topic && c->s->temperature_topic[0] &&
               publisher_topic(topic, sizeof topic, c->s->base_topic, c->s->temperature_topic, "temp", key) > 0;
    for (int target = 0; target < 2; target++) {
        const char *field = target ? "target" : "actual";
        snprintf(object, sizeof object, "%s_%s", key, target ? "target" : "temperature");
        snprintf(name, sizeof name, "%s %s", label, target ? "target" : "temperature");
        if (own)
            snprintf(tpl, sizeof tpl, "{{ value_json.%s%s }}", field, target ? " or 0" : "");
        else
            snprintf(tpl, sizeof tpl, "{{ value_json.temperature['%s'].%s if '%s' in value_json.temperature else None }}",
                     key, field, key);
        json_t *e = entity(c, "sensor", object, name, true);
        set_str(c, e, "stat_t", own ? topic : c->state);
        set_str(c, e, "val_tpl", tpl);
        set_str(c, e, "dev_cla", "temperature");
        set_str(c, e, "unit_of_meas", "\xc2\xb0" "C");
        set_str(c, e, "stat_cla", "measurement");
        if (e && json_object_set_new(e, "sug_dsp_prc", json_integer(1)) < 0)
            c->oom = true;
    }
}

static void add_entities(struct ctx *c)
{
    const struct discovery_settings *s = c->s;

    json_t *e = state_sensor(c, "state", "State", "{{ value_json.state.text | lower | replace(' ', '_') }}", "enum",
                             NULL, NULL, false);
    json_t *opts = json_array();
    for (const char *const *o = discovery_state_options(); *o; o++)
        json_array_append_new(opts, json_string(*o));
    if (!e || !opts || json_object_set_new(e, "ops", opts) < 0)
        c->oom = true;
    set_str(c, e, "json_attr_t", c->state);
    set_str(c, e, "json_attr_tpl",
            "{{ {'error': value_json.state.error, 'port': value_json.connection.port, "
            "'firmware': value_json.connection.firmware} | tojson }}");
    set_str(c, e, "ic", "mdi:printer-3d");

    e = entity(c, "binary_sensor", "connected", "Connected", false);
    set_str(c, e, "stat_t", c->state);
    set_str(c, e, "val_tpl", "{{ 'ON' if value_json.state.flags.operational else 'OFF' }}");
    set_str(c, e, "dev_cla", "connectivity");

    e = entity(c, "binary_sensor", "printing", "Printing", true);
    set_str(c, e, "stat_t", c->state);
    set_str(c, e, "val_tpl", "{{ 'ON' if value_json.state.flags.printing else 'OFF' }}");
    set_str(c, e, "dev_cla", "running");

    e = state_sensor(c, "progress", "Progress", "{{ (value_json.progress.completion or 0) | round(1) }}", NULL, "%",
                     "measurement", true);
    set_str(c, e, "ic", "mdi:progress-clock");
    e = state_sensor(c, "file", "File", "{{ value_json.job.file.name or None }}", NULL, NULL, NULL, true);
    set_str(c, e, "ic", "mdi:file");
    state_sensor(c, "print_time", "Print time", "{{ value_json.progress.printTime or 0 }}", "duration", "s",
                 "measurement", true);
    state_sensor(c, "print_time_left", "Print time left", "{{ value_json.progress.printTimeLeft or 0 }}", "duration",
                 "s", "measurement", true);
    state_sensor(c, "eta", "Estimated finish", "{{ value_json.eta or None }}", "timestamp", NULL, NULL, true);
    state_sensor(c, "current_z", "Current Z",
                 "{{ value_json.currentZ if value_json.currentZ is number else None }}", "distance", "mm",
                 "measurement", true);

    for (int i = 0; i < s->extruders; i++) {
        char key[16], label[32];
        snprintf(key, sizeof key, "tool%d", i);
        if (s->extruders == 1)
            snprintf(label, sizeof label, "Hotend");
        else
            snprintf(label, sizeof label, "Tool %d", i);
        heater(c, key, label);
    }
    if (s->heated_bed)
        heater(c, "bed", "Bed");
    if (s->heated_chamber)
        heater(c, "chamber", "Chamber");

    button(c, "pause", "Pause", CMD_JOB, "{\"command\": \"pause\"}", "mdi:pause", true);
    button(c, "resume", "Resume", CMD_JOB, "{\"command\": \"resume\"}", "mdi:play", true);
    button(c, "cancel", "Cancel", CMD_JOB, "{\"command\": \"cancel\"}", "mdi:stop", true);
    button(c, "emergency_stop", "Emergency stop", CMD_GCODE, "M112", "mdi:alert-octagon", true);
    button(c, "connect", "Connect", CMD_CONNECTION, "{\"command\": \"connect\"}", "mdi:lan-connect", false);
    button(c, "disconnect", "Disconnect", CMD_CONNECTION, "{\"command\": \"disconnect\"}", "mdi:lan-disconnect",
           false);

    char gcode[PUBLISHER_MAX_TOPIC];
    snprintf(gcode, sizeof gcode, "%s%s", s->base_topic, CMD_GCODE);
    e = entity(c, "text", "gcode", "Send G-code", true);
    set_str(c, e, "cmd_t", gcode);
    set_str(c, e, "mode", "text");
    set_str(c, e, "ic", "mdi:console-line");

    /* the snapshot command's images, published on <base>camera (not retained) */
    if (s->camera) {
        char cam[PUBLISHER_MAX_TOPIC];
        snprintf(cam, sizeof cam, "%scamera", s->base_topic);
        e = entity(c, "camera", "camera", "Camera", false);
        set_str(c, e, "t", cam);
        set_str(c, e, "ic", "mdi:camera");
    }
}

char *discovery_config_json(const struct discovery_settings *s)
{
    struct ctx c = { .s = s };
    json_t *root = NULL;
    char *out = NULL, name[DISCOVERY_MAX_ID + 32];

    if (!s->state_topic || !s->state_topic[0] ||
        fit(snprintf(c.state, sizeof c.state, "%s%s", s->base_topic, s->state_topic), sizeof c.state) < 0)
        return NULL;
    if (s->status_topic && s->status_topic[0] &&
        fit(snprintf(c.will, sizeof c.will, "%s%s", s->base_topic, s->status_topic), sizeof c.will) < 0)
        return NULL;
    if (s->device_name)
        snprintf(name, sizeof name, "%s", s->device_name);
    else
        snprintf(name, sizeof name, "printbridge %s", s->node_id);
    const char *sw = s->sw_version ? s->sw_version : "unknown";
    root = json_pack("{s:{s:[s], s:s, s:s, s:s, s:s}, s:{s:s, s:s}, s:{}}",
                     "dev", "ids", s->node_id, "name", name, "mf", MANUFACTURER, "mdl", MODEL, "sw", sw,
                     "o", "name", ORIGIN, "sw", sw, "cmps");
    if (!root)
        return NULL;
    c.cmps = json_object_get(root, "cmps");
    add_entities(&c);
    if (!c.oom)
        out = pyjson_dumps(root);
    json_decref(root);
    return out;
}

/* ---- the shell -------------------------------------------------------------------------- */

struct discovery {
    uv_loop_t *loop;
    struct mqtt *mqtt;
    uv_timer_t timer;
    bool enabled;
    double delay;
    uint64_t births_until;  /* loop ms: births until then share the republish already planned */
    char *topic;            /* our config topic */
    char *payload;          /* the config; NULL when it cannot be built */
    char *birth;            /* "<prefix>/status", subscribed on mqtt */
    void (*done)(void *ctx);
    void *done_ctx;
};

static void publish(struct discovery *d, const char *topic, const char *payload)
{
    if (!d->mqtt)
        return;
    /* QoS 1 and retained: the device must survive Home Assistant's and the broker's restarts,
     * and a removal must not be lost to an outage */
    if (mqtt_publish(d->mqtt, topic, payload, strlen(payload), 1, true, MQTT_KEEP) < 0)
        log_warn("homeassistant: cannot publish the discovery config on %s", topic);
}

static void publish_current(struct discovery *d)
{
    if (!(d->enabled && d->payload)) {
        publish(d, d->topic, "");
        return;
    }
    publish(d, d->topic, d->payload);
    /* the log says what happened: sent, or waiting for the broker */
    if (d->mqtt && mqtt_connected(d->mqtt))
        log_info("homeassistant: device announced on %s (%zu bytes)", d->topic, strlen(d->payload));
    else
        log_info("homeassistant: device announcement on %s queued until the broker connection is up", d->topic);
}

/* Builds topic and payload for s; 0 or -ENOMEM / -EINVAL. */
static int build(const struct discovery_settings *s, char **topic, char **payload)
{
    char t[PUBLISHER_MAX_TOPIC];
    *topic = *payload = NULL;
    if (discovery_config_topic(t, sizeof t, s->prefix, s->node_id) < 0)
        return -EINVAL;
    if (!(*topic = strdup(t)))
        return -ENOMEM;
    if (s->enabled && !(*payload = discovery_config_json(s)) && s->state_topic && s->state_topic[0]) {
        free(*topic);
        *topic = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void explain(const struct discovery_settings *s, const char *payload)
{
    if (!s->enabled)
        log_info("homeassistant: discovery is off; any device left under %s/device/%s is removed", s->prefix,
                 s->node_id);
    else if (!payload)
        log_warn("homeassistant: topics.state is off, so there is nothing to discover; "
                 "set topics.state = \"state\"; to get a Home Assistant device");
    else
        log_debug("homeassistant: device %s configured under %s/ (%zu bytes)", s->node_id, s->prefix, strlen(payload));
}

static void on_birth(void *ctx, const struct mqtt_message *msg);

/* "<prefix>/status", malloc'd. Returns 0, -EINVAL (too long) or -ENOMEM. */
static int birth_topic(const struct discovery_settings *s, char **out)
{
    char t[PUBLISHER_MAX_TOPIC];
    if (discovery_birth_topic(t, sizeof t, s->prefix) < 0)
        return -EINVAL;
    return (*out = strdup(t)) ? 0 : -ENOMEM;
}

int discovery_create(struct discovery **out, uv_loop_t *loop, struct mqtt *m, const struct discovery_settings *s)
{
    struct discovery *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    int rc = build(s, &d->topic, &d->payload);
    if (rc == 0)
        rc = birth_topic(s, &d->birth);
    if (rc == 0 && m)
        rc = mqtt_subscribe(m, d->birth, on_birth, d);
    if (rc < 0) {
        free(d->topic);
        free(d->payload);
        free(d->birth);
        free(d);
        return rc;
    }
    d->loop = loop;
    d->mqtt = m;
    d->enabled = s->enabled;
    d->delay = s->republish_delay;
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    explain(s, d->payload);
    *out = d;
    return 0;
}

int discovery_set_mqtt(struct discovery *d, struct mqtt *m)
{
    d->mqtt = m;
    return m ? mqtt_subscribe(m, d->birth, on_birth, d) : 0;
}

/* Listens on the birth topic of s from now on (the new one is in before the old one goes).
 * Returns 0, -EINVAL or -ENOMEM (the old one stays). */
static int move_birth(struct discovery *d, const struct discovery_settings *s)
{
    char *birth;
    int rc = birth_topic(s, &birth);
    if (rc < 0 || strcmp(birth, d->birth) == 0) {
        free(rc < 0 ? NULL : birth);
        return rc;
    }
    if (d->mqtt && (rc = mqtt_subscribe(d->mqtt, birth, on_birth, d)) < 0) {
        free(birth);
        return rc;
    }
    if (d->mqtt)
        mqtt_unsubscribe(d->mqtt, d->birth, on_birth, d);
    free(d->birth);
    d->birth = birth;
    return 0;
}

int discovery_set_settings(struct discovery *d, const struct discovery_settings *s)
{
    char *topic, *payload;
    int rc = build(s, &topic, &payload);
    if (rc == 0 && (rc = move_birth(d, s)) < 0) {
        free(topic);
        free(payload);
    }
    if (rc < 0)
        return rc;
    bool moved = strcmp(topic, d->topic) != 0;
    bool changed = moved || s->enabled != d->enabled || (payload == NULL) != (d->payload == NULL) ||
                   (payload && strcmp(payload, d->payload) != 0);
    if (moved && d->enabled && d->payload)
        publish(d, d->topic, "");   /* the old device goes; the new one follows */
    if (changed)
        explain(s, payload);
    free(d->topic);
    free(d->payload);
    d->topic = topic;
    d->payload = payload;
    d->enabled = s->enabled;
    d->delay = s->republish_delay;
    if (!d->enabled)
        uv_timer_stop(&d->timer);
    if (changed && d->mqtt && mqtt_connected(d->mqtt))
        publish_current(d);
    return 0;
}

void discovery_on_connected(struct discovery *d)
{
    publish_current(d);
}

static void on_timer(uv_timer_t *t)
{
    struct discovery *d = t->data;
    if (d->enabled && d->payload && d->mqtt && mqtt_connected(d->mqtt)) {
        log_info("homeassistant: Home Assistant came online; discovery republished");
        publish(d, d->topic, d->payload);
    }
}

/* Home Assistant's birth message: "online" schedules one republish after a random delay;
 * more births within republish_delay of the first are answered by that same republish,
 * even when its random delay was short and it already went out. */
static void on_birth(void *ctx, const struct mqtt_message *msg)
{
    struct discovery *d = ctx;
    /* a retained "online" is as good a reason: the republish is idempotent */
    if (!msg->payload || strcmp(msg->payload, BIRTH_ONLINE) != 0) {
        if (!msg->payload || strcmp(msg->payload, BIRTH_OFFLINE) != 0)
            log_info("homeassistant: ignoring a %zu-byte message on %s: Home Assistant's birth message is \"%s\"",
                     msg->len, msg->topic, BIRTH_ONLINE);
        return;
    }
    uint64_t now = uv_now(d->loop);
    if (!d->enabled || uv_is_active((uv_handle_t *)&d->timer) || now < d->births_until)
        return;
    d->births_until = now + (uint64_t)(d->delay * 1000.0);
    /* many devices answer the same birth message: a random delay spreads their bursts */
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)uv_hrtime();
    uint64_t ms = (uint64_t)(d->delay * 1000.0 * ((double)r / 4294967296.0));
    uv_timer_start(&d->timer, on_timer, ms, 0);
}

static void on_closed(uv_handle_t *h)
{
    struct discovery *d = h->data;
    void (*done)(void *) = d->done;
    void *ctx = d->done_ctx;
    free(d->topic);
    free(d->payload);
    free(d->birth);
    free(d);
    if (done)
        done(ctx);
}

void discovery_close(struct discovery *d, void (*done)(void *ctx), void *ctx)
{
    if (!d) {
        if (done)
            done(ctx);
        return;
    }
    if (d->mqtt)
        mqtt_unsubscribe(d->mqtt, d->birth, on_birth, d);
    d->done = done;
    d->done_ctx = ctx;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_closed);
}
