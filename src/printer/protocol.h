/* protocol.h: what a line from the printer means. Pure parsers over NUL-terminated lines,
 * no I/O and no state beyond their arguments. Patterns and test vectors come from
 * docs/protocol.md 5-10. */
#ifndef PRINTBRIDGE_PROTOCOL_H
#define PRINTBRIDGE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "printbridge/printer.h"

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

/* Dispatch rules of docs/protocol.md 6.1 (position first: "Count: A: B: C:"
 * must not be taken for temperatures). As upstream, a line that passes the position test is
 * never a temperature line, even when it holds no complete position. */
bool protocol_has_temperatures(const char *line);
bool protocol_has_position(const char *line);

/* ---- temperatures (12.1) -------------------------------------------------------------- */

/* Parses and canonicalises a temperature report for the given current tool (negative: 0).
 * Returns the number of sensors (0 if none). Only the first occurrence of each sensor counts.
 * As upstream, any other \w+ key is a custom sensor: Marlin's M109 wait line
 * "T:180.2 E:0 W:?" yields T<current> and a custom "E" (0.0, no target). Custom names of
 * PROTOCOL_SENSOR_NAME bytes or more are dropped, and so are custom sensors that no longer
 * fit in t[]. */
int protocol_parse_temperatures(const char *line, int current_tool, struct protocol_temps *out);


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
 * required). For "E<n>:" reports, en[n] holds extruder n and extruders is the highest n + 1;
 * an index the line did not report is NAN, and n >= PROTOCOL_MAX_EXTRUDERS is ignored. */
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
    char name[256];        /* FIRMWARE_NAME, or NAME + " " + VER for Malyan, or "" (JSON null) */
};

/* Splits a firmware line into KEY:value pairs. Returns the number of pairs (0: not one).
 * "NAME." at the start counts as "NAME:" (Malyan). As upstream, NAME + " " + VER is the name
 * only when there is no FIRMWARE_NAME, NAME contains "malyan" (any case) and VER is not empty.
 * A later duplicate key replaces the value in place. A key of 48 bytes or more, or a value of
 * 256 or more, drops that pair rather than truncating it; pairs beyond PROTOCOL_MAX_FIELDS
 * are ignored. */
int protocol_parse_firmware(const char *line, struct protocol_firmware *out);

/* Parses "Cap:NAME:0|1" (the "Cap:" prefix is optional, any case). Returns 0 and fills
 * name (upper-cased, as upstream) and enabled, or -EINVAL when the line does not have exactly that
 * shape, the name is empty or namesz is too small. */
int protocol_parse_capability(const char *line, char *name, size_t namesz, bool *enabled);

/* ---- resend (7.1, 12.7) ----------------------------------------------------------------- */

/* Returns 0 and the requested line number, or -EINVAL if the line is not a resend request. */
int protocol_parse_resend(const char *line, unsigned long *n);

/* Marlin's answer to a line whose number is not the one it expects, "Error:Line Number is not
 * Last Line Number+1, Last Line: N": returns 0 and N, the last line the firmware accepted
 * (its line counter), or -EINVAL for any other line (a checksum error names a Last Line too,
 * but answers a damaged line, not the question). */
int protocol_parse_last_line(const char *line, unsigned long *n);

/* ---- ADVANCED_OK ------------------------------------------------------------------------ */

/* Marlin's ADVANCED_OK acknowledgement "ok N<last line> P<free planner slots> B<free command
 * buffer slots>" (N optional; "ok P15 B3" is accepted). Returns 0 and the values when the
 * line starts with "ok" and carries both P and B as whole tokens; -EINVAL otherwise (a plain "ok",
 * "ok T:... B:60"). has_n tells whether N was there. */
int protocol_parse_advanced_ok(const char *line, bool *has_n, unsigned long *n, int *planner, int *buffer);

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

/* The text after "Error:" (any case) or "!!", trimmed, copied into out. As upstream, a
 * Repetier "fatal:..." line counts as "Error:fatal:...", so its text keeps the "fatal:".
 * A line that is no error line is copied trimmed. If out is too small the text is cut at a
 * UTF-8 character boundary. */
void protocol_error_text(const char *line, char *out, size_t outsz);

/* True when the error is the first half of Marlin's two-line kill sequence ("Thermal
 * Runaway", "MINTEMP triggered", ...): the next line must be joined with " - ". */
bool protocol_error_needs_next_line(const char *line);

/* Marlin's refusal of one command it does not know: `echo:Unknown command: "G999"` (or the
 * same after "Error:"). True for such a line; cmd gets the quoted command ("" without
 * quotes) and text the message without its "echo:"/"Error:" prefix, both cut to fit. */
bool protocol_unknown_command(const char *line, char *cmd, size_t cmdsz, char *text, size_t textsz);

/* Klipper's dialect (docs/protocol.md 17): what a line means on a firmware identified as
 * Klipper. Klipper's "!! " lines are command errors, answered with an "ok", except the
 * ones that say the host shut down; "// Klipper state: X" reports its state. */
enum protocol_klipper {
    PROTOCOL_KLIPPER_OTHER = 0,     /* nothing Klipper-specific */
    PROTOCOL_KLIPPER_READY,         /* "// Klipper state: Ready" */
    PROTOCOL_KLIPPER_NOT_READY,     /* "// Klipper state: Disconnect", "Not ready", "Startup" */
    PROTOCOL_KLIPPER_SHUTDOWN,      /* "// Klipper state: Shutdown", "!! Shutdown due to ...",
                                     * "!! Printer is shutdown", "!! Lost communication with MCU" */
    PROTOCOL_KLIPPER_COMMAND_ERROR, /* "!! Must home axis first: ...", "// Unknown command:..." */
};

enum protocol_klipper protocol_klipper_line(const char *line);

/* True for "// Klipper state: ..." (any state): the line identifies Klipper. */
bool protocol_klipper_state_line(const char *line);

/* The OctoPrint faq id for a fatal error text ("firmware-mintemp", ...), or NULL. */
const char *protocol_error_faq(const char *text);

/* True for old firmware's "Error:<digit>" (exactly one digit, nothing else): the real text
 * comes on the next line and is appended verbatim ("Error:0" + ": Extruder switched off.
 * MAXTEMP triggered !"); the joined line may then need protocol_error_needs_next_line(). */
bool protocol_error_is_split(const char *line);

/* Joins the two halves of a kill sequence: first (trimmed) + " - " + second without a leading
 * "Error:" (any case), trimmed. Returns the length, or -E2BIG if out is too small. */
int protocol_error_join(const char *first, const char *second, char *out, size_t outsz);

/* ---- action commands (12.9) -------------------------------------------------------------- */

/* For "//action:NAME params" fills name and params (trimmed) and returns 0; -EINVAL otherwise
 * (also for an empty name or a buffer too small for its part). */
int protocol_parse_action(const char *line, char *name, size_t namesz, char *params, size_t paramsz);

/* ---- Repetier target temperatures (12.1) ------------------------------------------------ */

/* "TargetExtr<n>:<target>" or "TargetBed:<target>" at the start of the line, as Repetier sends
 * them (only meaningful once Repetier is detected). Fills sensor ("T<n>" or "B") and target
 * and returns 0, or -EINVAL. */
int protocol_parse_repetier_target(const char *line, char *sensor, size_t sensorsz, double *target);

/* ---- SD card lines (12.3, 12.4) ---------------------------------------------------------- */

/* "SD printing byte 1317/8610": the first "<digits>/<digits>" in the line. Returns 0 or -EINVAL. */
int protocol_parse_sd_progress(const char *line, unsigned long *current, unsigned long *total);

/* "File opened: big.gcode  Size: 8610". Returns 0 and fills name/size, or -EINVAL when the line
 * does not match or name does not fit (upstream then uses name "Unknown" and size 0). */
int protocol_parse_file_opened(const char *line, char *name, size_t namesz, unsigned long *size);

#define PROTOCOL_SD_NAME 256

/* One line of an M20 file list: "name", "name size", "name size timestamp-or-longname" or
 * "name size 0xTIMESTAMP longname with spaces". Long names lose surrounding quotes. */
struct protocol_sd_entry {
    char name[PROTOCOL_SD_NAME];     /* as listed, without the leading "/" upstream adds */
    bool has_size;
    unsigned long size;
    bool has_timestamp;
    unsigned long timestamp;         /* raw M20 value: FAT date << 16 | FAT time */
    char longname[PROTOCOL_SD_NAME]; /* "" when none */
};

/* Returns 0, or -EINVAL for an empty line or a field that does not fit its buffer. */
int protocol_parse_file_list_line(const char *line, struct protocol_sd_entry *out);

/* Seconds since the epoch for an M20 FAT timestamp, read as UTC (upstream uses local time),
 * or -EINVAL when the date or time fields are invalid. Upstream drops values before 1212012000. */
long long protocol_m20_timestamp_to_unix(unsigned long timestamp);

/* What a line says about the SD card: 1 a card is ready ("SD card ok", "Card successfully
 * initialized", "Begin file list": the answers to M21 and M20), 0 there is none ("SD init
 * fail", "volume.init failed", "openRoot failed", "SD card released", "No SD card", "No
 * media"), -1 nothing. Searched anywhere in the line, as upstream does. */
int protocol_sd_card_state(const char *line);

/* True for a machine-code file name upstream keeps from an M20 list: extension gcode, gco,
 * g or gc~ (any case) and ASCII only. */
bool protocol_sd_name_is_gcode(const char *name);

/* ---- sent commands (4) --------------------------------------------------------------------- */

/* The G-code of a command line: "G28 X0" -> "G28", "M109 S220 T1" -> "M109", "T3" -> "T",
 * "M80.1" -> "M80" (subcode ignored). Returns the length, 0 if the line is no G/M/T command
 * (upper case only, as upstream; F<n> is not a command) or out is too small. */
size_t protocol_gcode_of(const char *cmd, char *out, size_t outsz);

/* The subcode of a G/M command ("M80.1" -> 1). Returns true if there is one. */
bool protocol_gcode_subcode(const char *cmd, unsigned long *subcode);

/* Parameter value of letter L in a command (case-insensitive, preceded by start or a non-letter),
 * as docs/protocol.md 2.5 describes. Returns true and stores the value if present.
 * The first occurrence followed by a number counts ("M104 S T1 S220" -> S220). An int that
 * overflows long counts as absent. */
bool protocol_param_float(const char *cmd, char letter, double *value);
bool protocol_param_int(const char *cmd, char letter, long *value);

#endif
