/* sim.h: the printer simulator's options and its firmware core.
 *
 * The firmware core (src/sim/firmware.c) is a pure state machine: it takes received bytes and
 * the current monotonic time in milliseconds, and produces reply bytes in an output buffer.
 * It never touches a file descriptor except the SD folder and the record file, so tests
 * drive it with a fake clock. src/sim/main.c owns the pseudo-terminal, the control socket,
 * signals and the poll loop. Every symbol starts with sim_ so nothing collides with the
 * daemon in the test runner. */
#ifndef PRINTBRIDGE_SIM_H
#define PRINTBRIDGE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_EXTRUDERS 8
#define SIM_MAX_HEATERS   (SIM_MAX_EXTRUDERS + 2)   /* tools, bed, chamber */
#define SIM_MAX_BUFFER    64                        /* --buffer upper bound */
#define SIM_PLANNER_SLOTS 16                        /* Marlin's BLOCK_BUFFER_SIZE */
#define SIM_NO_DEADLINE   INT64_MAX

/* Firmware personalities (--firmware): banner, M115, temperature/position/ok formats. */
enum sim_flavor {
    SIM_FLAVOR_MARLIN = 0,
    SIM_FLAVOR_PRUSA,
    SIM_FLAVOR_RRF,
    SIM_FLAVOR_SMOOTHIE,
    SIM_FLAVOR_REPETIER,
};

/* Capabilities reported by M115 as Cap:NAME:0|1, in this order. The ones marked (b) also
 * switch the matching behaviour off when set to 0 with --cap. */
enum sim_cap {
    SIM_CAP_SERIAL_XON_XOFF = 0,
    SIM_CAP_BINARY_FILE_TRANSFER,
    SIM_CAP_EEPROM,
    SIM_CAP_VOLUMETRIC,
    SIM_CAP_AUTOREPORT_POS,          /* (b) M154 */
    SIM_CAP_AUTOREPORT_TEMP,         /* (b) M155 */
    SIM_CAP_PROGRESS,
    SIM_CAP_PRINT_JOB,
    SIM_CAP_AUTOLEVEL,
    SIM_CAP_Z_PROBE,
    SIM_CAP_LEVELING_DATA,
    SIM_CAP_SOFTWARE_POWER,
    SIM_CAP_EMERGENCY_PARSER,        /* (b) M112/M108/M410/M876 acted on at arrival */
    SIM_CAP_HOST_ACTION_COMMANDS,
    SIM_CAP_PROMPT_SUPPORT,
    SIM_CAP_SDCARD,                  /* (b) 0: SD commands are unknown commands */
    SIM_CAP_SD_WRITE,
    SIM_CAP_AUTOREPORT_SD_STATUS,    /* (b) M27 S<n> */
    SIM_CAP_LONG_FILENAME,
    SIM_CAP_LFN_WRITE,               /* (b) 0: M28 refuses names that are not 8.3 */
    SIM_CAP_EXTENDED_M20,            /* (b) 0: M20 ignores L and T */
    SIM_CAP_THERMAL_PROTECTION,
    SIM_CAP_ARCS,
    SIM_CAP_CHAMBER_TEMPERATURE,     /* defaults to --chamber */
    SIM_CAP_BUSY_PROTOCOL,           /* (b) 0: no busy: lines; defaults to --busy-ms > 0 */
    SIM_CAP_COUNT
};

const char *sim_cap_name(enum sim_cap cap);
/* Returns the capability called name (case-insensitive), or -1. */
int sim_cap_lookup(const char *name);

struct sim_options {
    const char *link_path;        /* --link (required by main, not by the core) */
    const char *control_path;     /* --control */
    const char *sd_dir;           /* --sd-dir; NULL: no card inserted */
    const char *record_path;      /* --record */
    enum sim_flavor flavor;       /* --firmware */
    int extruders;                /* --extruders, 1..SIM_MAX_EXTRUDERS */
    bool chamber;                 /* --chamber */
    bool fast;                    /* --fast */
    bool advanced_ok;             /* --advanced-ok */
    int buffer;                   /* --buffer, 1..SIM_MAX_BUFFER */
    int busy_ms;                  /* --busy-ms, 0 = busy protocol off */
    int wait_ms;                  /* --wait / --wait-ms, 0 = no idle "wait"; -1 = flavor default */
    bool verbose;                 /* --verbose: traffic on stderr */
    uint64_t seed;                /* --seed */
    double resend_rate;           /* --resend-rate, 0..1 */
    double drop_ok_rate;          /* --drop-ok-rate, 0..1 */
    double garbage_rate;          /* --garbage-rate, 0..1 */
    int ok_delay_ms;              /* --ok-delay-ms */
    unsigned long disconnect_after; /* --disconnect-after, 0 = off */
    unsigned long kill_after;     /* --kill-after, 0 = off */
    unsigned long reset_after;    /* --reset-after, 0 = off */
    bool relink;                  /* --relink */
    int relink_delay_ms;          /* --relink-delay-ms */
    double runaway_after_s;       /* --thermal-runaway-after, 0 = off */
    signed char caps[SIM_CAP_COUNT]; /* --cap NAME=V; -1 = default */
    bool no_cap_lines;            /* --cap none: M115 without Cap: lines */
};

/* Fills o with the defaults (Marlin, 1 extruder, buffer 4, busy 1000 ms). */
void sim_options_init(struct sim_options *o);
/* Parses argv into o (which sim_options_init prepared). Returns 0 to run, 1 when --help or
 * --version was printed to out (exit 0), -1 with a message in err (exit 2). The strings in o
 * point into argv. */
int sim_options_parse(struct sim_options *o, int argc, char **argv, FILE *out, char *err, size_t errsz);
void sim_options_usage(FILE *out);
/* Parses a --firmware name; -1 if unknown. */
int sim_flavor_parse(const char *name);
const char *sim_flavor_name(enum sim_flavor f);

/* ---- the firmware core ---- */

struct sim_fw;

/* Creates a firmware from o (copied; its strings must outlive the firmware). Opens the
 * record file if o->record_path is set. Returns NULL with a message in err. The caller calls
 * sim_fw_boot before feeding input. */
struct sim_fw *sim_fw_create(const struct sim_options *o, char *err, size_t errsz);
void sim_fw_destroy(struct sim_fw *fw);

/* Power-on or reset: all motion, queue, SD-print and line-number state is cleared, heater
 * targets go to 0 (actual temperatures keep their physical value), and the boot banner is
 * queued. Output queued before is kept, so it reaches the host before "start". */
void sim_fw_boot(struct sim_fw *fw, int64_t now_ms);

/* Received bytes from the host, in any chunking. Emergency commands act here, at arrival. */
void sim_fw_feed(struct sim_fw *fw, const char *data, size_t n, int64_t now_ms);
/* Advances the clock: temperatures, timers, then executes queued commands until one blocks. */
void sim_fw_run(struct sim_fw *fw, int64_t now_ms);
/* The next time sim_fw_run has something to do (SIM_NO_DEADLINE: only on new input). */
int64_t sim_fw_next_deadline(const struct sim_fw *fw, int64_t now_ms);
/* False while so much unprocessed input is queued that reading more should wait. */
bool sim_fw_wants_input(const struct sim_fw *fw);

/* Reply bytes waiting to be written; consume what was written. */
const char *sim_fw_output(const struct sim_fw *fw, size_t *len);
void sim_fw_consume_output(struct sim_fw *fw, size_t n);
void sim_fw_discard_output(struct sim_fw *fw);
/* Pushes buffered record lines to the record file. */
void sim_fw_flush_record(struct sim_fw *fw);

/* True once a hang-up was requested (--disconnect-after); the firmware then does nothing
 * until the next sim_fw_boot. sim_fw_request_hangup asks for one (control "disconnect"). */
bool sim_fw_hangup_requested(const struct sim_fw *fw);
void sim_fw_request_hangup(struct sim_fw *fw);
bool sim_fw_halted(const struct sim_fw *fw);

/* ---- injections used by the control socket ---- */

/* Heater index for "tool0".."toolN", "bed", "chamber" (also "T0", "B", "C"); -1 if none. */
int sim_fw_heater_lookup(const struct sim_fw *fw, const char *name);
/* Emits a line exactly as given (plus "\n"), or raw bytes without a newline. */
void sim_fw_emit_line(struct sim_fw *fw, const char *text);
void sim_fw_emit_raw(struct sim_fw *fw, const char *data, size_t n);
/* Pins the actual temperature of heater h (the model no longer moves it) or releases it. */
void sim_fw_pin_temperature(struct sim_fw *fw, int h, double celsius, int64_t now_ms);
void sim_fw_unpin_temperature(struct sim_fw *fw, int h, int64_t now_ms);
void sim_fw_set_target(struct sim_fw *fw, int h, double celsius, int64_t now_ms);
/* Thermal runaway of heater h (h < 0: the first heater with a target, else tool0), then kill. */
void sim_fw_runaway(struct sim_fw *fw, int h, int64_t now_ms);
/* kill(): "Error:Printer halted. kill() called!" and silence until the next boot. */
void sim_fw_kill(struct sim_fw *fw);
/* The user pressed the knob: ends M0/M1/M600 waits and heating waits (like M108). */
void sim_fw_continue(struct sim_fw *fw);
/* One-line state summary for the control socket's "status". */
void sim_fw_describe(struct sim_fw *fw, int64_t now_ms, char *out, size_t outsz);

/* ---- the control socket's command language (src/sim/control.c) ---- */

enum sim_control_effect {
    SIM_CONTROL_NONE = 0,
    SIM_CONTROL_HANGUP,   /* close the link now (comes back with --relink) */
    SIM_CONTROL_QUIT,     /* exit the simulator */
};

/* Executes one control line against fw; writes "ok[ ...]" or "error: ..." (no newline) into
 * reply and returns what the I/O layer must do besides. */
enum sim_control_effect sim_control_execute(struct sim_fw *fw, const char *line, int64_t now_ms,
                                            char *reply, size_t replysz);
/* Decodes \\, \n, \r, \t, \e and \xNN in src into out; returns the length (out is not
 * NUL-terminated beyond it), or -1 if out is too small or an escape is malformed. */
int sim_control_unescape(const char *src, char *out, size_t outsz);

#endif
