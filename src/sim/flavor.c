/* flavor.c: the wire strings that differ between the simulated firmwares (see flavor.h)
 * and their --firmware names. Marlin's strings are the baseline; the other flavors only
 * change what is known to differ on the wire: M115, the heater and position reports, ok,
 * and (Repetier) the line-error wording. */
#include "flavor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static const char *const flavor_names[] = {
    [SIM_FLAVOR_MARLIN] = "marlin",
    [SIM_FLAVOR_PRUSA] = "prusa",
    [SIM_FLAVOR_RRF] = "reprapfirmware",
    [SIM_FLAVOR_SMOOTHIE] = "smoothie",
    [SIM_FLAVOR_REPETIER] = "repetier",
    [SIM_FLAVOR_KLIPPER] = "klipper",
};

int sim_flavor_parse(const char *name)
{
    for (size_t i = 0; i < sizeof flavor_names / sizeof *flavor_names; i++)
        if (strcasecmp(name, flavor_names[i]) == 0)
            return (int)i;
    if (strcasecmp(name, "rrf") == 0)
        return SIM_FLAVOR_RRF;
    if (strcasecmp(name, "smoothieware") == 0)
        return SIM_FLAVOR_SMOOTHIE;
    return -ENOENT;
}

const char *sim_flavor_name(enum sim_flavor f)
{
    return (unsigned)f < sizeof flavor_names / sizeof *flavor_names ? flavor_names[f] : "?";
}

bool sim_flavor_reports_caps(enum sim_flavor f)
{
    return f == SIM_FLAVOR_MARLIN || f == SIM_FLAVOR_PRUSA || f == SIM_FLAVOR_REPETIER;
}

int sim_flavor_default_wait_ms(enum sim_flavor f)
{
    return f == SIM_FLAVOR_REPETIER ? 1000 : 0;
}

const char *sim_flavor_banner(enum sim_flavor f)
{
    switch (f) {
    case SIM_FLAVOR_PRUSA: return "echo:Prusa-Firmware 3.13.2 printbridge-sim";
    case SIM_FLAVOR_RRF: return "echo:RepRapFirmware 3.4.5 printbridge-sim";
    case SIM_FLAVOR_SMOOTHIE: return "echo:Smoothieware printbridge-sim";
    case SIM_FLAVOR_REPETIER: return "echo:Repetier 1.0.3 printbridge-sim";
    case SIM_FLAVOR_KLIPPER: return "// Klipper state: Ready";
    case SIM_FLAVOR_MARLIN: break;
    }
    return "echo:Marlin printbridge-sim";
}

/* A bounded appender: every format call is checked once, at the end. */
struct text {
    char *out;
    size_t size, len;
    bool overflow;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->out + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->size - t->len) {
        t->overflow = true;
        return;
    }
    t->len += (size_t)n;
}

static int text_end(struct text *t)
{
    if (t->overflow) {
        if (t->size)
            t->out[0] = '\0';
        return -ENOSPC;
    }
    return (int)t->len;
}

int sim_flavor_format_m115(enum sim_flavor f, int extruders, char *out, size_t outsz)
{
    struct text t = {out, outsz, 0, outsz == 0};
    switch (f) {
    case SIM_FLAVOR_MARLIN:
        text_add(&t, "FIRMWARE_NAME:Marlin 2.1.2 (printbridge-sim) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
                     "PROTOCOL_VERSION:1.0 MACHINE_TYPE:printbridge-sim EXTRUDER_COUNT:%d "
                     "UUID:00000000-0000-0000-0000-000000000000", extruders);
        break;
    case SIM_FLAVOR_PRUSA:
        text_add(&t, "FIRMWARE_NAME:Prusa-Firmware 3.13.2 based on Marlin FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware "
                     "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:%d "
                     "UUID:00000000-0000-0000-0000-000000000000", extruders);
        break;
    case SIM_FLAVOR_RRF:
        text_add(&t, "FIRMWARE_NAME: RepRapFirmware for Duet 2 WiFi/Ethernet FIRMWARE_VERSION: 3.4.5 "
                     "ELECTRONICS: Duet WiFi 1.02 or later FIRMWARE_DATE: 2022-11-30 19:35:23");
        break;
    case SIM_FLAVOR_SMOOTHIE:
        text_add(&t, "FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%%3A//smoothieware.org, "
                     "X-SOURCE_CODE_URL:https://github.com/Smoothieware/Smoothieware, FIRMWARE_VERSION:edge-3332442, "
                     "X-FIRMWARE_BUILD_DATE:Jan 21 2022 14:00:00, X-SYSTEM_CLOCK:100MHz, X-AXES:5, X-GRBL_MODE:0, X-ARCS:1");
        break;
    case SIM_FLAVOR_REPETIER:
        text_add(&t, "FIRMWARE_NAME:Repetier_1.0.3 FIRMWARE_URL:https://github.com/repetier/Repetier-Firmware/ "
                     "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Mendel EXTRUDER_COUNT:%d REPETIER_PROTOCOL:3", extruders);
        break;
    case SIM_FLAVOR_KLIPPER:
        text_add(&t, "FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.13.0-printbridge-sim");
        break;
    }
    return text_end(&t);
}

static void temps_marlin(struct text *t, const struct sim_heater *h, int n, bool chamber, int tool, bool prusa)
{
    const struct sim_heater *bed = &h[n], *ch = &h[n + 1];
    if (prusa) {
        /* Prusa: T, B, then T0.. and the PINDA probe (P) and ambient (A) sensors. */
        text_add(t, "T:%.1f /%.1f B:%.1f /%.1f", h[tool].actual, h[tool].target, bed->actual, bed->target);
        for (int i = 0; i < n; i++)
            text_add(t, " T%d:%.1f /%.1f", i, h[i].actual, h[i].target);
        if (chamber)
            text_add(t, " C:%.1f /%.1f", ch->actual, ch->target);
        text_add(t, " @:%d B@:%d P:%.1f A:%.1f", sim_heater_power(&h[tool]), sim_heater_power(bed),
                 SIM_AMBIENT_C + (bed->actual - SIM_AMBIENT_C) * 0.5, SIM_AMBIENT_C);
        return;
    }
    text_add(t, "T:%.2f /%.2f", h[tool].actual, h[tool].target);
    if (n > 1)
        for (int i = 0; i < n; i++)
            text_add(t, " T%d:%.2f /%.2f", i, h[i].actual, h[i].target);
    text_add(t, " B:%.2f /%.2f", bed->actual, bed->target);
    if (chamber)
        text_add(t, " C:%.2f /%.2f", ch->actual, ch->target);
    text_add(t, " @:%d B@:%d", sim_heater_power(&h[tool]), sim_heater_power(bed));
    if (chamber)
        text_add(t, " C@:%d", sim_heater_power(ch));
    if (n > 1)
        for (int i = 0; i < n; i++)
            text_add(t, " @%d:%d", i, sim_heater_power(&h[i]));
}

int sim_flavor_format_temps(enum sim_flavor f, const struct sim_heater *h, int n, bool chamber, int tool,
                            char *out, size_t outsz)
{
    struct text t = {out, outsz, 0, outsz == 0};
    const struct sim_heater *bed = &h[n], *ch = &h[n + 1];
    if (tool < 0 || tool >= n)
        tool = 0;
    switch (f) {
    case SIM_FLAVOR_MARLIN:
    case SIM_FLAVOR_PRUSA:
        temps_marlin(&t, h, n, chamber, tool, f == SIM_FLAVOR_PRUSA);
        break;
    case SIM_FLAVOR_RRF:
        if (n == 1)
            text_add(&t, "T:%.1f /%.1f", h[0].actual, h[0].target);
        else
            for (int i = 0; i < n; i++)
                text_add(&t, "%sT%d:%.1f /%.1f", i ? " " : "", i, h[i].actual, h[i].target);
        text_add(&t, " B:%.1f /%.1f", bed->actual, bed->target);
        if (chamber)
            text_add(&t, " C:%.1f /%.1f", ch->actual, ch->target);
        break;
    case SIM_FLAVOR_SMOOTHIE:
        /* Smoothieware: the first tool is "T", the next ones "T1", "T2" (no "T0"). */
        for (int i = 0; i < n; i++) {
            if (i == 0)
                text_add(&t, "T:%.1f /%.1f @%d", h[0].actual, h[0].target, sim_heater_power(&h[0]));
            else
                text_add(&t, " T%d:%.1f /%.1f @%d", i, h[i].actual, h[i].target, sim_heater_power(&h[i]));
        }
        text_add(&t, " B:%.1f /%.1f @%d", bed->actual, bed->target, sim_heater_power(bed));
        if (chamber)
            text_add(&t, " C:%.1f /%.1f @%d", ch->actual, ch->target, sim_heater_power(ch));
        break;
    case SIM_FLAVOR_REPETIER:
        text_add(&t, "T:%.2f /%.0f B:%.2f /%.0f", h[tool].actual, h[tool].target, bed->actual, bed->target);
        if (chamber)
            text_add(&t, " C:%.2f /%.0f", ch->actual, ch->target);
        text_add(&t, " B@:%d @:%d", sim_heater_power(bed), sim_heater_power(&h[tool]));
        if (n > 1)
            for (int i = 0; i < n; i++)
                text_add(&t, " T%d:%.2f /%.0f @%d:%d", i, h[i].actual, h[i].target, i, sim_heater_power(&h[i]));
        break;
    case SIM_FLAVOR_KLIPPER:
        /* the bed first, every tool numbered, no powers */
        text_add(&t, "B:%.1f /%.1f", bed->actual, bed->target);
        for (int i = 0; i < n; i++)
            text_add(&t, " T%d:%.1f /%.1f", i, h[i].actual, h[i].target);
        if (chamber)
            text_add(&t, " C:%.1f /%.1f", ch->actual, ch->target);
        break;
    }
    return text_end(&t);
}

int sim_flavor_format_wait_temps(enum sim_flavor f, const struct sim_heater *h, int n, bool chamber, int tool,
                                 char *out, size_t outsz)
{
    int len = sim_flavor_format_temps(f, h, n, chamber, tool, out, outsz);
    if (len < 0 || (f != SIM_FLAVOR_MARLIN && f != SIM_FLAVOR_PRUSA))
        return len;
    struct text t = {out, outsz, (size_t)len, false};
    text_add(&t, " W:?");
    return text_end(&t);
}

/* Stepper counts at steps_per_mm, clamped so the conversion is always defined. */
static long steps(double mm, double steps_per_mm)
{
    double v = mm * steps_per_mm;
    return v > 1e15 ? (long)1e15 : v < -1e15 ? (long)-1e15 : (long)v;
}

int sim_flavor_format_position(enum sim_flavor f, const double pos[4], int extruders, int tool,
                               char *out, size_t outsz)
{
    struct text t = {out, outsz, 0, outsz == 0};
    switch (f) {
    case SIM_FLAVOR_MARLIN:
        /* Count: the stepper positions at 80/80/400 steps per mm. */
        text_add(&t, "X:%.2f Y:%.2f Z:%.2f E:%.2f Count X:%ld Y:%ld Z:%ld", pos[0], pos[1], pos[2], pos[3],
                 steps(pos[0], 80), steps(pos[1], 80), steps(pos[2], 400));
        break;
    case SIM_FLAVOR_PRUSA:
        text_add(&t, "X:%.2f Y:%.2f Z:%.2f E:%.2f Count X: %.2f Y:%.2f Z:%.2f E:%.2f", pos[0], pos[1], pos[2],
                 pos[3], pos[0], pos[1], pos[2], pos[3]);
        break;
    case SIM_FLAVOR_RRF:
        text_add(&t, "X:%.3f Y:%.3f Z:%.3f", pos[0], pos[1], pos[2]);
        for (int i = 0; i < extruders; i++)
            text_add(&t, " E%d:%.1f", i, i == tool ? pos[3] : 0.0);
        text_add(&t, " Count %ld %ld %ld Machine %.3f %.3f %.3f Bed comp 0.000", steps(pos[0], 80),
                 steps(pos[1], 80), steps(pos[2], 400), pos[0], pos[1], pos[2]);
        break;
    case SIM_FLAVOR_SMOOTHIE:
        text_add(&t, "C: X:%.4f Y:%.4f Z:%.4f E:%.4f", pos[0], pos[1], pos[2], pos[3]);
        break;
    case SIM_FLAVOR_REPETIER:
        text_add(&t, "X:%.2f Y:%.2f Z:%.3f E:%.4f", pos[0], pos[1], pos[2], pos[3]);
        break;
    case SIM_FLAVOR_KLIPPER:
        text_add(&t, "X:%.3f Y:%.3f Z:%.3f E:%.3f", pos[0], pos[1], pos[2], pos[3]);
        break;
    }
    return text_end(&t);
}

int sim_flavor_format_line_error(enum sim_flavor f, enum sim_line_verdict v, long last_n, long got_n,
                                 char *out, size_t outsz)
{
    struct text t = {out, outsz, 0, outsz == 0};
    if (f == SIM_FLAVOR_REPETIER) {
        switch (v) {
        case SIM_LINE_BAD_NUMBER: text_add(&t, "Error:expected line %ld got %ld", last_n + 1, got_n); break;
        case SIM_LINE_NO_CHECKSUM: text_add(&t, "Error:Missing checksum"); break;
        case SIM_LINE_BAD_CHECKSUM: text_add(&t, "Error:Wrong checksum"); break;
        case SIM_LINE_OK: break;
        }
        return text_end(&t);
    }
    switch (v) {
    case SIM_LINE_BAD_NUMBER:
        text_add(&t, "Error:Line Number is not Last Line Number+1, Last Line: %ld", last_n);
        break;
    case SIM_LINE_NO_CHECKSUM:
        text_add(&t, "Error:No Checksum with line number, Last Line: %ld", last_n);
        break;
    case SIM_LINE_BAD_CHECKSUM:
        text_add(&t, "Error:checksum mismatch, Last Line: %ld", last_n);
        break;
    case SIM_LINE_OK:
        break;
    }
    return text_end(&t);
}

int sim_flavor_format_resend(enum sim_flavor f, long n, char *out, size_t outsz)
{
    struct text t = {out, outsz, 0, outsz == 0};
    text_add(&t, f == SIM_FLAVOR_REPETIER ? "Resend:%ld" : "Resend: %ld", n);
    return text_end(&t);
}
