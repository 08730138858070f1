/* config.c: reads the libconfig file into struct config and explains every mistake in it.
 *
 * Owns the schema (the keys[] table below: every key's group, name, type, range, default and
 * field), the readers driven by it, config_defaults and the error messages. The unknown-key
 * check, the "did you mean" suggestions and the readers all walk that one table, so a key
 * added there is read, range-checked, defaulted and suggested everywhere at once; document it
 * in etc/printbridge.conf in the same commit.
 *
 * libconfig 1.5 is quiet about several mistakes (libraries.md 5.3). This file turns them into
 * errors: unknown keys (config_lookup would just miss them), type mismatches (no auto
 * conversion; an integer is accepted where a number is expected), integers wider than 32
 * bits (stored wrapped, e.g. 10000000000 -> 1410065408: found by re-reading the literal from
 * the file) and "\x00" in strings (dropped without a word: also found in the raw text).
 * Every error is one line "FILE:LINE: what is wrong", FILE as the user spelled it. */
#include "printbridge/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/serial.h"
#include "printbridge/base.h"

/* A client id is only a label for the broker; a very long base topic should not make it a
 * paragraph. MQTT 3.1.1 brokers accept more than the 23 characters the spec guarantees. */
#define CLIENT_ID_MAX 128
/* Config files are small; a bigger "config" is not worth re-reading for the raw checks. */
#define RAW_MAX_BYTES (1024 * 1024)
/* Longer names are never typos of ours; skipping them bounds the edit-distance rows. */
#define SUGGEST_MAX_NAME 64

enum kind {
    KIND_STRING,
    KIND_INT,
    KIND_FLOAT,  /* an integer literal is accepted too */
    KIND_BOOL,
    KIND_BAUD,   /* an integer, or the string "auto" (stored as 0) */
    KIND_SCRIPT, /* a string split at '\n', or a list/array of strings */
    KIND_LEVEL,  /* a log level name, stored as enum log_level */
    KIND_NAMES,  /* a list of names (or one string); stored like KIND_SCRIPT */
};

/* Extra validation of a string value; on failure writes the message tail ("must ...") into
 * why and returns -1. */
typedef int check_fn(const char *value, char *why, size_t whysz);

struct key {
    const char *group;
    const char *name;
    enum kind kind;
    double min, max;        /* inclusive; numbers only */
    double def;             /* default of numbers, bools and the log level */
    const char *def_str;    /* default of strings; NULL = unset */
    size_t off;             /* field in struct config */
    const char *example;    /* a correct line, shown in type errors */
    check_fn *check;
};

static check_fn check_port, check_usb_id, check_host, check_base_topic, check_client_id,
    check_username, check_protocol, check_topic, check_not_empty, check_field_name,
    check_ha_prefix, check_ha_node_id;

/* printer protocol engine: enumerated strings */
static int check_one_of(const char *v, const char *const *names, char *why, size_t whysz)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return 0;
    snprintf(why, whysz, "must be one of \"%s\", \"%s\"%s%s%s, not \"%s\"", names[0], names[1],
             names[2] ? ", \"" : "", names[2] ? names[2] : "", names[2] ? "\"" : "", v);
    return -1;
}

static int check_checksum(const char *v, char *why, size_t whysz)
{
    static const char *const names[] = { "auto", "always", "never", NULL };
    return check_one_of(v, names, why, whysz);
}

static int check_zchange_mode(const char *v, char *why, size_t whysz)
{
    static const char *const names[] = { "octoprint", "layer", NULL };
    return check_one_of(v, names, why, whysz);
}

static int check_timelapse_mode(const char *v, char *why, size_t whysz)
{
    static const char *const names[] = { "off", "zchange", "timed", NULL };
    return check_one_of(v, names, why, whysz);
}

#define FIELD(f) offsetof(struct config, f)

/* THE schema. Defaults and ranges here are the ones documented in etc/printbridge.conf. */
static const struct key keys[] = {
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
    /* protocol engine (issue 4) */
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
    /* default derived from the host name and base topic, see derive_client_id */
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

    { "scripts", "afterPrinterConnected", KIND_SCRIPT, 0, 0, 0, NULL,
      FIELD(script_after_connected),
      "afterPrinterConnected = [ \"M117 Hello\", \"M115\" ];", NULL },
    /* jobs (issue 5) */
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

    /* Home Assistant discovery (issue 8); node_id and device_name default from the client id,
     * see check_together */
    { "homeassistant", "enabled", KIND_BOOL, 0, 0, 1, NULL, FIELD(ha_enabled), "enabled = true;", NULL },
    { "homeassistant", "prefix", KIND_STRING, 0, 0, 0, "homeassistant", FIELD(ha_prefix),
      "prefix = \"homeassistant\";", check_ha_prefix },
    { "homeassistant", "node_id", KIND_STRING, 0, 0, 0, NULL, FIELD(ha_node_id),
      "node_id = \"ender3\";", check_ha_node_id },
    { "homeassistant", "device_name", KIND_STRING, 0, 0, 0, NULL, FIELD(ha_device_name),
      "device_name = \"Ender 3\";", check_not_empty },
    { "homeassistant", "republish_delay", KIND_FLOAT, 0, 300, 5, NULL, FIELD(ha_republish_delay),
      "republish_delay = 5;", NULL },

    /* timelapse (issue 11): off by default; argv lists, no shell */
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
    /* slicing (issue 11): off by default */
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
#define NKEYS (sizeof keys / sizeof keys[0])

static const struct group {
    const char *name;
    const char *example;
} groups[] = {
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
#define NUM_GROUPS (sizeof groups / sizeof groups[0])

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

/* A file's text, kept for the raw checks while one config_load runs. */
struct raw_file {
    struct raw_file *next;
    char *path;
    char *text; /* NULL when it could not be read */
};

struct loader {
    const char *path;  /* as given by the user */
    char *incdir;      /* include directory handed to libconfig, NULL for the CWD */
    char *err;
    size_t errsz;
    struct raw_file *raw;
    const config_setting_t *seen[NKEYS];
};

/* ---- small string helpers ---------------------------------------------------------- */

static void *field(struct config *c, const struct key *k) { return (char *)c + k->off; }

static int set_string(char **dst, const char *src)
{
    char *copy = NULL;
    if (src && !(copy = strdup(src)))
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

static void free_script(char **lines)
{
    for (int i = 0; i <= CONFIG_MAX_SCRIPT_LINES; i++) {
        free(lines[i]);
        lines[i] = NULL;
    }
}

/* "printbridge-<host>-<base topic>", every byte outside [A-Za-z0-9] made '-', so it stays a
 * client id any broker accepts and two instances on one host (different base topics) differ. */
static char *derive_client_id(const char *base_topic)
{
    char host[256] = "";
    char *id;
    size_t len;

    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    if (asprintf(&id, "printbridge-%s-%s", host, base_topic ? base_topic : "") < 0)
        return NULL;
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
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        void *f = field(cfg, k);
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
    cfg->mqtt_client_id = derive_client_id(cfg->mqtt_base_topic);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    hookconfig_free(cfg->hooks);
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].kind == KIND_STRING)
            free(*(char **)field(cfg, &keys[i]));
        else if (keys[i].kind == KIND_SCRIPT || keys[i].kind == KIND_NAMES)
            free_script((char **)field(cfg, &keys[i]));
    }
    memset(cfg, 0, sizeof *cfg);
}

/* ---- error messages ---------------------------------------------------------------- */

/* The path of a file libconfig names: the config itself as given, or an @include'd file,
 * which libconfig names as written in the @include line but opened under incdir. */
static char *resolve_path(const struct loader *l, const char *file)
{
    char *out;
    if (!file || strcmp(file, l->path) == 0)
        return strdup(l->path);
    if (file[0] == '/' || !l->incdir)
        return strdup(file);
    size_t n = strlen(l->incdir);
    const char *sep = n > 0 && l->incdir[n - 1] == '/' ? "" : "/";
    if (asprintf(&out, "%s%s%s", l->incdir, sep, file) < 0)
        return NULL;
    return out;
}

static void errf(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errf(struct loader *l, const char *fmt, ...)
{
    va_list ap;
    if (!l->err || l->errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(l->err, l->errsz, fmt, ap);
    va_end(ap);
}

/* Writes "FILE:LINE: <message>" for setting s; always returns -1. */
static int fail(struct loader *l, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    char *file = resolve_path(l, config_setting_source_file(s));

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errf(l, "%s:%u: %s", file ? file : l->path, config_setting_source_line(s), msg);
    free(file);
    return -1;
}

static int fail_oom(struct loader *l)
{
    errf(l, "%s: out of memory while reading the config file", l->path);
    return -1;
}

/* ---- did you mean ------------------------------------------------------------------ */

/* Optimal string alignment distance, case-insensitive: a swapped pair ("hots") costs 1. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t r0[SUGGEST_MAX_NAME + 1], r1[SUGGEST_MAX_NAME + 1], r2[SUGGEST_MAX_NAME + 1];
    size_t *pp = r0, *p = r1, *c = r2;

    if (la > SUGGEST_MAX_NAME || lb > SUGGEST_MAX_NAME)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            size_t cost = ai != bj;
            size_t best = p[j - 1] + cost;
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

/* Two typos in a three-letter word leave nothing of it ("foo" is not "log"). */
static size_t max_typo(const char *name) { return strlen(name) < 4 ? 1 : 2; }

/* Appends "; did you mean 'a'?" or "; did you mean 'a' or 'b'?" for the given candidates. */
static void format_suggestions(char *out, size_t outsz, const char *const *names, size_t n)
{
    size_t len;
    out[0] = '\0';
    if (n == 0)
        return;
    snprintf(out, outsz, "; did you mean ");
    for (size_t i = 0; i < n; i++) {
        len = strlen(out);
        snprintf(out + len, outsz - len, "%s'%s'", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                 names[i]);
    }
    len = strlen(out);
    snprintf(out + len, outsz - len, "?");
}

/* Suggestions for an unknown key `name` found in group `group` (NULL: at the top level).
 * Keys of the same group within distance 2 come first; failing that, a key of another group
 * with the same name ("mqtt.baudrate" -> printer.baudrate). At the top level any key within
 * distance 2 qualifies, since settings there belong in some group. */
static void suggest_key(char *out, size_t outsz, const char *group, const char *name)
{
    char full[NKEYS][64];
    const char *cands[NKEYS];
    size_t n = 0, best;

    for (int pass = 0; pass < 2 && n == 0; pass++) {
        best = pass == 0 ? max_typo(name) : 1; /* the farthest a suggestion may be */
        for (size_t i = 0; i < NKEYS; i++) {
            bool same = group && strcmp(keys[i].group, group) == 0;
            if (group && pass == 0 && !same)
                continue;
            if (group && pass == 1 && same)
                continue;
            size_t d = edit_distance(name, keys[i].name);
            if (d > best)
                continue;
            if (d < best)
                n = 0;
            best = d;
            snprintf(full[i], sizeof full[i], "%s.%s", keys[i].group, keys[i].name);
            cands[n++] = full[i];
        }
        if (!group)
            break;
    }
    format_suggestions(out, outsz, cands, n);
}

static void suggest_group(char *out, size_t outsz, const char *name)
{
    const char *cands[NUM_GROUPS];
    size_t n = 0, best = max_typo(name);
    for (size_t i = 0; i < NUM_GROUPS; i++) {
        size_t d = edit_distance(name, groups[i].name);
        if (d > best)
            continue;
        if (d < best)
            n = 0;
        best = d;
        cands[n++] = groups[i].name;
    }
    if (n) {
        format_suggestions(out, outsz, cands, n);
        return;
    }
    snprintf(out, outsz, "; the groups are ");
    for (size_t i = 0; i < NUM_GROUPS; i++) {
        size_t len = strlen(out);
        snprintf(out + len, outsz - len, "%s%s", i == 0 ? "" : i + 1 == NUM_GROUPS ? " and " : ", ",
                 groups[i].name);
    }
}

/* ---- raw text: what libconfig does not tell ---------------------------------------- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (!f)
        return NULL;
    buf = malloc(RAW_MAX_BYTES + 1);
    if (buf) {
        n = fread(buf, 1, RAW_MAX_BYTES + 1, f);
        if (ferror(f) || n > RAW_MAX_BYTES || memchr(buf, '\0', n)) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* The text of the file libconfig calls `file`, read once per load; NULL if unreadable. */
static const char *raw_text(struct loader *l, const char *file)
{
    char *path = resolve_path(l, file);
    struct raw_file *r;

    if (!path)
        return NULL;
    for (r = l->raw; r; r = r->next)
        if (strcmp(r->path, path) == 0) {
            free(path);
            return r->text;
        }
    r = calloc(1, sizeof *r);
    if (!r) {
        free(path);
        return NULL;
    }
    r->path = path;
    r->text = read_text(path);
    r->next = l->raw;
    l->raw = r;
    return r->text;
}

static const char *line_start(const char *text, unsigned line)
{
    for (unsigned i = 1; text && i < line; i++) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    return text;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* Skips white space and the three comment styles libconfig knows. */
static const char *skip_blank(const char *p)
{
    for (;;) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* The text of setting s's value: its name is on its source line, then '=' or ':'. */
static const char *raw_value(struct loader *l, const config_setting_t *s)
{
    const char *name = config_setting_name(s);
    const char *p = line_start(raw_text(l, config_setting_source_file(s)),
                               config_setting_source_line(s));
    size_t n;

    if (!p || !name)
        return NULL;
    n = strlen(name);
    for (const char *q = p; *q && *q != '\n'; q++) {
        if (*q == '"') { /* the name inside a string is not the name */
            while (*++q && *q != '"' && *q != '\n')
                if (*q == '\\' && q[1])
                    q++;
            if (*q != '"')
                return NULL;
            continue;
        }
        if (*q == '#' || (q[0] == '/' && (q[1] == '/' || q[1] == '*')))
            return NULL;
        if (strncmp(q, name, n) != 0 || (q > p && is_name_char(q[-1])) || is_name_char(q[n]))
            continue;
        const char *r = skip_blank(q + n);
        if (*r == '=' || *r == ':')
            return skip_blank(r + 1);
    }
    return NULL;
}

/* For an integer setting: if the literal in the file does not fit in 32 bits, libconfig
 * stored it wrapped. Returns the literal's length (and start in *lit) in that case, else 0. */
static int raw_wrapped_int(struct loader *l, const config_setting_t *s, const char **lit)
{
    const char *p = raw_value(l, s), *d;
    char *end;
    long long v;
    int base = 10;

    if (!p)
        return 0;
    d = p + (*p == '-' || *p == '+');
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))
        base = 16;
    if (!isxdigit((unsigned char)d[base == 16 ? 2 : 0]))
        return 0;
    errno = 0;
    v = strtoll(p, &end, base);
    if (errno != ERANGE && v >= INT_MIN && v <= INT_MAX)
        return 0;
    *lit = p;
    return end - p > 40 ? 40 : (int)(end - p);
}

/* True if a string literal in the value of s holds "\x00", which libconfig drops silently. */
static bool raw_has_nul(struct loader *l, const config_setting_t *s)
{
    const char *p = raw_value(l, s);
    int depth = 0;

    while (p && *p) {
        p = skip_blank(p);
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p != '\\')
                    continue;
                if (p[1] == 'x' && p[2] == '0' && p[3] == '0')
                    return true;
                if (p[1])
                    p++;
            }
            if (*p)
                p++;
        } else if (*p == '(' || *p == '[') {
            depth++;
            p++;
        } else if (depth > 0 && *p) {
            if ((*p == ')' || *p == ']') && --depth == 0)
                break;
            p++;
        } else {
            break;
        }
    }
    return false;
}

/* libconfig reports an unterminated string or a missing brace at the end of the file. */
static bool error_at_eof(const char *text, int line)
{
    int n = 1, last = 0;
    if (!text)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            n++;
        else if (!isspace((unsigned char)*p))
            last = n;
    }
    return line > last;
}

/* ---- string checks ----------------------------------------------------------------- */

static int check_port(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; use \"auto\" or a device path such as "
                         "/dev/ttyUSB0");
    return -1;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)p[i]))
            return -1;
        v = v * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0'
                                                   : tolower((unsigned char)p[i]) - 'a' + 10);
    }
    return v;
}

static int check_usb_id(const char *v, char *why, size_t whysz)
{
    if (strlen(v) == 9 && v[4] == ':' && hex4(v) >= 0 && hex4(v + 5) >= 0)
        return 0;
    snprintf(why, whysz, "must be VID:PID with four hex digits each, like \"1a86:7523\" "
                         "(see lsusb), not \"%s\"", v);
    return -1;
}

static int check_host(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty, e.g. host = \"localhost\";");
    return -1;
}

static int check_base_topic(const char *v, char *why, size_t whysz)
{
    size_t n = strlen(v);
    if (strpbrk(v, "+#")) {
        snprintf(why, whysz, "must not contain the MQTT wildcards '+' or '#', not \"%s\"", v);
        return -1;
    }
    if (v[0] == '$') {
        snprintf(why, whysz, "must not start with '$' (such topics are reserved for the "
                             "broker), not \"%s\"", v);
        return -1;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(why, whysz, "must not contain control characters such as a newline");
            return -1;
        }
    if (n == 0 || v[n - 1] != '/') {
        snprintf(why, whysz, "must end with '/', e.g. base_topic = \"%s/\";",
                 n ? v : "octoprint");
        return -1;
    }
    return 0;
}

static int check_client_id(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; remove the line to use the default derived "
                         "from the host name");
    return -1;
}

static int check_username(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; remove the line to connect without a user name");
    return -1;
}

static int check_not_empty(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; remove the line to leave it unset");
    return -1;
}

static int check_protocol(const char *v, char *why, size_t whysz)
{
    if (strcmp(v, "3.1.1") == 0 || strcmp(v, "5") == 0)
        return 0;
    snprintf(why, whysz, "must be \"3.1.1\" or \"5\", not \"%s\"", v);
    return -1;
}

/* A sub-topic under base_topic; "" switches it off. */
static int check_topic(const char *v, char *why, size_t whysz)
{
    if (strpbrk(v, "+#")) {
        snprintf(why, whysz, "must not contain the MQTT wildcards '+' or '#', not \"%s\"", v);
        return -1;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(why, whysz, "must not contain control characters such as a newline");
            return -1;
        }
    if (v[0] == '/') {
        snprintf(why, whysz, "must not start with '/' (base_topic already ends with one), "
                             "not \"%s\"", v);
        return -1;
    }
    return 0;
}

static int check_field_name(const char *v, char *why, size_t whysz)
{
    if (!*v) {
        snprintf(why, whysz, "must not be empty, e.g. timestamp_field = \"_timestamp\";");
        return -1;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            snprintf(why, whysz, "must not contain quotes, backslashes or control characters");
            return -1;
        }
    return 0;
}

/* Home Assistant's discovery prefix is a topic prefix without the slash ("homeassistant",
 * "ha/discovery"): no wildcards, no empty level, no trailing slash */
static int check_ha_prefix(const char *v, char *why, size_t whysz)
{
    size_t n = strlen(v);
    if (n == 0 || v[0] == '/' || v[n - 1] == '/' || strstr(v, "//") || strpbrk(v, "#+")) {
        snprintf(why, whysz, "must be a topic prefix without wildcards or a trailing '/', "
                             "e.g. prefix = \"homeassistant\";");
        return -1;
    }
    return 0;
}

/* Home Assistant allows only [a-zA-Z0-9_-] in a discovery topic's ids */
static int check_ha_node_id(const char *v, char *why, size_t whysz)
{
    bool ok = *v != '\0';
    for (const char *p = v; *p && ok; p++)
        ok = isalnum((unsigned char)*p) && (unsigned char)*p < 0x80 ? true : *p == '_' || *p == '-';
    if (!ok)
        snprintf(why, whysz, "must be letters, digits, '_' or '-' only, e.g. node_id = \"ender3\";");
    return ok ? 0 : -1;
}

/* OctoPrint-MQTT's event classes (wire-format.md 5.2) */
static const char *const event_classes[] = {
    "server", "comm", "files", "printjob", "gcode", "position", "timelapse", "slicing",
    "settings", "unclassified",
};

static bool is_event_class(const char *v)
{
    for (size_t i = 0; i < sizeof event_classes / sizeof event_classes[0]; i++)
        if (strcmp(event_classes[i], v) == 0)
            return true;
    return false;
}

static bool is_event_name(const char *v)
{
    if (!*v)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '$' && *p != '-' && *p != '.')
            return false;
    return true;
}

/* ---- readers ----------------------------------------------------------------------- */

static int fail_type(struct loader *l, const config_setting_t *s, const struct key *k)
{
    return fail(l, s, "%s.%s must be %s, e.g. %s", k->group, k->name, kind_wants[k->kind],
                k->example);
}

/* Reads an INT/INT64/FLOAT setting as a number, refusing what libconfig wrapped. */
static int read_number(struct loader *l, const config_setting_t *s, const struct key *k,
                       double *out)
{
    const char *lit;
    int litlen;
    double v;

    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        if ((litlen = raw_wrapped_int(l, s, &lit)) > 0)
            return fail(l, s, "%s.%s must be between %.15g and %.15g, not %.*s (too big for "
                              "libconfig's 32-bit integers: it was read as %d)",
                        k->group, k->name, k->min, k->max, litlen, lit,
                        config_setting_get_int(s));
        v = config_setting_get_int(s);
        break;
    case CONFIG_TYPE_INT64:
        v = (double)config_setting_get_int64(s);
        if (k->kind != KIND_FLOAT && (v < k->min || v > k->max))
            return fail(l, s, "%s.%s must be between %.15g and %.15g, not %lld", k->group, k->name,
                        k->min, k->max, config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        if (k->kind != KIND_FLOAT)
            return fail_type(l, s, k);
        v = config_setting_get_float(s);
        break;
    default:
        return fail_type(l, s, k);
    }
    if (!(v >= k->min && v <= k->max)) /* also catches NaN */
        return fail(l, s, "%s.%s must be between %.15g and %.15g, not %.15g", k->group, k->name,
                    k->min, k->max, v);
    *out = v;
    return 0;
}

static int add_script_line(struct loader *l, const config_setting_t *s, const struct key *k,
                           char **lines, int *n, const char *text, size_t len)
{
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0)
        return 0;
    if (*n >= CONFIG_MAX_SCRIPT_LINES)
        return fail(l, s, "%s.%s has more than %d G-code lines", k->group, k->name,
                    CONFIG_MAX_SCRIPT_LINES);
    if (len > FRAMING_MAX_LINE)
        return fail(l, s, "%s.%s has a line of %zu characters; at most %d are allowed",
                    k->group, k->name, len, FRAMING_MAX_LINE);
    if (!(lines[*n] = strndup(text, len)))
        return fail_oom(l);
    (*n)++;
    return 0;
}

static int read_script(struct loader *l, const config_setting_t *s, const struct key *k,
                       char **lines)
{
    int n = 0;

    free_script(lines);
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        const char *p = config_setting_get_string(s);
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            if (add_script_line(l, s, k, lines, &n, p, len) < 0)
                return -1;
            if (!nl)
                return 0;
            p = nl + 1;
        }
    }
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return fail_type(l, s, k);
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v, *end;
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return fail(l, e, "%s.%s element %d must be a string, e.g. %s", k->group, k->name,
                        i + 1, k->example);
        v = config_setting_get_string(e);
        end = v + strlen(v);
        while (end > v && isspace((unsigned char)end[-1]))
            end--;
        if (memchr(v, '\n', (size_t)(end - v)))
            return fail(l, e, "%s.%s element %d contains a newline; give each G-code line "
                              "as its own string", k->group, k->name, i + 1);
        if (add_script_line(l, s, k, lines, &n, v, (size_t)(end - v)) < 0)
            return -1;
    }
    return 0;
}

static int read_key(struct loader *l, const config_setting_t *s, const struct key *k,
                    struct config *c)
{
    void *f = field(c, k);
    char why[512];
    double num;

    switch (k->kind) {
    case KIND_STRING:
    case KIND_LEVEL: {
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return fail_type(l, s, k);
        const char *v = config_setting_get_string(s);
        if (raw_has_nul(l, s))
            return fail(l, s, "%s.%s must not contain a NUL character (\\x00)", k->group,
                        k->name);
        if (k->kind == KIND_LEVEL) {
            int level = log_level_parse(v);
            if (level < 0)
                return fail(l, s, "%s.%s must be %s, not \"%s\"", k->group, k->name,
                            kind_wants[k->kind], v);
            *(int *)f = level;
            return 0;
        }
        if (k->check && k->check(v, why, sizeof why) < 0)
            return fail(l, s, "%s.%s %s", k->group, k->name, why);
        return set_string((char **)f, v) < 0 ? fail_oom(l) : 0;
    }
    case KIND_BAUD:
        if (config_setting_type(s) == CONFIG_TYPE_STRING) {
            if (strcmp(config_setting_get_string(s), "auto") != 0)
                return fail_type(l, s, k);
            *(int *)f = 0;
            return 0;
        }
        if (read_number(l, s, k, &num) < 0)
            return -1;
        *(int *)f = (int)num;
        return 0;
    case KIND_INT:
        if (read_number(l, s, k, &num) < 0)
            return -1;
        *(int *)f = (int)num;
        return 0;
    case KIND_FLOAT:
        if (read_number(l, s, k, &num) < 0)
            return -1;
        *(double *)f = num;
        return 0;
    case KIND_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return fail_type(l, s, k);
        *(bool *)f = config_setting_get_bool(s) != 0;
        return 0;
    case KIND_SCRIPT:
    case KIND_NAMES:
        if (raw_has_nul(l, s))
            return fail(l, s, "%s.%s must not contain a NUL character (\\x00)", k->group,
                        k->name);
        return read_script(l, s, k, (char **)f);
    }
    return fail(l, s, "%s.%s has no reader (a bug in config.c)", k->group, k->name);
}

/* ---- the walk ---------------------------------------------------------------------- */

static const struct group *find_group(const char *name)
{
    for (size_t i = 0; i < NUM_GROUPS; i++)
        if (strcmp(groups[i].name, name) == 0)
            return &groups[i];
    return NULL;
}

static int read_group(struct loader *l, const config_setting_t *g, const struct group *grp,
                      struct config *c)
{
    char hint[256];
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        size_t k;
        for (k = 0; k < NKEYS; k++)
            if (strcmp(keys[k].group, grp->name) == 0 && strcmp(keys[k].name, name) == 0)
                break;
        if (k == NKEYS) {
            suggest_key(hint, sizeof hint, grp->name, name);
            return fail(l, s, "unknown setting '%s.%s'%s", grp->name, name, hint);
        }
        l->seen[k] = s;
        if (read_key(l, s, &keys[k], c) < 0)
            return -1;
    }
    return 0;
}

/* The setting that set the field at off, or NULL if it kept its default. */
static const config_setting_t *seen_at(const struct loader *l, size_t off)
{
    for (size_t k = 0; k < NKEYS; k++)
        if (keys[k].off == off)
            return l->seen[k];
    return NULL;
}

/* Settings read, now what only the whole file can tell. */
static int check_together(struct loader *l, struct config *c)
{
    const config_setting_t *s;

    if (c->printer_reconnect_max_delay < c->printer_reconnect_delay) {
        /* blame the line that was written: max_delay, or a delay above the default cap */
        if ((s = seen_at(l, FIELD(printer_reconnect_max_delay))))
            return fail(l, s, "printer.reconnect_max_delay (%.15g) must not be less than "
                              "printer.reconnect_delay (%.15g)",
                        c->printer_reconnect_max_delay, c->printer_reconnect_delay);
        return fail(l, seen_at(l, FIELD(printer_reconnect_delay)),
                    "printer.reconnect_delay (%.15g) is more than printer.reconnect_max_delay "
                    "(default %.15g); set reconnect_max_delay too",
                    c->printer_reconnect_delay, c->printer_reconnect_max_delay);
    }
    if (c->mqtt_password && !c->mqtt_username)
        return fail(l, seen_at(l, FIELD(mqtt_password)),
                    "mqtt.password is set but mqtt.username is not; add username = \"...\"; "
                    "or remove the password");
    if (c->mqtt_password_file) {
        s = seen_at(l, FIELD(mqtt_password_file));
        if (c->mqtt_password)
            return fail(l, s, "mqtt.password_file and mqtt.password are both set; keep one");
        if (!c->mqtt_username)
            return fail(l, s, "mqtt.password_file is set but mqtt.username is not; add "
                              "username = \"...\";");
        FILE *f = fopen(c->mqtt_password_file, "r");
        char line[1024];
        if (!f)
            return fail(l, s, "mqtt.password_file: cannot read %s: %s", c->mqtt_password_file,
                        strerror(errno));
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            return fail(l, s, "mqtt.password_file: %s is empty; put the password on its "
                              "first line", c->mqtt_password_file);
        if (!(c->mqtt_password = strdup(line)))
            return fail_oom(l);
        explicit_bzero(line, sizeof line);
    }
    if ((c->mqtt_tls_cert_file != NULL) != (c->mqtt_tls_key_file != NULL))
        return fail(l, seen_at(l, c->mqtt_tls_cert_file ? FIELD(mqtt_tls_cert_file)
                                                        : FIELD(mqtt_tls_key_file)),
                    "mqtt.tls_cert_file and mqtt.tls_key_file go together; set both or "
                    "neither");
    for (int i = 0; c->filter_classes_off[i]; i++)
        if (!is_event_class(c->filter_classes_off[i]))
            return fail(l, seen_at(l, FIELD(filter_classes_off)),
                        "filter.classes_off: unknown event class \"%s\"; the classes are "
                        "server, comm, files, printjob, gcode, position, timelapse, slicing, "
                        "settings and unclassified", c->filter_classes_off[i]);
    for (int w = 0; w < 2; w++) {
        char **names = w ? c->filter_events_on : c->filter_events_off;
        for (int i = 0; names[i]; i++)
            if (!is_event_name(names[i]))
                return fail(l, seen_at(l, w ? FIELD(filter_events_on) : FIELD(filter_events_off)),
                            "filter.%s: \"%s\" is not an event name such as \"ZChange\"",
                            w ? "events_on" : "events_off", names[i]);
    }
    if (c->printer_usb_id) {
        for (char *p = c->printer_usb_id; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        c->printer_usb_vid = hex4(c->printer_usb_id);
        c->printer_usb_pid = hex4(c->printer_usb_id + 5);
    }
    if (!seen_at(l, FIELD(mqtt_client_id))) {
        free(c->mqtt_client_id);
        if (!(c->mqtt_client_id = derive_client_id(c->mqtt_base_topic)))
            return fail_oom(l);
    }
    return 0;
}

static int read_all(struct loader *l, const config_t *lc, struct config *c)
{
    const config_setting_t *root = config_root_setting(lc);
    char hint[256];

    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        /* events and inbound hold lists of groups: hookconfig.c reads them (issue 7) */
        if (hookconfig_owns(name)) {
            const config_setting_t *where = s;
            char why[768];
            if (hookconfig_read(&c->hooks, s, &where, why, sizeof why) < 0)
                return why[0] ? fail(l, where, "%s", why) : fail_oom(l);
            continue;
        }
        const struct group *grp = find_group(name);
        if (!grp && config_setting_is_group(s)) {
            suggest_group(hint, sizeof hint, name);
            return fail(l, s, "unknown group '%s'%s", name, hint);
        }
        if (!grp) {
            suggest_key(hint, sizeof hint, NULL, name);
            return fail(l, s, "unknown setting '%s'%s", name, hint);
        }
        if (!config_setting_is_group(s))
            return fail(l, s, "%s must be a group, e.g. %s", name, grp->example);
        if (read_group(l, s, grp, c) < 0)
            return -1;
    }
    return 0;
}

/* ---- loading ----------------------------------------------------------------------- */

/* libconfig's file I/O error forgets errno (and config_error_file() is NULL): ask the file
 * system why. A directory opens fine for reading, so it is caught here too. */
static int probe_file(struct loader *l)
{
    struct stat st;
    int fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int e = 0;

    if (fd < 0)
        e = errno;
    else if (fstat(fd, &st) != 0)
        e = errno;
    else if (S_ISDIR(st.st_mode))
        e = EISDIR;
    if (fd >= 0)
        close(fd);
    if (!e)
        return 0;
    errf(l, "%s: cannot read config file: %s", l->path, strerror(e));
    return -1;
}

/* The quoted file name of the @include on this line, or NULL. */
static char *include_name(const char *line)
{
    const char *p, *q;
    if (!line || !(p = strstr(line, "@include")) || !(p = strchr(p, '"')) ||
        !(q = strchr(++p, '"')) || memchr(p, '\n', (size_t)(q - p)))
        return NULL;
    return strndup(p, (size_t)(q - p));
}

/* libconfig says only "cannot open include file"; name the file, and say why. */
static void report_include_error(struct loader *l, const char *file, int line)
{
    char *where = resolve_path(l, file), *target = NULL;
    char *name = include_name(line_start(raw_text(l, file), (unsigned)line));
    const char *shown = where ? where : l->path;
    int fd, e;

    if (!name) {
        errf(l, "%s:%d: cannot open include file (@include paths are relative to the "
                "directory of %s)", shown, line, l->path);
    } else if (name[0] == '/' && l->incdir) { /* libconfig prepends incdir even to these */
        errf(l, "%s:%d: cannot open include file '%s': @include paths are relative to the "
                "directory of %s", shown, line, name, l->path);
    } else if (!(target = resolve_path(l, name))) {
        fail_oom(l);
    } else {
        fd = open(target, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        errf(l, "%s:%d: cannot open include file '%s'%s%s", shown, line, target,
             e ? ": " : "", e ? strerror(e) : "");
    }
    free(name);
    free(target);
    free(where);
}

static void report_parse_error(struct loader *l, const config_t *lc)
{
    const char *file = config_error_file(lc);
    const char *text = config_error_text(lc);
    int line = config_error_line(lc);
    char *shown;

    if (config_error_type(lc) == CONFIG_ERR_FILE_IO || !file) {
        if (probe_file(l) == 0) /* readable now: it changed in between, or an odd file */
            errf(l, "%s: cannot read config file: %s", l->path, text ? text : "I/O error");
        return;
    }
    if (text && strcmp(text, "cannot open include file") == 0) {
        report_include_error(l, file, line);
        return;
    }
    shown = resolve_path(l, file);
    errf(l, "%s:%d: %s%s", shown ? shown : file, line, text ? text : "parse error",
         error_at_eof(raw_text(l, file), line)
             ? " (check for an unterminated string or missing brace above)" : "");
    free(shown);
}

/* libconfig 1.5 reads an @include'd directory, FIFO or device with its flex scanner, which
 * then calls exit(): a reload (SIGHUP) would end the daemon in the middle of a print. So
 * every @include target, nested ones too, must be a regular file before libconfig sees the
 * file (found by make fuzz: test/fuzz/config/crashes/include-directory). A missing target is
 * left to libconfig, which reports it. Returns 0, or -1 with FILE:LINE in l->err. */
static int check_includes(struct loader *l, const char *file, int depth)
{
    FILE *f = fopen(file, "re");
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    struct stat st;

    if (!f)
        return 0;   /* libconfig reports it */
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        goto out;   /* the top-level file: probe_file reports it */
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "@include", 8) != 0 || !(p = memchr(p, '"', (size_t)(line + len - p))))
            continue;
        p++;
        /* the name as libconfig will use it: up to the closing quote or a NUL byte */
        const char *q = p;
        while (q < line + len && *q != '"' && *q != '\0' && *q != '\n')
            q++;
        char *name = strndup(p, (size_t)(q - p));
        if (!name)
            continue;
        char target[PATH_MAX];
        int n = l->incdir ? snprintf(target, sizeof target, "%s/%s", l->incdir, name)
                          : snprintf(target, sizeof target, "%s", name);
        if (n < 0 || (size_t)n >= sizeof target) {
            errf(l, "%s:%d: @include \"%s\": path too long", file, lineno, name);
            rc = -1;
        } else if (stat(target, &st) == 0 && !S_ISREG(st.st_mode)) {
            errf(l, "%s:%d: @include \"%s\": %s is not a regular file", file, lineno, name, target);
            rc = -1;
        } else if (stat(target, &st) == 0 && depth < 10) {
            rc = check_includes(l, target, depth + 1);
        }
        free(name);
    }
out:
    free(line);
    fclose(f);
    return rc;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errsz)
{
    struct loader l = { .path = path, .err = err, .errsz = errsz };
    struct config c;
    config_t lc;
    const char *slash;
    int rc = -1;

    if (err && errsz)
        err[0] = '\0';
    config_defaults(&c);
    if (!path) {
        l.path = "(null)";
        errf(&l, "(null): no config file given");
        goto out;
    }
    if (!c.mqtt_base_topic || !c.mqtt_host || !c.printer_port || !c.mqtt_client_id) {
        fail_oom(&l);
        goto out;
    }
    /* @include relative to the file, not the daemon's CWD (libraries.md 5.3). A bare file
     * name needs nothing: libconfig then opens includes from the CWD, which is its folder. */
    if ((slash = strrchr(path, '/'))) {
        l.incdir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!l.incdir) {
            fail_oom(&l);
            goto out;
        }
    }
    if (check_includes(&l, path, 0) < 0)
        goto out;
    config_init(&lc);
    if (l.incdir)
        config_set_include_dir(&lc, l.incdir);
    if (!config_read_file(&lc, path))
        report_parse_error(&l, &lc);
    else if (read_all(&l, &lc, &c) == 0 && check_together(&l, &c) == 0) {
        if ((c.path = strdup(path)))
            rc = 0;
        else
            fail_oom(&l);
    }
    config_destroy(&lc);
out:
    while (l.raw) {
        struct raw_file *next = l.raw->next;
        free(l.raw->path);
        free(l.raw->text);
        free(l.raw);
        l.raw = next;
    }
    free(l.incdir);
    if (rc < 0) {
        config_free(&c);
        memset(cfg, 0, sizeof *cfg);
    } else {
        *cfg = c;
    }
    return rc;
}
