/* test_placeholders.c: OctoPrint's hook placeholders (etc/printbridge.conf, events group), nested keys, unknown names left as written, brace escapes,
 * shell quoting of values and the length bound. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "printbridge/hooks.h"

static json_t *payload;
static struct placeholders ph;
static int unknown_count;
static char last_unknown[64];

static void on_unknown(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    unknown_count++;
    snprintf(last_unknown, sizeof last_unknown, "%.*s", (int)len, name);
}

static void setup(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    payload = json_pack("{s:s, s:s, s:s, s:f, s:{s:f, s:i}, s:b, s:n, s:[i, s], s:s}", "name", "cube.gcode",
                        "path", "folder/cube.gcode", "origin", "local", "time", 5252.5, "position", "z", 0.3,
                        "f", 1200, "ok", 1, "none", "list", 1, "two", "a.b", "dotted");
    memset(&ph, 0, sizeof ph);
    ph.eventname = "PrintDone";
    ph.payload = payload;
    ph.now_sec = 1700000000;
    unknown_count = 0;
}

static void teardown(void)
{
    json_decref(payload);
}

static void expect(const char *tmpl, const char *want)
{
    char *got;
    ck_assert_int_eq(placeholders_expand(&got, tmpl, &ph, false, 1 << 20, on_unknown, NULL), 0);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_generic_placeholders)
{
    expect("{__eventname}", "PrintDone");
    expect("{__currentZ}", "-1");
    ph.has_z = true;
    ph.current_z = 0.3;
    expect("{__currentZ}", "0.3");
    expect("{__filename}|{__filepath}|{__fileorigin}", "NO FILE|NO FILE|NO FILE");
    ph.filename = "cube.gcode";
    ph.filepath = "folder/cube.gcode";
    ph.fileorigin = "local";
    expect("{__filename}|{__filepath}|{__fileorigin}", "cube.gcode|folder/cube.gcode|local");
    expect("{__progress}", "0");
    ph.progress = 42.7;
    expect("{__progress}", "42");
    expect("{__now}", "2023-11-14T22:13:20");
    ph.now_usec = 5;
    expect("{__now}", "2023-11-14T22:13:20.000005");
    ck_assert_int_eq(unknown_count, 0);
}
END_TEST

START_TEST(test_payload_keys_render_like_python_str)
{
    expect("Completed {name} in {time}s", "Completed cube.gcode in 5252.5s");
    expect("{position.z} {position.f}", "0.3 1200");
    expect("{ok} {none} {list}", "True None [1, 'two']");
    expect("{position}", "{'z': 0.3, 'f': 1200}");
    expect("{a.b}", "dotted");
    expect("{__data}", "{'name': 'cube.gcode', 'path': 'folder/cube.gcode', 'origin': 'local', 'time': 5252.5, "
                       "'position': {'z': 0.3, 'f': 1200}, 'ok': True, 'none': None, 'list': [1, 'two'], "
                       "'a.b': 'dotted'}");
    expect("{__json}", "{\"name\": \"cube.gcode\", \"path\": \"folder/cube.gcode\", \"origin\": \"local\", "
                       "\"time\": 5252.5, \"position\": {\"z\": 0.3, \"f\": 1200}, \"ok\": true, \"none\": null, "
                       "\"list\": [1, \"two\"], \"a.b\": \"dotted\"}");
}
END_TEST

START_TEST(test_unknown_and_non_names_are_left_as_written)
{
    expect("{nope} and {position.q}", "{nope} and {position.q}");
    ck_assert_int_eq(unknown_count, 2);
    ck_assert_str_eq(last_unknown, "position.q");
    unknown_count = 0;
    expect("{\"content\": \"{name}\"}", "{\"content\": \"cube.gcode\"}");
    expect("{{name}} {{{name}}}", "{name} {cube.gcode}");
    expect("{} { name } {", "{} { name } {");
    expect("{__payload} {__topic}", "{__payload} {__topic}");
    ck_assert_int_eq(unknown_count, 2);
    ck_assert(placeholders_present("x {name}"));
    ck_assert(!placeholders_present("x {{name}} {\"a\": 1}"));
}
END_TEST

START_TEST(test_inbound_payload_and_topic_levels)
{
    ph.raw_payload = "on";
    ph.topic = "octoprint/cmd/light/set";
    expect("{__payload} {__topic} {__topic0} {__topic2} {__topic3}", "on octoprint/cmd/light/set octoprint light set");
    expect("{__topic9}", "{__topic9}");
}
END_TEST

START_TEST(test_json_escaped_values)
{
    json_object_set_new(payload, "name", json_string("a \"b\" \\ c\nd\x01"));
    expect("{\"content\": \"{name!j} in {time!j} s\"}", "{\"content\": \"a \\\"b\\\" \\\\ c\\nd\\u0001 in 5252.5 s\"}");
    expect("{nope!j} {!j}", "{nope!j} {!j}");
}
END_TEST

START_TEST(test_shell_quoting_of_hostile_values)
{
    json_object_set_new(payload, "name", json_string("x'; touch /tmp/pwned; echo '$(id)\n"));
    char *got;
    ck_assert_int_eq(placeholders_expand(&got, "echo {name} {position.z}", &ph, true, 1 << 20, NULL, NULL), 0);
    ck_assert_str_eq(got, "echo 'x'\\''; touch /tmp/pwned; echo '\\''$(id)\n' '0.3'");
    free(got);
}
END_TEST

START_TEST(test_length_bound_is_reported)
{
    char *big = malloc(2000001);
    memset(big, 'a', 2000000);
    big[2000000] = '\0';
    json_object_set_new(payload, "name", json_string(big));
    free(big);
    char *got = (char *)"unset";
    ck_assert_int_eq(placeholders_expand(&got, "{name}", &ph, false, 1 << 20, NULL, NULL), -E2BIG);
    ck_assert_ptr_null(got);
}
END_TEST

Suite *placeholders_suite(void);
Suite *placeholders_suite(void)
{
    Suite *s = suite_create("placeholders");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_generic_placeholders);
    tcase_add_test(tc, test_payload_keys_render_like_python_str);
    tcase_add_test(tc, test_unknown_and_non_names_are_left_as_written);
    tcase_add_test(tc, test_inbound_payload_and_topic_levels);
    tcase_add_test(tc, test_json_escaped_values);
    tcase_add_test(tc, test_shell_quoting_of_hostile_values);
    tcase_add_test(tc, test_length_bound_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
