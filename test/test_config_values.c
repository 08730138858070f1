/* test_config_values.c: how config_load checks each value: "auto", integers where numbers
 * are expected, types, every numeric range at both ends, the rules that tie keys together,
 * topics and ids, the derived client id, log levels and scripts. Each mistake is checked
 * against its exact one-line message with the file and line (users read these, so a changed
 * word is a changed interface). */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_helpers.h"
#include "printbridge/base.h"
#include "printbridge/config.h"

/* ---- values: auto, numbers, strings ---------------------------------------------------- */

START_TEST(test_baudrate_and_port_accept_auto)
{
    struct config c;
    load_ok("printer: { port = \"auto\"; baudrate = \"auto\"; };\n", &c);
    ck_assert_str_eq(c.printer_port, "auto");
    ck_assert_int_eq(c.printer_baudrate, 0);
    config_free(&c);
}
END_TEST

START_TEST(test_baudrate_refuses_other_strings_and_floats)
{
    expect_error("printer: { baudrate = \"fast\"; };\n", 1,
                 "printer.baudrate must be an integer or \"auto\", e.g. baudrate = 115200;");
    expect_error("printer: { baudrate = \"115200\"; };\n", 1,
                 "printer.baudrate must be an integer or \"auto\", e.g. baudrate = 115200;");
    expect_error("printer: { baudrate = 115200.0; };\n", 1,
                 "printer.baudrate must be an integer or \"auto\", e.g. baudrate = 115200;");
}
END_TEST

START_TEST(test_integer_is_accepted_where_a_number_is_expected)
{
    struct config c;
    load_ok("printer: { reconnect_delay = 3; connection_timeout = 7L; };\n"
            "mqtt: { temperature_threshold = 1; };\n", &c);
    ck_assert_double_eq(c.printer_reconnect_delay, 3.0);
    ck_assert_double_eq(c.printer_connection_timeout, 7.0);
    ck_assert_double_eq(c.mqtt_temperature_threshold, 1.0);
    config_free(&c);
}
END_TEST

START_TEST(test_64_bit_integer_literal_in_range_is_accepted)
{
    struct config c;
    load_ok("mqtt: { port = 1884L; };\n", &c);
    ck_assert_int_eq(c.mqtt_port, 1884);
    config_free(&c);
}
END_TEST

START_TEST(test_float_is_refused_where_an_integer_is_expected)
{
    expect_error("mqtt: { port = 1883.0; };\n", 1,
                 "mqtt.port must be an integer, e.g. port = 1883;");
    expect_error("printer: {\n autoreport_interval = 2.5;\n};\n", 2,
                 "printer.autoreport_interval must be an integer, e.g. autoreport_interval = 2;");
}
END_TEST

START_TEST(test_string_is_refused_where_a_number_is_expected)
{
    expect_error("mqtt: {\n  port = \"1883\";\n};\n", 2,
                 "mqtt.port must be an integer, e.g. port = 1883;");
    expect_error("printer: { reconnect_delay = \"2\"; };\n", 1,
                 "printer.reconnect_delay must be a number, e.g. reconnect_delay = 2;");
    expect_error("mqtt: { temperature_threshold = true; };\n", 1,
                 "mqtt.temperature_threshold must be a number, e.g. temperature_threshold = 0.1;");
}
END_TEST

START_TEST(test_number_is_refused_where_a_string_is_expected)
{
    expect_error("mqtt: { host = 127; };\n", 1,
                 "mqtt.host must be a string, e.g. host = \"localhost\";");
    expect_error("printer: { port = 0; };\n", 1,
                 "printer.port must be a string, e.g. port = \"/dev/ttyUSB0\";");
}
END_TEST

START_TEST(test_booleans_must_be_true_or_false)
{
    struct config c;
    expect_error("mqtt: { retain = 1; };\n", 1,
                 "mqtt.retain must be true or false, e.g. retain = true;");
    expect_error("mqtt: { retain = \"yes\"; };\n", 1,
                 "mqtt.retain must be true or false, e.g. retain = true;");
    load_ok("mqtt: { retain = false; };\n", &c);
    ck_assert_int_eq(c.mqtt_retain, false);
    config_free(&c);
}
END_TEST

/* Each numeric key at both ends of its range, and one step outside each. */
static const struct range_case {
    const char *group, *key;
    const char *below, *min, *max, *above;
    size_t off;
    bool is_int;
    const char *extra; /* another setting the boundary value needs */
} ranges[] = {
    { "printer", "baudrate", "0", "1", "4000000", "4000001", offsetof(struct config, printer_baudrate), true, "" },
    { "printer", "reconnect_delay", "0.05", "0.1", "3600", "3600.5", offsetof(struct config, printer_reconnect_delay), false, "reconnect_max_delay = 3600;" },
    { "printer", "reconnect_max_delay", "0", "0.1", "3600", "3601", offsetof(struct config, printer_reconnect_max_delay), false, "reconnect_delay = 0.1;" },
    { "printer", "connection_timeout", "0.5", "1", "600", "601", offsetof(struct config, printer_connection_timeout), false, "" },
    { "printer", "communication_timeout", "0", "1", "3600", "3601", offsetof(struct config, printer_communication_timeout), false, "" },
    { "printer", "temperature_interval", "0.4", "0.5", "3600", "3600.1", offsetof(struct config, printer_temperature_interval), false, "" },
    { "printer", "temperature_interval_target", "0.25", "0.5", "3600", "7200", offsetof(struct config, printer_temperature_interval_target), false, "" },
    { "printer", "autoreport_interval", "-1", "0", "60", "61", offsetof(struct config, printer_autoreport_interval), true, "" },
    { "mqtt", "port", "0", "1", "65535", "65536", offsetof(struct config, mqtt_port), true, "" },
    { "mqtt", "keepalive", "-1", "0", "65535", "70000", offsetof(struct config, mqtt_keepalive), true, "" },
    { "mqtt", "temperature_threshold", "-0.1", "0", "100", "100.5", offsetof(struct config, mqtt_temperature_threshold), false, "" },
};

START_TEST(test_numbers_are_range_checked_at_both_ends)
{
    const struct range_case *r = &ranges[_i];
    const char *values[] = { r->min, r->max };
    const char *bad[] = { r->below, r->above };
    char text[256], msg[256];
    struct config c;

    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, "%s: {\n  %s = %s;\n  %s\n};\n", r->group, r->key, values[i],
                 r->extra);
        load_ok(text, &c);
        if (r->is_int)
            ck_assert_int_eq(*(int *)((char *)&c + r->off), atoi(values[i]));
        else
            ck_assert_double_eq(*(double *)((char *)&c + r->off), strtod(values[i], NULL));
        config_free(&c);

        snprintf(text, sizeof text, "%s: {\n  %s = %s;\n  %s\n};\n", r->group, r->key, bad[i],
                 r->extra);
        snprintf(msg, sizeof msg, "%s.%s must be between %s and %s, not %s", r->group, r->key,
                 r->min, r->max, bad[i]);
        expect_error(text, 2, msg);
    }
}
END_TEST

START_TEST(test_integers_wrapped_by_libconfig_are_reported_with_the_written_value)
{
    expect_error("mqtt: {\n  port = 10000000000;\n};\n", 2,
                 "mqtt.port must be between 1 and 65535, not 10000000000 (too big for "
                 "libconfig's 32-bit integers: it was read as 1410065408)");
    /* wraps to 2, inside the range: only the raw text shows it */
    expect_error("printer: { autoreport_interval = 4294967298; };\n", 1,
                 "printer.autoreport_interval must be between 0 and 60, not 4294967298 (too big "
                 "for libconfig's 32-bit integers: it was read as 2)");
    expect_error("printer: { reconnect_delay = 4294967298; };\n", 1,
                 "printer.reconnect_delay must be between 0.1 and 3600, not 4294967298 (too big "
                 "for libconfig's 32-bit integers: it was read as 2)");
    expect_error("mqtt: { keepalive = -4294967295; };\n", 1,
                 "mqtt.keepalive must be between 0 and 65535, not -4294967295 (too big for "
                 "libconfig's 32-bit integers: it was read as 1)");
    expect_error("mqtt: { port = 0x100000001; };\n", 1,
                 "mqtt.port must be between 1 and 65535, not 0x100000001 (too big for "
                 "libconfig's 32-bit integers: it was read as 1)");
    /* the key's name inside an earlier string on the same line does not mislead the check */
    expect_error("mqtt: { host = \"port = 5\"; port = 4294968179; };\n", 1,
                 "mqtt.port must be between 1 and 65535, not 4294968179 (too big for "
                 "libconfig's 32-bit integers: it was read as 883)");
}
END_TEST

START_TEST(test_64_bit_integer_literal_out_of_range_is_reported)
{
    expect_error("mqtt: { port = 10000000000L; };\n", 1,
                 "mqtt.port must be between 1 and 65535, not 10000000000");
}
END_TEST

START_TEST(test_reconnect_max_delay_must_not_be_below_reconnect_delay)
{
    expect_error("printer: {\n  reconnect_delay = 10;\n  reconnect_max_delay = 5;\n};\n", 3,
                 "printer.reconnect_max_delay (5) must not be less than "
                 "printer.reconnect_delay (10)");
    expect_error("printer: {\n  reconnect_delay = 100;\n};\n", 2,
                 "printer.reconnect_delay (100) is more than printer.reconnect_max_delay "
                 "(default 60); set reconnect_max_delay too");
}
END_TEST

START_TEST(test_usb_id_is_validated_lowercased_and_parsed)
{
    static const char *bad[] = { "1a86-7523", "1a86:752", "1a86:75233", "zz86:7523", "",
                                 "1a86:7523 " };
    char text[128], msg[256];
    struct config c;

    load_ok("printer: { usb_id = \"1A86:7523\"; };\n", &c);
    ck_assert_str_eq(c.printer_usb_id, "1a86:7523");
    ck_assert_int_eq(c.printer_usb_vid, 0x1a86);
    ck_assert_int_eq(c.printer_usb_pid, 0x7523);
    config_free(&c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "printer: { usb_id = \"%s\"; };\n", bad[i]);
        snprintf(msg, sizeof msg, "printer.usb_id must be VID:PID with four hex digits each, "
                                  "like \"1a86:7523\" (see lsusb), not \"%s\"", bad[i]);
        expect_error(text, 1, msg);
    }
}
END_TEST

START_TEST(test_port_and_host_must_not_be_empty)
{
    expect_error("printer: { port = \"\"; };\n", 1,
                 "printer.port must not be empty; use \"auto\" or a device path such as "
                 "/dev/ttyUSB0");
    expect_error("mqtt: { host = \"\"; };\n", 1,
                 "mqtt.host must not be empty, e.g. host = \"localhost\";");
}
END_TEST

START_TEST(test_base_topic_may_be_a_multi_level_prefix)
{
    struct config c;
    load_ok("mqtt: { base_topic = \"octoprint/ender3/\"; };\n", &c);
    ck_assert_str_eq(c.mqtt_base_topic, "octoprint/ender3/");
    config_free(&c);
    load_ok("mqtt: { base_topic = \"octoPrint/\"; };\n", &c);
    ck_assert_str_eq(c.mqtt_base_topic, "octoPrint/");
    config_free(&c);
}
END_TEST

START_TEST(test_base_topic_must_end_with_a_slash)
{
    expect_error("mqtt: { base_topic = \"octoprint/ender3\"; };\n", 1,
                 "mqtt.base_topic must end with '/', e.g. base_topic = \"octoprint/ender3/\";");
    expect_error("mqtt: { base_topic = \"\"; };\n", 1,
                 "mqtt.base_topic must end with '/', e.g. base_topic = \"octoprint/\";");
}
END_TEST

START_TEST(test_base_topic_must_not_hold_wildcards_nul_or_control_characters)
{
    expect_error("mqtt: { base_topic = \"octoprint/#/\"; };\n", 1,
                 "mqtt.base_topic must not contain the MQTT wildcards '+' or '#', not "
                 "\"octoprint/#/\"");
    expect_error("mqtt: { base_topic = \"octo+print/\"; };\n", 1,
                 "mqtt.base_topic must not contain the MQTT wildcards '+' or '#', not "
                 "\"octo+print/\"");
    /* libconfig drops "\x00" silently: "octo\x00print/" would become "octoprint/" */
    expect_error("mqtt: { base_topic = \"octo\\x00print/\"; };\n", 1,
                 "mqtt.base_topic must not contain a NUL character (\\x00)");
    expect_error("mqtt: { base_topic = \"octo\\nprint/\"; };\n", 1,
                 "mqtt.base_topic must not contain control characters such as a newline");
    expect_error("mqtt: { base_topic = \"$SYS/\"; };\n", 1,
                 "mqtt.base_topic must not start with '$' (such topics are reserved for the "
                 "broker), not \"$SYS/\"");
}
END_TEST

START_TEST(test_escaped_backslash_before_x00_is_not_a_nul)
{
    struct config c;
    load_ok("mqtt: { username = \"u\"; password = \"a\\\\x00\"; };\n", &c);
    ck_assert_str_eq(c.mqtt_password, "a\\x00");
    config_free(&c);
}
END_TEST

START_TEST(test_derived_client_id_is_prefix_host_and_base_topic)
{
    char want[512];
    struct config c;

    load_ok("mqtt: { base_topic = \"octoprint/ender3/\"; };\n", &c);
    expected_client_id(want, sizeof want, "octoprint/ender3/");
    ck_assert_str_eq(c.mqtt_client_id, want);
    ck_assert_int_eq(strncmp(c.mqtt_client_id, "printbridge-", 12), 0);
    size_t n = strlen(c.mqtt_client_id);
    ck_assert_uint_gt(n, 17);
    ck_assert_str_eq(c.mqtt_client_id + n - 17, "-octoprint-ender3");
    ck_assert_uint_eq(strspn(c.mqtt_client_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "0123456789-"), n);
    config_free(&c);
}
END_TEST

START_TEST(test_derived_client_id_stays_short_for_a_long_base_topic)
{
    char text[512];
    struct config c;

    snprintf(text, sizeof text, "mqtt: { base_topic = \"%0300d/\"; };\n", 0);
    load_ok(text, &c);
    ck_assert_uint_le(strlen(c.mqtt_client_id), 128);
    ck_assert_int_ne(c.mqtt_client_id[strlen(c.mqtt_client_id) - 1], '-');
    config_free(&c);
}
END_TEST

START_TEST(test_client_id_and_username_must_not_be_empty)
{
    expect_error("mqtt: { client_id = \"\"; };\n", 1,
                 "mqtt.client_id must not be empty; remove the line to use the default derived "
                 "from the host name");
    expect_error("mqtt: { username = \"\"; };\n", 1,
                 "mqtt.username must not be empty; remove the line to connect without a user "
                 "name");
}
END_TEST

START_TEST(test_password_without_username_is_an_error)
{
    expect_error("mqtt: {\n  host = \"h\";\n  password = \"secret\";\n};\n", 3,
                 "mqtt.password is set but mqtt.username is not; add username = \"...\"; or "
                 "remove the password");
}
END_TEST

START_TEST(test_log_levels_are_parsed_by_name)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    char text[64];
    struct config c;

    for (int i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "log: { level = \"%s\"; };\n", names[i]);
        load_ok(text, &c);
        ck_assert_int_eq(c.log_level, i);
        config_free(&c);
    }
    expect_error("log: { level = \"verbose\"; };\n", 1,
                 "log.level must be one of \"error\", \"warn\", \"info\" or \"debug\", not "
                 "\"verbose\"");
    expect_error("log: { level = 3; };\n", 1,
                 "log.level must be one of \"error\", \"warn\", \"info\" or \"debug\", e.g. "
                 "level = \"info\";");
}
END_TEST

/* ---- publishing and Home Assistant keys ------------------------------------------------ */

START_TEST(test_mqtt_publishing_key_errors)
{
    char *text, *want;
    expect_error("mqtt: {\n protocol = \"3.1\"; };\n", 2,
                 "mqtt.protocol must be \"3.1.1\" or \"5\", not \"3.1\"");
    expect_error("topics: { event = \"event/#\"; };\n", 1,
                 "topics.event must not contain the MQTT wildcards '+' or '#', not \"event/#\"");
    expect_error("topics: { state = \"/state\"; };\n", 1,
                 "topics.state must not start with '/' (base_topic already ends with one), not \"/state\"");
    expect_error("qos: { event = 3; };\n", 1, "qos.event must be between 0 and 2, not 3");
    expect_error("filter: {\n classes_off = [ \"positions\" ]; };\n", 2,
                 "filter.classes_off: unknown event class \"positions\"; the classes are server, comm, "
                 "files, printjob, gcode, position, timelapse, slicing, settings and unclassified");
    expect_error("filter: { events_off = [ \"a/b\" ]; };\n", 1,
                 "filter.events_off: \"a/b\" is not an event name such as \"ZChange\"");
    expect_error("mqtt: { tls_cert_file = \"c\"; };\n", 1,
                 "mqtt.tls_cert_file and mqtt.tls_key_file go together; set both or neither");
    expect_error("mqtt: { password_file = \"/x\"; };\n", 1,
                 "mqtt.password_file is set but mqtt.username is not; add username = \"...\";");
    expect_error("mqtt: { username = \"u\"; password = \"p\";\npassword_file = \"/x\"; };\n", 2,
                 "mqtt.password_file and mqtt.password are both set; keep one");
    ck_assert_int_ge(asprintf(&text, "mqtt: { username = \"u\";\n password_file = \"%s/none\"; };\n",
                              tmpdir), 0);
    ck_assert_int_ge(asprintf(&want, "mqtt.password_file: cannot read %s/none: No such file or directory",
                              tmpdir), 0);
    expect_error_rc(text, 2, -ENOENT, want);
    free(text);
    free(want);
    expect_error("profile: { extruders = 0; };\n", 1, "profile.extruders must be between 1 and 16, not 0");
}
END_TEST

/* homeassistant: defaults, and ids Home Assistant would refuse in a topic */
START_TEST(test_homeassistant_defaults_and_id_checks)
{
    struct config c;
    load_ok("", &c);
    ck_assert(c.ha_enabled);
    ck_assert_str_eq(c.ha_prefix, "homeassistant");
    ck_assert_ptr_null(c.ha_node_id);
    ck_assert_ptr_null(c.ha_device_name);
    ck_assert_double_eq(c.ha_republish_delay, 5);
    config_free(&c);
    load_ok("homeassistant: { enabled = false; prefix = \"ha/disc\"; node_id = \"ender-3_a\"; };\n", &c);
    ck_assert(!c.ha_enabled);
    ck_assert_str_eq(c.ha_prefix, "ha/disc");
    ck_assert_str_eq(c.ha_node_id, "ender-3_a");
    config_free(&c);
    expect_error("homeassistant: { node_id = \"ender 3\"; };\n", 1,
                 "homeassistant.node_id must be letters, digits, '_' or '-' only, e.g. node_id = \"ender3\";");
    expect_error("homeassistant: { prefix = \"homeassistant/\"; };\n", 1,
                 "homeassistant.prefix must be a topic prefix without wildcards or a trailing '/', "
                 "e.g. prefix = \"homeassistant\";");
    expect_error("homeassistant: { prefix = \"ha/#\"; };\n", 1,
                 "homeassistant.prefix must be a topic prefix without wildcards or a trailing '/', "
                 "e.g. prefix = \"homeassistant\";");
    /* the OctoPrint-HomeAssistant plugin's node id: off unless set, checked like node_id */
    load_ok("", &c);
    ck_assert_ptr_null(c.ha_octoprint_node_id);
    ck_assert_str_eq(c.ha_octoprint_node_name, "OctoPrint");
    config_free(&c);
    load_ok("homeassistant: { octoprint_node_id = \"3F2A9C\"; octoprint_node_name = \"Prusa\"; };\n", &c);
    ck_assert_str_eq(c.ha_octoprint_node_id, "3F2A9C");
    ck_assert_str_eq(c.ha_octoprint_node_name, "Prusa");
    config_free(&c);
    expect_error("homeassistant: { octoprint_node_id = \"a/b\"; };\n", 1,
                 "homeassistant.octoprint_node_id must be letters, digits, '_' or '-' only, e.g. node_id = \"ender3\";");
}
END_TEST

/* ---- scripts ----------------------------------------------------------------------------- */

START_TEST(test_script_string_is_split_into_trimmed_lines_without_blanks)
{
    struct config c;
    load_ok("scripts: { afterPrinterConnected = \"M117 Hello\\r\\n\\n  G28 X \\nM115\\n\"; };\n",
            &c);
    ck_assert_str_eq(c.script_after_connected[0], "M117 Hello");
    ck_assert_str_eq(c.script_after_connected[1], "G28 X");
    ck_assert_str_eq(c.script_after_connected[2], "M115");
    ck_assert_ptr_null(c.script_after_connected[3]);
    config_free(&c);
}
END_TEST

START_TEST(test_script_may_be_an_array_or_an_empty_list)
{
    struct config c;
    load_ok("scripts: { afterPrinterConnected = [ \"M117 a\",\n  \"\",\n  \"M115\\n\" ]; };\n", &c);
    ck_assert_str_eq(c.script_after_connected[0], "M117 a");
    ck_assert_str_eq(c.script_after_connected[1], "M115");
    ck_assert_ptr_null(c.script_after_connected[2]);
    config_free(&c);
    load_ok("scripts: { afterPrinterConnected = (); };\n", &c);
    ck_assert_ptr_null(c.script_after_connected[0]);
    config_free(&c);
}
END_TEST

START_TEST(test_script_array_element_with_a_newline_inside_is_an_error)
{
    expect_error("scripts: {\n  afterPrinterConnected = [ \"G28\",\n    \"M117 a\\nM115\", \"M1\" ];\n};\n",
                 3, "scripts.afterPrinterConnected element 2 contains a newline; give each "
                    "G-code line as its own string");
}
END_TEST

START_TEST(test_script_list_element_must_be_a_string)
{
    expect_error("scripts: { afterPrinterConnected = ( \"G28\", 5 ); };\n", 1,
                 "scripts.afterPrinterConnected element 2 must be a string, e.g. "
                 "afterPrinterConnected = [ \"M117 Hello\", \"M115\" ];");
    expect_error("scripts: { afterPrinterConnected = 5; };\n", 1,
                 "scripts.afterPrinterConnected must be a string or a list of strings, e.g. "
                 "afterPrinterConnected = [ \"M117 Hello\", \"M115\" ];");
}
END_TEST

START_TEST(test_script_holds_at_most_the_maximum_number_of_lines)
{
    char text[4096] = "scripts: { afterPrinterConnected = \"";
    char msg[128];
    struct config c;

    for (int i = 0; i < CONFIG_MAX_SCRIPT_LINES; i++)
        strcat(text, "M105\\n");
    strcat(text, "\"; };\n");
    load_ok(text, &c);
    ck_assert_str_eq(c.script_after_connected[CONFIG_MAX_SCRIPT_LINES - 1], "M105");
    ck_assert_ptr_null(c.script_after_connected[CONFIG_MAX_SCRIPT_LINES]);
    config_free(&c);

    strcpy(text + strlen(text) - strlen("\"; };\n"), "M106\"; };\n");
    snprintf(msg, sizeof msg, "scripts.afterPrinterConnected has more than %d G-code lines",
             CONFIG_MAX_SCRIPT_LINES);
    expect_error(text, 1, msg);
}
END_TEST

START_TEST(test_script_line_longer_than_a_serial_line_is_an_error)
{
    char text[2048];
    snprintf(text, sizeof text, "scripts: { afterPrinterConnected = \"M117 %01100d\"; };\n", 0);
    expect_error(text, 1, "scripts.afterPrinterConnected has a line of 1105 characters; at "
                          "most 1024 are allowed");
}
END_TEST

START_TEST(test_script_with_nul_is_an_error)
{
    expect_error("scripts: { afterPrinterConnected = [ \"G28\", \"M117 a\\x00b\" ]; };\n", 1,
                 "scripts.afterPrinterConnected must not contain a NUL character (\\x00)");
}
END_TEST

Suite *config_values_suite(void);
Suite *config_values_suite(void)
{
    Suite *s = suite_create("config_values");
    TCase *tc;

    tc = tcase_create("values");
    config_test_fixtures(tc);
    tcase_add_test(tc, test_baudrate_and_port_accept_auto);
    tcase_add_test(tc, test_baudrate_refuses_other_strings_and_floats);
    tcase_add_test(tc, test_integer_is_accepted_where_a_number_is_expected);
    tcase_add_test(tc, test_64_bit_integer_literal_in_range_is_accepted);
    tcase_add_test(tc, test_float_is_refused_where_an_integer_is_expected);
    tcase_add_test(tc, test_string_is_refused_where_a_number_is_expected);
    tcase_add_test(tc, test_number_is_refused_where_a_string_is_expected);
    tcase_add_test(tc, test_booleans_must_be_true_or_false);
    tcase_add_loop_test(tc, test_numbers_are_range_checked_at_both_ends, 0,
                        (int)(sizeof ranges / sizeof ranges[0]));
    tcase_add_test(tc, test_integers_wrapped_by_libconfig_are_reported_with_the_written_value);
    tcase_add_test(tc, test_64_bit_integer_literal_out_of_range_is_reported);
    tcase_add_test(tc, test_reconnect_max_delay_must_not_be_below_reconnect_delay);
    tcase_add_test(tc, test_usb_id_is_validated_lowercased_and_parsed);
    tcase_add_test(tc, test_port_and_host_must_not_be_empty);
    tcase_add_test(tc, test_base_topic_may_be_a_multi_level_prefix);
    tcase_add_test(tc, test_base_topic_must_end_with_a_slash);
    tcase_add_test(tc, test_base_topic_must_not_hold_wildcards_nul_or_control_characters);
    tcase_add_test(tc, test_escaped_backslash_before_x00_is_not_a_nul);
    tcase_add_test(tc, test_derived_client_id_is_prefix_host_and_base_topic);
    tcase_add_test(tc, test_derived_client_id_stays_short_for_a_long_base_topic);
    tcase_add_test(tc, test_client_id_and_username_must_not_be_empty);
    tcase_add_test(tc, test_password_without_username_is_an_error);
    tcase_add_test(tc, test_log_levels_are_parsed_by_name);
    tcase_add_test(tc, test_mqtt_publishing_key_errors);
    tcase_add_test(tc, test_homeassistant_defaults_and_id_checks);
    suite_add_tcase(s, tc);

    tc = tcase_create("scripts");
    config_test_fixtures(tc);
    tcase_add_test(tc, test_script_string_is_split_into_trimmed_lines_without_blanks);
    tcase_add_test(tc, test_script_may_be_an_array_or_an_empty_list);
    tcase_add_test(tc, test_script_array_element_with_a_newline_inside_is_an_error);
    tcase_add_test(tc, test_script_list_element_must_be_a_string);
    tcase_add_test(tc, test_script_holds_at_most_the_maximum_number_of_lines);
    tcase_add_test(tc, test_script_line_longer_than_a_serial_line_is_an_error);
    tcase_add_test(tc, test_script_with_nul_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}
