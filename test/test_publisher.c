/* test_publisher.c: the bytes OctoPrint-MQTT subscribers compare (wire-format.md 5.4, 8), the
 * retain rule of events (section 3) and the temperature threshold rule (section 8). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/publisher.h"

static void assert_event_json(json_t *payload, const char *name, long long ts, const char *expected)
{
    char *s = publisher_event_json(payload, name, "_timestamp", ts);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, expected);
    free(s);
    json_decref(payload);
}

/* wire-format.md 5.4, exact sample payloads */
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
    ck_assert_int_eq(publisher_topic(t, sizeof t, "octoprint/", "", "event", "x"), -1);
    ck_assert_int_eq(publisher_topic(t, 8, "octoprint/", "event/{event}", "event", "x"), -1);
}
END_TEST

/* wire-format.md 8, rule 2: compared with the last PUBLISHED values */
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
    suite_add_tcase(s, tc);
    return s;
}
