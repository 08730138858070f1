/* keys.c: the schema of the configuration file (keys.h): the key table and what is derived
 * from it alone: the defaults, freeing, and whether two loaded configurations differ in a
 * group. Defaults and ranges here are the ones documented in etc/printbridge.conf; a key added
 * to the table is documented there in the same commit. */
#include "keys.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "printbridge/base.h"

/* A client id is only a label for the broker; a very long base topic should not make it a
 * paragraph. MQTT 3.1.1 brokers accept more than the 23 characters the spec guarantees. */
#define CLIENT_ID_MAX 128

#define FIELD(f) offsetof(struct config, f)

/* THE schema. */
const struct key keys_table[] = {
    { "printer", "port", KIND_STRING, 0, 0, 0, "auto", FIELD(printer_port),
      "port = \"/dev/ttyUSB0\";", check_port },
    { "printer", "baudrate", KIND_BAUD, 1, 4000000, 115200, NULL, FIELD(printer_baudrate),
      "baudrate = 115200;", NULL },
    { "printer", "usb_id", KIND_STRING, 0, 0, 0, NULL, FIELD(printer_usb_id),
      "usb_id = \"1a86:7523\";", check_usb_id },
    { "printer", "reconnect_delay", KIND_FLOAT, 0.1, 3600, 2, NULL,
      FIELD(printer_reconnect_delay), "reconnect_delay = 2;", NULL },
    { "printer", "reconnect_max_delay", KIND_FLOAT, 0.1, 3600, 60, NULL,
      FIELD(printer_reconnect_max_delay), "reconnect_max_delay = 60;", NULL },
    { "printer", "connection_timeout", KIND_FLOAT, 1, 600, 10, NULL,
      FIELD(printer_connection_timeout), "connection_timeout = 10;", NULL },
    { "printer", "communication_timeout", KIND_FLOAT, 1, 3600, 30, NULL,
      FIELD(printer_communication_timeout), "communication_timeout = 30;", NULL },
    { "printer", "temperature_interval", KIND_FLOAT, 0.5, 3600, 5, NULL,
      FIELD(printer_temperature_interval), "temperature_interval = 5;", NULL },
    { "printer", "temperature_interval_target", KIND_FLOAT, 0.5, 3600, 2, NULL,
      FIELD(printer_temperature_interval_target), "temperature_interval_target = 2;", NULL },
    { "printer", "autoreport_interval", KIND_INT, 0, 60, 2, NULL,
      FIELD(printer_autoreport_interval), "autoreport_interval = 2;", NULL },
    { "printer", "position_autoreport_interval", KIND_INT, 0, 60, 0, NULL,
      FIELD(printer_position_autoreport_interval), "position_autoreport_interval = 5;", NULL },
    /* the protocol engine */
    { "printer", "checksum", KIND_STRING, 0, 0, 0, "auto", FIELD(printer_checksum),
      "checksum = \"auto\";", check_checksum },
    { "printer", "history_size", KIND_INT, 1000, 1000000, 1000, NULL,
      FIELD(printer_history_size), "history_size = 1000;", NULL },
    { "printer", "advanced_ok_window", KIND_INT, 0, 64, 8, NULL,
      FIELD(printer_advanced_ok_window), "advanced_ok_window = 8;", NULL },
    { "printer", "emergency_stop_on_error", KIND_BOOL, 0, 0, 1, NULL,
      FIELD(printer_emergency_stop_on_error), "emergency_stop_on_error = true;", NULL },
    { "printer", "blocked_commands", KIND_STRING, 0, 0, 0, "M0 M1", FIELD(printer_blocked_commands),
      "blocked_commands = \"M0 M1\";", NULL },
    { "printer", "reconnect", KIND_BOOL, 0, 0, 1, NULL, FIELD(printer_reconnect),
      "reconnect = true;", NULL },
    { "printer", "shutdown_command", KIND_STRING, 0, 0, 0, NULL, FIELD(printer_shutdown_command),
      "shutdown_command = \"sudo systemctl poweroff\";", NULL },
    { "printer", "zchange_mode", KIND_STRING, 0, 0, 0, "octoprint", FIELD(printer_zchange_mode),
      "zchange_mode = \"octoprint\";", check_zchange_mode },

    { "mqtt", "host", KIND_STRING, 0, 0, 0, "localhost", FIELD(mqtt_host),
      "host = \"localhost\";", check_host },
    { "mqtt", "port", KIND_INT, 1, 65535, 1883, NULL, FIELD(mqtt_port), "port = 1883;", NULL },
    { "mqtt", "base_topic", KIND_STRING, 0, 0, 0, "octoprint/", FIELD(mqtt_base_topic),
      "base_topic = \"octoprint/\";", check_base_topic },
    /* default derived from the host name and base topic, see keys_default_client_id */
    { "mqtt", "client_id", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_client_id),
      "client_id = \"printbridge-ender3\";", check_client_id },
    { "mqtt", "username", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_username),
      "username = \"printbridge\";", check_username },
    { "mqtt", "password", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_password),
      "password = \"secret\";", NULL },
    { "mqtt", "keepalive", KIND_INT, 0, 65535, 60, NULL, FIELD(mqtt_keepalive),
      "keepalive = 60;", NULL },
    { "mqtt", "password_file", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_password_file),
      "password_file = \"/etc/printbridge.secret\";", check_not_empty },
    { "mqtt", "protocol", KIND_STRING, 0, 0, 0, "3.1.1", FIELD(mqtt_protocol),
      "protocol = \"3.1.1\";", check_protocol },
    { "mqtt", "retain", KIND_BOOL, 0, 0, 1, NULL, FIELD(mqtt_retain), "retain = true;", NULL },
    { "mqtt", "status_retain", KIND_BOOL, 0, 0, 1, NULL, FIELD(mqtt_status_retain),
      "status_retain = true;", NULL },
    { "mqtt", "timestamp_field", KIND_STRING, 0, 0, 0, "_timestamp", FIELD(mqtt_timestamp_field),
      "timestamp_field = \"_timestamp\";", check_field_name },
    { "mqtt", "tls", KIND_BOOL, 0, 0, 0, NULL, FIELD(mqtt_tls), "tls = false;", NULL },
    { "mqtt", "tls_ca_file", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_tls_ca_file),
      "tls_ca_file = \"/etc/ssl/certs/ca-certificates.crt\";", check_not_empty },
    { "mqtt", "tls_cert_file", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_tls_cert_file),
      "tls_cert_file = \"/etc/printbridge/client.crt\";", check_not_empty },
    { "mqtt", "tls_key_file", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_tls_key_file),
      "tls_key_file = \"/etc/printbridge/client.key\";", check_not_empty },
    { "mqtt", "tls_insecure", KIND_BOOL, 0, 0, 0, NULL, FIELD(mqtt_tls_insecure),
      "tls_insecure = false;", NULL },
    { "mqtt", "queue_limit", KIND_INT, 0, 1000000, 1000, NULL, FIELD(mqtt_queue_limit),
      "queue_limit = 1000;", NULL },
    { "mqtt", "queue_file", KIND_STRING, 0, 0, 0, NULL, FIELD(mqtt_queue_file),
      "queue_file = \"/var/lib/printbridge/queue\";", check_not_empty },
    { "mqtt", "temperature_threshold", KIND_FLOAT, 0, 100, 0.1, NULL,
      FIELD(mqtt_temperature_threshold), "temperature_threshold = 0.1;", NULL },
    { "mqtt", "temperature_min_interval", KIND_FLOAT, 0, 3600, 0, NULL,
      FIELD(mqtt_temperature_min_interval), "temperature_min_interval = 0;", NULL },
    { "mqtt", "temperature_decimals", KIND_INT, -1, 6, -1, NULL,
      FIELD(mqtt_temperature_decimals), "temperature_decimals = -1;", NULL },
    { "mqtt", "printer_data", KIND_BOOL, 0, 0, 0, NULL, FIELD(mqtt_printer_data),
      "printer_data = false;", NULL },
    { "mqtt", "state_interval", KIND_FLOAT, 0, 3600, 1, NULL, FIELD(mqtt_state_interval),
      "state_interval = 1;", NULL },
    { "mqtt", "stats_interval", KIND_FLOAT, 0, 86400, 60, NULL, FIELD(mqtt_stats_interval),
      "stats_interval = 60;", NULL },
    { "mqtt", "republish_interval", KIND_FLOAT, 0, 86400, 0, NULL, FIELD(mqtt_republish_interval),
      "republish_interval = 30;", NULL },

    { "topics", "event", KIND_STRING, 0, 0, 0, "event/{event}", FIELD(topic_event),
      "event = \"event/{event}\";", check_topic },
    { "topics", "progress", KIND_STRING, 0, 0, 0, "progress/{progress}", FIELD(topic_progress),
      "progress = \"progress/{progress}\";", check_topic },
    { "topics", "temperature", KIND_STRING, 0, 0, 0, "temperature/{temp}",
      FIELD(topic_temperature), "temperature = \"temperature/{temp}\";", check_topic },
    { "topics", "status", KIND_STRING, 0, 0, 0, "mqtt", FIELD(topic_status),
      "status = \"mqtt\";", check_topic },
    { "topics", "state", KIND_STRING, 0, 0, 0, "state", FIELD(topic_state),
      "state = \"state\";", check_topic },
    { "topics", "stats", KIND_STRING, 0, 0, 0, "stats", FIELD(topic_stats),
      "stats = \"stats\";", check_topic },

    { "qos", "event", KIND_INT, 0, 2, 0, NULL, FIELD(qos_event), "event = 1;", NULL },
    { "qos", "progress", KIND_INT, 0, 2, 0, NULL, FIELD(qos_progress), "progress = 0;", NULL },
    { "qos", "temperature", KIND_INT, 0, 2, 0, NULL, FIELD(qos_temperature),
      "temperature = 0;", NULL },
    { "qos", "state", KIND_INT, 0, 2, 0, NULL, FIELD(qos_state), "state = 0;", NULL },
    { "qos", "stats", KIND_INT, 0, 2, 0, NULL, FIELD(qos_stats), "stats = 0;", NULL },

    { "filter", "classes_off", KIND_NAMES, 0, 0, 0, NULL, FIELD(filter_classes_off),
      "classes_off = [ \"position\", \"gcode\" ];", NULL },
    { "filter", "events_off", KIND_NAMES, 0, 0, 0, NULL, FIELD(filter_events_off),
      "events_off = [ \"ZChange\" ];", NULL },
    { "filter", "events_on", KIND_NAMES, 0, 0, 0, NULL, FIELD(filter_events_on),
      "events_on = [ \"Home\" ];", NULL },

    { "profile", "extruders", KIND_INT, 1, 16, 1, NULL, FIELD(profile_extruders),
      "extruders = 1;", NULL },
    { "profile", "heated_bed", KIND_BOOL, 0, 0, 1, NULL, FIELD(profile_heated_bed),
      "heated_bed = true;", NULL },
    { "profile", "heated_chamber", KIND_BOOL, 0, 0, 0, NULL, FIELD(profile_heated_chamber),
      "heated_chamber = false;", NULL },
    { "profile", "volume_width", KIND_FLOAT, 1, 10000, 200, NULL, FIELD(profile_volume_width),
      "volume_width = 200;", NULL },
    { "profile", "volume_depth", KIND_FLOAT, 1, 10000, 200, NULL, FIELD(profile_volume_depth),
      "volume_depth = 200;", NULL },
    { "profile", "volume_height", KIND_FLOAT, 1, 10000, 200, NULL,
      FIELD(profile_volume_height), "volume_height = 200;", NULL },
    /* the highest target Home Assistant's number entities offer, per kind of heater */
    { "profile", "max_tool_temperature", KIND_FLOAT, 1, 600, 300, NULL, FIELD(profile_max_tool_temperature),
      "max_tool_temperature = 300;", NULL },
    { "profile", "max_bed_temperature", KIND_FLOAT, 1, 300, 120, NULL, FIELD(profile_max_bed_temperature),
      "max_bed_temperature = 120;", NULL },
    { "profile", "max_chamber_temperature", KIND_FLOAT, 1, 200, 80, NULL, FIELD(profile_max_chamber_temperature),
      "max_chamber_temperature = 80;", NULL },

    { "scripts", "afterPrinterConnected", KIND_SCRIPT, 0, 0, 0, NULL,
      FIELD(script_after_connected),
      "afterPrinterConnected = [ \"M117 Hello\", \"M115\" ];", NULL },
    /* the other OctoPrint script names, storage and analysis */
#define SCRIPT_KEY(name, field) { "scripts", name, KIND_SCRIPT, 0, 0, 0, NULL, FIELD(field), \
                                  name " = [ \"M117 Hello\" ];", NULL }
    SCRIPT_KEY("beforePrintStarted", script_before_print_started),
    SCRIPT_KEY("afterPrintDone", script_after_print_done),
    SCRIPT_KEY("afterPrintCancelled", script_after_print_cancelled),
    SCRIPT_KEY("afterPrintPaused", script_after_print_paused),
    SCRIPT_KEY("beforePrintResumed", script_before_print_resumed),
    SCRIPT_KEY("beforePrinterDisconnected", script_before_printer_disconnected),
    SCRIPT_KEY("beforeToolChange", script_before_tool_change),
    SCRIPT_KEY("afterToolChange", script_after_tool_change),
#undef SCRIPT_KEY
    { "storage", "folder", KIND_STRING, 0, 0, 0, "/var/lib/printbridge/files", FIELD(storage_folder),
      "folder = \"/var/lib/printbridge/files\";", NULL },
    { "storage", "max_upload_size", KIND_INT, 1, 2047, 100, NULL, FIELD(storage_max_upload_size),
      "max_upload_size = 100;", NULL },
    { "analysis", "filament_diameter", KIND_FLOAT, 0.1, 10, 1.75, NULL, FIELD(analysis_filament_diameter),
      "filament_diameter = 1.75;", NULL },
    { "analysis", "acceleration", KIND_FLOAT, 1, 100000, 1500, NULL, FIELD(analysis_acceleration),
      "acceleration = 1500.0;", NULL },
    { "analysis", "junction_deviation", KIND_FLOAT, 0.001, 5, 0.05, NULL, FIELD(analysis_junction_deviation),
      "junction_deviation = 0.05;", NULL },

    /* Home Assistant discovery; unset, node_id and device_name are derived from the client id
     * where the discovery settings are made (src/app/options.c) */
    { "homeassistant", "enabled", KIND_BOOL, 0, 0, 1, NULL, FIELD(ha_enabled), "enabled = true;", NULL },
    { "homeassistant", "prefix", KIND_STRING, 0, 0, 0, "homeassistant", FIELD(ha_prefix),
      "prefix = \"homeassistant\";", check_ha_prefix },
    { "homeassistant", "node_id", KIND_STRING, 0, 0, 0, NULL, FIELD(ha_node_id),
      "node_id = \"ender3\";", check_ha_node_id },
    { "homeassistant", "device_name", KIND_STRING, 0, 0, 0, NULL, FIELD(ha_device_name),
      "device_name = \"Ender 3\";", check_not_empty },
    { "homeassistant", "republish_delay", KIND_FLOAT, 0, 300, 5, NULL, FIELD(ha_republish_delay),
      "republish_delay = 5;", NULL },
    /* the OctoPrint-HomeAssistant entity set, for automations written against that plugin */
    { "homeassistant", "octoprint_node_id", KIND_STRING, 0, 0, 0, NULL, FIELD(ha_octoprint_node_id),
      "octoprint_node_id = \"3f2a9c0b1d8e4f5a9b7c6d5e4f3a2b1c\";", check_ha_node_id },
    { "homeassistant", "octoprint_node_name", KIND_STRING, 0, 0, 0, "OctoPrint", FIELD(ha_octoprint_node_name),
      "octoprint_node_name = \"OctoPrint\";", check_not_empty },

    /* timelapse: off by default; argv lists, no shell */
    { "timelapse", "mode", KIND_STRING, 0, 0, 0, "off", FIELD(timelapse_mode), "mode = \"zchange\";",
      check_timelapse_mode },
    { "timelapse", "interval", KIND_FLOAT, 0.1, 3600, 10, NULL, FIELD(timelapse_interval), "interval = 10;", NULL },
    { "timelapse", "post_roll", KIND_FLOAT, 0, 3600, 0, NULL, FIELD(timelapse_post_roll), "post_roll = 0;", NULL },
    { "timelapse", "snapshot_command", KIND_NAMES, 0, 0, 0, NULL, FIELD(timelapse_snapshot_command),
      "snapshot_command = [ \"curl\", \"-fsS\", \"-o\", \"{file}\", \"http://camera/snapshot\" ];", NULL },
    { "timelapse", "snapshot_timeout", KIND_FLOAT, 0.1, 600, 10, NULL, FIELD(timelapse_snapshot_timeout),
      "snapshot_timeout = 10;", NULL },
    { "timelapse", "frame_extension", KIND_STRING, 0, 0, 0, "jpg", FIELD(timelapse_frame_extension),
      "frame_extension = \"jpg\";", check_not_empty },
    { "timelapse", "frames_folder", KIND_STRING, 0, 0, 0, "/var/lib/printbridge/timelapse/frames",
      FIELD(timelapse_frames_folder), "frames_folder = \"/var/lib/printbridge/timelapse/frames\";", check_not_empty },
    { "timelapse", "output_folder", KIND_STRING, 0, 0, 0, "/var/lib/printbridge/timelapse",
      FIELD(timelapse_output_folder), "output_folder = \"/var/lib/printbridge/timelapse\";", check_not_empty },
    { "timelapse", "ffmpeg", KIND_STRING, 0, 0, 0, "ffmpeg", FIELD(timelapse_ffmpeg), "ffmpeg = \"ffmpeg\";",
      check_not_empty },
    { "timelapse", "ffmpeg_args", KIND_NAMES, 0, 0, 0, NULL, FIELD(timelapse_ffmpeg_args),
      "ffmpeg_args = [ \"-c:v\", \"mpeg4\", \"-q:v\", \"5\" ];", NULL },
    { "timelapse", "fps", KIND_INT, 1, 120, 25, NULL, FIELD(timelapse_fps), "fps = 25;", NULL },
    { "timelapse", "movie_extension", KIND_STRING, 0, 0, 0, "mp4", FIELD(timelapse_movie_extension),
      "movie_extension = \"mp4\";", check_not_empty },
    { "timelapse", "render_timeout", KIND_FLOAT, 1, 86400, 600, NULL, FIELD(timelapse_render_timeout),
      "render_timeout = 600;", NULL },
    /* slicing: off by default */
    { "slicing", "enabled", KIND_BOOL, 0, 0, 0, NULL, FIELD(slicing_enabled), "enabled = true;", NULL },
    { "slicing", "slicer", KIND_STRING, 0, 0, 0, "prusaslicer", FIELD(slicing_slicer), "slicer = \"prusaslicer\";",
      check_not_empty },
    { "slicing", "command", KIND_NAMES, 0, 0, 0, NULL, FIELD(slicing_command),
      "command = [ \"prusa-slicer\", \"--export-gcode\", \"--load\", \"{profile}\", \"-o\", \"{output}\", \"{input}\" ];",
      NULL },
    { "slicing", "profiles_folder", KIND_STRING, 0, 0, 0, "/var/lib/printbridge/slicing-profiles",
      FIELD(slicing_profiles_folder), "profiles_folder = \"/var/lib/printbridge/slicing-profiles\";", check_not_empty },
    { "slicing", "profile", KIND_STRING, 0, 0, 0, "", FIELD(slicing_profile), "profile = \"pla-0.2.ini\";", NULL },
    { "slicing", "timeout", KIND_FLOAT, 1, 86400, 600, NULL, FIELD(slicing_timeout), "timeout = 600;", NULL },

    { "log", "level", KIND_LEVEL, 0, 0, LOG_LEVEL_INFO, NULL, FIELD(log_level),
      "level = \"info\";", NULL },
};
const size_t keys_count = sizeof keys_table / sizeof keys_table[0];

const struct key_group keys_groups[] = {
    { "printer", "printer: { port = \"auto\"; };" },
    { "mqtt", "mqtt: { host = \"localhost\"; };" },
    { "topics", "topics: { event = \"event/{event}\"; };" },
    { "qos", "qos: { event = 1; };" },
    { "filter", "filter: { classes_off = [ \"position\" ]; };" },
    { "profile", "profile: { extruders = 1; };" },
    { "scripts", "scripts: { afterPrinterConnected = \"M117 Hello\"; };" },
    { "storage", "storage: { folder = \"/var/lib/printbridge/files\"; };" },
    { "analysis", "analysis: { filament_diameter = 1.75; };" },
    { "homeassistant", "homeassistant: { enabled = true; };" },
    { "timelapse", "timelapse: { mode = \"zchange\"; };" },
    { "slicing", "slicing: { enabled = true; };" },
    { "log", "log: { level = \"info\"; };" },
};
const size_t keys_ngroups = sizeof keys_groups / sizeof keys_groups[0];


static const char *const kind_wants[] = {
    [KIND_STRING] = "a string",
    [KIND_INT] = "an integer",
    [KIND_FLOAT] = "a number",
    [KIND_BOOL] = "true or false",
    [KIND_BAUD] = "an integer or \"auto\"",
    [KIND_SCRIPT] = "a string or a list of strings",
    [KIND_LEVEL] = "one of \"error\", \"warn\", \"info\" or \"debug\"",
    [KIND_NAMES] = "a string or a list of strings",
};

const char *keys_kind_wants(enum key_kind kind) { return kind_wants[kind]; }

/* ---- lookup -------------------------------------------------------------------------- */

const struct key *keys_find(const char *group, const char *name)
{
    for (size_t i = 0; i < keys_count; i++)
        if (strcmp(keys_table[i].group, group) == 0 && strcmp(keys_table[i].name, name) == 0)
            return &keys_table[i];
    return NULL;
}

const struct key_group *keys_find_group(const char *name)
{
    for (size_t i = 0; i < keys_ngroups; i++)
        if (strcmp(keys_groups[i].name, name) == 0)
            return &keys_groups[i];
    return NULL;
}

/* ---- the default client id --------------------------------------------------------- */

char *keys_default_client_id(const char *base_topic)
{
    char host[256] = "";
    char *id;
    size_t len;

    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    if (asprintf(&id, "printbridge-%s-%s", host, base_topic ? base_topic : "") < 0)
        return NULL;
    /* two instances on one host (different base topics) get different ids */
    for (char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)
            *p = '-';
    len = strlen(id);
    if (len > CLIENT_ID_MAX)
        len = CLIENT_ID_MAX;
    while (len > 0 && id[len - 1] == '-')
        len--;
    id[len] = '\0';
    return id;
}

/* ---- defaults and free ------------------------------------------------------------- */

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < keys_count; i++) {
        const struct key *k = &keys_table[i];
        void *f = key_field(k, cfg);
        switch (k->kind) {
        case KIND_STRING:
            if (k->def_str)
                *(char **)f = strdup(k->def_str);
            break;
        case KIND_INT:
        case KIND_BAUD:
        case KIND_LEVEL:
            *(int *)f = (int)k->def;
            break;
        case KIND_FLOAT:
            *(double *)f = k->def;
            break;
        case KIND_BOOL:
            *(bool *)f = k->def != 0;
            break;
        case KIND_SCRIPT:
        case KIND_NAMES:
            break; /* empty: already zeroed */
        }
    }
    cfg->printer_usb_vid = -1;
    cfg->printer_usb_pid = -1;
    cfg->mqtt_client_id = keys_default_client_id(cfg->mqtt_base_topic);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    hookconfig_free(cfg->hooks);
    for (size_t i = 0; i < keys_count; i++) {
        const struct key *k = &keys_table[i];
        if (k->kind == KIND_STRING) {
            free(*(char **)key_field(k, cfg));
        } else if (k->kind == KIND_SCRIPT || k->kind == KIND_NAMES) {
            char **lines = key_field(k, cfg);
            for (int j = 0; j <= CONFIG_MAX_SCRIPT_LINES; j++)
                free(lines[j]);
        }
    }
    memset(cfg, 0, sizeof *cfg);
}

/* ---- comparison -------------------------------------------------------------------- */

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool key_same(const struct key *k, const void *a, const void *b)
{
    const void *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
    switch (k->kind) {
    case KIND_STRING:
        return same_string(*(char *const *)fa, *(char *const *)fb);
    case KIND_INT:
    case KIND_BAUD:
    case KIND_LEVEL:
        return *(const int *)fa == *(const int *)fb;
    case KIND_FLOAT:
        return *(const double *)fa == *(const double *)fb;
    case KIND_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case KIND_SCRIPT:
    case KIND_NAMES: {
        char *const *la = fa, *const *lb = fb;
        for (int i = 0; i <= CONFIG_MAX_SCRIPT_LINES; i++) {
            if (!same_string(la[i], lb[i]))
                return false;
            if (!la[i])
                return true;
        }
        return true;
    }
    }
    return false; /* a kind without a comparison: count it as changed */
}

static bool listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

bool keys_group_differs(const struct key *table, size_t n, const char *group,
                        const char *const *except, const void *a, const void *b)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].group, group) == 0 && !listed(except, table[i].name) &&
            !key_same(&table[i], a, b))
            return true;
    return false;
}

bool config_group_changed(const struct config *a, const struct config *b, const char *group,
                          const char *const *except)
{
    if (!keys_find_group(group))
        return true;
    return keys_group_differs(keys_table, keys_count, group, except, a, b);
}

bool config_key_changed(const struct config *a, const struct config *b, const char *group,
                        const char *name)
{
    const struct key *k = keys_find(group, name);
    return !k || !key_same(k, a, b);
}
