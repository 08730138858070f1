/* options.h: printbridge-sim's command line: every option the simulated printer is built
 * from, with the firmware personalities and M115 capabilities they choose between. */
#ifndef PRINTBRIDGE_SIM_OPTIONS_H
#define PRINTBRIDGE_SIM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_EXTRUDERS 8
#define SIM_MAX_HEATERS   (SIM_MAX_EXTRUDERS + 2)   /* tools, bed, chamber */
#define SIM_MAX_BUFFER    64                        /* --buffer upper bound */

/* --reset-on-close: what a host closing the port does to the board. */
enum sim_reset_on_close {
    SIM_CLOSE_KEEPS = 0,    /* nothing: the firmware keeps its state and line counter */
    SIM_CLOSE_HUPCL,        /* reset when the port still had HUPCL set (DTR dropped) */
    SIM_CLOSE_ALWAYS,       /* reset on every close, whatever the host did */
};

/* Firmware personalities (--firmware): banner, M115, temperature/position/ok formats. */
enum sim_flavor {
    SIM_FLAVOR_MARLIN = 0,
    SIM_FLAVOR_PRUSA,
    SIM_FLAVOR_RRF,
    SIM_FLAVOR_SMOOTHIE,
    SIM_FLAVOR_REPETIER,
    SIM_FLAVOR_KLIPPER,     /* klippy's G-code pty: see klipper.c */
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
    enum sim_reset_on_close reset_on_close; /* --reset-on-close */
    bool relink;                  /* --relink */
    int relink_delay_ms;          /* --relink-delay-ms */
    double runaway_after_s;       /* --thermal-runaway-after, 0 = off */
    signed char caps[SIM_CAP_COUNT]; /* --cap NAME=V; -1 = default */
    bool no_cap_lines;            /* --cap none: M115 without Cap: lines */
};

/* Fills o with the defaults (Marlin, 1 extruder, buffer 4, busy 1000 ms). */
void sim_options_init(struct sim_options *o);
/* Parses argv into o (which sim_options_init prepared). Returns 0, with *done set when
 * --help or --version was printed to out and there is nothing to run, or -EINVAL with a
 * message in err. The strings in o point into argv. */
int sim_options_parse(struct sim_options *o, int argc, char **argv, FILE *out, bool *done, char *err,
                      size_t errsz);
void sim_options_usage(FILE *out);

#endif
