/* test_discovery.c: the Home Assistant discovery payload (docs/wire-format.md 12). */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/wire.h"

static struct discovery_settings settings(void)
{
    return (struct discovery_settings){
        .enabled = true, .prefix = "homeassistant", .node_id = "ender3", .device_name = "Ender 3",
        .base_topic = "octoprint/", .state_topic = "state", .status_topic = "mqtt",
        .temperature_topic = "temperature/{temp}", .extruders = 1, .heated_bed = true,
        .heated_chamber = false, .republish_delay = 5, .sw_version = "1.2.3",
        .event_topic = "event/{event}", .progress_topic = "progress/{progress}", .stats_topic = "stats",
        .max_tool_temperature = 280, .max_bed_temperature = 110, .max_chamber_temperature = 70,
    };
}

static json_t *config(const struct discovery_settings *s, char **raw)
{
    char *text = discovery_config_json(s);
    ck_assert_ptr_nonnull(text);
    json_error_t e;
    json_t *root = json_loads(text, 0, &e);
    ck_assert_msg(root != NULL, "not JSON: %s", e.text);
    if (raw)
        *raw = text;
    else
        free(text);
    return root;
}

static json_t *cmp(json_t *root, const char *id)
{
    return json_object_get(json_object_get(root, "cmps"), id);
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

START_TEST(test_node_id_from_client_id_keeps_only_allowed_bytes)
{
    char out[DISCOVERY_MAX_ID];
    ck_assert_int_eq(discovery_node_id_from(out, sizeof out, "printbridge-pi-octoprint"), 24);
    ck_assert_str_eq(out, "printbridge-pi-octoprint");
    ck_assert_int_eq(discovery_node_id_from(out, sizeof out, "a b/c+\xc3\xa9_d"), 10);
    ck_assert_str_eq(out, "a_b_c____d");
    ck_assert_int_eq(discovery_node_id_from(out, sizeof out, ""), -EINVAL);
    ck_assert_int_eq(discovery_node_id_from(out, 4, "long"), -EINVAL);
}
END_TEST

START_TEST(test_topics_use_the_configured_prefix)
{
    char t[256];
    ck_assert_int_gt(discovery_config_topic(t, sizeof t, "ha/discovery", "ender3"), 0);
    ck_assert_str_eq(t, "ha/discovery/device/ender3/config");
    ck_assert_int_gt(discovery_birth_topic(t, sizeof t, "ha/discovery"), 0);
    ck_assert_str_eq(t, "ha/discovery/status");
    ck_assert_int_eq(discovery_config_topic(t, 10, "homeassistant", "ender3"), -1);
}
END_TEST

START_TEST(test_state_options_cover_every_state_once)
{
    const char *const *o = discovery_state_options();
    int n = 0, offline = 0;
    bool operational = false, printing = false, after_error = false;
    for (; o[n]; n++) {
        offline += strcmp(o[n], "offline") == 0;
        operational |= strcmp(o[n], "operational") == 0;
        printing |= strcmp(o[n], "printing") == 0;
        after_error |= strcmp(o[n], "offline_after_error") == 0;
        ck_assert_ptr_null(strchr(o[n], ' '));
    }
    ck_assert_int_eq(offline, 1);
    ck_assert(operational && printing && after_error);
}
END_TEST

/* 13.2: dev and o at the root, every component with p and a unique id */
START_TEST(test_device_config_has_device_origin_and_components)
{
    struct discovery_settings s = settings();
    char *raw;
    json_t *root = config(&s, &raw);
    json_t *dev = json_object_get(root, "dev");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(dev, "ids"), 0)), "ender3");
    ck_assert_str_eq(str(dev, "name"), "Ender 3");
    ck_assert_ptr_nonnull(str(dev, "mf"));
    ck_assert_ptr_nonnull(str(dev, "mdl"));
    /* the firmware's identity is unknown until the printer reported it */
    ck_assert_ptr_null(json_object_get(dev, "sw"));
    ck_assert_ptr_null(json_object_get(dev, "hw"));
    ck_assert_ptr_null(json_object_get(dev, "sn"));
    ck_assert_str_eq(str(json_object_get(root, "o"), "name"), "printbridge");
    ck_assert_str_eq(str(json_object_get(root, "o"), "sw"), "1.2.3");
    ck_assert_ptr_null(json_object_get(json_object_get(root, "o"), "url"));
    const char *id;
    json_t *c;
    size_t n = 0;
    json_object_foreach(json_object_get(root, "cmps"), id, c) {
        char want[128];
        snprintf(want, sizeof want, "ender3_%s", id);
        ck_assert_ptr_nonnull(str(c, "p"));
        ck_assert_str_eq(str(c, "uniq_id"), want);
        ck_assert_str_eq(str(c, "avty_mode"), "all");
        ck_assert_str_eq(str(json_array_get(json_object_get(c, "avty"), 0), "t"), "octoprint/mqtt");
        n++;
    }
    /* 9 printer sensors, 2 per heater (tool0, bed), 7 buttons, 1 text, a number per heater and
     * the fan, the print event, 3 diagnostic sensors */
    ck_assert_uint_eq(n, 9 + 4 + 7 + 1 + 3 + 1 + 3);
    /* json.dumps bytes: the degree sign escaped in lower case */
    ck_assert_ptr_nonnull(strstr(raw, "\"unit_of_meas\": \"\\u00b0C\""));
    ck_assert_uint_lt(strlen(raw), 16384);
    free(raw);
    json_decref(root);
}
END_TEST

START_TEST(test_entities_have_home_assistant_classes_and_units)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    json_t *st = cmp(root, "state");
    ck_assert_str_eq(str(st, "p"), "sensor");
    ck_assert_str_eq(str(st, "dev_cla"), "enum");
    ck_assert_int_gt((int)json_array_size(json_object_get(st, "ops")), 5);
    ck_assert_str_eq(str(cmp(root, "connected"), "dev_cla"), "connectivity");
    ck_assert_str_eq(str(cmp(root, "printing"), "dev_cla"), "running");
    ck_assert_str_eq(str(cmp(root, "progress"), "unit_of_meas"), "%");
    ck_assert_str_eq(str(cmp(root, "print_time"), "dev_cla"), "duration");
    ck_assert_str_eq(str(cmp(root, "print_time_left"), "unit_of_meas"), "s");
    ck_assert_str_eq(str(cmp(root, "eta"), "dev_cla"), "timestamp");
    ck_assert_str_eq(str(cmp(root, "current_z"), "unit_of_meas"), "mm");
    json_t *t = cmp(root, "tool0_temperature");
    ck_assert_str_eq(str(t, "dev_cla"), "temperature");
    ck_assert_str_eq(str(t, "unit_of_meas"), "\xc2\xb0" "C");
    ck_assert_str_eq(str(t, "stat_cla"), "measurement");
    ck_assert_str_eq(str(t, "stat_t"), "octoprint/temperature/tool0");
    ck_assert_str_eq(str(cmp(root, "bed_target"), "stat_t"), "octoprint/temperature/bed");
    ck_assert_ptr_null(cmp(root, "chamber_temperature"));
    json_decref(root);
}
END_TEST

/* Buttons send what the inbound command router understands. */
START_TEST(test_buttons_and_text_use_the_command_topics)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    ck_assert_str_eq(str(cmp(root, "pause"), "cmd_t"), "octoprint/command/job");
    ck_assert_str_eq(str(cmp(root, "pause"), "pl_prs"), "{\"command\": \"pause\"}");
    ck_assert_str_eq(str(cmp(root, "resume"), "pl_prs"), "{\"command\": \"resume\"}");
    ck_assert_str_eq(str(cmp(root, "cancel"), "pl_prs"), "{\"command\": \"cancel\"}");
    ck_assert_str_eq(str(cmp(root, "emergency_stop"), "cmd_t"), "octoprint/command/gcode");
    ck_assert_str_eq(str(cmp(root, "emergency_stop"), "pl_prs"), "M112");
    ck_assert_str_eq(str(cmp(root, "connect"), "cmd_t"), "octoprint/command/connection");
    ck_assert_str_eq(str(cmp(root, "disconnect"), "pl_prs"), "{\"command\": \"disconnect\"}");
    ck_assert_str_eq(str(cmp(root, "firmware_restart"), "cmd_t"), "octoprint/command/connection");
    ck_assert_str_eq(str(cmp(root, "firmware_restart"), "pl_prs"), "{\"command\": \"firmware_restart\"}");
    ck_assert_str_eq(str(cmp(root, "gcode"), "p"), "text");
    ck_assert_str_eq(str(cmp(root, "gcode"), "cmd_t"), "octoprint/command/gcode");
    json_decref(root);
}
END_TEST

/* a camera entity only when a snapshot command is configured */
START_TEST(test_camera_entity_only_with_a_snapshot_command)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    ck_assert_ptr_null(cmp(root, "camera"));
    json_decref(root);
    s.camera = true;
    root = config(&s, NULL);
    ck_assert_str_eq(str(cmp(root, "camera"), "p"), "camera");
    ck_assert_str_eq(str(cmp(root, "camera"), "t"), "octoprint/camera");
    ck_assert_str_eq(str(cmp(root, "camera"), "uniq_id"), "ender3_camera");
    ck_assert_uint_eq(json_array_size(json_object_get(cmp(root, "camera"), "avty")), 1);
    json_decref(root);
}
END_TEST

/* 13.5: the printer link is a second availability source, except where it must not be */
START_TEST(test_connect_stays_available_without_a_printer)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(cmp(root, "connect"), "avty")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(cmp(root, "state"), "avty")), 1);
    json_t *a = json_object_get(cmp(root, "tool0_temperature"), "avty");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(str(json_array_get(a, 1), "t"), "octoprint/state");
    ck_assert_ptr_nonnull(strstr(str(json_array_get(a, 1), "val_tpl"), "flags.operational"));
    json_decref(root);
}
END_TEST

START_TEST(test_every_heater_of_the_profile_gets_two_sensors)
{
    struct discovery_settings s = settings();
    s.extruders = 2;
    s.heated_chamber = true;
    s.heated_bed = false;
    json_t *root = config(&s, NULL);
    const char *want[] = { "tool0_temperature", "tool0_target", "tool1_temperature", "tool1_target",
                           "chamber_temperature", "chamber_target" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(cmp(root, want[i]) != NULL, "missing %s", want[i]);
    ck_assert_ptr_null(cmp(root, "bed_temperature"));
    ck_assert_str_eq(str(cmp(root, "tool1_target"), "name"), "Tool 1 target");
    json_decref(root);
}
END_TEST

START_TEST(test_switched_off_topics_change_the_sources)
{
    struct discovery_settings s = settings();
    s.temperature_topic = "";
    s.status_topic = "";
    s.device_name = NULL;
    json_t *root = config(&s, NULL);
    json_t *t = cmp(root, "bed_temperature");
    ck_assert_str_eq(str(t, "stat_t"), "octoprint/state");
    ck_assert_ptr_nonnull(strstr(str(t, "val_tpl"), "value_json.temperature['bed'].actual"));
    ck_assert_ptr_null(json_object_get(cmp(root, "connect"), "avty"));
    ck_assert_uint_eq(json_array_size(json_object_get(t, "avty")), 1);
    ck_assert_str_eq(str(json_object_get(root, "dev"), "name"), "printbridge ender3");
    json_decref(root);
    s.state_topic = "";
    ck_assert_ptr_null(discovery_config_json(&s));
}
END_TEST

/* ---- checked against Home Assistant's MQTT documentation ----------------------------------
 * Each platform's options (https://www.home-assistant.io/integrations/<platform>.mqtt/) under
 * the abbreviations of its discovery documentation, the required ones, and the device
 * classes and units each platform accepts. An unknown key is ignored by Home Assistant, so a
 * typo in an abbreviation would silently lose an option: every key must be one of these. */

static const char *const common_keys[] = {
    "p", "name", "uniq_id", "avty", "avty_mode", "ic", "ent_cat", "json_attr_t", "json_attr_tpl", "dev", "o",
    "en", "obj_id", "qos", NULL,
};

static const struct platform_rule {
    const char *platform;
    const char *required[3];
    const char *keys[14];
    const char *classes[8];     /* "": no device class */
} platforms[] = {
    { "sensor", { "stat_t" }, { "stat_t", "val_tpl", "dev_cla", "unit_of_meas", "stat_cla", "sug_dsp_prc", "ops" },
      { "", "enum", "duration", "timestamp", "distance", "temperature" } },
    { "binary_sensor", { "stat_t" }, { "stat_t", "val_tpl", "dev_cla", "pl_on", "pl_off" },
      { "", "connectivity", "running" } },
    { "button", { "cmd_t" }, { "cmd_t", "pl_prs", "cmd_tpl", "dev_cla", "ret" }, { "" } },
    { "number", { "cmd_t" }, { "cmd_t", "cmd_tpl", "stat_t", "val_tpl", "min", "max", "step", "mode", "dev_cla",
                               "unit_of_meas", "pl_rst" }, { "", "temperature" } },
    { "event", { "stat_t", "evt_typ" }, { "stat_t", "evt_typ", "val_tpl", "dev_cla" }, { "" } },
    { "switch", { "cmd_t" }, { "cmd_t", "stat_t", "val_tpl", "pl_on", "pl_off", "stat_on", "stat_off", "dev_cla" },
      { "" } },
    { "text", { "cmd_t" }, { "cmd_t", "cmd_tpl", "stat_t", "val_tpl", "mode", "min", "max", "ptrn" }, { "" } },
    { "camera", { "t" }, { "t", "img_e" }, { "" } },
};

/* the unit each device class takes here ("" none), as Home Assistant's sensor documentation lists */
static const char *const class_units[][2] = {
    { "", "" }, { "", "%" }, { "enum", "" }, { "duration", "s" }, { "timestamp", "" }, { "distance", "mm" },
    { "temperature", "\xc2\xb0" "C" }, { "connectivity", "" }, { "running", "" },
};

static bool listed(const char *const *list, size_t n, const char *v)
{
    for (size_t i = 0; i < n && list[i]; i++)
        if (strcmp(list[i], v) == 0)
            return true;
    return false;
}

static void check_component(const char *id, json_t *c, const char *platform)
{
    const struct platform_rule *r = NULL;
    for (size_t i = 0; i < sizeof platforms / sizeof platforms[0]; i++)
        if (strcmp(platforms[i].platform, platform) == 0)
            r = &platforms[i];
    ck_assert_msg(r != NULL, "%s: platform %s is not one printbridge should announce", id, platform);
    for (size_t i = 0; i < 3 && r->required[i]; i++)
        ck_assert_msg(json_object_get(c, r->required[i]) != NULL, "%s: %s lacks the required %s", id, platform,
                      r->required[i]);
    const char *key;
    json_t *v;
    json_object_foreach(c, key, v) {
        ck_assert_msg(listed(common_keys, 64, key) || listed(r->keys, 14, key), "%s: %s has no option '%s'", id,
                      platform, key);
    }
    const char *cla = str(c, "dev_cla") ? str(c, "dev_cla") : "";
    const char *unit = str(c, "unit_of_meas") ? str(c, "unit_of_meas") : "";
    ck_assert_msg(listed(r->classes, 8, cla), "%s: %s takes no device class '%s'", id, platform, cla);
    bool unit_ok = false;
    for (size_t i = 0; i < sizeof class_units / sizeof class_units[0]; i++)
        unit_ok |= strcmp(class_units[i][0], cla) == 0 && strcmp(class_units[i][1], unit) == 0;
    ck_assert_msg(unit_ok, "%s: unit '%s' does not go with device class '%s'", id, unit, cla);
    if (json_object_get(c, "ent_cat"))
        ck_assert_str_eq(str(c, "ent_cat"), "diagnostic");
    if (json_object_get(c, "stat_cla"))
        ck_assert_msg(strcmp(cla, "enum") != 0 && strcmp(cla, "timestamp") != 0, "%s: %s with a state class", id, cla);
    json_t *a;
    size_t k;
    json_array_foreach(json_object_get(c, "avty"), k, a) {
        ck_assert_ptr_nonnull(str(a, "t"));
    }
}

START_TEST(test_every_component_uses_documented_keys_classes_and_units)
{
    struct discovery_settings s = settings();
    s.extruders = 2;
    s.heated_chamber = true;
    s.camera = true;
    s.octoprint_node_id = "a1b2c3";
    json_t *root = config(&s, NULL);
    const char *id;
    json_t *c;
    json_object_foreach(json_object_get(root, "cmps"), id, c) {
        check_component(id, c, str(c, "p"));
    }
    json_decref(root);
    struct discovery_message *m;
    int n = discovery_compat_messages(&s, true, &m);
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) {
        char platform[32];
        ck_assert_int_eq(sscanf(m[i].topic, "homeassistant/%31[a-z_]/", platform), 1);
        json_t *cfg = json_loads(m[i].payload, 0, NULL);
        ck_assert_ptr_nonnull(cfg);
        ck_assert_ptr_null(json_object_get(cfg, "p"));
        check_component(m[i].topic, cfg, platform);
        json_decref(cfg);
    }
    discovery_messages_free(m, n);
}
END_TEST

/* what a user looks at when something is wrong sits under the device's diagnostics */
START_TEST(test_diagnostic_entities_have_their_category)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    const char *diag[] = { "connected", "current_z", "firmware", "resends", "uptime" };
    for (size_t i = 0; i < sizeof diag / sizeof diag[0]; i++)
        ck_assert_msg(str(cmp(root, diag[i]), "ent_cat") && strcmp(str(cmp(root, diag[i]), "ent_cat"), "diagnostic") == 0,
                      "%s is not a diagnostic entity", diag[i]);
    ck_assert_ptr_null(json_object_get(cmp(root, "progress"), "ent_cat"));
    ck_assert_ptr_null(json_object_get(cmp(root, "pause"), "ent_cat"));
    ck_assert_str_eq(str(cmp(root, "firmware"), "val_tpl"), "{{ value_json.connection.firmware or None }}");
    ck_assert_str_eq(str(cmp(root, "resends"), "stat_cla"), "total_increasing");
    ck_assert_str_eq(str(cmp(root, "uptime"), "stat_t"), "octoprint/stats");
    ck_assert_str_eq(str(cmp(root, "uptime"), "dev_cla"), "duration");
    json_decref(root);
    s.stats_topic = "";     /* stats off: nothing to read the uptime from */
    root = config(&s, NULL);
    ck_assert_ptr_null(cmp(root, "uptime"));
    json_decref(root);
}
END_TEST

START_TEST(test_device_shows_the_firmware_and_origin_its_url)
{
    struct discovery_settings s = settings();
    s.firmware = "Marlin 2.1.2 (Github)";
    s.machine = "Ender-3 V2";
    s.serial = "cede2a2f-41a2-4748-9b12-c55c62f367ff";
    s.support_url = "https://printbridge.example/support";
    char *raw;
    json_t *root = config(&s, &raw);
    json_t *dev = json_object_get(root, "dev");
    ck_assert_str_eq(str(dev, "sw"), "Marlin 2.1.2 (Github)");
    ck_assert_str_eq(str(dev, "hw"), "Ender-3 V2");
    ck_assert_str_eq(str(dev, "sn"), "cede2a2f-41a2-4748-9b12-c55c62f367ff");
    ck_assert_str_eq(str(json_object_get(root, "o"), "url"), "https://printbridge.example/support");
    ck_assert_ptr_nonnull(strstr(raw, "\"o\": {\"name\": \"printbridge\", \"sw\": \"1.2.3\", \"url\": "));
    free(raw);
    json_decref(root);
}
END_TEST

/* a number per heater of the profile and the fan, bounded by the profile, sending G-code */
START_TEST(test_numbers_set_targets_through_the_gcode_topic)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    json_t *n = cmp(root, "tool0_set_target");
    ck_assert_str_eq(str(n, "p"), "number");
    ck_assert_str_eq(str(n, "name"), "Set hotend target");
    ck_assert_str_eq(str(n, "cmd_t"), "octoprint/command/gcode");
    ck_assert_str_eq(str(n, "cmd_tpl"), "M104 S{{ value | int }}");
    ck_assert_str_eq(str(n, "stat_t"), "octoprint/temperature/tool0");
    ck_assert_str_eq(str(n, "val_tpl"), "{{ value_json.target or 0 }}");
    ck_assert_int_eq(json_integer_value(json_object_get(n, "min")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(n, "max")), 280);
    n = cmp(root, "bed_set_target");
    ck_assert_str_eq(str(n, "cmd_tpl"), "M140 S{{ value | int }}");
    ck_assert_int_eq(json_integer_value(json_object_get(n, "max")), 110);
    ck_assert_ptr_null(cmp(root, "chamber_set_target"));
    n = cmp(root, "fan_speed");
    ck_assert_str_eq(str(n, "cmd_t"), "octoprint/command/gcode");
    ck_assert_str_eq(str(n, "cmd_tpl"), "M106 S{{ (value * 255 / 100) | round | int }}");
    ck_assert_int_eq(json_integer_value(json_object_get(n, "max")), 100);
    ck_assert_str_eq(str(n, "unit_of_meas"), "%");
    json_decref(root);

    s.extruders = 2;
    s.heated_chamber = true;
    s.temperature_topic = "";
    s.max_chamber_temperature = 0;      /* unset: the configuration's default */
    root = config(&s, NULL);
    ck_assert_str_eq(str(cmp(root, "tool1_set_target"), "cmd_tpl"), "M104 T1 S{{ value | int }}");
    ck_assert_str_eq(str(cmp(root, "tool1_set_target"), "name"), "Set tool 1 target");
    ck_assert_str_eq(str(cmp(root, "tool0_set_target"), "cmd_tpl"), "M104 T0 S{{ value | int }}");
    ck_assert_str_eq(str(cmp(root, "chamber_set_target"), "cmd_tpl"), "M141 S{{ value | int }}");
    ck_assert_int_eq(json_integer_value(json_object_get(cmp(root, "chamber_set_target"), "max")), 80);
    ck_assert_str_eq(str(cmp(root, "tool1_set_target"), "stat_t"), "octoprint/state");
    json_decref(root);
}
END_TEST

START_TEST(test_print_event_entity_reads_every_event_topic)
{
    struct discovery_settings s = settings();
    json_t *root = config(&s, NULL);
    json_t *e = cmp(root, "print_event");
    ck_assert_str_eq(str(e, "p"), "event");
    ck_assert_str_eq(str(e, "stat_t"), "octoprint/event/+");
    json_t *types = json_object_get(e, "evt_typ");
    const char *const *want = discovery_print_event_types();
    size_t i = 0;
    for (; want[i]; i++)
        ck_assert_str_eq(json_string_value(json_array_get(types, i)), want[i]);
    ck_assert_uint_eq(i, 6);
    ck_assert_uint_eq(json_array_size(types), 6);
    ck_assert_ptr_nonnull(strstr(str(e, "val_tpl"), "'PrintDone': 'print_done'"));
    ck_assert_uint_eq(json_array_size(json_object_get(e, "avty")), 1);
    json_decref(root);

    s.event_topic = "events";       /* one topic for every event */
    root = config(&s, NULL);
    ck_assert_str_eq(str(cmp(root, "print_event"), "stat_t"), "octoprint/events");
    json_decref(root);
    s.event_topic = "ev_{event}";   /* no wildcard can stand for part of a level */
    root = config(&s, NULL);
    ck_assert_ptr_null(cmp(root, "print_event"));
    json_decref(root);
    s.event_topic = "";
    root = config(&s, NULL);
    ck_assert_ptr_null(cmp(root, "print_event"));
    json_decref(root);
}
END_TEST

/* the OctoPrint-HomeAssistant plugin's topics, unique ids and names, on their own device */
START_TEST(test_compat_entities_use_the_plugins_topics_and_ids)
{
    struct discovery_settings s = settings();
    struct discovery_message *m;
    ck_assert_int_eq(discovery_compat_messages(&s, true, &m), 0);   /* off by default */
    s.octoprint_node_id = "3f2a9c";
    s.octoprint_node_name = "OctoPrint";
    int n = discovery_compat_messages(&s, true, &m);
    /* 2 binary sensors, last event, 8 print sensors, 2 slicing, 4 temperatures, 2 switches, 2 buttons */
    ck_assert_int_eq(n, 2 + 1 + 8 + 2 + 4 + 4);
    const char *want[][3] = {
        { "homeassistant/binary_sensor/3f2a9c_CONNECTED/config", "Connected", "octoprint/state" },
        { "homeassistant/sensor/3f2a9c_EVENT/config", "Last Event", "octoprint/event/+" },
        { "homeassistant/sensor/3f2a9c_PRINTING_S/config", "Print Status", "octoprint/state" },
        { "homeassistant/sensor/3f2a9c_PRINTING_C/config", "Approximate Completion Time", "octoprint/state" },
        { "homeassistant/sensor/3f2a9c_SLICING_P/config", "Slicing Progress", "octoprint/progress/slicing" },
        { "homeassistant/sensor/3f2a9c_TOOL0/config", "Tool 0 Temperature", "octoprint/temperature/tool0" },
        { "homeassistant/sensor/3f2a9c_BED_TARGET/config", "Bed Target", "octoprint/temperature/bed" },
        { "homeassistant/switch/3f2a9c_CONNECT/config", "Connect to printer", "octoprint/state" },
        { "homeassistant/switch/3f2a9c_PAUSE/config", "Pause Print", "octoprint/state" },
        { "homeassistant/button/3f2a9c_STOP/config", "Emergency Stop", NULL },
        { "homeassistant/button/3f2a9c_CANCEL/config", "Cancel Print", NULL },
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int i = 0;
        while (i < n && strcmp(m[i].topic, want[w][0]) != 0)
            i++;
        ck_assert_msg(i < n, "no config on %s", want[w][0]);
        json_t *cfg = json_loads(m[i].payload, 0, NULL);
        char uid[64];
        sscanf(want[w][0], "homeassistant/%*[a-z_]/%63[^/]", uid);
        ck_assert_str_eq(str(cfg, "uniq_id"), uid);
        ck_assert_str_eq(str(cfg, "name"), want[w][1]);
        if (want[w][2])
            ck_assert_str_eq(str(cfg, "stat_t"), want[w][2]);
        json_t *dev = json_object_get(cfg, "dev");
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(dev, "ids"), 0)), "3f2a9c");
        ck_assert_str_eq(str(dev, "name"), "OctoPrint");
        ck_assert_str_eq(str(dev, "via_device"), "ender3");
        ck_assert_str_eq(str(json_object_get(cfg, "o"), "name"), "printbridge");
        json_decref(cfg);
    }
    for (int i = 0; i < n; i++)
        if (strstr(m[i].topic, "/switch/") || strstr(m[i].topic, "/button/")) {
            json_t *cfg = json_loads(m[i].payload, 0, NULL);
            ck_assert_msg(strncmp(str(cfg, "cmd_t"), "octoprint/hassControl/", 22) == 0, "%s: %s", m[i].topic,
                          str(cfg, "cmd_t"));
            json_decref(cfg);
        }
    discovery_messages_free(m, n);
    /* topics only, to remove them */
    n = discovery_compat_messages(&s, false, &m);
    ck_assert_int_eq(n, 21);
    ck_assert_ptr_null(m[0].payload);
    discovery_messages_free(m, n);
}
END_TEST

Suite *discovery_suite(void);
Suite *discovery_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_node_id_from_client_id_keeps_only_allowed_bytes);
    tcase_add_test(tc, test_topics_use_the_configured_prefix);
    tcase_add_test(tc, test_state_options_cover_every_state_once);
    tcase_add_test(tc, test_device_config_has_device_origin_and_components);
    tcase_add_test(tc, test_entities_have_home_assistant_classes_and_units);
    tcase_add_test(tc, test_buttons_and_text_use_the_command_topics);
    tcase_add_test(tc, test_connect_stays_available_without_a_printer);
    tcase_add_test(tc, test_every_heater_of_the_profile_gets_two_sensors);
    tcase_add_test(tc, test_switched_off_topics_change_the_sources);
    tcase_add_test(tc, test_camera_entity_only_with_a_snapshot_command);
    tcase_add_test(tc, test_every_component_uses_documented_keys_classes_and_units);
    tcase_add_test(tc, test_diagnostic_entities_have_their_category);
    tcase_add_test(tc, test_device_shows_the_firmware_and_origin_its_url);
    tcase_add_test(tc, test_numbers_set_targets_through_the_gcode_topic);
    tcase_add_test(tc, test_print_event_entity_reads_every_event_topic);
    tcase_add_test(tc, test_compat_entities_use_the_plugins_topics_and_ids);
    suite_add_tcase(s, tc);
    return s;
}
