/* checks.c: what a string value of a key may be (checks.h). The key table names one of these
 * per string key; the message tails they write follow "<group>.<key> " in the error line, so
 * each reads as a sentence about the key. */
#include "checks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- enumerated strings ------------------------------------------------------------ */

static int check_one_of(const char *v, const char *const *names, char *why, size_t whysz)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return 0;
    snprintf(why, whysz, "must be one of \"%s\", \"%s\"%s%s%s, not \"%s\"", names[0], names[1],
             names[2] ? ", \"" : "", names[2] ? names[2] : "", names[2] ? "\"" : "", v);
    return -EINVAL;
}

int check_checksum(const char *v, char *why, size_t whysz)
{
    static const char *const names[] = { "auto", "always", "never", NULL };
    return check_one_of(v, names, why, whysz);
}

int check_zchange_mode(const char *v, char *why, size_t whysz)
{
    static const char *const names[] = { "octoprint", "layer", NULL };
    return check_one_of(v, names, why, whysz);
}

int check_timelapse_mode(const char *v, char *why, size_t whysz)
{
    static const char *const names[] = { "off", "zchange", "timed", NULL };
    return check_one_of(v, names, why, whysz);
}

int check_protocol(const char *v, char *why, size_t whysz)
{
    if (strcmp(v, "3.1.1") == 0 || strcmp(v, "5") == 0)
        return 0;
    snprintf(why, whysz, "must be \"3.1.1\" or \"5\", not \"%s\"", v);
    return -EINVAL;
}

/* ---- must not be empty, each with the advice that fits the key ---------------------- */

int check_port(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; use \"auto\" or a device path such as "
                         "/dev/ttyUSB0");
    return -EINVAL;
}

int check_host(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty, e.g. host = \"localhost\";");
    return -EINVAL;
}

int check_client_id(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; remove the line to use the default derived "
                         "from the host name");
    return -EINVAL;
}

int check_username(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; remove the line to connect without a user name");
    return -EINVAL;
}

int check_not_empty(const char *v, char *why, size_t whysz)
{
    if (*v)
        return 0;
    snprintf(why, whysz, "must not be empty; remove the line to leave it unset");
    return -EINVAL;
}

/* ---- the USB id ---------------------------------------------------------------------- */

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)p[i]))
            return -EINVAL;
        v = v * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0'
                                                   : tolower((unsigned char)p[i]) - 'a' + 10);
    }
    return v;
}

int check_usb_id_parse(const char *v, int *vid, int *pid)
{
    if (strlen(v) != 9 || v[4] != ':' || hex4(v) < 0 || hex4(v + 5) < 0)
        return -EINVAL;
    *vid = hex4(v);
    *pid = hex4(v + 5);
    return 0;
}

int check_usb_id(const char *v, char *why, size_t whysz)
{
    int vid, pid;
    if (check_usb_id_parse(v, &vid, &pid) == 0)
        return 0;
    snprintf(why, whysz, "must be VID:PID with four hex digits each, like \"1a86:7523\" "
                         "(see lsusb), not \"%s\"", v);
    return -EINVAL;
}

/* ---- topics and names ---------------------------------------------------------------- */

static bool has_control_char(const char *v)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

int check_base_topic(const char *v, char *why, size_t whysz)
{
    size_t n = strlen(v);
    if (strpbrk(v, "+#")) {
        snprintf(why, whysz, "must not contain the MQTT wildcards '+' or '#', not \"%s\"", v);
        return -EINVAL;
    }
    if (v[0] == '$') {
        snprintf(why, whysz, "must not start with '$' (such topics are reserved for the "
                             "broker), not \"%s\"", v);
        return -EINVAL;
    }
    if (has_control_char(v)) {
        snprintf(why, whysz, "must not contain control characters such as a newline");
        return -EINVAL;
    }
    if (n == 0 || v[n - 1] != '/') {
        snprintf(why, whysz, "must end with '/', e.g. base_topic = \"%s/\";",
                 n ? v : "octoprint");
        return -EINVAL;
    }
    return 0;
}

/* A sub-topic under base_topic; "" switches it off. */
int check_topic(const char *v, char *why, size_t whysz)
{
    if (strpbrk(v, "+#")) {
        snprintf(why, whysz, "must not contain the MQTT wildcards '+' or '#', not \"%s\"", v);
        return -EINVAL;
    }
    if (has_control_char(v)) {
        snprintf(why, whysz, "must not contain control characters such as a newline");
        return -EINVAL;
    }
    if (v[0] == '/') {
        snprintf(why, whysz, "must not start with '/' (base_topic already ends with one), "
                             "not \"%s\"", v);
        return -EINVAL;
    }
    return 0;
}

int check_field_name(const char *v, char *why, size_t whysz)
{
    if (!*v) {
        snprintf(why, whysz, "must not be empty, e.g. timestamp_field = \"_timestamp\";");
        return -EINVAL;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            snprintf(why, whysz, "must not contain quotes, backslashes or control characters");
            return -EINVAL;
        }
    return 0;
}

/* Home Assistant's discovery prefix is a topic prefix without the slash ("homeassistant",
 * "ha/discovery"): no wildcards, no empty level, no trailing slash */
int check_ha_prefix(const char *v, char *why, size_t whysz)
{
    size_t n = strlen(v);
    if (n == 0 || v[0] == '/' || v[n - 1] == '/' || strstr(v, "//") || strpbrk(v, "#+")) {
        snprintf(why, whysz, "must be a topic prefix without wildcards or a trailing '/', "
                             "e.g. prefix = \"homeassistant\";");
        return -EINVAL;
    }
    return 0;
}

/* Home Assistant allows only [a-zA-Z0-9_-] in a discovery topic's ids */
int check_ha_node_id(const char *v, char *why, size_t whysz)
{
    bool ok = *v != '\0';
    for (const char *p = v; *p && ok; p++)
        ok = isalnum((unsigned char)*p) && (unsigned char)*p < 0x80 ? true : *p == '_' || *p == '-';
    if (ok)
        return 0;
    snprintf(why, whysz, "must be letters, digits, '_' or '-' only, e.g. node_id = \"ender3\";");
    return -EINVAL;
}

/* ---- event filters ------------------------------------------------------------------- */

/* OctoPrint-MQTT's event classes (docs/wire-format.md) */
static const char *const event_classes[] = {
    "server", "comm", "files", "printjob", "gcode", "position", "timelapse", "slicing",
    "settings", "unclassified",
};

bool check_is_event_class(const char *v)
{
    for (size_t i = 0; i < sizeof event_classes / sizeof event_classes[0]; i++)
        if (strcmp(event_classes[i], v) == 0)
            return true;
    return false;
}

bool check_is_event_name(const char *v)
{
    if (!*v)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '$' && *p != '-' && *p != '.')
            return false;
    return true;
}
