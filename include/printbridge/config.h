/* printbridge/config.h: the config layer:
 * The configuration file: reading, validating and defaults, with FILE:LINE errors,
 * including the events and inbound groups, and what differs between two loaded files. */
#ifndef PRINTBRIDGE_CONFIG_H
#define PRINTBRIDGE_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- hookconfig: the `events` and `inbound` configuration groups: OctoPrint-style event
 * subscriptions, PrintProgress steps, serial line triggers, inbound handlers and the inbound
 * safety settings. The reader hands these two groups to hookconfig_read, because their lists
 * of groups need more than the key table; every key is documented in etc/printbridge.conf. */

enum hook_type { HOOK_GCODE, HOOK_SYSTEM };

enum trigger_direction { TRIGGER_RECEIVED = 1, TRIGGER_SENT = 2, TRIGGER_BOTH = 3 };

/* One subscription, inbound handler or trigger action. */
struct hook_def {
    char *name;                 /* never NULL after reading */
    char **events;              /* subscriptions: event names (nevents) */
    size_t nevents;
    char *topic;                /* inbound handlers: MQTT filter relative to the base topic, or NULL */
    char **commands;            /* ncommands strings, run one after the other */
    size_t ncommands;
    enum hook_type type;
    bool enabled, debug, shell;
    double timeout;             /* s; 0 means events.timeout */
};

struct trigger_def {
    char *name;
    char *match;                /* POSIX extended regular expression */
    enum trigger_direction direction;
    double cooldown;            /* s between two matches that fire (0: every match) */
    struct hook_def action;     /* ncommands == 0: only the SerialLineMatched event */
};

struct hookconfig {
    /* events */
    bool events_enabled;        /* default true */
    double timeout;             /* default 60 s */
    int max_concurrent;         /* default 4 */
    int max_queued;             /* default 32 */
    int max_output;             /* bytes kept of each of stdout and stderr, default 4096 */
    struct hook_def *subs;
    size_t nsubs;
    double progress_percent;    /* PrintProgress every N %, default 10; 0 off */
    double progress_minutes;    /* every N minutes, default 0 (off) */
    int progress_layers;        /* every N layers, default 0 (off) */
    struct trigger_def *triggers;
    size_t ntriggers;
    /* inbound */
    bool inbound_enabled;       /* default true */
    int max_payload;            /* bytes, default 65536 */
    char **gcode_allow;         /* NULL-terminated, or NULL */
    char **gcode_deny;          /* NULL-terminated, or NULL */
    struct hook_def *handlers;
    size_t nhandlers;
};

/* True for the group names this module reads ("events", "inbound"). */
bool hookconfig_owns(const char *group);

/* Reads one of the owned groups into *hc (allocated with defaults on first use). Returns 0,
 * or a negative errno and points *where at the offending setting: -EINVAL with the message
 * (without FILE:LINE, which the caller adds) in why, or -ENOMEM. */
int hookconfig_read(struct hookconfig **hc, const config_setting_t *group, const config_setting_t **where,
                    char *why, size_t whysz);

/* hc, or the defaults when hc is NULL (no events or inbound group in the file). */
const struct hookconfig *hookconfig_or_defaults(const struct hookconfig *hc);

void hookconfig_free(struct hookconfig *hc);

/* ---- config: the daemon's configuration, read from a libconfig file. Every key is listed
 * with its type, range and default in the key table (src/config/keys.c) and documented in
 * etc/printbridge.conf beside its default. */

struct hookconfig;

#define CONFIG_MAX_SCRIPT_LINES 64

struct config {
    char *path;                     /* the file it was read from */

    /* printer */
    char *printer_port;             /* a device path, or "auto" (default "auto") */
    int printer_baudrate;           /* 0 means "auto"; default 115200 */
    char *printer_usb_id;           /* "VID:PID" for port = "auto", or NULL; lower-case hex */
    int printer_usb_vid;            /* printer_usb_id parsed (0..0xffff); -1 when unset */
    int printer_usb_pid;            /* printer_usb_id parsed (0..0xffff); -1 when unset */
    double printer_reconnect_delay;     /* first retry after a failed open/hang-up, s (default 2) */
    double printer_reconnect_max_delay; /* backoff cap, s (default 60) */
    double printer_connection_timeout;  /* wait for an answer to the hello, s (default 10) */
    double printer_communication_timeout; /* no line at all for this long: poke/recover, s (default 30) */
    double printer_temperature_interval;  /* M105 poll when no target is set, s (default 5) */
    double printer_temperature_interval_target; /* M105 poll when a target > 25 C, s (default 2) */
    int printer_autoreport_interval;    /* M155 S<n> when the firmware offers it; 0 disables (default 2) */
    int printer_position_autoreport_interval;   /* M154 S<n> when offered; 0 (default) never */
    /* printer: the protocol engine */
    char *printer_checksum;             /* "auto" (default), "always", "never" */
    int printer_history_size;           /* lines kept for resends (default 1000) */
    int printer_advanced_ok_window;     /* commands in flight with ADVANCED_OK (default 8) */
    bool printer_emergency_stop_on_error;    /* M112 + heaters off on a fatal error (default true) */
    char *printer_blocked_commands;     /* G-codes never sent (default "M0 M1") */
    bool printer_reconnect;             /* reopen a lost port on a backoff (default true) */
    char *printer_shutdown_command;     /* run on //action:shutdown; NULL: ignored */
    char *printer_zchange_mode;         /* "octoprint" (default) or "layer" */

    /* mqtt */
    char *mqtt_host;                /* default "localhost" */
    int mqtt_port;                  /* default 1883 */
    char *mqtt_base_topic;          /* default "octoprint/" */
    char *mqtt_client_id;           /* default derived from host name and base topic */
    char *mqtt_username;            /* NULL when unset */
    char *mqtt_password;            /* NULL when unset */
    int mqtt_keepalive;             /* seconds, default 60 */
    char *mqtt_password_file;       /* NULL when unset; its first line becomes mqtt_password */
    char *mqtt_protocol;            /* "3.1.1" (default) or "5" */
    bool mqtt_retain;               /* broker.retain of OctoPrint-MQTT, default true */
    bool mqtt_status_retain;        /* broker.lwRetain, default true */
    char *mqtt_timestamp_field;     /* default "_timestamp" */
    bool mqtt_tls;                  /* default false */
    char *mqtt_tls_ca_file;         /* NULL: the system CA store */
    char *mqtt_tls_cert_file;       /* client certificate, NULL when unset */
    char *mqtt_tls_key_file;        /* its key, NULL when unset */
    bool mqtt_tls_insecure;         /* skip the host name check, default false */
    int mqtt_queue_limit;           /* offline buffer, messages; default 1000 */
    char *mqtt_queue_file;          /* offline buffer kept here across restarts; NULL: memory only */
    double mqtt_temperature_threshold; /* degrees C, default 0.1 */
    double mqtt_temperature_min_interval; /* s between two messages of one sensor, default 0 */
    int mqtt_temperature_decimals;  /* round values to this many decimals; -1 (default): as read */
    bool mqtt_printer_data;         /* printer_data in progress/printing, default false */
    double mqtt_state_interval;     /* s, at most one <base>state per interval, default 1 */
    double mqtt_stats_interval;     /* s between <base>stats messages, default 60; 0: off */
    double mqtt_republish_interval; /* s between republishing the retained picture; 0: off */

    /* topics: templates under mqtt.base_topic; "" switches a topic off */
    char *topic_event;              /* "event/{event}" */
    char *topic_progress;           /* "progress/{progress}" */
    char *topic_temperature;        /* "temperature/{temp}" */
    char *topic_status;             /* "mqtt" */
    char *topic_state;              /* "state" */
    char *topic_stats;              /* "stats" */

    /* qos: per message kind, 0..2 (the status topic is always 1) */
    int qos_event, qos_progress, qos_temperature, qos_state, qos_stats;

    /* filter: NULL-terminated lists of names */
    char *filter_classes_off[CONFIG_MAX_SCRIPT_LINES + 1];
    char *filter_events_off[CONFIG_MAX_SCRIPT_LINES + 1];
    char *filter_events_on[CONFIG_MAX_SCRIPT_LINES + 1];

    /* profile: what the machine has */
    int profile_extruders;          /* default 1 */
    bool profile_heated_bed;        /* default true */
    bool profile_heated_chamber;    /* default false */
    double profile_volume_width, profile_volume_depth, profile_volume_height; /* mm, 200 */
    double profile_max_tool_temperature;    /* degrees C, default 300 */
    double profile_max_bed_temperature;     /* degrees C, default 120 */
    double profile_max_chamber_temperature; /* degrees C, default 80 */

    /* scripts (G-code sent at moments of the printer's life). Lines are trimmed and empty
     * ones dropped; at most CONFIG_MAX_SCRIPT_LINES lines, hence the extra slot for the NULL. */
    char *script_after_connected[CONFIG_MAX_SCRIPT_LINES + 1]; /* NULL-terminated */
    /* the other OctoPrint script names, storage and analysis */
    char *script_before_print_started[CONFIG_MAX_SCRIPT_LINES + 1];
    char *script_after_print_done[CONFIG_MAX_SCRIPT_LINES + 1];
    char *script_after_print_cancelled[CONFIG_MAX_SCRIPT_LINES + 1]; /* empty: profile default */
    char *script_after_print_paused[CONFIG_MAX_SCRIPT_LINES + 1];
    char *script_before_print_resumed[CONFIG_MAX_SCRIPT_LINES + 1];
    char *script_before_printer_disconnected[CONFIG_MAX_SCRIPT_LINES + 1];
    char *script_before_tool_change[CONFIG_MAX_SCRIPT_LINES + 1];
    char *script_after_tool_change[CONFIG_MAX_SCRIPT_LINES + 1];
    char *storage_folder;               /* default "/var/lib/printbridge/files" */
    int storage_max_upload_size;        /* MiB, default 100 */
    double analysis_filament_diameter;  /* mm, default 1.75 */
    double analysis_acceleration;       /* mm/s^2, default 1500 */
    double analysis_junction_deviation; /* mm, default 0.05 */

    /* homeassistant: MQTT discovery */
    bool ha_enabled;                /* default true */
    char *ha_prefix;                /* discovery prefix, default "homeassistant" */
    char *ha_node_id;               /* NULL: derived from mqtt_client_id (discovery_node_id_from) */
    char *ha_device_name;           /* NULL: "printbridge <node id>" */
    double ha_republish_delay;      /* s, upper bound of the random delay after HA's birth, default 5 */
    char *ha_octoprint_node_id;     /* NULL: no OctoPrint-HomeAssistant entities */
    char *ha_octoprint_node_name;   /* default "OctoPrint" */

    /* events and inbound: read by hookconfig.c; NULL when the file has neither
     * group, hookconfig_or_defaults() then gives the defaults */
    struct hookconfig *hooks;
    /* timelapse */
    char *timelapse_mode;               /* "off" (default), "zchange", "timed" */
    double timelapse_interval;          /* s, timed frames and post-roll, default 10 */
    double timelapse_post_roll;         /* s, default 0 */
    char *timelapse_snapshot_command[CONFIG_MAX_SCRIPT_LINES + 1]; /* argv with {file}; empty: no camera */
    double timelapse_snapshot_timeout;  /* s, default 10 */
    char *timelapse_frame_extension;    /* "jpg" */
    char *timelapse_frames_folder;      /* "/var/lib/printbridge/timelapse/frames" */
    char *timelapse_output_folder;      /* "/var/lib/printbridge/timelapse" */
    char *timelapse_ffmpeg;             /* "ffmpeg" */
    char *timelapse_ffmpeg_args[CONFIG_MAX_SCRIPT_LINES + 1]; /* empty: -c:v mpeg4 -q:v 5 */
    int timelapse_fps;                  /* default 25 */
    char *timelapse_movie_extension;    /* "mp4" */
    double timelapse_render_timeout;    /* s, default 600 */
    /* slicing */
    bool slicing_enabled;               /* default false */
    char *slicing_slicer;               /* name in the events, "prusaslicer" */
    char *slicing_command[CONFIG_MAX_SCRIPT_LINES + 1]; /* argv with {input} {output} {profile} */
    char *slicing_profiles_folder;      /* "/var/lib/printbridge/slicing-profiles" */
    char *slicing_profile;              /* file in profiles_folder, default "" */
    double slicing_timeout;             /* s, default 600 */

    /* log */
    int log_level;                  /* enum log_level; default info */
};

/* Loads and validates path into cfg (fully replaced: its previous contents are overwritten,
 * not freed, so config_free a loaded config before reusing the struct). Returns 0, or a
 * negative errno: -EINVAL for a mistake in the file (or a NULL path), the errno of opening it
 * when the file or an @include'd one cannot be read (-ENOENT, -EACCES, -EISDIR, ...), -ENOMEM.
 * On error writes one line "FILE:LINE: what is wrong" (or "FILE: why it cannot be read") into
 * err, without a trailing newline; cfg is then left empty (all zero, safe to config_free).
 * On success err is set to "". Unknown keys, wrong types and out-of-range values are errors.
 * FILE is the path as given; for a setting from an @include'd file it is that file's path as
 * opened (includes are relative to the directory of path). */
int config_load(struct config *cfg, const char *path, char *err, size_t errsz);

/* Fills cfg with every default (as if the file were empty); overwrites, does not free. The
 * client id is derived from the host name and the default base topic. path stays NULL. */
void config_defaults(struct config *cfg);

/* Frees every string and zeroes cfg; safe on a zeroed or defaults-only struct, and twice. */
void config_free(struct config *cfg);

/* What a reload changed. Both compare every key the key table lists, each by its type
 * (strings by content, script and name lists line by line), so a key added to the table is
 * compared with no change here or in any caller. A group or key the table does not know
 * (a misspelling, or the events and inbound groups) counts as changed, so a mistake shows as
 * too much done on a reload, never as a change missed. */

/* True if any key of group differs between a and b, the names in except (NULL-terminated, or
 * NULL) left out. */
bool config_group_changed(const struct config *a, const struct config *b, const char *group,
                          const char *const *except);

/* True if group.name differs between a and b. */
bool config_key_changed(const struct config *a, const struct config *b, const char *group,
                        const char *name);

#endif
