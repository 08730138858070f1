/* flavor.h: what differs between the simulated firmwares (--firmware): the boot banner,
 * the M115 report and whether capabilities follow it, the temperature, position and ok
 * formats, and the wording of line errors. Pure formatting functions; they return the length
 * written, or -ENOSPC if out is too small. */
#ifndef PRINTBRIDGE_SIM_FLAVOR_H
#define PRINTBRIDGE_SIM_FLAVOR_H

#include <stdbool.h>
#include <stddef.h>

#include "gcode.h"
#include "heater.h"
#include "options.h"

/* Parses a --firmware name into an enum sim_flavor; -ENOENT if unknown. */
int sim_flavor_parse(const char *name);
const char *sim_flavor_name(enum sim_flavor f);
/* Whether M115 prints Cap: lines at all (RepRapFirmware and Smoothieware do not). */
bool sim_flavor_reports_caps(enum sim_flavor f);
/* The idle "wait" interval when --wait-ms is not given (Repetier: 1000, others: 0). */
int sim_flavor_default_wait_ms(enum sim_flavor f);

/* The banner's second line, after "start" (e.g. "echo:Marlin printbridge-sim"). */
const char *sim_flavor_banner(enum sim_flavor f);
/* The FIRMWARE_NAME line of M115. */
int sim_flavor_format_m115(enum sim_flavor f, int extruders, char *out, size_t outsz);

/* The heater report without "ok ", e.g. Marlin "T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0".
 * heaters[0..extruders) are the tools, then the bed, then the chamber if chamber. */
int sim_flavor_format_temps(enum sim_flavor f, const struct sim_heater *heaters, int extruders,
                            bool chamber, int tool, char *out, size_t outsz);
/* The temperature line printed each second while M109/M190/M191 wait (Marlin adds " W:?"). */
int sim_flavor_format_wait_temps(enum sim_flavor f, const struct sim_heater *heaters, int extruders,
                                 bool chamber, int tool, char *out, size_t outsz);
/* The position report without "ok ", e.g. Marlin "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0".
 * pos is X, Y, Z, E of the current tool. */
int sim_flavor_format_position(enum sim_flavor f, const double pos[4], int extruders, int tool,
                               char *out, size_t outsz);

/* The error line for a rejected numbered line (got_n is the line's own N). */
int sim_flavor_format_line_error(enum sim_flavor f, enum sim_line_verdict v, long last_n, long got_n,
                                 char *out, size_t outsz);
/* "Resend: <n>" (Repetier: "Resend:<n>"). */
int sim_flavor_format_resend(enum sim_flavor f, long n, char *out, size_t outsz);

#endif
