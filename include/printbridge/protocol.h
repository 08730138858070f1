/* protocol.h: what a line from the printer means. Pure parsers over NUL-terminated lines,
 * no I/O and no state beyond their arguments. Patterns and test vectors come from
 * serial-protocol.md sections 3, 7-9, 12. */
#ifndef PRINTBRIDGE_PROTOCOL_H
#define PRINTBRIDGE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

/* ---- classification ---------------------------------------------------------------- */

enum protocol_kind {
    PROTOCOL_OTHER = 0,     /* anything not listed below (plain messages, "SD card ok", ...) */
    PROTOCOL_OK,            /* starts with "ok"; may carry temperatures or a position too */
    PROTOCOL_WAIT,          /* exactly "wait" */
    PROTOCOL_BUSY,          /* "busy:..." or "echo:busy:..." */
    PROTOCOL_START,         /* exactly "start" (firmware boot or reset) */
    PROTOCOL_RESEND,        /* "Resend: N" / "rs N" */
    PROTOCOL_ERROR,         /* "Error:...", "!!...", "fatal:..." */
    PROTOCOL_ACTION,        /* "//action:NAME [params]" (also "// action:") */
    PROTOCOL_DEBUG,         /* any other "//..." line */
    PROTOCOL_ECHO,          /* "echo:..." that is not busy */
    PROTOCOL_CAPABILITY,    /* "Cap:NAME:0|1" */
    PROTOCOL_FIRMWARE,      /* contains "NAME:" or starts with "NAME." */
    PROTOCOL_TEMPERATURE,   /* a temperature report without "ok" (autoreport, M109 waits) */
    PROTOCOL_POSITION,      /* an M114 answer or position autoreport without "ok" */
};

/* The main kind of a received line. An "ok T:..." line is PROTOCOL_OK: callers also try
 * protocol_has_temperatures()/protocol_has_position() on ok lines. */
enum protocol_kind protocol_classify(const char *line);

/* Dispatch rules of serial-protocol.md 12.1 and 12.2 (position first: "Count: A: B: C:"
 * must not be taken for temperatures). */
bool protocol_has_temperatures(const char *line);
bool protocol_has_position(const char *line);

/* ---- temperatures (12.1) -------------------------------------------------------------- */

#define PROTOCOL_MAX_SENSORS 16
#define PROTOCOL_SENSOR_NAME 32

struct protocol_temp {
    char sensor[PROTOCOL_SENSOR_NAME]; /* canonical: "T0".."Tn", "B", "C", or a custom \w+ name */
    double actual;
    double target;
    bool has_target;
};

struct protocol_temps {
    struct protocol_temp t[PROTOCOL_MAX_SENSORS]; /* tools in ascending order, then B, C, custom */
    int count;
    int max_tool;          /* highest tool number seen, at least current_tool */
};

/* Parses and canonicalises a temperature report for the given current tool. Returns the
 * number of sensors (0 if none). Only the first occurrence of each sensor counts. */
int protocol_parse_temperatures(const char *line, int current_tool, struct protocol_temps *out);

/* MQTT key of a canonical sensor: "T3" -> "tool3", "B" -> "bed", "C" -> "chamber", custom
 * names unchanged. Returns the length, or -1 if out is too small. */
int protocol_sensor_key(const char *sensor, char *out, size_t outsz);

/* ---- position (12.2) ------------------------------------------------------------------ */

#define PROTOCOL_MAX_EXTRUDERS 8

struct protocol_position {
    double x, y, z;
    bool has_e;            /* single "E:" value */
    double e;
    int extruders;         /* number of E<n>: values (RepRapFirmware), 0 if none */
    double en[PROTOCOL_MAX_EXTRUDERS];
};

/* Returns true and fills out if the line is a complete position report (an E value is
 * required). */
bool protocol_parse_position(const char *line, struct protocol_position *out);

/* ---- firmware info and capabilities (3.1, 3.2, 12.5, 12.6) ---------------------------- */

#define PROTOCOL_MAX_FIELDS 24

struct protocol_field {
    char key[48];
    char value[256];
};

struct protocol_firmware {
    struct protocol_field f[PROTOCOL_MAX_FIELDS];
    int count;
    char name[256];        /* FIRMWARE_NAME, or NAME (+ " " + VER for Malyan), or "" */
};

/* Splits a firmware line into KEY:value pairs. Returns the number of pairs (0: not one). */
int protocol_parse_firmware(const char *line, struct protocol_firmware *out);

/* Parses "Cap:NAME:0|1" (the "Cap:" prefix is optional). Returns 0 and fills name/enabled,
 * or -1 when the line does not have exactly that shape. */
int protocol_parse_capability(const char *line, char *name, size_t namesz, bool *enabled);

/* ---- resend (7.1, 12.7) ----------------------------------------------------------------- */

/* Returns 0 and the requested line number, or -1 if the line is not a resend request. */
int protocol_parse_resend(const char *line, unsigned long *n);

/* ---- errors (9) ------------------------------------------------------------------------- */

enum protocol_error_class {
    PROTOCOL_ERROR_NONE = 0,        /* not an error line */
    PROTOCOL_ERROR_RECOVERABLE,     /* no line number with checksum: fake an ok */
    PROTOCOL_ERROR_RESEND,          /* checksum / line number: a Resend follows */
    PROTOCOL_ERROR_SD,              /* SD card trouble: ignored */
    PROTOCOL_ERROR_UNKNOWN_COMMAND, /* ignored */
    PROTOCOL_ERROR_FATAL,           /* everything else (kill(), runaway, MIN/MAXTEMP, ...) */
};

enum protocol_error_class protocol_classify_error(const char *line);

/* The text after "Error:" / "!!" / "fatal:", trimmed, copied into out. */
void protocol_error_text(const char *line, char *out, size_t outsz);

/* True when the error is the first half of Marlin's two-line kill sequence ("Thermal
 * Runaway", "MINTEMP triggered", ...): the next line must be joined with " - ". */
bool protocol_error_needs_next_line(const char *line);

/* The OctoPrint faq id for a fatal error text ("firmware-mintemp", ...), or NULL. */
const char *protocol_error_faq(const char *text);

/* ---- action commands (12.9) -------------------------------------------------------------- */

/* For "//action:NAME params" fills name and params (trimmed) and returns 0; -1 otherwise. */
int protocol_parse_action(const char *line, char *name, size_t namesz, char *params, size_t paramsz);

/* ---- sent commands (4) --------------------------------------------------------------------- */

/* The G-code of a command line: "G28 X0" -> "G28", "M109 S220 T1" -> "M109", "T3" -> "T",
 * "M80.1" -> "M80" (subcode ignored). Returns the length, 0 if the line is no G/M/T command. */
size_t protocol_gcode_of(const char *cmd, char *out, size_t outsz);

/* Parameter value of letter L in a command (case-insensitive, preceded by start or a non-letter),
 * as in floatS/intT of serial-protocol.md 4. Returns true and stores the value if present. */
bool protocol_param_float(const char *cmd, char letter, double *value);
bool protocol_param_int(const char *cmd, char letter, long *value);

#endif
