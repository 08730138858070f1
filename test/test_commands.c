/* test_commands.c: decoding of inbound command payloads (docs/wire-format.md 11.11 for hassControl:
 * PRESS/True/False, home and jog JSON, commands as a list or plain G-code), the state rule,
 * the G-code allow/deny lists and the duplicate-id memory. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/commands.h"

static struct command c;
static char err[256];

static int dec(const char *topic, const char *payload)
{
    commands_command_free(&c);
    return commands_decode(topic, payload, strlen(payload), &c, err, sizeof err);
}

static void teardown(void)
{
    commands_command_free(&c);
}

static void assert_lines(const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    ck_assert_uint_eq(c.nlines, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(c.lines[i], want[i]);
}

static void assert_error(const char *topic, const char *payload, const char *needle)
{
    ck_assert_int_eq(dec(topic, payload), -EINVAL);
    ck_assert_msg(strstr(err, needle) != NULL, "%s '%s': error '%s' lacks '%s'", topic, payload, err, needle);
}

START_TEST(test_gcode_as_text_list_or_object)
{
    ck_assert_int_eq(dec("command/gcode", "G28\n  M117 hi there \r\n\nM105"), 0);
    ck_assert_int_eq(c.kind, COMMAND_GCODE);
    ck_assert_int_eq(c.needs, NEEDS_CONNECTED);
    assert_lines((const char *const[]){ "G28", "M117 hi there", "M105", NULL });
    ck_assert_ptr_null(c.id);
    ck_assert_int_eq(dec("command/gcode", "[\"G28\", \"M105\"]"), 0);
    assert_lines((const char *const[]){ "G28", "M105", NULL });
    ck_assert_int_eq(dec("command/gcode", "{\"id\": 7, \"commands\": [\"G28 X\"]}"), 0);
    assert_lines((const char *const[]){ "G28 X", NULL });
    ck_assert_int_eq(json_integer_value(c.id), 7);
    ck_assert_int_eq(dec("command/gcode", "{\"id\": \"a\", \"command\": \"M105\"}"), 0);
    ck_assert_str_eq(json_string_value(c.id), "a");
}
END_TEST

START_TEST(test_gcode_errors)
{
    assert_error("command/gcode", "[\"G28\", 3]", "element 2 is not a string");
    assert_error("command/gcode", "{\"id\": 1, \"commands\": [\"G28\"", "invalid JSON");
    ck_assert_ptr_null(c.id);
    assert_error("command/gcode", "{\"id\": 1}", "expected \"commands\"");
    ck_assert_int_eq(json_integer_value(c.id), 1);
    assert_error("command/gcode", "[\"G28\\nM112\"]", "contains a newline");
    assert_error("command/gcode", "G28\x01", "control character");
    assert_error("command/gcode", "  \n ", "no G-code");
    assert_error("command/gcode", "{\"id\": [1], \"command\": \"G28\"}", "\"id\" must be a string or a number");
    char *big = malloc(2000);
    memset(big, 'G', 1999);
    big[1999] = '\0';
    assert_error("command/gcode", big, "at most 1024");
    free(big);
}
END_TEST

START_TEST(test_connection_job_hook_status)
{
    ck_assert_int_eq(dec("command/connection", "{\"command\": \"connect\", \"port\": \"/dev/ttyUSB0\", \"baudrate\": 250000, \"id\": 3}"), 0);
    ck_assert_int_eq(c.kind, COMMAND_CONNECT);
    ck_assert_str_eq(c.port, "/dev/ttyUSB0");
    ck_assert_int_eq(c.baudrate, 250000);
    ck_assert_int_eq(dec("command/connection", "disconnect"), 0);
    ck_assert_int_eq(c.kind, COMMAND_DISCONNECT);
    assert_error("command/connection", "{\"command\": \"explode\"}", "unknown connection command \"explode\"");
    assert_error("command/connection", "{\"command\": \"connect\", \"baudrate\": \"fast\"}", "\"baudrate\" must be");
    ck_assert_int_eq(dec("command/job", "{\"command\": \"pause\"}"), 0);
    ck_assert_int_eq(c.kind, COMMAND_JOB);
    ck_assert_int_eq(c.job, COMMAND_JOB_PAUSE);
    ck_assert_int_eq(dec("command/job", "start"), 0);
    ck_assert_int_eq(c.job, COMMAND_JOB_START);
    ck_assert_ptr_null(c.path);
    ck_assert_int_eq(dec("command/job", "{\"command\": \"start\", \"path\": \"jobs/cube.gcode\", \"origin\": \"local\"}"), 0);
    ck_assert_int_eq(c.job, COMMAND_JOB_START);
    ck_assert_str_eq(c.path, "jobs/cube.gcode");
    ck_assert_int_eq(c.origin, JOB_LOCAL);
    ck_assert_int_eq(dec("command/job", "{\"command\": \"select\", \"path\": \"a.gco\", \"origin\": \"sdcard\"}"), 0);
    ck_assert_int_eq(c.job, COMMAND_JOB_SELECT);
    ck_assert_int_eq(c.origin, JOB_SDCARD);
    ck_assert_int_eq(dec("command/job", "{\"command\": \"toggle\"}"), 0);
    ck_assert_int_eq(c.job, COMMAND_JOB_TOGGLE);
    assert_error("command/job", "{\"command\": \"fly\"}", "unknown job command \"fly\"");
    assert_error("command/job", "not json", "unknown job command \"not json\"");
    assert_error("command/job", "{\"command\": \"start\", \"origin\": \"usb\"}", "origin must be");
    assert_error("command/job", "{\"command\": \"start\", \"path\": 7}", "\"path\" must be");
    assert_error("command/job", "{\"command\": 1}", "\"command\" must be given as a string");
    ck_assert_int_eq(dec("command/hook/lights", "{\"level\": 3}"), 0);
    ck_assert_int_eq(c.kind, COMMAND_HOOK);
    ck_assert_str_eq(c.name, "lights");
    ck_assert_int_eq(dec("command/hook/lights", "on"), 0);
    ck_assert_ptr_null(c.doc);
    assert_error("command/hook/", "", "command/hook/<name>");
    ck_assert_int_eq(dec("command/status", ""), 0);
    ck_assert_int_eq(c.kind, COMMAND_STATUS);
    assert_error("command/fly", "{\"id\": 9}", "unknown command \"fly\"");
    ck_assert_int_eq(json_integer_value(c.id), 9);
}
END_TEST

/* docs/wire-format.md 11.11: payloads of the HA plugin's command topics */
START_TEST(test_hass_control_payloads)
{
    ck_assert_int_eq(dec("hassControl/connect", "True"), 0);
    ck_assert_int_eq(c.kind, COMMAND_CONNECT);
    ck_assert_int_eq(dec("hassControl/connect", "False"), 0);
    ck_assert_int_eq(c.kind, COMMAND_DISCONNECT);
    assert_error("hassControl/connect", "PRESS", "expected True or False");
    ck_assert_int_eq(dec("hassControl/stop", "PRESS"), 0);
    assert_lines((const char *const[]){ "M112", NULL });
    ck_assert_int_eq(dec("hassControl/stop", "True"), 0);
    assert_error("hassControl/stop", "False", "unknown payload \"False\" on hassControl/stop; expected PRESS");
    ck_assert_int_eq(dec("hassControl/cancel", "PRESS"), 0);
    ck_assert_int_eq(c.kind, COMMAND_JOB);
    ck_assert_int_eq(c.job, COMMAND_JOB_CANCEL);
    ck_assert_int_eq(dec("hassControl/pause", "True"), 0);
    ck_assert_int_eq(c.job, COMMAND_JOB_PAUSE);
    ck_assert_int_eq(dec("hassControl/pause", "False"), 0);
    ck_assert_int_eq(c.job, COMMAND_JOB_RESUME);
    ck_assert_int_eq(dec("hassControl/home", "[\"x\", \"y\", \"z\"]"), 0);
    ck_assert_int_eq(c.needs, NEEDS_IDLE);
    assert_lines((const char *const[]){ "G91", "G28 X0 Y0 Z0", "G90", NULL });
    ck_assert_int_eq(dec("hassControl/home", "[\"z\", \"q\", \"Z\", \"x\"]"), 0);
    assert_lines((const char *const[]){ "G91", "G28 Z0 X0", "G90", NULL });
    assert_error("hassControl/home", "[\"q\"]", "no axis");
    assert_error("hassControl/home", "x", "invalid JSON");
    ck_assert_int_eq(dec("hassControl/jog", "{\"x\": 0.1, \"speed\": 1.0 }"), 0);
    assert_lines((const char *const[]){ "G91", "G1 X0.1 F1", "G90", NULL });
    ck_assert_int_eq(dec("hassControl/jog", "{\"z\": -5, \"y\": 10.25}"), 0);
    assert_lines((const char *const[]){ "G91", "G1 Y10.25 Z-5", "G90", NULL });
    assert_error("hassControl/jog", "{\"x\": \"far\"}", "\"x\" must be a distance");
    assert_error("hassControl/jog", "{\"speed\": 3}", "no axis");
    ck_assert_int_eq(dec("hassControl/commands", "[\"M80\", \"G28\"]"), 0);
    assert_lines((const char *const[]){ "M80", "G28", NULL });
    ck_assert_int_eq(dec("hassControl/commands", "G29"), 0);
    assert_lines((const char *const[]){ "G29", NULL });
    assert_error("hassControl/commands", "123", "expected G-code as a string or a list");
    assert_error("hassControl/shutdown", "PRESS", "unknown command hassControl/shutdown");
}
END_TEST

START_TEST(test_state_rule)
{
    ck_assert_int_eq(dec("command/gcode", "G28"), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_OPERATIONAL, err, sizeof err), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_PRINTING, err, sizeof err), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_OFFLINE, err, sizeof err), -EPERM);
    ck_assert_str_eq(err, "not allowed while the printer is Offline: connect it first");
    ck_assert_int_eq(dec("hassControl/jog", "{\"x\": 1}"), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_OPERATIONAL, err, sizeof err), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_PRINTING, err, sizeof err), -EPERM);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_PAUSED, err, sizeof err), -EPERM);
    ck_assert_int_eq(dec("command/connection", "connect"), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_OFFLINE, err, sizeof err), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_OPERATIONAL, err, sizeof err), -EPERM);
    ck_assert_int_eq(dec("command/connection", "disconnect"), 0);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_OFFLINE, err, sizeof err), -EPERM);
    ck_assert_int_eq(commands_check_state(&c, PRINTER_CONNECTING, err, sizeof err), 0);
}
END_TEST

START_TEST(test_gcode_lists)
{
    char *deny[] = { "M112", "m3*", NULL };
    char *allow[] = { "G28", "M105", "M112", NULL };
    char *none[] = { NULL };
    ck_assert_int_eq(commands_check_gcode("G28", none, deny, err, sizeof err), 0);
    ck_assert_int_eq(commands_check_gcode("  m112", none, deny, err, sizeof err), -EACCES);
    ck_assert_str_eq(err, "G-code M112 is denied by inbound.gcode_deny");
    ck_assert_int_eq(commands_check_gcode("N5 M303 E0 S200*12", none, deny, err, sizeof err), -EACCES);
    ck_assert_int_eq(commands_check_gcode("M105", allow, NULL, err, sizeof err), 0);
    ck_assert_int_eq(commands_check_gcode("M104 S200", allow, NULL, err, sizeof err), -EACCES);
    ck_assert_str_eq(err, "G-code M104 is not in inbound.gcode_allow");
    ck_assert_int_eq(commands_check_gcode("M112", allow, deny, err, sizeof err), -EACCES);
    ck_assert_int_eq(commands_check_gcode("; just a comment", allow, deny, err, sizeof err), 0);
}
END_TEST

START_TEST(test_dedupe_window_and_capacity)
{
    static struct commands_dedupe d;
    ck_assert(!commands_dedupe_seen(&d, "gcode\n1", 100));
    ck_assert(commands_dedupe_seen(&d, "gcode\n1", 100 + 599));
    ck_assert(!commands_dedupe_seen(&d, "job\n1", 101));
    ck_assert(!commands_dedupe_seen(&d, "gcode\n1", 100 + 600));   /* window over: runs again */
    char key[32];
    for (int i = 0; i < COMMANDS_DEDUPE_CAPACITY + 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert(!commands_dedupe_seen(&d, key, 1000));
    }
    ck_assert_uint_eq(d.n, COMMANDS_DEDUPE_CAPACITY);
    ck_assert(commands_dedupe_seen(&d, "k20", 1001));
    ck_assert(!commands_dedupe_seen(&d, "k5", 1001));   /* forgotten: the memory is bounded */
    commands_dedupe_clear(&d);
    ck_assert_uint_eq(d.n, 0);
}
END_TEST

Suite *commands_suite(void);
Suite *commands_suite(void)
{
    Suite *s = suite_create("commands");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_gcode_as_text_list_or_object);
    tcase_add_test(tc, test_gcode_errors);
    tcase_add_test(tc, test_connection_job_hook_status);
    tcase_add_test(tc, test_hass_control_payloads);
    tcase_add_test(tc, test_state_rule);
    tcase_add_test(tc, test_gcode_lists);
    tcase_add_test(tc, test_dedupe_window_and_capacity);
    suite_add_tcase(s, tc);
    return s;
}
