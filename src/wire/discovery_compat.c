/* discovery_compat.c: the OctoPrint-HomeAssistant entity set (docs/home-assistant.md 5).
 *
 * Users of that OctoPrint plugin have automations and dashboards on its entity ids. Home
 * Assistant keeps an entity id for a unique id, so announcing the plugin's entities with its
 * unique ids (<node_id>_CONNECTED, <node_id>_TOOL0, ...) on the topics it used
 * (<prefix>/<component>/<node_id>_<ID>/config, one message per entity) hands those entity
 * ids over to printbridge: the retained configs the plugin left on the broker are replaced in
 * place, and a device named like the plugin's ("OctoPrint") gives new installs the same ids.
 *
 * Only what makes sense without OctoPrint is announced; the values come from printbridge's own
 * topics (<base>state, <base>temperature/<key>, events, progress/slicing) and the controls send
 * to the hassControl/<control> topics the command router understands (docs/wire-format.md
 * 11.11). Names and payload values follow the plugin's ("True"/"False" switches, "PRESS"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery_impl.h"
#include "printbridge/base.h"

#define COMPAT_MODEL "OctoPrint-HomeAssistant compatibility"

static json_t *state_value(struct discovery_ctx *c, const char *platform, const char *id, const char *name,
                           const char *tpl, bool needs_printer)
{
    json_t *e = discovery_entity(c, platform, id, name, needs_printer);
    discovery_set_str(c, e, "stat_t", c->state);
    discovery_set_str(c, e, "val_tpl", tpl);
    return e;
}

static void with_class(struct discovery_ctx *c, json_t *e, const char *dev_cla, const char *unit, const char *icon)
{
    if (dev_cla)
        discovery_set_str(c, e, "dev_cla", dev_cla);
    if (unit)
        discovery_set_str(c, e, "unit_of_meas", unit);
    if (icon)
        discovery_set_str(c, e, "ic", icon);
}

/* The plugin's two sensors per heater: <ID> (actual) and <ID>_TARGET. */
static void heater(struct discovery_ctx *c, const char *key, const char *id, const char *label, const char *icon)
{
    char topic[PUBLISHER_MAX_TOPIC], tpl[160], object[48], name[64];
    for (int target = 0; target < 2; target++) {
        if (!discovery_heater_source(c, key, target, topic, sizeof topic, tpl, sizeof tpl))
            continue;
        snprintf(object, sizeof object, "%s%s", id, target ? "_TARGET" : "");
        snprintf(name, sizeof name, "%s %s", label, target ? "Target" : "Temperature");
        json_t *e = discovery_entity(c, "sensor", object, name, true);
        discovery_set_str(c, e, "stat_t", topic);
        discovery_set_str(c, e, "val_tpl", tpl);
        with_class(c, e, "temperature", "\xc2\xb0" "C", icon);
    }
}

/* A control on <base>hassControl/<control>. */
static json_t *control(struct discovery_ctx *c, const char *platform, const char *id, const char *name,
                       const char *what, bool needs_printer)
{
    char topic[PUBLISHER_MAX_TOPIC];
    snprintf(topic, sizeof topic, "%shassControl/%s", c->s->base_topic, what);
    json_t *e = discovery_entity(c, platform, id, name, needs_printer);
    discovery_set_str(c, e, "cmd_t", topic);
    return e;
}

static void sensors(struct discovery_ctx *c)
{
    const struct discovery_settings *s = c->s;
    json_t *e = state_value(c, "binary_sensor", "CONNECTED", "Connected",
                            "{{ 'ON' if value_json.state.flags.operational else 'OFF' }}", false);
    with_class(c, e, "connectivity", NULL, NULL);
    state_value(c, "binary_sensor", "PRINTING", "Printing", "{{ 'ON' if value_json.state.flags.printing else 'OFF' }}",
                true);

    char events[PUBLISHER_MAX_TOPIC];
    if (discovery_event_filter(events, sizeof events, s) >= 0) {
        e = discovery_entity(c, "sensor", "EVENT", "Last Event", false);
        discovery_set_str(c, e, "stat_t", events);
        discovery_set_str(c, e, "val_tpl", "{{ value_json._event }}");
    }

    e = state_value(c, "sensor", "PRINTING_S", "Print Status", "{{ value_json.state.text }}", false);
    discovery_set_str(c, e, "json_attr_t", c->state);
    discovery_set_str(c, e, "json_attr_tpl", "{{ value_json.state | tojson }}");
    e = state_value(c, "sensor", "PRINTING_P", "Print Progress", "{{ (value_json.progress.completion or 0) | round(1) }}",
                    true);
    with_class(c, e, NULL, "%", NULL);
    discovery_set_str(c, e, "json_attr_t", c->state);
    discovery_set_str(c, e, "json_attr_tpl", "{{ value_json.progress | tojson }}");
    e = state_value(c, "sensor", "PRINTING_F", "Print File", "{{ value_json.job.file.path or None }}", true);
    with_class(c, e, NULL, NULL, "mdi:file");
    e = state_value(c, "sensor", "PRINTING_T", "Print Time", "{{ value_json.progress.printTime or 0 }}", true);
    with_class(c, e, "duration", "s", "mdi:clock-start");
    e = state_value(c, "sensor", "PRINTING_E", "Print Time Left", "{{ value_json.progress.printTimeLeft or 0 }}", true);
    with_class(c, e, "duration", "s", "mdi:clock-end");
    e = state_value(c, "sensor", "PRINTING_ETA", "Approximate Total Print Time",
                    "{{ value_json.job.estimatedPrintTime or None }}", true);
    with_class(c, e, "duration", "s", NULL);
    e = state_value(c, "sensor", "PRINTING_C", "Approximate Completion Time", DISCOVERY_TPL_ETA, true);
    with_class(c, e, "timestamp", NULL, NULL);
    e = state_value(c, "sensor", "PRINTING_Z", "Current Z",
                    "{{ value_json.currentZ if value_json.currentZ is number else None }}", true);
    with_class(c, e, "distance", "mm", "mdi:axis-z-arrow");

    char slicing[PUBLISHER_MAX_TOPIC];
    if (s->progress_topic && s->progress_topic[0] &&
        publisher_topic(slicing, sizeof slicing, s->base_topic, s->progress_topic, "progress", "slicing") > 0) {
        e = discovery_entity(c, "sensor", "SLICING_P", "Slicing Progress", false);
        discovery_set_str(c, e, "stat_t", slicing);
        discovery_set_str(c, e, "val_tpl", "{{ value_json.progress }}");
        with_class(c, e, NULL, "%", NULL);
        e = discovery_entity(c, "sensor", "SLICING_F", "Slicing File", false);
        discovery_set_str(c, e, "stat_t", slicing);
        discovery_set_str(c, e, "val_tpl", "{{ value_json.source_path }}");
        with_class(c, e, NULL, NULL, "mdi:file");
    }

    for (int i = 0; i < s->extruders; i++) {
        char key[16], id[16], label[32];
        snprintf(key, sizeof key, "tool%d", i);
        snprintf(id, sizeof id, "TOOL%d", i);
        snprintf(label, sizeof label, "Tool %d", i);
        heater(c, key, id, label, "mdi:printer-3d-nozzle");
    }
    if (s->heated_bed)
        heater(c, "bed", "BED", "Bed", "mdi:radiator");
    if (s->heated_chamber)
        heater(c, "chamber", "CHAMBER", "Chamber", "mdi:radiator");
}

/* The plugin's controls; its switches send "True"/"False", its buttons "PRESS". */
static void controls(struct discovery_ctx *c)
{
    json_t *e = control(c, "switch", "CONNECT", "Connect to printer", "connect", false);
    discovery_set_str(c, e, "stat_t", c->state);
    discovery_set_str(c, e, "val_tpl", "{{ 'True' if value_json.state.flags.operational else 'False' }}");
    discovery_set_str(c, e, "pl_on", "True");
    discovery_set_str(c, e, "pl_off", "False");
    discovery_set_str(c, e, "ic", "mdi:lan-connect");

    e = control(c, "button", "STOP", "Emergency Stop", "stop", true);
    discovery_set_str(c, e, "pl_prs", "PRESS");
    discovery_set_str(c, e, "ic", "mdi:alert-octagon");
    e = control(c, "button", "CANCEL", "Cancel Print", "cancel", true);
    discovery_set_str(c, e, "pl_prs", "PRESS");
    discovery_set_str(c, e, "ic", "mdi:cancel");

    e = control(c, "switch", "PAUSE", "Pause Print", "pause", true);
    discovery_set_str(c, e, "stat_t", c->state);
    discovery_set_str(c, e, "val_tpl",
                      "{{ 'True' if value_json.state.flags.paused or value_json.state.flags.pausing else 'False' }}");
    discovery_set_str(c, e, "pl_on", "True");
    discovery_set_str(c, e, "pl_off", "False");
    discovery_set_str(c, e, "ic", "mdi:pause");
}

/* The plugin's device: its node id and name, marked as reached through printbridge's. */
static json_t *device(const struct discovery_settings *s)
{
    const char *name = s->octoprint_node_name && s->octoprint_node_name[0] ? s->octoprint_node_name : "OctoPrint";
    return json_pack("{s:[s], s:s, s:s, s:s, s:s}", "ids", s->octoprint_node_id, "name", name, "mf", "printbridge",
                     "mdl", COMPAT_MODEL, "via_device", s->node_id);
}

/* One message per component: its config with the device and origin, without "p" (the
 * component is in the topic). */
static int split(const struct discovery_settings *s, json_t *cmps, bool payloads, struct discovery_message *out)
{
    const char *id;
    json_t *e;
    int n = 0;
    json_object_foreach(cmps, id, e) {
        char topic[PUBLISHER_MAX_TOPIC];
        const char *platform = json_string_value(json_object_get(e, "p"));
        if (snprintf(topic, sizeof topic, "%s/%s/%s_%s/config", s->prefix, platform, s->octoprint_node_id, id) >=
            (int)sizeof topic)
            continue;
        struct discovery_message *m = &out[n];
        if (!(m->topic = strdup(topic)))
            return -ENOMEM;
        n++;
        if (!payloads)
            continue;
        json_t *cfg = json_deep_copy(e), *dev = device(s), *o = discovery_origin(s);
        if (cfg && dev && o) {
            json_object_del(cfg, "p");
            json_object_set(cfg, "dev", dev);
            json_object_set(cfg, "o", o);
            m->payload = pyjson_dumps(cfg);
        }
        json_decref(cfg);
        json_decref(dev);
        json_decref(o);
        if (!m->payload)
            return -ENOMEM;
    }
    return n;
}

int discovery_compat_messages(const struct discovery_settings *s, bool payloads, struct discovery_message **out)
{
    struct discovery_ctx c = { 0 };
    *out = NULL;
    if (!s->octoprint_node_id || !s->octoprint_node_id[0] || discovery_ctx_init(&c, s) < 0)
        return 0;
    c.id_prefix = s->octoprint_node_id;
    if (!(c.cmps = json_object()))
        return -ENOMEM;
    sensors(&c);
    controls(&c);
    size_t size = json_object_size(c.cmps);
    struct discovery_message *m = c.oom ? NULL : calloc(size, sizeof *m);
    int n = m ? split(s, c.cmps, payloads, m) : -ENOMEM;
    json_decref(c.cmps);
    if (n < 0) {
        discovery_messages_free(m, (int)size);
        return n;
    }
    *out = m;
    return n;
}
