/* test_config.c: what config_load makes of a good file: every key read with its type, the
 * default of every key (also from an empty file), config_free, and etc/printbridge.conf, which
 * must load and document every key with the code's defaults. How each value is checked is
 * tested in test_config_values.c, the file as a whole (names, syntax, includes) in
 * test_config_files.c. */
#include <check.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_helpers.h"
#include "printbridge/base.h"
#include "printbridge/config.h"

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
    ck_assert_double_eq(c->mqtt_republish_interval, 0);
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
    ck_assert_double_eq(c->profile_max_tool_temperature, 300);
    ck_assert_double_eq(c->profile_max_bed_temperature, 120);
    ck_assert_double_eq(c->profile_max_chamber_temperature, 80);
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
            "  state_interval = 0.5; stats_interval = 0; republish_interval = 15; };\n"
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
    ck_assert_double_eq(c.mqtt_republish_interval, 15);
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

/* ---- the shipped example ------------------------------------------------------------------ */

static const char *const all_keys[] = {
    "printer.port", "printer.baudrate", "printer.usb_id", "printer.reconnect_delay",
    "printer.reconnect_max_delay", "printer.connection_timeout",
    "printer.communication_timeout", "printer.temperature_interval",
    "printer.temperature_interval_target", "printer.autoreport_interval", "printer.position_autoreport_interval",
    "printer.checksum", "printer.history_size", "printer.advanced_ok_window",
    "printer.emergency_stop_on_error", "printer.blocked_commands", "printer.reconnect",
    "printer.shutdown_command", "printer.zchange_mode",
    "mqtt.host", "mqtt.port", "mqtt.base_topic", "mqtt.client_id", "mqtt.username",
    "mqtt.password", "mqtt.keepalive", "mqtt.retain", "mqtt.temperature_threshold",
    "mqtt.password_file", "mqtt.protocol", "mqtt.status_retain", "mqtt.timestamp_field",
    "mqtt.tls", "mqtt.tls_ca_file", "mqtt.tls_cert_file", "mqtt.tls_key_file",
    "mqtt.tls_insecure", "mqtt.queue_limit", "mqtt.queue_file",
    "mqtt.temperature_min_interval", "mqtt.temperature_decimals", "mqtt.printer_data",
    "mqtt.state_interval", "mqtt.stats_interval", "mqtt.republish_interval",
    "topics.event", "topics.progress", "topics.temperature", "topics.status", "topics.state",
    "topics.stats", "qos.event", "qos.progress", "qos.temperature", "qos.state", "qos.stats",
    "filter.classes_off", "filter.events_off", "filter.events_on",
    "profile.extruders", "profile.heated_bed", "profile.heated_chamber", "profile.volume_width",
    "profile.volume_depth", "profile.volume_height", "profile.max_tool_temperature",
    "profile.max_bed_temperature", "profile.max_chamber_temperature",
    "scripts.afterPrinterConnected", "homeassistant.enabled", "homeassistant.prefix",
    "homeassistant.node_id", "homeassistant.device_name", "homeassistant.republish_delay",
    "homeassistant.octoprint_node_id", "homeassistant.octoprint_node_name", "log.level",
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
    ck_assert_double_eq(c.mqtt_republish_interval, d.mqtt_republish_interval);
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
    ck_assert_double_eq(c.profile_max_tool_temperature, d.profile_max_tool_temperature);
    ck_assert_double_eq(c.profile_max_bed_temperature, d.profile_max_bed_temperature);
    ck_assert_double_eq(c.profile_max_chamber_temperature, d.profile_max_chamber_temperature);
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

Suite *config_suite(void);
Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("defaults");
    config_test_fixtures(tc);
    tcase_add_test(tc, test_defaults_fill_every_key);
    tcase_add_test(tc, test_empty_file_gives_the_defaults_and_keeps_the_path_as_given);
    tcase_add_test(tc, test_empty_groups_and_comments_give_the_defaults);
    tcase_add_test(tc, test_every_key_is_read);
    tcase_add_test(tc, test_mqtt_publishing_keys_are_read);
    tcase_add_test(tc, test_config_free_zeroes_and_is_safe_twice_and_on_zeroed_struct);
    suite_add_tcase(s, tc);

    tc = tcase_create("example");
    config_test_fixtures(tc);
    tcase_add_test(tc, test_example_config_loads_cleanly_with_the_defaults);
    tcase_add_test(tc, test_example_config_documents_every_key_with_the_code_defaults);
    suite_add_tcase(s, tc);
    return s;
}
