/* discovery.c: printbridge's Home Assistant device (docs/wire-format.md 12), built as one
 * payload; discovery_shell.c publishes it, discovery_compat.c adds the OctoPrint-HomeAssistant
 * entity set.
 *
 * Device-based discovery rather than one config per entity: one retained message makes the
 * whole device appear, change or disappear at once (no half-discovered device after a broker
 * hiccup, one empty message removes everything), and it is what Home Assistant recommends
 * since 2024.11. The payload stays around 12 kB for a one-tool printer: topics are written in
 * full because "~" expansion inside "cmps" is not documented, but the keys are abbreviated.
 *
 * Availability has two sources with mode "all": the will (<base>mqtt connected/disconnected)
 * and the printer link, read from the retained <base>state with a template (online while the
 * printer is operational). Entities that make sense without a printer (its state, the
 * connected sensor, the connect and disconnect buttons, the diagnostics, the print events)
 * follow the will only, so Home Assistant can still connect an offline printer. Idle values
 * are 0 or unknown, never "unavailable" (docs/wire-format.md 12.3).
 *
 * The device is the printer: its firmware name, machine type and UUID (from the M115 report)
 * are the device's sw_version, hw_version and serial_number; printbridge itself is the
 * origin. */
#include "printbridge/wire.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "discovery_impl.h"
#include "printbridge/base.h"
#include "printbridge/printer.h"

#define MANUFACTURER "printbridge"
#define MODEL "Serial G-code 3D printer"
#define ORIGIN "printbridge"

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

int discovery_ctx_init(struct discovery_ctx *c, const struct discovery_settings *s)
{
    c->s = s;
    c->id_prefix = s->node_id;
    c->will[0] = '\0';
    if (!s->state_topic || !s->state_topic[0] ||
        fit(snprintf(c->state, sizeof c->state, "%s%s", s->base_topic, s->state_topic), sizeof c->state) < 0)
        return -EINVAL;
    if (s->status_topic && s->status_topic[0] &&
        fit(snprintf(c->will, sizeof c->will, "%s%s", s->base_topic, s->status_topic), sizeof c->will) < 0)
        return -EINVAL;
    return 0;
}

static json_t *availability(const struct discovery_ctx *c, bool needs_printer)
{
    json_t *a = json_array();
    if (c->will[0])
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "t", c->will, "pl_avail", "connected",
                                           "pl_not_avail", "disconnected"));
    if (needs_printer)
        json_array_append_new(a, json_pack("{s:s, s:s}", "t", c->state, "val_tpl", TPL_LINK));
    return a;
}

json_t *discovery_entity(struct discovery_ctx *c, const char *platform, const char *object, const char *name,
                         bool needs_printer)
{
    char uid[DISCOVERY_MAX_ID * 2];
    snprintf(uid, sizeof uid, "%s_%s", c->id_prefix, object);
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

void discovery_set_str(struct discovery_ctx *c, json_t *e, const char *key, const char *value)
{
    if (e && json_object_set_new(e, key, json_string(value)) < 0)
        c->oom = true;
}

/* whole numbers as integers, so the payload reads "max": 300 rather than 300.0 */
void discovery_set_num(struct discovery_ctx *c, json_t *e, const char *key, double value)
{
    json_t *v = value == (double)(json_int_t)value ? json_integer((json_int_t)value) : json_real(value);
    if (e && json_object_set_new(e, key, v) < 0)
        c->oom = true;
}

/* A sensor on <base>state with a value template (and optional class, unit, state class). */
static json_t *state_sensor(struct discovery_ctx *c, const char *object, const char *name, const char *tpl,
                            const char *dev_cla, const char *unit, const char *stat_cla, bool needs_printer)
{
    json_t *e = discovery_entity(c, "sensor", object, name, needs_printer);
    discovery_set_str(c, e, "stat_t", c->state);
    discovery_set_str(c, e, "val_tpl", tpl);
    if (dev_cla)
        discovery_set_str(c, e, "dev_cla", dev_cla);
    if (unit)
        discovery_set_str(c, e, "unit_of_meas", unit);
    if (stat_cla)
        discovery_set_str(c, e, "stat_cla", stat_cla);
    return e;
}

static void button(struct discovery_ctx *c, const char *object, const char *name, const char *cmd, const char *press,
                   const char *icon, bool needs_printer)
{
    char topic[PUBLISHER_MAX_TOPIC];
    snprintf(topic, sizeof topic, "%s%s", c->s->base_topic, cmd);
    json_t *e = discovery_entity(c, "button", object, name, needs_printer);
    discovery_set_str(c, e, "cmd_t", topic);
    discovery_set_str(c, e, "pl_prs", press);
    discovery_set_str(c, e, "ic", icon);
}

bool discovery_heater_source(const struct discovery_ctx *c, const char *key, bool target, char *topic,
                             size_t topicsz, char *tpl, size_t tplsz)
{
    const struct discovery_settings *s = c->s;
    const char *field = target ? "target" : "actual";
    int n;
    if (s->temperature_topic && s->temperature_topic[0] &&
        publisher_topic(topic, topicsz, s->base_topic, s->temperature_topic, "temp", key) > 0)
        n = snprintf(tpl, tplsz, "{{ value_json.%s%s }}", field, target ? " or 0" : "");
    else if (fit(snprintf(topic, topicsz, "%s", c->state), topicsz) >= 0)
        n = snprintf(tpl, tplsz, "{{ value_json.temperature['%s'].%s if '%s' in value_json.temperature else None }}",
                     key, field, key);
    else
        return false;
    return fit(n, tplsz) >= 0;
}

/* Actual and target sensors of one heater. */
static void heater(struct discovery_ctx *c, const char *key, const char *label)
{
    char topic[PUBLISHER_MAX_TOPIC], object[64], name[96], tpl[160];
    for (int target = 0; target < 2; target++) {
        snprintf(object, sizeof object, "%s_%s", key, target ? "target" : "temperature");
        snprintf(name, sizeof name, "%s %s", label, target ? "target" : "temperature");
        if (!discovery_heater_source(c, key, target, topic, sizeof topic, tpl, sizeof tpl))
            continue;
        json_t *e = discovery_entity(c, "sensor", object, name, true);
        discovery_set_str(c, e, "stat_t", topic);
        discovery_set_str(c, e, "val_tpl", tpl);
        discovery_set_str(c, e, "dev_cla", "temperature");
        discovery_set_str(c, e, "unit_of_meas", "\xc2\xb0" "C");
        discovery_set_str(c, e, "stat_cla", "measurement");
        if (e && json_object_set_new(e, "sug_dsp_prc", json_integer(1)) < 0)
            c->oom = true;
    }
}

/* A number that sets a heater's target: the current target as its state, the G-code to
 * <base>command/gcode (so the inbound G-code lists apply), 0 .. the profile's maximum. */
static void target_number(struct discovery_ctx *c, const char *key, const char *label, const char *gcode,
                          double max)
{
    char topic[PUBLISHER_MAX_TOPIC], cmd[PUBLISHER_MAX_TOPIC], object[64], name[96], tpl[160], cmd_tpl[96];
    if (!discovery_heater_source(c, key, true, topic, sizeof topic, tpl, sizeof tpl))
        return;
    snprintf(cmd, sizeof cmd, "%s%s", c->s->base_topic, CMD_GCODE);
    snprintf(object, sizeof object, "%s_set_target", key);
    snprintf(name, sizeof name, "Set %s target", label);
    snprintf(cmd_tpl, sizeof cmd_tpl, "%s S{{ value | int }}", gcode);
    json_t *e = discovery_entity(c, "number", object, name, true);
    discovery_set_str(c, e, "cmd_t", cmd);
    discovery_set_str(c, e, "cmd_tpl", cmd_tpl);
    discovery_set_str(c, e, "stat_t", topic);
    discovery_set_str(c, e, "val_tpl", tpl);
    discovery_set_num(c, e, "min", 0);
    discovery_set_num(c, e, "max", max);
    discovery_set_num(c, e, "step", 1);
    discovery_set_str(c, e, "mode", "box");
    discovery_set_str(c, e, "dev_cla", "temperature");
    discovery_set_str(c, e, "unit_of_meas", "\xc2\xb0" "C");
    discovery_set_str(c, e, "ic", "mdi:thermometer-chevron-up");
}

static double or_default(double v, double fallback)
{
    return v > 0 ? v : fallback;
}

/* One number per heater of the profile, and the part cooling fan in percent. The firmware
 * does not report the fan's speed, so that number keeps what Home Assistant last set. */
static void numbers(struct discovery_ctx *c)
{
    const struct discovery_settings *s = c->s;
    for (int i = 0; i < s->extruders; i++) {
        char key[16], label[32], gcode[32];
        snprintf(key, sizeof key, "tool%d", i);
        snprintf(label, sizeof label, s->extruders == 1 ? "hotend" : "tool %d", i);
        snprintf(gcode, sizeof gcode, s->extruders == 1 ? "M104" : "M104 T%d", i);
        target_number(c, key, label, gcode, or_default(s->max_tool_temperature, 300));
    }
    if (s->heated_bed)
        target_number(c, "bed", "bed", "M140", or_default(s->max_bed_temperature, 120));
    if (s->heated_chamber)
        target_number(c, "chamber", "chamber", "M141", or_default(s->max_chamber_temperature, 80));

    char cmd[PUBLISHER_MAX_TOPIC];
    snprintf(cmd, sizeof cmd, "%s%s", s->base_topic, CMD_GCODE);
    json_t *e = discovery_entity(c, "number", "fan_speed", "Fan speed", true);
    discovery_set_str(c, e, "cmd_t", cmd);
    discovery_set_str(c, e, "cmd_tpl", "M106 S{{ (value * 255 / 100) | round | int }}");
    discovery_set_num(c, e, "min", 0);
    discovery_set_num(c, e, "max", 100);
    discovery_set_num(c, e, "step", 1);
    discovery_set_str(c, e, "unit_of_meas", "%");
    discovery_set_str(c, e, "ic", "mdi:fan");
}

/* The print events an automation waits for, and the event type each becomes. A PrintFailed
 * that only says "cancelled" follows every PrintCancelled (as in OctoPrint) and is left out,
 * so a cancel fires print_cancelled once rather than also print_failed. */
static const struct {
    const char *event, *type;
} print_events[] = {
    { "PrintStarted", "print_started" },     { "PrintDone", "print_done" },
    { "PrintFailed", "print_failed" },       { "PrintCancelled", "print_cancelled" },
    { "PrintPaused", "print_paused" },       { "PrintResumed", "print_resumed" },
};
#define N_PRINT_EVENTS (sizeof print_events / sizeof print_events[0])

const char *const *discovery_print_event_types(void)
{
    static const char *types[N_PRINT_EVENTS + 1];
    for (size_t i = 0; i < N_PRINT_EVENTS; i++)
        types[i] = print_events[i].type;
    return types;
}

int discovery_event_filter(char *out, size_t outsz, const struct discovery_settings *s)
{
    if (!s->event_topic || !s->event_topic[0])
        return -ENOENT;
    int n = publisher_topic(out, outsz, s->base_topic, s->event_topic, "event", "+");
    if (n < 0)
        return n;
    for (const char *p = strchr(out, '+'); p; p = strchr(p + 1, '+'))
        if ((p > out && p[-1] != '/') || (p[1] && p[1] != '/'))
            return -EINVAL;
    return n;
}

/* An event entity on every event topic: the template turns the print events into their
 * event type (with the file's name and path, and the reason of a failure) and everything else
 * into {}, which Home Assistant ignores. */
static void print_event(struct discovery_ctx *c)
{
    char topic[PUBLISHER_MAX_TOPIC];
    if (discovery_event_filter(topic, sizeof topic, c->s) < 0)
        return;
    struct strbuf b;
    strbuf_init(&b, SIZE_MAX);
    strbuf_puts(&b, "{% set t = {");
    for (size_t i = 0; i < N_PRINT_EVENTS; i++)
        strbuf_printf(&b, "%s'%s': '%s'", i ? ", " : "", print_events[i].event, print_events[i].type);
    strbuf_puts(&b, "}.get(value_json._event) if value_json.get('reason') != 'cancelled' else None %}"
                    "{{ {'event_type': t, 'name': value_json.get('name'), 'path': value_json.get('path'), "
                    "'reason': value_json.get('reason')} | tojson if t else '{}' }}");
    char *tpl = strbuf_take(&b);
    json_t *types = json_array();
    for (size_t i = 0; types && i < N_PRINT_EVENTS; i++)
        json_array_append_new(types, json_string(print_events[i].type));
    json_t *e = discovery_entity(c, "event", "print_event", "Print", false);
    if (!e || !tpl) {
        json_decref(types);
        c->oom = true;
    } else if (json_object_set_new(e, "evt_typ", types) < 0) {
        c->oom = true;
    }
    discovery_set_str(c, e, "stat_t", topic);
    if (tpl)
        discovery_set_str(c, e, "val_tpl", tpl);
    discovery_set_str(c, e, "ic", "mdi:printer-3d");
    free(tpl);
}

/* What a user looks at when something is wrong, under the device's diagnostics. */
static void diagnostics(struct discovery_ctx *c)
{
    const struct discovery_settings *s = c->s;
    json_t *e = state_sensor(c, "firmware", "Firmware", "{{ value_json.connection.firmware or None }}", NULL, NULL,
                             NULL, false);
    discovery_set_str(c, e, "ent_cat", "diagnostic");
    discovery_set_str(c, e, "ic", "mdi:chip");
    e = state_sensor(c, "resends", "Resends", "{{ value_json.resends.count }}", NULL, NULL, "total_increasing",
                     false);
    discovery_set_str(c, e, "ent_cat", "diagnostic");
    discovery_set_str(c, e, "ic", "mdi:swap-horizontal");
    char stats[PUBLISHER_MAX_TOPIC];
    if (s->stats_topic && s->stats_topic[0] &&
        fit(snprintf(stats, sizeof stats, "%s%s", s->base_topic, s->stats_topic), sizeof stats) >= 0) {
        e = discovery_entity(c, "sensor", "uptime", "Uptime", false);
        discovery_set_str(c, e, "stat_t", stats);
        discovery_set_str(c, e, "val_tpl", "{{ value_json.uptime }}");
        discovery_set_str(c, e, "dev_cla", "duration");
        discovery_set_str(c, e, "unit_of_meas", "s");
        discovery_set_str(c, e, "ent_cat", "diagnostic");
    }
    discovery_set_str(c, json_object_get(c->cmps, "connected"), "ent_cat", "diagnostic");
    discovery_set_str(c, json_object_get(c->cmps, "current_z"), "ent_cat", "diagnostic");
}

static void add_entities(struct discovery_ctx *c)
{
    const struct discovery_settings *s = c->s;

    json_t *e = state_sensor(c, "state", "State", "{{ value_json.state.text | lower | replace(' ', '_') }}", "enum",
                             NULL, NULL, false);
    json_t *opts = json_array();
    for (const char *const *o = discovery_state_options(); *o; o++)
        json_array_append_new(opts, json_string(*o));
    if (!e || !opts || json_object_set_new(e, "ops", opts) < 0)
        c->oom = true;
    discovery_set_str(c, e, "json_attr_t", c->state);
    discovery_set_str(c, e, "json_attr_tpl",
            "{{ {'error': value_json.state.error, 'port': value_json.connection.port, "
            "'firmware': value_json.connection.firmware} | tojson }}");
    discovery_set_str(c, e, "ic", "mdi:printer-3d");

    e = discovery_entity(c, "binary_sensor", "connected", "Connected", false);
    discovery_set_str(c, e, "stat_t", c->state);
    discovery_set_str(c, e, "val_tpl", "{{ 'ON' if value_json.state.flags.operational else 'OFF' }}");
    discovery_set_str(c, e, "dev_cla", "connectivity");

    e = discovery_entity(c, "binary_sensor", "printing", "Printing", true);
    discovery_set_str(c, e, "stat_t", c->state);
    discovery_set_str(c, e, "val_tpl", "{{ 'ON' if value_json.state.flags.printing else 'OFF' }}");
    discovery_set_str(c, e, "dev_cla", "running");

    e = state_sensor(c, "progress", "Progress", "{{ (value_json.progress.completion or 0) | round(1) }}", NULL, "%",
                     "measurement", true);
    discovery_set_str(c, e, "ic", "mdi:progress-clock");
    e = state_sensor(c, "file", "File", "{{ value_json.job.file.name or None }}", NULL, NULL, NULL, true);
    discovery_set_str(c, e, "ic", "mdi:file");
    state_sensor(c, "print_time", "Print time", "{{ value_json.progress.printTime or 0 }}", "duration", "s",
                 "measurement", true);
    state_sensor(c, "print_time_left", "Print time left", "{{ value_json.progress.printTimeLeft or 0 }}", "duration",
                 "s", "measurement", true);
    state_sensor(c, "eta", "Estimated finish", DISCOVERY_TPL_ETA, "timestamp", NULL, NULL, true);
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
    /* for a printer that halted (Klipper shut down): available whatever its state */
    button(c, "firmware_restart", "Firmware restart", CMD_CONNECTION, "{\"command\": \"firmware_restart\"}",
           "mdi:restart-alert", false);

    char gcode[PUBLISHER_MAX_TOPIC];
    snprintf(gcode, sizeof gcode, "%s%s", s->base_topic, CMD_GCODE);
    e = discovery_entity(c, "text", "gcode", "Send G-code", true);
    discovery_set_str(c, e, "cmd_t", gcode);
    discovery_set_str(c, e, "mode", "text");
    discovery_set_str(c, e, "ic", "mdi:console-line");

    /* the snapshot command's images, published on <base>camera (not retained) */
    if (s->camera) {
        char cam[PUBLISHER_MAX_TOPIC];
        snprintf(cam, sizeof cam, "%scamera", s->base_topic);
        e = discovery_entity(c, "camera", "camera", "Camera", false);
        discovery_set_str(c, e, "t", cam);
        discovery_set_str(c, e, "ic", "mdi:camera");
    }

    numbers(c);
    print_event(c);
    diagnostics(c);
}

/* The device: printbridge's node, with what the firmware said about the printer. */
static json_t *device(const struct discovery_settings *s)
{
    char name[DISCOVERY_MAX_ID + 32];
    if (s->device_name)
        snprintf(name, sizeof name, "%s", s->device_name);
    else
        snprintf(name, sizeof name, "printbridge %s", s->node_id);
    json_t *dev = json_pack("{s:[s], s:s, s:s, s:s}", "ids", s->node_id, "name", name, "mf", MANUFACTURER,
                            "mdl", MODEL);
    const char *keys[] = { "sw", "hw", "sn" }, *values[] = { s->firmware, s->machine, s->serial };
    for (int i = 0; dev && i < 3; i++)
        if (values[i] && values[i][0] && json_object_set_new(dev, keys[i], json_string(values[i])) < 0) {
            json_decref(dev);
            dev = NULL;
        }
    return dev;
}

/* The origin: printbridge, its version and support URL. */
json_t *discovery_origin(const struct discovery_settings *s)
{
    json_t *o = json_pack("{s:s, s:s}", "name", ORIGIN, "sw", s->sw_version ? s->sw_version : "unknown");
    if (o && s->support_url && s->support_url[0] && json_object_set_new(o, "url", json_string(s->support_url)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

char *discovery_config_json(const struct discovery_settings *s)
{
    struct discovery_ctx c = { 0 };
    char *out = NULL;

    if (discovery_ctx_init(&c, s) < 0)
        return NULL;
    json_t *dev = device(s), *o = discovery_origin(s);
    json_t *root = dev && o ? json_pack("{s:o, s:o, s:{}}", "dev", dev, "o", o, "cmps") : NULL;
    if (!root) {
        if (!dev || !o) {
            json_decref(dev);
            json_decref(o);
        }
        return NULL;
    }
    c.cmps = json_object_get(root, "cmps");
    add_entities(&c);
    if (!c.oom)
        out = pyjson_dumps(root);
    json_decref(root);
    return out;
}
