/* test_publisher.c: the bytes OctoPrint-MQTT subscribers compare (docs/wire-format.md 5, 7), the
 * retain rule of events (3.1) and the temperature threshold rule (7.2). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/wire.h"
#include "printbridge/base.h"
#include "printbridge/mqtt.h"
#include <stdio.h>

static void assert_event_json(json_t *payload, const char *name, long long ts, const char *expected)
{
    char *s = publisher_event_json(payload, name, "_timestamp", ts);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, expected);
    free(s);
    json_decref(payload);
}

/* docs/wire-format.md 5.12, exact sample payloads */
START_TEST(test_event_payload_matches_upstream_samples)
{
    assert_event_json(json_pack("{s:s, s:s}", "state_id", "OPERATIONAL", "state_string", "Operational"),
                      "PrinterStateChanged", 1795272086,
                      "{\"state_id\": \"OPERATIONAL\", \"state_string\": \"Operational\", "
                      "\"_event\": \"PrinterStateChanged\", \"_timestamp\": 1795272086}");
    assert_event_json(json_pack("{s:f, s:f}", "new", 0.3, "old", 0.2), "ZChange", 1795272086,
                      "{\"new\": 0.3, \"old\": 0.2, \"_event\": \"ZChange\", \"_timestamp\": 1795272086}");
    assert_event_json(json_pack("{s:s, s:i}", "port", "/dev/ttyUSB0", "baudrate", 115200), "Connected",
                      1795272086,
                      "{\"port\": \"/dev/ttyUSB0\", \"baudrate\": 115200, \"_event\": \"Connected\", "
                      "\"_timestamp\": 1795272086}");
    assert_event_json(NULL, "Startup", 1795272086, "{\"_event\": \"Startup\", \"_timestamp\": 1795272086}");
    assert_event_json(json_object(), "Disconnected", 1700000000,
                      "{\"_event\": \"Disconnected\", \"_timestamp\": 1700000000}");
    assert_event_json(json_pack("{s:s, s:s, s:s, s:i, s:s, s:f}", "name", "cube.gcode", "path", "cube.gcode",
                                "origin", "local", "size", 2823042, "owner", "admin", "time", 5252.172917127609),
                      "PrintDone", 1700000000,
                      "{\"name\": \"cube.gcode\", \"path\": \"cube.gcode\", \"origin\": \"local\", \"size\": 2823042, "
                      "\"owner\": \"admin\", \"time\": 5252.172917127609, \"_event\": \"PrintDone\", "
                      "\"_timestamp\": 1700000000}");
}
END_TEST

START_TEST(test_event_payload_is_not_modified)
{
    json_t *payload = json_pack("{s:i}", "idle", 1);
    char *s = publisher_event_json(payload, "PrinterReset", "_timestamp", 5);
    ck_assert_str_eq(s, "{\"idle\": 1, \"_event\": \"PrinterReset\", \"_timestamp\": 5}");
    ck_assert_int_eq((int)json_object_size(payload), 1);
    free(s);
    json_decref(payload);
}
END_TEST

START_TEST(test_timestamp_field_name_is_configurable)
{
    char *s = publisher_event_json(NULL, "Startup", "ts", 7);
    ck_assert_str_eq(s, "{\"_event\": \"Startup\", \"ts\": 7}");
    free(s);
}
END_TEST

START_TEST(test_only_zchange_firmwaredata_and_pausedforuser_are_retained)
{
    ck_assert(publisher_event_retained("ZChange", true));
    ck_assert(publisher_event_retained("FirmwareData", true));
    ck_assert(publisher_event_retained("PausedForUser", true));
    ck_assert(!publisher_event_retained("ZChange", false));
    ck_assert(!publisher_event_retained("PrinterStateChanged", true));
    ck_assert(!publisher_event_retained("Connected", true));
    ck_assert(!publisher_event_retained("PrintDone", true));
}
END_TEST

START_TEST(test_topics_are_plain_concatenation)
{
    char t[PUBLISHER_MAX_TOPIC];
    ck_assert_int_gt(publisher_topic(t, sizeof t, "octoprint/", "event/{event}", "event", "PrintDone"), 0);
    ck_assert_str_eq(t, "octoprint/event/PrintDone");
    publisher_topic(t, sizeof t, "octoPrint/", "temperature/{temp}", "temp", "tool0");
    ck_assert_str_eq(t, "octoPrint/temperature/tool0");
    publisher_topic(t, sizeof t, "farm/ender3/", "progress/{progress}", "progress", "printing");
    ck_assert_str_eq(t, "farm/ender3/progress/printing");
    publisher_topic(t, sizeof t, "octoprint/", "mqtt", "x", "y");
    ck_assert_str_eq(t, "octoprint/mqtt");
    ck_assert_int_eq(publisher_topic(t, sizeof t, "octoprint/", "", "event", "x"), -ENOENT);
    ck_assert_int_eq(publisher_topic(t, 8, "octoprint/", "event/{event}", "event", "x"), -E2BIG);
}
END_TEST

/* docs/wire-format.md 7.2: compared with the last PUBLISHED values */
START_TEST(test_temperature_threshold_rule)
{
    struct publisher_temp last = { .published = false };
    ck_assert(publisher_temperature_due(&last, 21.3, 0.0, true, 0.1));
    last = (struct publisher_temp){ .published = true, .actual = 21.3, .target = 0.0, .has_target = true };
    ck_assert(!publisher_temperature_due(&last, 21.3, 0.0, true, 0.1));
    ck_assert(!publisher_temperature_due(&last, 21.35, 0.0, true, 0.1));
    ck_assert(publisher_temperature_due(&last, 21.5, 0.0, true, 0.1));
    ck_assert(publisher_temperature_due(&last, 21.0, 0.0, true, 0.1));
    ck_assert(publisher_temperature_due(&last, 21.3, 210.0, true, 0.1));
    ck_assert(publisher_temperature_due(&last, 21.3, 0.0, false, 0.1));
    ck_assert(!publisher_temperature_due(&last, 21.8, 0.0, true, 1.0));
    last.actual = 0.0;  /* a zero last value always republishes */
    ck_assert(publisher_temperature_due(&last, 0.0, 0.0, true, 0.1));
}
END_TEST


static const struct publisher_settings defaults = {
    .base_topic = "octoprint/", .event_topic = "event/{event}", .progress_topic = "progress/{progress}",
    .temperature_topic = "temperature/{temp}", .state_topic = "state", .stats_topic = "stats",
    .timestamp_field = "_timestamp", .retain = true, .temperature_threshold = 0.1, .temperature_decimals = -1,
    .state_interval = 1,
};

/* docs/wire-format.md 3.1: the QoS / retain / offline table with OctoPrint-MQTT's defaults */
START_TEST(test_qos_and_retain_table_defaults_match_upstream)
{
    struct publisher_settings s = defaults;
    struct publisher_flags f;
    f = publisher_flags_for(&s, PUBLISHER_EVENT, "PrintDone");
    ck_assert(f.qos == 0 && !f.retain && !f.keep);
    f = publisher_flags_for(&s, PUBLISHER_EVENT, "ZChange");
    ck_assert(f.qos == 0 && f.retain && !f.keep);
    f = publisher_flags_for(&s, PUBLISHER_EVENT, "ConnectivityChanged");
    ck_assert(f.qos == 0 && !f.retain && f.keep);
    f = publisher_flags_for(&s, PUBLISHER_PROGRESS_PRINTING, NULL);
    ck_assert(f.qos == 0 && f.retain && !f.keep);
    f = publisher_flags_for(&s, PUBLISHER_PROGRESS_SLICING, NULL);
    ck_assert(f.qos == 0 && f.retain && !f.keep);
    f = publisher_flags_for(&s, PUBLISHER_TEMPERATURE, NULL);
    ck_assert(f.qos == 0 && f.retain && f.keep && f.offline == MQTT_READING);
    f = publisher_flags_for(&s, PUBLISHER_STATE, NULL);
    ck_assert(f.offline == MQTT_SNAPSHOT);
    ck_assert(f.qos == 0 && f.retain && !f.keep);
    f = publisher_flags_for(&s, PUBLISHER_STATS, NULL);
    ck_assert(f.qos == 0 && f.retain && !f.keep);
    /* retain = false: progress/printing stays retained, temperatures and slicing do not */
    s.retain = false;
    ck_assert(publisher_flags_for(&s, PUBLISHER_PROGRESS_PRINTING, NULL).retain);
    ck_assert(!publisher_flags_for(&s, PUBLISHER_PROGRESS_SLICING, NULL).retain);
    ck_assert(!publisher_flags_for(&s, PUBLISHER_TEMPERATURE, NULL).retain);
    ck_assert(!publisher_flags_for(&s, PUBLISHER_EVENT, "ZChange").retain);
    /* QoS 1 for events: kept while offline */
    s.qos_event = 1;
    f = publisher_flags_for(&s, PUBLISHER_EVENT, "PrintDone");
    ck_assert(f.qos == 1 && f.keep);
}
END_TEST

START_TEST(test_event_filters_by_class_and_by_name)
{
    char *classes[] = { "position", "gcode", NULL };
    char *off[] = { "PrinterStateChanged", NULL };
    char *on[] = { "Home", NULL };
    struct publisher_settings s = defaults;
    ck_assert(publisher_event_enabled(&s, "ZChange"));
    ck_assert(publisher_event_enabled(&s, "plugin_x_y"));
    s.classes_off = classes;
    s.events_off = off;
    s.events_on = on;
    ck_assert(!publisher_event_enabled(&s, "ZChange"));
    ck_assert(!publisher_event_enabled(&s, "PositionUpdate"));
    ck_assert(!publisher_event_enabled(&s, "Cooling"));
    ck_assert(publisher_event_enabled(&s, "Home"));      /* listed on although gcode is off */
    ck_assert(!publisher_event_enabled(&s, "PrinterStateChanged"));
    ck_assert(publisher_event_enabled(&s, "Connected"));
    ck_assert(publisher_event_enabled(&s, "PausedForUser")); /* bypasses classes, upstream */
    char *unc[] = { "unclassified", NULL };
    s.classes_off = unc;
    ck_assert(!publisher_event_enabled(&s, "FirmwareData"));
    ck_assert(publisher_event_enabled(&s, "PrintDone"));
}
END_TEST

START_TEST(test_topic_templates_are_configurable)
{
    char t[PUBLISHER_MAX_TOPIC];
    publisher_topic(t, sizeof t, "octoPrint/", "events/{event}/now", "event", "PrintDone");
    ck_assert_str_eq(t, "octoPrint/events/PrintDone/now");
    publisher_topic(t, sizeof t, "a/", "all_events", "event", "PrintDone");
    ck_assert_str_eq(t, "a/all_events");
    publisher_topic(t, sizeof t, "a/", "state", "", "");
    ck_assert_str_eq(t, "a/state");
}
END_TEST

/* minimum interval: a reading that passes the threshold waits; a new target does not */
START_TEST(test_temperature_min_interval_holds_back_drift_not_targets)
{
    struct publisher_settings s = defaults;
    s.temperature_min_interval = 10;
    struct publisher_temp last = { .published = true, .actual = 100.0, .target = 200.0, .has_target = true, .at = 50 };
    ck_assert(!publisher_temperature_due_at(&last, 105.0, 200.0, true, &s, 55));
    ck_assert(publisher_temperature_due_at(&last, 105.0, 200.0, true, &s, 60));
    ck_assert(publisher_temperature_due_at(&last, 100.0, 0.0, true, &s, 51));   /* target changed */
    ck_assert(!publisher_temperature_due_at(&last, 100.05, 200.0, true, &s, 99)); /* under threshold */
    struct publisher_temp none = { .published = false };
    ck_assert(publisher_temperature_due_at(&none, 20.0, 0.0, true, &s, 0));
    s.temperature_min_interval = 0;
    ck_assert(publisher_temperature_due_at(&last, 105.0, 200.0, true, &s, 50.5));
}
END_TEST

START_TEST(test_temperature_rounding)
{
    ck_assert_double_eq(statetopic_round(21.26, 1), 21.3);
    ck_assert_double_eq(statetopic_round(21.25, 1), 21.2); /* exact half: to even, as Python round() */
    ck_assert_double_eq(statetopic_round(21.349, 1), 21.3);
    ck_assert_double_eq(statetopic_round(21.5, 0), 22.0);
    ck_assert_double_eq(statetopic_round(21.2345, -1), 21.2345);
}
END_TEST

/* docs/wire-format.md 6.1 (exact bytes) and 6.2 (printer_data placed before the time stamp) */
START_TEST(test_progress_payload_bytes)
{
    char *s = publisher_progress_json("local", "test.gcode", 0, NULL, "_timestamp", 1795272086);
    ck_assert_str_eq(s, "{\"location\": \"local\", \"path\": \"test.gcode\", \"progress\": 0, \"_timestamp\": 1795272086}");
    free(s);
    s = publisher_progress_json("", "", 0, NULL, "_timestamp", 1795272172);
    ck_assert_str_eq(s, "{\"location\": \"\", \"path\": \"\", \"progress\": 0, \"_timestamp\": 1795272172}");
    free(s);
    json_t *pd = json_pack("{s:i}", "currentZ", 1);
    s = publisher_progress_json("local", "cube.gcode", 92, pd, "ts", 5);
    ck_assert_str_eq(s, "{\"location\": \"local\", \"path\": \"cube.gcode\", \"progress\": 92, "
                        "\"printer_data\": {\"currentZ\": 1}, \"ts\": 5}");
    free(s);
    json_decref(pd);
}
END_TEST

START_TEST(test_stats_payload_bytes)
{
    struct publisher_stats st = { .uptime = 61.7, .lines_sent = 1200, .resends = 3, .published = 42,
                                  .buffered = 2, .dropped = 1, .rss_bytes = 4096000 };
    char *s = publisher_stats_json(&st, "_timestamp", 1700000000);
    ck_assert_str_eq(s, "{\"uptime\": 61, \"lines_sent\": 1200, \"resends\": 3, \"timeouts\": null, "
                        "\"published\": 42, \"buffered\": 2, \"dropped\": 1, \"rss_bytes\": 4096000, "
                        "\"_timestamp\": 1700000000}");
    free(s);
}
END_TEST

static void model_idle(struct printer_model *m)
{
    memset(m, 0, sizeof *m);
    m->state = PRINTER_OFFLINE;
}

/* OctoPrint's start-up shapes (docs/wire-format.md 8.1, just after start-up) */
START_TEST(test_state_topic_bytes_after_startup)
{
    struct printer_model m;
    model_idle(&m);
    char *s = statetopic_json(&m, NULL, -1, "_timestamp", 1700000000);
    ck_assert_str_eq(s,
        "{\"state\": {\"text\": \"Offline\", \"flags\": {\"operational\": false, \"printing\": false, "
        "\"cancelling\": false, \"pausing\": false, \"resuming\": false, \"finishing\": false, "
        "\"closedOrError\": true, \"error\": false, \"paused\": false, \"ready\": false, \"sdReady\": false}, "
        "\"error\": \"\"}, "
        "\"job\": {\"file\": {\"name\": null, \"path\": null, \"size\": null, \"origin\": null, \"date\": null}, "
        "\"estimatedPrintTime\": null, \"lastPrintTime\": null, \"filament\": {\"length\": null, \"volume\": null}, "
        "\"user\": null}, \"currentZ\": null, "
        "\"progress\": {\"completion\": null, \"filepos\": null, \"printTime\": null, \"printTimeLeft\": null, "
        "\"printTimeLeftOrigin\": null}, \"offsets\": {}, \"resends\": {\"count\": 0, \"transmitted\": 0, \"ratio\": 0}, "
        "\"temperature\": {}, \"connection\": {\"port\": null, \"baudrate\": null, \"firmware\": null}, \"eta\": null, "
        "\"_timestamp\": 1700000000}");
    free(s);
}
END_TEST

START_TEST(test_state_topic_bytes_when_operational)
{
    struct printer_model m;
    model_idle(&m);
    m.state = PRINTER_OPERATIONAL;
    strcpy(m.port, "/dev/ttyUSB0");
    m.baudrate = 115200;
    strcpy(m.firmware_name, "Marlin 2.1.2");
    m.has_z = true;
    m.current_z = 0.3;
    m.lines_sent = 200;
    m.resends = 3;
    m.nheaters = 2;
    strcpy(m.heaters[0].key, "tool0");
    m.heaters[0].actual = 210.04;
    m.heaters[0].target = 210.0;
    m.heaters[0].has_target = true;
    strcpy(m.heaters[1].key, "bed");
    m.heaters[1].actual = 59.96;
    m.heaters[1].has_target = false;
    char *s = statetopic_json(&m, NULL, 1, "ts", 7);
    ck_assert_str_eq(s,
        "{\"state\": {\"text\": \"Operational\", \"flags\": {\"operational\": true, \"printing\": false, "
        "\"cancelling\": false, \"pausing\": false, \"resuming\": false, \"finishing\": false, "
        "\"closedOrError\": false, \"error\": false, \"paused\": false, \"ready\": true, \"sdReady\": false}, "
        "\"error\": \"\"}, "
        "\"job\": {\"file\": {\"name\": null, \"path\": null, \"size\": null, \"origin\": null, \"date\": null}, "
        "\"estimatedPrintTime\": null, \"lastPrintTime\": null, \"filament\": {\"length\": null, \"volume\": null}, "
        "\"user\": null}, \"currentZ\": 0.3, "
        "\"progress\": {\"completion\": null, \"filepos\": null, \"printTime\": null, \"printTimeLeft\": null, "
        "\"printTimeLeftOrigin\": null}, \"offsets\": {}, \"resends\": {\"count\": 3, \"transmitted\": 200, \"ratio\": 1}, "
        "\"temperature\": {\"tool0\": {\"actual\": 210.0, \"target\": 210.0}, \"bed\": {\"actual\": 60.0, \"target\": null}}, "
        "\"connection\": {\"port\": \"/dev/ttyUSB0\", \"baudrate\": 115200, \"firmware\": \"Marlin 2.1.2\"}, \"eta\": null, "
        "\"ts\": 7}");
    free(s);
}
END_TEST

/* A job module fills struct job_view; the keys are then OctoPrint's printing shapes. */
START_TEST(test_state_topic_job_view_shapes)
{
    struct printer_model m;
    model_idle(&m);
    m.state = PRINTER_PRINTING;
    struct job_view j = { .name = "cube.gcode", .path = "cube.gcode", .display = "cube.gcode", .origin = "local",
                          .has_size = true, .size = 4713047, .has_date = true, .date = 1629156771,
                          .has_estimated_print_time = true, .estimated_print_time = 8583.767716327977,
                          .has_completion = true, .completion = 92.00714527141359, .has_filepos = true,
                          .filepos = 4336340, .has_print_time = true, .print_time = 10101,
                          .has_print_time_left = true, .print_time_left = 912, .print_time_left_origin = "linear",
                          .user = "admin" };
    json_t *pd = statetopic_printer_data(&m, &j);
    char *s = pyjson_dumps(json_object_get(pd, "job"));
    ck_assert_str_eq(s, "{\"file\": {\"name\": \"cube.gcode\", \"path\": \"cube.gcode\", \"display\": \"cube.gcode\", "
                        "\"origin\": \"local\", \"size\": 4713047, \"date\": 1629156771}, "
                        "\"estimatedPrintTime\": 8583.767716327977, \"lastPrintTime\": null, \"filament\": null, "
                        "\"user\": \"admin\"}");
    free(s);
    s = pyjson_dumps(json_object_get(pd, "progress"));
    ck_assert_str_eq(s, "{\"completion\": 92.00714527141359, \"filepos\": 4336340, \"printTime\": 10101, "
                        "\"printTimeLeft\": 912, \"printTimeLeftOrigin\": \"linear\"}");
    free(s);
    ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(pd, "state"), "flags"), "printing")));
    json_decref(pd);
    /* the state message adds when the job ends : ts + printTimeLeft, in UTC */
    s = statetopic_json(&m, &j, -1, "_timestamp", 1700000000);
    ck_assert_ptr_nonnull(strstr(s, ", \"eta\": \"2023-11-14T22:28:32+00:00\", \"_timestamp\": 1700000000}"));
    free(s);
    /* nothing printing (a finished print shows 0 s left): no finish time ahead */
    m.state = PRINTER_OPERATIONAL;
    j.print_time_left = 0;
    s = statetopic_json(&m, &j, -1, "_timestamp", 1700000000);
    ck_assert_ptr_nonnull(strstr(s, ", \"eta\": null, \"_timestamp\": 1700000000}"));
    free(s);
    m.state = PRINTER_PAUSED;
    s = statetopic_json(&m, &j, -1, "_timestamp", 1700000000);
    ck_assert_ptr_nonnull(strstr(s, ", \"eta\": null, \"_timestamp\": 1700000000}"));
    free(s);
}
END_TEST

/* Every event printbridge publishes is known, so a configuration naming another is a typo. */
START_TEST(test_event_names_are_one_list)
{
    static const char *const some[] = { "Startup", "PrintDone", "ZChange", "PrintProgress", "SettingsRefused",
                                        "HookFinished", "MqttBufferOverflow", "PausedForUser",
                                        "GcodeScriptAfterPrintDoneFinished" };
    for (size_t i = 0; i < sizeof some / sizeof some[0]; i++)
        ck_assert_msg(events_is_known(some[i]), "%s", some[i]);
    ck_assert(!events_is_known("PrintDnoe"));
    ck_assert(!events_is_known("ClientOpened"));      /* a class member printbridge never raises */
    ck_assert_str_eq(events_class("SettingsRefused"), "settings");
    /* each script's two events, as the job names them */
    for (int sc = 0; sc < JOB_SCRIPT_COUNT; sc++) {
        const char *n = job_script_name((enum job_script)sc);
        char ev[96];
        snprintf(ev, sizeof ev, "GcodeScript%c%sRunning", n[0] - 32, n + 1);
        ck_assert_msg(events_is_known(ev), "%s", ev);
        snprintf(ev, sizeof ev, "GcodeScript%c%sFinished", n[0] - 32, n + 1);
        ck_assert_msg(events_is_known(ev), "%s", ev);
    }
}
END_TEST

Suite *publisher_suite(void);
Suite *publisher_suite(void)
{
    Suite *s = suite_create("publisher");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_event_payload_matches_upstream_samples);
    tcase_add_test(tc, test_event_payload_is_not_modified);
    tcase_add_test(tc, test_timestamp_field_name_is_configurable);
    tcase_add_test(tc, test_only_zchange_firmwaredata_and_pausedforuser_are_retained);
    tcase_add_test(tc, test_topics_are_plain_concatenation);
    tcase_add_test(tc, test_temperature_threshold_rule);
    tcase_add_test(tc, test_qos_and_retain_table_defaults_match_upstream);
    tcase_add_test(tc, test_event_filters_by_class_and_by_name);
    tcase_add_test(tc, test_topic_templates_are_configurable);
    tcase_add_test(tc, test_temperature_min_interval_holds_back_drift_not_targets);
    tcase_add_test(tc, test_temperature_rounding);
    tcase_add_test(tc, test_progress_payload_bytes);
    tcase_add_test(tc, test_stats_payload_bytes);
    tcase_add_test(tc, test_state_topic_bytes_after_startup);
    tcase_add_test(tc, test_state_topic_bytes_when_operational);
    tcase_add_test(tc, test_state_topic_job_view_shapes);
    tcase_add_test(tc, test_event_names_are_one_list);
    suite_add_tcase(s, tc);
    return s;
}
