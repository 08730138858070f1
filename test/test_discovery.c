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
    ck_assert_str_eq(str(dev, "sw"), "1.2.3");
    ck_assert_ptr_nonnull(str(dev, "mf"));
    ck_assert_ptr_nonnull(str(dev, "mdl"));
    ck_assert_str_eq(str(json_object_get(root, "o"), "name"), "printbridge");
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
    /* 9 printer sensors, 2 per heater (tool0, bed), 6 buttons, 1 text */
    ck_assert_uint_eq(n, 9 + 4 + 6 + 1);
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
    suite_add_tcase(s, tc);
    return s;
}
