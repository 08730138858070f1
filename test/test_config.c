/* test_config.c: config_load against files written to a fresh mkdtemp folder per test. Owns
 * the checks that every key is read with its type, range and default; that "auto", integers
 * for numbers and the derived client id behave as documented; that etc/printbridge.conf loads
 * and documents every key with the code's defaults; and the exact one-line message of every
 * error path (users read these, so a changed word is a changed interface). */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "printbridge/config.h"
#include "printbridge/base.h"

/* Each test gets tmpdir inside rootdir. rootdir belongs to an unchecked fixture, which runs
 * in the runner itself, so it is removed even when a failing test skips its own teardown. */
static char rootdir[64]; /* "/tmp/pb-config-XXXXXX" */
static char tmpdir[PATH_MAX];
static char conf[PATH_MAX + 32]; /* the file the last write_conf wrote */

static void make_root(void)
{
    snprintf(rootdir, sizeof rootdir, "/tmp/pb-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rootdir));
    chmod(rootdir, 0711); /* let the unreadable-file test's "nobody" reach its folder */
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/tXXXXXX", rootdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    chmod(path, 0700); /* a test may have made it unreadable */
    remove(path);
    return 0;
}

static void teardown(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_root(void)
{
    nftw(rootdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes tmpdir/name (creating a "sub/" folder if named) and returns its path. */
static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX + 32];
    FILE *f;

    if (strncmp(name, "sub/", 4) == 0) {
        snprintf(path, sizeof path, "%s/sub", tmpdir);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *write_conf(const char *text)
{
    snprintf(conf, sizeof conf, "%s", write_file("t.conf", text));
    return conf;
}

static bool is_zeroed(const struct config *c)
{
    static const struct config zero;
    return memcmp(c, &zero, sizeof zero) == 0;
}

/* Loads path, which must fail with the negative errno rc and exactly the line want, and leave
 * c empty. */
static void expect_load_error_of(const char *path, int rc, const char *want)
{
    struct config c;
    char err[2048];

    memset(&c, 0x5a, sizeof c); /* garbage in: config_load must not free or keep it */
    ck_assert_int_eq(config_load(&c, path, err, sizeof err), rc);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_msg(is_zeroed(&c), "cfg not left empty after an error");
    config_free(&c);
}

/* Writes text as t.conf and expects rc and "<path>:<line>: <msg>". */
static void expect_error_rc(const char *text, int line, int rc, const char *msg)
{
    char *want;
    write_conf(text);
    ck_assert_int_ge(asprintf(&want, "%s:%d: %s", conf, line, msg), 0);
    expect_load_error_of(conf, rc, want);
    free(want);
}

/* A mistake in the file: -EINVAL and "<path>:<line>: <msg>". */
static void expect_error(const char *text, int line, const char *msg)
{
    expect_error_rc(text, line, -EINVAL, msg);
}

static void load_ok(const char *text, struct config *c)
{
    char err[2048] = "junk";
    write_conf(text);
    memset(c, 0x5a, sizeof *c);
    ck_assert_msg(config_load(c, conf, err, sizeof err) == 0, "unexpected error: %s", err);
    ck_assert_str_eq(err, "");
}

/* What the documentation promises for the derived client id, computed independently. */
static void expected_client_id(char *out, size_t outsz, const char *base_topic)
{
    char host[256] = "";
    size_t n;
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    snprintf(out, outsz, "printbridge-%s-%s", host, base_topic);
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '-';
    n = strlen(out);
    while (n > 0 && out[n - 1] == '-')
        out[--n] = '\0';
}

static void assert_default_values(const struct config *c)
{
    char id[512];
    ck_assert_str_eq(c->printer_port, "auto");
    ck_assert_int_eq(c->printer_baudrate, 115200);
    ck_assert_ptr_null(c->printer_usb_id);
    ck_assert_int_eq(c->printer_usb_vid, -1);
    ck_assert_int_eq(c->printer_usb_pid, -1);
    ck_assert_double_eq(c->printer_reconnect_delay, 2);
    ck_assert_double_eq(c->printer_reconnect_max_delay, 60);
    ck_assert_double_eq(c->printer_connection_timeout, 10);
    ck_assert_double_eq(c->printer_communication_timeout, 30);
    ck_assert_double_eq(c->printer_temperature_interval, 5);
    ck_assert_double_eq(c->printer_temperature_interval_target, 2);
    ck_assert_int_eq(c->printer_autoreport_interval, 2);
    ck_assert_str_eq(c->printer_checksum, "auto");
    ck_assert_int_eq(c->printer_history_size, 1000);
    ck_assert_int_eq(c->printer_advanced_ok_window, 8);
    ck_assert_int_eq(c->printer_emergency_stop_on_error, true);
    ck_assert_str_eq(c->printer_blocked_commands, "M0 M1");
    ck_assert_int_eq(c->printer_reconnect, true);
    ck_assert_ptr_null(c->printer_shutdown_command);
    ck_assert_str_eq(c->printer_zchange_mode, "octoprint");
    ck_assert_str_eq(c->mqtt_host, "localhost");
    ck_assert_int_eq(c->mqtt_port, 1883);
    ck_assert_str_eq(c->mqtt_base_topic, "octoprint/");
    expected_client_id(id, sizeof id, "octoprint/");
    ck_assert_str_eq(c->mqtt_client_id, id);
    ck_assert_ptr_null(c->mqtt_username);
    ck_assert_ptr_null(c->mqtt_password);
    ck_assert_int_eq(c->mqtt_keepalive, 60);
    ck_assert_int_eq(c->mqtt_retain, true);
    ck_assert_double_eq(c->mqtt_temperature_threshold, 0.1);
    ck_assert_ptr_null(c->mqtt_password_file);
    ck_assert_str_eq(c->mqtt_protocol, "3.1.1");
    ck_assert_int_eq(c->mqtt_status_retain, true);
    ck_assert_str_eq(c->mqtt_timestamp_field, "_timestamp");
    ck_assert_int_eq(c->mqtt_tls, false);
    ck_assert_ptr_null(c->mqtt_tls_ca_file);
    ck_assert_ptr_null(c->mqtt_tls_cert_file);
    ck_assert_ptr_null(c->mqtt_tls_key_file);
    ck_assert_int_eq(c->mqtt_tls_insecure, false);
    ck_assert_int_eq(c->mqtt_queue_limit, 1000);
    ck_assert_ptr_null(c->mqtt_queue_file);
    ck_assert_double_eq(c->mqtt_temperature_min_interval, 0);
    ck_assert_int_eq(c->mqtt_temperature_decimals, -1);
    ck_assert_int_eq(c->mqtt_printer_data, false);
    ck_assert_double_eq(c->mqtt_state_interval, 1);
    ck_assert_double_eq(c->mqtt_stats_interval, 60);
    ck_assert_str_eq(c->topic_event, "event/{event}");
    ck_assert_str_eq(c->topic_progress, "progress/{progress}");
    ck_assert_str_eq(c->topic_temperature, "temperature/{temp}");
    ck_assert_str_eq(c->topic_status, "mqtt");
    ck_assert_str_eq(c->topic_state, "state");
    ck_assert_str_eq(c->topic_stats, "stats");
    ck_assert_int_eq(c->qos_event + c->qos_progress + c->qos_temperature + c->qos_state + c->qos_stats, 0);
    ck_assert_ptr_null(c->filter_classes_off[0]);
    ck_assert_ptr_null(c->filter_events_off[0]);
    ck_assert_ptr_null(c->filter_events_on[0]);
    ck_assert_int_eq(c->profile_extruders, 1);
    ck_assert_int_eq(c->profile_heated_bed, true);
    ck_assert_int_eq(c->profile_heated_chamber, false);
    ck_assert_double_eq(c->profile_volume_width, 200);
    ck_assert_double_eq(c->profile_volume_depth, 200);
    ck_assert_double_eq(c->profile_volume_height, 200);
    ck_assert_ptr_null(c->script_after_connected[0]);
    ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
}

/* ---- defaults, every key, free ------------------------------------------------------ */

START_TEST(test_defaults_fill_every_key)
{
    struct config c;
    memset(&c, 0x5a, sizeof c);
    config_defaults(&c);
    assert_default_values(&c);
    ck_assert_ptr_null(c.path);
    config_free(&c);
}
END_TEST

START_TEST(test_empty_file_gives_the_defaults_and_keeps_the_path_as_given)
{
    struct config c;
    load_ok("", &c);
    assert_default_values(&c);
    ck_assert_str_eq(c.path, conf);
    config_free(&c);
}
END_TEST

START_TEST(test_empty_groups_and_comments_give_the_defaults)
{
    struct config c;
    load_ok("# comment\n// another\n/* and\n another */\nprinter: { };\nmqtt: {};\n"
            "scripts: {};\nlog: {};\n", &c);
    assert_default_values(&c);
    config_free(&c);
}
END_TEST

START_TEST(test_every_key_is_read)
{
    struct config c;
    load_ok("printer: {\n"
            "  port = \"/dev/ttyACM0\";\n"
            "  baudrate = 250000;\n"
            "  usb_id = \"2C99:000a\";\n"
            "  reconnect_delay = 0.5;\n"
            "  reconnect_max_delay = 30.5;\n"
            "  connection_timeout = 20;\n"
            "  communication_timeout = 45.5;\n"
            "  temperature_interval = 7.5;\n"
            "  temperature_interval_target = 1.5;\n"
            "  autoreport_interval = 0;\n"
            "};\n"
            "mqtt: {\n"
            "  host = \"broker.lan\";\n"
            "  port = 8883;\n"
            "  base_topic = \"octoprint/ender3/\";\n"
            "  client_id = \"my printer\";\n"
            "  username = \"user\";\n"
            "  password = \"\";\n"
            "  keepalive = 0;\n"
            "  retain = false;\n"
            "  temperature_threshold = 0.5;\n"
            "};\n"
            "scripts: { afterPrinterConnected = ( \"M117 Hi\", \"M115\" ); };\n"
            "log: { level = \"debug\"; };\n", &c);
    ck_assert_str_eq(c.printer_port, "/dev/ttyACM0");
    ck_assert_int_eq(c.printer_baudrate, 250000);
    ck_assert_str_eq(c.printer_usb_id, "2c99:000a"); /* lower-cased */
    ck_assert_int_eq(c.printer_usb_vid, 0x2c99);
    ck_assert_int_eq(c.printer_usb_pid, 0x000a);
    ck_assert_double_eq(c.printer_reconnect_delay, 0.5);
    ck_assert_double_eq(c.printer_reconnect_max_delay, 30.5);
    ck_assert_double_eq(c.printer_connection_timeout, 20);
    ck_assert_double_eq(c.printer_communication_timeout, 45.5);
    ck_assert_double_eq(c.printer_temperature_interval, 7.5);
    ck_assert_double_eq(c.printer_temperature_interval_target, 1.5);
    ck_assert_int_eq(c.printer_autoreport_interval, 0);
    ck_assert_str_eq(c.mqtt_host, "broker.lan");
    ck_assert_int_eq(c.mqtt_port, 8883);
    ck_assert_str_eq(c.mqtt_base_topic, "octoprint/ender3/");
    ck_assert_str_eq(c.mqtt_client_id, "my printer"); /* given: used as is */
    ck_assert_str_eq(c.mqtt_username, "user");
    ck_assert_str_eq(c.mqtt_password, "");
    ck_assert_int_eq(c.mqtt_keepalive, 0);
    ck_assert_int_eq(c.mqtt_retain, false);
    ck_assert_double_eq(c.mqtt_temperature_threshold, 0.5);
    ck_assert_str_eq(c.script_after_connected[0], "M117 Hi");
    ck_assert_str_eq(c.script_after_connected[1], "M115");
    ck_assert_ptr_null(c.script_after_connected[2]);
    ck_assert_int_eq(c.log_level, LOG_LEVEL_DEBUG);
    config_free(&c);
}
END_TEST

START_TEST(test_config_free_zeroes_and_is_safe_twice_and_on_zeroed_struct)
{
    struct config c = { 0 };
    config_free(&c);
    ck_assert(is_zeroed(&c));
    config_defaults(&c);
    config_free(&c);
    ck_assert(is_zeroed(&c));
    config_free(&c);
    ck_assert(is_zeroed(&c));
    load_ok("mqtt: { username = \"u\"; password = \"p\"; };\n"
            "scripts: { afterPrinterConnected = \"G28\\nM115\"; };\n", &c);
    config_free(&c);
    ck_assert(is_zeroed(&c));
    config_free(NULL);
}
END_TEST

START_TEST(test_error_text_is_truncated_to_the_buffer_and_may_be_omitted)
{
    struct config c;
    char err[16];
    char full[PATH_MAX + 128];

    snprintf(full, sizeof full, "%s/none.conf: cannot read config file: No such file or "
                                "directory", tmpdir);
    snprintf(conf, sizeof conf, "%s/none.conf", tmpdir);
    ck_assert_int_eq(config_load(&c, conf, err, sizeof err), -ENOENT);
    ck_assert_uint_eq(strlen(err), sizeof err - 1);
    ck_assert_int_eq(strncmp(err, full, sizeof err - 1), 0);
    ck_assert_int_eq(config_load(&c, conf, NULL, 0), -ENOENT);
    ck_assert(is_zeroed(&c));
}
END_TEST

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

/* ---- unknown names, groups and shapes --------------------------------------------------- */

START_TEST(test_unknown_key_suggests_a_close_known_key)
{
    expect_error("mqtt: {\n  hots = \"broker\";\n};\n", 2,
                 "unknown setting 'mqtt.hots'; did you mean 'mqtt.host'?");
    expect_error("printer: { baudrat = 1; };\n", 1,
                 "unknown setting 'printer.baudrat'; did you mean 'printer.baudrate'?");
    expect_error("scripts: { afterprinterconnected = \"G28\"; };\n", 1,
                 "unknown setting 'scripts.afterprinterconnected'; did you mean "
                 "'scripts.afterPrinterConnected'?");
}
END_TEST

START_TEST(test_unknown_key_without_a_close_match_has_no_suggestion)
{
    expect_error("mqtt: { colour = \"red\"; };\n", 1, "unknown setting 'mqtt.colour'");
    expect_error("scripts: { beforePrintStartd = \"G28\"; };\n", 1,
                 "unknown setting 'scripts.beforePrintStartd'; did you mean 'scripts.beforePrintStarted'?");
}
END_TEST

START_TEST(test_key_in_the_wrong_group_suggests_the_right_group)
{
    expect_error("mqtt: { baudrate = 115200; };\n", 1,
                 "unknown setting 'mqtt.baudrate'; did you mean 'printer.baudrate'?");
}
END_TEST

START_TEST(test_key_outside_any_group_suggests_the_groups_holding_it)
{
    expect_error("log: {};\nlevel = \"debug\";\n", 2,
                 "unknown setting 'level'; did you mean 'log.level'?");
    expect_error("port = 1883;\n", 1,
                 "unknown setting 'port'; did you mean 'printer.port' or 'mqtt.port'?");
}
END_TEST

START_TEST(test_unknown_group_is_an_error)
{
    expect_error("mqtt: {};\nmqqt: { port = 1; };\n", 2,
                 "unknown group 'mqqt'; did you mean 'mqtt'?");
    expect_error("serial: { port = \"auto\"; };\n", 1,
                 "unknown group 'serial'; the groups are printer, mqtt, topics, qos, filter, profile, scripts, storage, analysis, homeassistant, timelapse, slicing and log");
}
END_TEST

START_TEST(test_nested_group_inside_a_group_is_unknown)
{
    expect_error("mqtt: {\n  ssl: { cafile = \"x\"; };\n};\n", 2, "unknown setting 'mqtt.ssl'");
}
END_TEST

START_TEST(test_group_given_a_scalar_or_list_is_an_error)
{
    expect_error("mqtt = 5;\n", 1, "mqtt must be a group, e.g. mqtt: { host = \"localhost\"; };");
    expect_error("printer = ( { port = \"auto\"; } );\n", 1,
                 "printer must be a group, e.g. printer: { port = \"auto\"; };");
    expect_error("log = \"debug\";\n", 1, "log must be a group, e.g. log: { level = \"info\"; };");
}
END_TEST

START_TEST(test_key_given_a_group_is_an_error)
{
    expect_error("mqtt: {\n  port: { value = 1883; };\n};\n", 2,
                 "mqtt.port must be an integer, e.g. port = 1883;");
    expect_error("printer: { baudrate = [ 115200 ]; };\n", 1,
                 "printer.baudrate must be an integer or \"auto\", e.g. baudrate = 115200;");
}
END_TEST

/* ---- files and syntax -------------------------------------------------------------------- */

START_TEST(test_missing_file_names_errno)
{
    char path[PATH_MAX + 32], want[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    snprintf(want, sizeof want, "%s: cannot read config file: No such file or directory", path);
    expect_load_error_of(path, -ENOENT, want);
}
END_TEST

START_TEST(test_directory_is_not_a_config_file)
{
    char path[PATH_MAX + 32], want[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(want, sizeof want, "%s: cannot read config file: Is a directory", path);
    expect_load_error_of(path, -EISDIR, want);
}
END_TEST

/* Root reads anything, so the load runs in a child that drops to "nobody" first. */
START_TEST(test_unreadable_file_names_permission_denied)
{
    char got[PATH_MAX + 256] = "", want[PATH_MAX + 256];
    int fds[2], status;
    ssize_t n, len = 0;
    pid_t pid;

    write_conf("mqtt: { port = 1883; };\n");
    ck_assert_int_eq(chmod(conf, 0), 0);
    ck_assert_int_eq(chmod(tmpdir, 0755), 0);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct config c;
        char err[PATH_MAX + 128];
        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        int rc = config_load(&c, conf, err, sizeof err);
        dprintf(fds[1], "%d %s", rc, err);
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], got + len, sizeof got - 1 - (size_t)len)) > 0)
        len += n;
    got[len] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    snprintf(want, sizeof want, "%d %s: cannot read config file: Permission denied", -EACCES, conf);
    ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(test_syntax_error_names_file_and_line)
{
    expect_error("mqtt: {\n  port = ;\n};\n", 2, "syntax error");
    expect_error("mqtt: {\n  port = 1;\n  port = 2;\n};\n", 3, "duplicate setting name");
    expect_error("scripts: { afterPrinterConnected = [ \"G28\", 5 ]; };\n", 1,
                 "mismatched element type in array");
}
END_TEST

START_TEST(test_syntax_error_at_end_of_file_hints_at_the_likely_cause)
{
    /* the quote is missing on line 2, libconfig notices at the end of the file */
    expect_error("mqtt: {\n  host = \"localhost;\n  port = 1883;\n};\n", 5,
                 "syntax error (check for an unterminated string or missing brace above)");
    expect_error("mqtt: {\n  host = \"localhost\";\n  port = 1883;\n\n# end\n", 6,
                 "syntax error (check for an unterminated string or missing brace above)");
}
END_TEST

START_TEST(test_include_is_relative_to_the_config_file)
{
    char err[PATH_MAX + 256];
    struct config c;
    const char *main_conf;

    write_file("sub/part.conf", "port = 1884;\n");
    main_conf = write_file("sub/main.conf", "mqtt: {\n  @include \"part.conf\"\n};\n");
    snprintf(conf, sizeof conf, "%s", main_conf);
    ck_assert_msg(config_load(&c, conf, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.mqtt_port, 1884);
    config_free(&c);
}
END_TEST

START_TEST(test_error_inside_an_include_names_the_included_file)
{
    char want[PATH_MAX + 256], main_conf[PATH_MAX + 32];

    write_file("sub/part.conf", "mqtt: {\n  hots = \"x\";\n};\n");
    snprintf(main_conf, sizeof main_conf, "%s",
             write_file("sub/main.conf", "log: {};\n@include \"part.conf\"\n"));
    snprintf(want, sizeof want, "%s/sub/part.conf:2: unknown setting 'mqtt.hots'; did you mean "
                                "'mqtt.host'?", tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);

    write_file("sub/part.conf", "mqtt: { port = ; };\n");
    snprintf(want, sizeof want, "%s/sub/part.conf:1: syntax error", tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);
}
END_TEST

START_TEST(test_missing_include_names_the_path_and_errno)
{
    char want[PATH_MAX * 2 + 256], main_conf[PATH_MAX + 32];

    snprintf(main_conf, sizeof main_conf, "%s",
             write_file("sub/main.conf", "log: {};\n@include \"nope.conf\"\n"));
    snprintf(want, sizeof want, "%s:2: cannot open include file '%s/sub/nope.conf': No such file "
                                "or directory", main_conf, tmpdir);
    expect_load_error_of(main_conf, -ENOENT, want);

    snprintf(main_conf, sizeof main_conf, "%s",
             write_file("sub/main.conf", "@include \"/etc/printbridge-nope.conf\"\n"));
    snprintf(want, sizeof want, "%s:1: cannot open include file '/etc/printbridge-nope.conf': "
                                "@include paths are relative to the directory of %s",
             main_conf, main_conf);
    expect_load_error_of(main_conf, -ENOENT, want);
}
END_TEST

/* libconfig's scanner calls exit() on a directory (found by make fuzz): with SIGHUP that
 * ended a running daemon. Now a refused file like any other, nested includes too. */
START_TEST(test_include_of_a_directory_is_refused_not_fatal)
{
    char want[PATH_MAX * 2 + 256], main_conf[PATH_MAX + 32], part[PATH_MAX + 32];

    snprintf(main_conf, sizeof main_conf, "%s", write_file("sub/main.conf", "log: {};\n@include \"..\"\n"));
    snprintf(want, sizeof want, "%s:2: @include \"..\": %s/sub/.. is not a regular file", main_conf, tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);

    snprintf(part, sizeof part, "%s", write_file("sub/part.conf", "\n  @include \"\"\n"));
    snprintf(main_conf, sizeof main_conf, "%s", write_file("sub/main.conf", "@include \"part.conf\"\n"));
    snprintf(want, sizeof want, "%s:2: @include \"\": %s/sub/ is not a regular file", part, tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);
}
END_TEST

/* The same file reached through a relative path is reported under that relative path. */
START_TEST(test_errors_name_the_path_as_given)
{
    char cwd[PATH_MAX], rel[PATH_MAX * 2] = "", want[PATH_MAX * 3];

    write_file("sub/part.conf", "mqtt: { port = 0; };\n");
    write_file("sub/main.conf", "@include \"part.conf\"\n");
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    for (const char *p = cwd; *p; p++) /* one "../" per level climbs back to / */
        if (*p == '/' && p[1])
            strcat(rel, "../");
    strcat(rel, tmpdir + 1);
    strcat(rel, "/sub/main.conf");
    snprintf(want, sizeof want, "%.*spart.conf:1: mqtt.port must be between 1 and 65535, not 0",
             (int)(strlen(rel) - strlen("main.conf")), rel);
    expect_load_error_of(rel, -EINVAL, want);
}
END_TEST


START_TEST(test_mqtt_publishing_keys_are_read)
{
    struct config c;
    const char *pw = write_file("secret", "s3cret\nignored\n");
    char *text;
    ck_assert_int_ge(asprintf(&text,
            "mqtt: { username = \"u\"; password_file = \"%s\"; protocol = \"5\";\n"
            "  status_retain = false; timestamp_field = \"ts\"; tls = true;\n"
            "  tls_ca_file = \"ca.crt\"; tls_cert_file = \"c.crt\"; tls_key_file = \"c.key\";\n"
            "  tls_insecure = true; queue_limit = 5; queue_file = \"/tmp/q\";\n"
            "  temperature_min_interval = 10; temperature_decimals = 1; printer_data = true;\n"
            "  state_interval = 0.5; stats_interval = 0; };\n"
            "topics: { event = \"ev/{event}\"; progress = \"\"; temperature = \"t/{temp}\";\n"
            "  status = \"online\"; state = \"st\"; stats = \"\"; };\n"
            "qos: { event = 1; progress = 2; temperature = 1; state = 1; stats = 1; };\n"
            "filter: { classes_off = [ \"position\", \"gcode\" ]; events_off = \"Home\";\n"
            "  events_on = [ \"ZChange\" ]; };\n"
            "profile: { extruders = 2; heated_bed = false; heated_chamber = true;\n"
            "  volume_width = 250; volume_depth = 210; volume_height = 220.5; };\n", pw), 0);
    load_ok(text, &c);
    free(text);
    ck_assert_str_eq(c.mqtt_password, "s3cret");
    ck_assert_str_eq(c.mqtt_protocol, "5");
    ck_assert_int_eq(c.mqtt_status_retain, false);
    ck_assert_str_eq(c.mqtt_timestamp_field, "ts");
    ck_assert_int_eq(c.mqtt_tls, true);
    ck_assert_str_eq(c.mqtt_tls_ca_file, "ca.crt");
    ck_assert_str_eq(c.mqtt_tls_cert_file, "c.crt");
    ck_assert_str_eq(c.mqtt_tls_key_file, "c.key");
    ck_assert_int_eq(c.mqtt_tls_insecure, true);
    ck_assert_int_eq(c.mqtt_queue_limit, 5);
    ck_assert_str_eq(c.mqtt_queue_file, "/tmp/q");
    ck_assert_double_eq(c.mqtt_temperature_min_interval, 10);
    ck_assert_int_eq(c.mqtt_temperature_decimals, 1);
    ck_assert_int_eq(c.mqtt_printer_data, true);
    ck_assert_double_eq(c.mqtt_state_interval, 0.5);
    ck_assert_double_eq(c.mqtt_stats_interval, 0);
    ck_assert_str_eq(c.topic_event, "ev/{event}");
    ck_assert_str_eq(c.topic_progress, "");
    ck_assert_str_eq(c.topic_temperature, "t/{temp}");
    ck_assert_str_eq(c.topic_status, "online");
    ck_assert_str_eq(c.topic_state, "st");
    ck_assert_str_eq(c.topic_stats, "");
    ck_assert_int_eq(c.qos_event, 1);
    ck_assert_int_eq(c.qos_progress, 2);
    ck_assert_int_eq(c.qos_temperature, 1);
    ck_assert_int_eq(c.qos_state, 1);
    ck_assert_int_eq(c.qos_stats, 1);
    ck_assert_str_eq(c.filter_classes_off[0], "position");
    ck_assert_str_eq(c.filter_classes_off[1], "gcode");
    ck_assert_ptr_null(c.filter_classes_off[2]);
    ck_assert_str_eq(c.filter_events_off[0], "Home");
    ck_assert_str_eq(c.filter_events_on[0], "ZChange");
    ck_assert_int_eq(c.profile_extruders, 2);
    ck_assert_int_eq(c.profile_heated_bed, false);
    ck_assert_int_eq(c.profile_heated_chamber, true);
    ck_assert_double_eq(c.profile_volume_height, 220.5);
    config_free(&c);
}
END_TEST

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

/* ---- the shipped example ------------------------------------------------------------------ */

static const char *const all_keys[] = {
    "printer.port", "printer.baudrate", "printer.usb_id", "printer.reconnect_delay",
    "printer.reconnect_max_delay", "printer.connection_timeout",
    "printer.communication_timeout", "printer.temperature_interval",
    "printer.temperature_interval_target", "printer.autoreport_interval",
    "printer.checksum", "printer.history_size", "printer.advanced_ok_window",
    "printer.emergency_stop_on_error", "printer.blocked_commands", "printer.reconnect",
    "printer.shutdown_command", "printer.zchange_mode",
    "mqtt.host", "mqtt.port", "mqtt.base_topic", "mqtt.client_id", "mqtt.username",
    "mqtt.password", "mqtt.keepalive", "mqtt.retain", "mqtt.temperature_threshold",
    "mqtt.password_file", "mqtt.protocol", "mqtt.status_retain", "mqtt.timestamp_field",
    "mqtt.tls", "mqtt.tls_ca_file", "mqtt.tls_cert_file", "mqtt.tls_key_file",
    "mqtt.tls_insecure", "mqtt.queue_limit", "mqtt.queue_file",
    "mqtt.temperature_min_interval", "mqtt.temperature_decimals", "mqtt.printer_data",
    "mqtt.state_interval", "mqtt.stats_interval",
    "topics.event", "topics.progress", "topics.temperature", "topics.status", "topics.state",
    "topics.stats", "qos.event", "qos.progress", "qos.temperature", "qos.state", "qos.stats",
    "filter.classes_off", "filter.events_off", "filter.events_on",
    "profile.extruders", "profile.heated_bed", "profile.heated_chamber", "profile.volume_width",
    "profile.volume_depth", "profile.volume_height",
    "scripts.afterPrinterConnected", "homeassistant.enabled", "homeassistant.prefix",
    "homeassistant.node_id", "homeassistant.device_name", "homeassistant.republish_delay", "log.level",
    /* the other OctoPrint script names, storage and analysis */
    "scripts.beforePrintStarted", "scripts.afterPrintDone", "scripts.afterPrintCancelled",
    "scripts.afterPrintPaused", "scripts.beforePrintResumed", "scripts.beforePrinterDisconnected",
    "scripts.beforeToolChange", "scripts.afterToolChange", "storage.folder",
    "storage.max_upload_size", "analysis.filament_diameter", "analysis.acceleration",
    "analysis.junction_deviation",
    /* events and inbound (read by hookconfig.c) */
    "events.enabled", "events.timeout", "events.max_concurrent", "events.max_queued",
    "events.max_output", "events.progress_percent", "events.progress_minutes",
    "events.progress_layers", "events.subscriptions", "events.triggers", "inbound.enabled",
    "inbound.max_payload", "inbound.gcode_allow", "inbound.gcode_deny", "inbound.handlers",
    /* timelapse */
    "timelapse.mode", "timelapse.interval", "timelapse.post_roll", "timelapse.snapshot_command",
    "timelapse.snapshot_timeout", "timelapse.frame_extension", "timelapse.frames_folder",
    "timelapse.output_folder", "timelapse.ffmpeg", "timelapse.ffmpeg_args", "timelapse.fps",
    "timelapse.movie_extension", "timelapse.render_timeout",
    /* slicing */
    "slicing.enabled", "slicing.slicer", "slicing.command", "slicing.profiles_folder", "slicing.profile",
    "slicing.timeout",
};
#define NALL (sizeof all_keys / sizeof all_keys[0])

static char *read_example(char *path, size_t pathsz)
{
    const char *dir = getenv("PB_SRCDIR");
    FILE *f;
    char *text = calloc(1, 1 << 16);
    size_t n;

    snprintf(path, pathsz, "%s/etc/printbridge.conf", dir && *dir ? dir : ".");
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_ptr_nonnull(text);
    n = fread(text, 1, (1 << 16) - 1, f);
    ck_assert_uint_lt(n, (1 << 16) - 1);
    fclose(f);
    return text;
}

START_TEST(test_example_config_loads_cleanly_with_the_defaults)
{
    char path[PATH_MAX], err[PATH_MAX + 256];
    struct config c;
    char *text = read_example(path, sizeof path);

    free(text);
    ck_assert_msg(config_load(&c, path, err, sizeof err) == 0, "%s", err);
    assert_default_values(&c);
    config_free(&c);
}
END_TEST

/* Every key appears once, commented out as "#key = value;" inside its group, below a comment
 * block that gives its type and default; with all of them uncommented the file still loads
 * and every documented default is the code's default. */
START_TEST(test_example_config_documents_every_key_with_the_code_defaults)
{
    char path[PATH_MAX], err[PATH_MAX + 256], group[64] = "";
    int count[NALL] = { 0 };
    char *text = read_example(path, sizeof path);
    char *out = calloc(1, strlen(text) + 1), *o = out;
    const char *block = text;
    struct config c, d;

    ck_assert_ptr_nonnull(out);
    for (char *line = text; *line;) {
        char *eol = strchr(line, '\n');
        char *p = line + strspn(line, " \t"), name[64];
        size_t len = eol ? (size_t)(eol - line + 1) : strlen(line);
        int nlen = 0;

        if (*p == '\n' || *p == '\0')
            block = eol ? eol + 1 : line + len;
        if (sscanf(p, "%63[A-Za-z_]: {", name) == 1 && strstr(p, "{"))
            snprintf(group, sizeof group, "%s", name);
        if (p[0] == '#' && isalpha((unsigned char)p[1]) &&
            sscanf(p + 1, "%63[A-Za-z_]%n", name, &nlen) == 1 && strchr(p, '=')) {
            char full[160], doc[4096];
            size_t i;
            snprintf(full, sizeof full, "%s.%s", group, name);
            for (i = 0; i < NALL && strcmp(all_keys[i], full) != 0; i++)
                ;
            ck_assert_msg(i < NALL, "%s documents unknown key %s", path, full);
            count[i]++;
            snprintf(doc, sizeof doc, "%.*s", (int)(p - block), block);
            ck_assert_msg(strstr(doc, "Type:") && strstr(doc, "Default"),
                          "%s: %s lacks a Type: or Default line above it", path, full);
            if (strcmp(full, "mqtt.password_file") == 0) {
                /* excludes mqtt.password and names a file that need not exist: keep it */
                memcpy(o, line, len);
                o += len;
            } else {
                memcpy(o, line, (size_t)(p - line)); /* uncomment: drop the '#' */
                o += p - line;
                memcpy(o, p + 1, len - (size_t)(p - line) - 1);
                o += len - (size_t)(p - line) - 1;
            }
        } else {
            memcpy(o, line, len);
            o += len;
        }
        line += len;
    }
    for (size_t i = 0; i < NALL; i++)
        ck_assert_msg(count[i] == 1, "%s documents %s %d times", path, all_keys[i], count[i]);

    write_conf(out);
    free(out);
    free(text);
    ck_assert_msg(config_load(&c, conf, err, sizeof err) == 0, "uncommented example: %s", err);
    config_defaults(&d);
    /* the documented defaults */
    ck_assert_str_eq(c.printer_port, d.printer_port);
    ck_assert_int_eq(c.printer_baudrate, d.printer_baudrate);
    ck_assert_double_eq(c.printer_reconnect_delay, d.printer_reconnect_delay);
    ck_assert_double_eq(c.printer_reconnect_max_delay, d.printer_reconnect_max_delay);
    ck_assert_double_eq(c.printer_connection_timeout, d.printer_connection_timeout);
    ck_assert_double_eq(c.printer_communication_timeout, d.printer_communication_timeout);
    ck_assert_double_eq(c.printer_temperature_interval, d.printer_temperature_interval);
    ck_assert_double_eq(c.printer_temperature_interval_target,
                        d.printer_temperature_interval_target);
    ck_assert_int_eq(c.printer_autoreport_interval, d.printer_autoreport_interval);
    ck_assert_str_eq(c.mqtt_host, d.mqtt_host);
    ck_assert_int_eq(c.mqtt_port, d.mqtt_port);
    ck_assert_str_eq(c.mqtt_base_topic, d.mqtt_base_topic);
    ck_assert_int_eq(c.mqtt_keepalive, d.mqtt_keepalive);
    ck_assert_int_eq(c.mqtt_retain, d.mqtt_retain);
    ck_assert_double_eq(c.mqtt_temperature_threshold, d.mqtt_temperature_threshold);
    ck_assert_str_eq(c.mqtt_protocol, d.mqtt_protocol);
    ck_assert_int_eq(c.mqtt_status_retain, d.mqtt_status_retain);
    ck_assert_str_eq(c.mqtt_timestamp_field, d.mqtt_timestamp_field);
    ck_assert_int_eq(c.mqtt_tls, d.mqtt_tls);
    ck_assert_int_eq(c.mqtt_tls_insecure, d.mqtt_tls_insecure);
    ck_assert_int_eq(c.mqtt_queue_limit, d.mqtt_queue_limit);
    ck_assert_double_eq(c.mqtt_temperature_min_interval, d.mqtt_temperature_min_interval);
    ck_assert_int_eq(c.mqtt_temperature_decimals, d.mqtt_temperature_decimals);
    ck_assert_int_eq(c.mqtt_printer_data, d.mqtt_printer_data);
    ck_assert_double_eq(c.mqtt_state_interval, d.mqtt_state_interval);
    ck_assert_double_eq(c.mqtt_stats_interval, d.mqtt_stats_interval);
    ck_assert_str_eq(c.topic_event, d.topic_event);
    ck_assert_str_eq(c.topic_progress, d.topic_progress);
    ck_assert_str_eq(c.topic_temperature, d.topic_temperature);
    ck_assert_str_eq(c.topic_status, d.topic_status);
    ck_assert_str_eq(c.topic_state, d.topic_state);
    ck_assert_str_eq(c.topic_stats, d.topic_stats);
    ck_assert_int_eq(c.qos_event, d.qos_event);
    ck_assert_int_eq(c.qos_progress, d.qos_progress);
    ck_assert_int_eq(c.qos_temperature, d.qos_temperature);
    ck_assert_int_eq(c.qos_state, d.qos_state);
    ck_assert_int_eq(c.qos_stats, d.qos_stats);
    ck_assert_int_eq(c.profile_extruders, d.profile_extruders);
    ck_assert_int_eq(c.profile_heated_bed, d.profile_heated_bed);
    ck_assert_int_eq(c.profile_heated_chamber, d.profile_heated_chamber);
    ck_assert_double_eq(c.profile_volume_width, d.profile_volume_width);
    ck_assert_double_eq(c.profile_volume_depth, d.profile_volume_depth);
    ck_assert_double_eq(c.profile_volume_height, d.profile_volume_height);
    ck_assert_int_eq(c.log_level, d.log_level);
    ck_assert_ptr_nonnull(c.mqtt_tls_ca_file);
    ck_assert_ptr_nonnull(c.mqtt_queue_file);
    ck_assert_ptr_nonnull(c.filter_classes_off[0]);
    ck_assert_ptr_nonnull(c.filter_events_on[0]);
    /* keys without a literal default are shown with an example value */
    ck_assert_ptr_nonnull(c.printer_usb_id);
    ck_assert_ptr_nonnull(c.mqtt_client_id);
    ck_assert_ptr_nonnull(c.mqtt_username);
    ck_assert_ptr_nonnull(c.mqtt_password);
    ck_assert_ptr_nonnull(c.script_after_connected[0]);
    config_free(&d);
    config_free(&c);
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
}
END_TEST

Suite *config_suite(void);
Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("values");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults_fill_every_key);
    tcase_add_test(tc, test_empty_file_gives_the_defaults_and_keeps_the_path_as_given);
    tcase_add_test(tc, test_empty_groups_and_comments_give_the_defaults);
    tcase_add_test(tc, test_every_key_is_read);
    tcase_add_test(tc, test_mqtt_publishing_keys_are_read);
    tcase_add_test(tc, test_mqtt_publishing_key_errors);
    tcase_add_test(tc, test_config_free_zeroes_and_is_safe_twice_and_on_zeroed_struct);
    tcase_add_test(tc, test_error_text_is_truncated_to_the_buffer_and_may_be_omitted);
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
    suite_add_tcase(s, tc);

    tc = tcase_create("scripts");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_script_string_is_split_into_trimmed_lines_without_blanks);
    tcase_add_test(tc, test_script_may_be_an_array_or_an_empty_list);
    tcase_add_test(tc, test_script_array_element_with_a_newline_inside_is_an_error);
    tcase_add_test(tc, test_script_list_element_must_be_a_string);
    tcase_add_test(tc, test_script_holds_at_most_the_maximum_number_of_lines);
    tcase_add_test(tc, test_script_line_longer_than_a_serial_line_is_an_error);
    tcase_add_test(tc, test_script_with_nul_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unknown_key_suggests_a_close_known_key);
    tcase_add_test(tc, test_unknown_key_without_a_close_match_has_no_suggestion);
    tcase_add_test(tc, test_key_in_the_wrong_group_suggests_the_right_group);
    tcase_add_test(tc, test_key_outside_any_group_suggests_the_groups_holding_it);
    tcase_add_test(tc, test_unknown_group_is_an_error);
    tcase_add_test(tc, test_nested_group_inside_a_group_is_unknown);
    tcase_add_test(tc, test_group_given_a_scalar_or_list_is_an_error);
    tcase_add_test(tc, test_key_given_a_group_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_missing_file_names_errno);
    tcase_add_test(tc, test_directory_is_not_a_config_file);
    tcase_add_test(tc, test_unreadable_file_names_permission_denied);
    tcase_add_test(tc, test_syntax_error_names_file_and_line);
    tcase_add_test(tc, test_syntax_error_at_end_of_file_hints_at_the_likely_cause);
    tcase_add_test(tc, test_include_is_relative_to_the_config_file);
    tcase_add_test(tc, test_error_inside_an_include_names_the_included_file);
    tcase_add_test(tc, test_missing_include_names_the_path_and_errno);
    tcase_add_test(tc, test_include_of_a_directory_is_refused_not_fatal);
    tcase_add_test(tc, test_errors_name_the_path_as_given);
    tcase_add_test(tc, test_example_config_loads_cleanly_with_the_defaults);
    tcase_add_test(tc, test_homeassistant_defaults_and_id_checks);
    tcase_add_test(tc, test_example_config_documents_every_key_with_the_code_defaults);
    suite_add_tcase(s, tc);
    return s;
}
