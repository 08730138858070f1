/* config.h: the daemon's configuration, read from a libconfig file. Every key is read and
 * range-checked in config.c and documented in etc/printbridge.conf beside its default. */
#ifndef PRINTBRIDGE_CONFIG_H
#define PRINTBRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

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

    /* mqtt */
    char *mqtt_host;                /* default "localhost" */
    int mqtt_port;                  /* default 1883 */
    char *mqtt_base_topic;          /* default "octoprint/" */
    char *mqtt_client_id;           /* default derived from host name and base topic */
    char *mqtt_username;            /* NULL when unset */
    char *mqtt_password;            /* NULL when unset */
    int mqtt_keepalive;             /* seconds, default 60 */
    bool mqtt_retain;               /* broker.retain of OctoPrint-MQTT, default true */
    double mqtt_temperature_threshold; /* degrees C, default 0.1 */

    /* scripts (G-code sent at moments of the printer's life). Lines are trimmed and empty
     * ones dropped; at most CONFIG_MAX_SCRIPT_LINES lines, hence the extra slot for the NULL. */
    char *script_after_connected[CONFIG_MAX_SCRIPT_LINES + 1]; /* NULL-terminated */

    /* events and inbound (issue 7): read by hookconfig.c; NULL when the file has neither
     * group, hookconfig_or_defaults() then gives the defaults */
    struct hookconfig *hooks;

    /* log */
    int log_level;                  /* enum log_level; default info */
};

/* Loads and validates path into cfg (fully replaced: its previous contents are overwritten,
 * not freed, so config_free a loaded config before reusing the struct). On error returns -1
 * and writes one line "FILE:LINE: what is wrong" (or "FILE: why it cannot be read") into
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

#endif
