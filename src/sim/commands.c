/* commands.c: what each G-code, M-code and T-code does to the simulated printer (see
 * firmware_state.h): moves, homing, dwells, heaters, reports, user waits, and the SD card
 * (listing, selecting, printing, uploading, deleting). Commands the simulator does not model
 * but slicers send are accepted quietly; anything else is an unknown command, as on Marlin. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cap.h"
#include "firmware_state.h"
#include "flavor.h"
#include "sd.h"

#define HOME_MS_PER_AXIS 700
#define PROBE_MS        1500
#define MAX_WAIT_MS     86400000.0    /* longest dwell or move: a day (keeps casts defined) */

/* A parameter in milliseconds, clamped so converting it is always defined. */
static int64_t clamp_ms(double ms)
{
    return ms <= 0 ? 0 : ms >= MAX_WAIT_MS ? (int64_t)MAX_WAIT_MS : (int64_t)ms;
}

/* ---- the SD card's open files ---- */

void sim_fw_sd_close_read(struct sim_fw *fw)
{
    if (fw->sd_read)
        fclose(fw->sd_read);
    fw->sd_read = NULL;
    fw->sd_printing = false;
    fw->sd_eof = false;
    fw->sd_pos = fw->sd_size = 0;
    fw->sd_name[0] = '\0';
}

void sim_fw_sd_close_write(struct sim_fw *fw)
{
    if (fw->sd_write)
        fclose(fw->sd_write);
    fw->sd_write = NULL;
}

static int sd_path(const struct sim_fw *fw, const char *name, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/%s", fw->opt.sd_dir, name);
    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

/* The next executable line of the file being printed: comments stripped, empty lines skipped
 * (their bytes still count in the position). False at the end of the file. */
bool sim_fw_sd_next_line(struct sim_fw *fw, char *out)
{
    for (;;) {
        size_t len = 0;
        bool overflow = false;
        int c;
        while ((c = getc(fw->sd_read)) != EOF && c != '\n') {
            if (len < LINE_MAX_LEN)
                out[len++] = (char)c;
            else
                overflow = true;
        }
        out[len] = '\0';
        long p = ftell(fw->sd_read);
        if (p >= 0)
            fw->sd_pos = p;
        if (c == EOF && len == 0)
            return false;
        if (overflow)
            continue;
        if (sim_gcode_strip_comment(out) > 0)
            return true;
        if (c == EOF)
            return false;
    }
}

static bool sd_card_ready(struct sim_fw *fw)
{
    if (fw->sd_mounted)
        return true;
    sim_fw_emit(fw, "echo:No media");
    return false;
}

/* ---- motion, heaters, waits ---- */

static void unknown_command(struct sim_fw *fw, const char *text)
{
    if (fw->opt.flavor == SIM_FLAVOR_KLIPPER)
        sim_fw_klipper_unknown(fw, text);
    else
        sim_fw_emitf(fw, "echo:Unknown command: \"%s\"", text);
}

/* The extruder a command's T parameter names, the active one without T, or -EINVAL after
 * Marlin's "echo:M104 Invalid extruder 3". */
static int target_extruder(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    double t;
    if (!sim_gcode_value(gc->args, 'T', &t))
        return fw->tool;
    if (t >= 0 && t < fw->opt.extruders)
        return (int)t;
    sim_fw_emitf(fw, "echo:M%ld Invalid extruder %.0f", gc->code, t);
    return -EINVAL;
}

static bool axis_relative(const struct sim_fw *fw, int axis)
{
    return fw->relative || (axis == 3 && fw->e_relative);
}

static void cmd_move(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    static const char letters[4] = {'X', 'Y', 'Z', 'E'};
    double target[4];
    memcpy(target, fw->pos, sizeof target);
    for (int i = 0; i < 4; i++) {
        double v;
        if (sim_gcode_value(gc->args, letters[i], &v))
            target[i] = axis_relative(fw, i) ? fw->pos[i] + v : v;
    }
    if (fw->opt.flavor == SIM_FLAVOR_KLIPPER && sim_fw_klipper_move_refused(fw, target))
        return;
    double f;
    if (sim_gcode_value(gc->args, 'F', &f) && f > 0)
        fw->feed = f;
    double dx = target[0] - fw->pos[0], dy = target[1] - fw->pos[1], dz = target[2] - fw->pos[2];
    double dist = sqrt(dx * dx + dy * dy + dz * dz);
    if (dist == 0)
        dist = fabs(target[3] - fw->pos[3]);
    memcpy(fw->pos, target, sizeof target);
    double ms = fw->opt.fast ? 0 : dist / (fw->feed / 60.0) * 1000.0;
    if (ms > 0) {
        fw->ex.move_pending = true;
        fw->ex.move_ms = ms < MAX_WAIT_MS ? ms : MAX_WAIT_MS;
    }
}

static void cmd_home(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    unsigned axes = 0;
    if (sim_gcode_param(gc->args, 'X', NULL, NULL))
        axes |= 1;
    if (sim_gcode_param(gc->args, 'Y', NULL, NULL))
        axes |= 2;
    if (sim_gcode_param(gc->args, 'Z', NULL, NULL))
        axes |= 4;
    if (axes == 0)
        axes = 7;
    fw->homed |= axes;
    int count = (axes & 1) + ((axes >> 1) & 1) + ((axes >> 2) & 1);
    fw->ex.sync = true;
    fw->ex.dwell_ms = fw->opt.fast ? 0 : (int64_t)HOME_MS_PER_AXIS * count;
    fw->ex.home_axes = axes;
}

static void cmd_set_position(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    static const char letters[4] = {'X', 'Y', 'Z', 'E'};
    for (int i = 0; i < 4; i++) {
        double v;
        if (sim_gcode_value(gc->args, letters[i], &v))
            fw->pos[i] = v;
    }
}

static void cmd_dwell(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    double v;
    int64_t ms = 0;
    if (sim_gcode_value(gc->args, 'P', &v))
        ms = clamp_ms(v);
    else if (sim_gcode_value(gc->args, 'S', &v))
        ms = clamp_ms(v * 1000.0);
    fw->ex.sync = true;
    fw->ex.dwell_ms = fw->opt.fast ? 0 : ms;
}

static void cmd_heat(struct sim_fw *fw, const struct sim_gcode_cmd *gc, int h, bool wait, int64_t now)
{
    double s;
    bool both = false;
    if (sim_gcode_value(gc->args, 'S', &s)) {
        sim_fw_target_set(fw, h, s, now);
    } else if (wait && sim_gcode_value(gc->args, 'R', &s)) {
        sim_fw_target_set(fw, h, s, now);
        both = true;
    } else if (!wait) {
        return;
    }
    if (!wait || sim_heater_reached(&fw->heat[h], both))
        return;
    fw->ex.heater = h;
    fw->ex.heater_both_ways = both;
    fw->ex.heat_report_next = now;
}

static void cmd_user_wait(struct sim_fw *fw, const struct sim_gcode_cmd *gc, int64_t now)
{
    double v;
    fw->ex.sync = true;
    if (gc->code != 600 && sim_gcode_value(gc->args, 'P', &v)) {
        fw->ex.dwell_ms = fw->opt.fast ? 0 : clamp_ms(v);
    } else if (gc->code != 600 && sim_gcode_value(gc->args, 'S', &v)) {
        fw->ex.dwell_ms = fw->opt.fast ? 0 : clamp_ms(v * 1000.0);
    } else {
        fw->ex.user = true;
        fw->ex.user_next = now;
    }
}

static void cmd_autoreport(const struct sim_gcode_cmd *gc, int64_t *every, int64_t *next, int64_t now)
{
    double s;
    if (!sim_gcode_value(gc->args, 'S', &s))
        return;
    if (s < 0)
        s = 0;
    if (s > 60)
        s = 60;
    *every = (int64_t)s * 1000;
    *next = now + *every;
}

/* ---- SD card commands ---- */

void sim_fw_report_sd_status(struct sim_fw *fw)
{
    if (fw->sd_read)
        sim_fw_emitf(fw, "SD printing byte %lld/%lld", fw->sd_pos, fw->sd_size);
    else
        sim_fw_emit(fw, "Not SD printing");
}

static void cmd_sd_list(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (!sd_card_ready(fw))
        return;
    bool ext = fw->cap[SIM_CAP_EXTENDED_M20];
    bool with_long = ext && sim_gcode_param(gc->args, 'L', NULL, NULL);
    bool with_time = ext && sim_gcode_param(gc->args, 'T', NULL, NULL);
    struct sim_sd_list list;
    int rc = sim_sd_scan(fw->opt.sd_dir, fw->opt.flavor == SIM_FLAVOR_PRUSA, &list);
    sim_fw_emit(fw, "Begin file list");
    if (rc == 0) {
        for (size_t i = 0; i < list.count; i++) {
            char line[600];
            if (!sim_sd_is_gcode(&list.files[i]))
                continue;
            if (sim_sd_format_entry(line, sizeof line, &list.files[i], with_long, with_time) > 0)
                sim_fw_emit(fw, line);
        }
        sim_sd_list_free(&list);
    }
    sim_fw_emit(fw, "End file list");
}

static void cmd_sd_select(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (!sd_card_ready(fw))
        return;
    const char *name = sim_gcode_string_arg(gc->args);
    while (*name == '/')
        name++;
    sim_fw_sd_close_read(fw);
    struct sim_sd_list list;
    const struct sim_sd_file *f = NULL;
    char path[4096];
    if (sim_sd_scan(fw->opt.sd_dir, false, &list) == 0)
        f = sim_sd_lookup(&list, name);
    if (f && sd_path(fw, f->name, path, sizeof path) == 0)
        fw->sd_read = fopen(path, "rb");
    if (fw->sd_read) {
        struct stat st;
        fw->sd_size = fstat(fileno(fw->sd_read), &st) == 0 ? (long long)st.st_size : f->size;
        fw->sd_pos = 0;
        snprintf(fw->sd_name, sizeof fw->sd_name, "%s", name);
        sim_fw_emitf(fw, "File opened: %s Size: %lld", name, fw->sd_size);
        sim_fw_emit(fw, "File selected");
    } else {
        sim_fw_emitf(fw, "open failed, File: %s.", name);
    }
    sim_sd_list_free(&list);
}

static void cmd_sd_begin_write(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (!sd_card_ready(fw))
        return;
    const char *name = sim_gcode_string_arg(gc->args);
    while (*name == '/')
        name++;
    char real[LINE_MAX_LEN + 1];
    snprintf(real, sizeof real, "%s", name);
    struct sim_sd_list list;
    if (sim_sd_scan(fw->opt.sd_dir, false, &list) == 0) {
        const struct sim_sd_file *f = sim_sd_lookup(&list, name);
        if (f)
            snprintf(real, sizeof real, "%s", f->name);   /* FAT names are case-insensitive */
        sim_sd_list_free(&list);
    }
    char path[4096];
    bool allowed = sim_sd_name_is_safe(real) && (fw->cap[SIM_CAP_LFN_WRITE] || sim_sd_is_short_name(real));
    sim_fw_sd_close_write(fw);
    if (allowed && sd_path(fw, real, path, sizeof path) == 0)
        fw->sd_write = fopen(path, "wb");
    if (fw->sd_write)
        sim_fw_emitf(fw, "Writing to file: %s", name);
    else
        sim_fw_emitf(fw, "open failed, File: %s.", name);
}

static void cmd_sd_delete(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (!sd_card_ready(fw))
        return;
    const char *name = sim_gcode_string_arg(gc->args);
    while (*name == '/')
        name++;
    bool deleted = false;
    struct sim_sd_list list;
    if (sim_sd_scan(fw->opt.sd_dir, false, &list) == 0) {
        const struct sim_sd_file *f = sim_sd_lookup(&list, name);
        char path[4096];
        if (f && sd_path(fw, f->name, path, sizeof path) == 0)
            deleted = unlink(path) == 0;
        sim_sd_list_free(&list);
    }
    if (deleted)
        sim_fw_emitf(fw, "File deleted:%s", name);
    else
        sim_fw_emitf(fw, "Deletion failed, File: %s.", name);
}

static void cmd_sd_long_name(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (!sd_card_ready(fw))
        return;
    struct sim_sd_list list;
    if (sim_sd_scan(fw->opt.sd_dir, fw->opt.flavor == SIM_FLAVOR_PRUSA, &list) != 0)
        return;
    const struct sim_sd_file *f = sim_sd_lookup(&list, sim_gcode_string_arg(gc->args));
    if (f)
        sim_fw_emitf(fw, "/%s", f->name);
    sim_sd_list_free(&list);
}

/* SD commands; false when the command is not an SD command. */
static bool dispatch_sd(struct sim_fw *fw, const struct sim_gcode_cmd *gc, int64_t now)
{
    switch (gc->code) {
    case 20: cmd_sd_list(fw, gc); return true;
    case 21:
        if (fw->opt.sd_dir) {
            fw->sd_mounted = true;
            sim_fw_emit(fw, "SD card ok");
        } else {
            sim_fw_emit(fw, "echo:SD init fail");
        }
        return true;
    case 22:
        sim_fw_sd_close_read(fw);
        fw->sd_mounted = false;
        sim_fw_emit(fw, "echo:SD card released");
        return true;
    case 23: cmd_sd_select(fw, gc); return true;
    case 24:
        if (sd_card_ready(fw) && fw->sd_read)
            fw->sd_printing = true;     /* resumes where it stopped (no OctoPrint quirk) */
        return true;
    case 25:
        fw->sd_printing = false;
        return true;
    case 26: {
        double s;
        if (sd_card_ready(fw) && fw->sd_read && sim_gcode_value(gc->args, 'S', &s) && s >= 0 &&
            s <= (double)fw->sd_size && fseek(fw->sd_read, (long)s, SEEK_SET) == 0) {
            fw->sd_pos = (long long)s;
            fw->sd_eof = false;
        }
        return true;
    }
    case 27:
        if (sim_gcode_param(gc->args, 'S', NULL, NULL) && fw->cap[SIM_CAP_AUTOREPORT_SD_STATUS])
            cmd_autoreport(gc, &fw->sd_every, &fw->sd_next, now);
        else
            sim_fw_report_sd_status(fw);
        return true;
    case 28: cmd_sd_begin_write(fw, gc); return true;
    case 29: return true;     /* not writing: nothing to close */
    case 30: cmd_sd_delete(fw, gc); return true;
    case 33: cmd_sd_long_name(fw, gc); return true;
    case 524:
        if (fw->sd_read)
            sim_fw_sd_close_read(fw);
        return true;
    }
    return false;
}

/* ---- reports and messages ---- */

static void cmd_firmware_info(struct sim_fw *fw)
{
    char line[REPORT_MAX];
    if (fw->opt.flavor == SIM_FLAVOR_KLIPPER) {
        /* Klipper answers on the ok line: "ok FIRMWARE_NAME:Klipper ..." */
        fw->ex.has_payload = sim_flavor_format_m115(fw->opt.flavor, fw->opt.extruders, fw->ex.payload,
                                                    sizeof fw->ex.payload) > 0;
        return;
    }
    if (sim_flavor_format_m115(fw->opt.flavor, fw->opt.extruders, line, sizeof line) > 0)
        sim_fw_emit(fw, line);
    if (!sim_flavor_reports_caps(fw->opt.flavor) || fw->opt.no_cap_lines)
        return;
    for (int i = 0; i < SIM_CAP_COUNT; i++)
        sim_fw_emitf(fw, "Cap:%s:%d", sim_cap_name((enum sim_cap)i), fw->cap[i] ? 1 : 0);
}

static void cmd_host_message(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    /* M118 [A1] [E1] [Pn] text: A1 prefixes "//", E1 prefixes "echo:". */
    const char *p = sim_gcode_string_arg(gc->args);
    bool action = false, echo = false;
    for (;;) {
        if ((p[0] == 'A' || p[0] == 'E' || p[0] == 'P') && isdigit((unsigned char)p[1]) &&
            (p[2] == ' ' || p[2] == '\0')) {
            action |= p[0] == 'A' && p[1] != '0';
            echo |= p[0] == 'E' && p[1] != '0';
            p = sim_gcode_string_arg(p + 2);
            continue;
        }
        break;
    }
    sim_fw_emitf(fw, "%s%s", action ? "//" : echo ? "echo:" : "", p);
}

static void cmd_tool(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (gc->code >= fw->opt.extruders) {
        sim_fw_emitf(fw, "echo:T%ld Invalid extruder", gc->code);
        return;
    }
    fw->tool = (int)gc->code;
    if (fw->opt.extruders > 1)
        sim_fw_emitf(fw, "echo:Active Extruder: %d", fw->tool);
}

/* ---- dispatch ---- */

/* Commands a typical slicer emits that change nothing the simulator models. */
static bool is_quiet_command(const struct sim_gcode_cmd *gc)
{
    static const long gcodes[] = {10, 11, 20, 21, 80, 94};
    static const long mcodes[] = {17, 18, 73, 75, 76, 77, 80, 81, 84, 85, 92, 106, 107, 108, 110, 111, 149, 163, 164,
                                  201, 203, 204, 205, 206, 207, 208, 209, 211, 220, 221, 280, 290, 300, 301, 302, 304,
                                  355, 412, 413, 420, 500, 501, 502, 569, 851, 876, 900, 906, 907, 913};
    const long *list = gc->letter == 'G' ? gcodes : mcodes;
    size_t n = gc->letter == 'G' ? sizeof gcodes / sizeof *gcodes : sizeof mcodes / sizeof *mcodes;
    for (size_t i = 0; i < n; i++)
        if (list[i] == gc->code)
            return true;
    return false;
}

static void dispatch_g(struct sim_fw *fw, const struct sim_gcode_cmd *gc, const char *text)
{
    switch (gc->code) {
    case 0: case 1: case 2: case 3: cmd_move(fw, gc); return;
    case 4: cmd_dwell(fw, gc); return;
    case 28: cmd_home(fw, gc); return;
    case 29:
        fw->ex.sync = true;
        fw->ex.dwell_ms = fw->opt.fast ? 0 : PROBE_MS;
        return;
    case 90: fw->relative = false; fw->e_relative = false; return;
    case 91: fw->relative = true; return;
    case 92: cmd_set_position(fw, gc); return;
    }
    if (!is_quiet_command(gc))
        unknown_command(fw, text);
}

static void dispatch_m(struct sim_fw *fw, const struct sim_gcode_cmd *gc, const char *text, int64_t now)
{
    bool sd_code = (gc->code >= 20 && gc->code <= 30) || gc->code == 33 || gc->code == 524;
    if (sd_code && fw->cap[SIM_CAP_SDCARD] && dispatch_sd(fw, gc, now))
        return;
    int e;
    switch (gc->code) {
    case 0: case 1: case 600: cmd_user_wait(fw, gc, now); return;
    case 82: fw->e_relative = false; return;
    case 83: fw->e_relative = true; return;
    case 104: case 109:
        if ((e = target_extruder(fw, gc)) >= 0)
            cmd_heat(fw, gc, e, gc->code == 109, now);
        return;
    case 140: case 190: cmd_heat(fw, gc, bed_index(fw), gc->code == 190, now); return;
    case 141: case 191:
        if (!fw->opt.chamber)
            break;
        cmd_heat(fw, gc, chamber_index(fw), gc->code == 191, now);
        return;
    case 105: {
        if (target_extruder(fw, gc) < 0)
            return;
        fw->ex.has_payload = sim_fw_format_temps(fw, fw->ex.payload, sizeof fw->ex.payload) > 0;
        return;
    }
    case 112:
        if (fw->opt.flavor == SIM_FLAVOR_KLIPPER)
            sim_fw_klipper_shutdown(fw);
        else
            sim_fw_kill(fw);
        return;
    case 113: {
        double s;
        if (!fw->cap[SIM_CAP_BUSY_PROTOCOL])
            break;
        if (sim_gcode_value(gc->args, 'S', &s))
            fw->busy_ms = (int)(s < 0 ? 0 : s > 60 ? 60 : s) * 1000;
        else
            sim_fw_emitf(fw, "echo:M113 S%d", fw->busy_ms / 1000);
        return;
    }
    case 114:
        fw->ex.has_payload = sim_fw_format_position(fw, fw->ex.payload, sizeof fw->ex.payload) > 0;
        return;
    case 115: cmd_firmware_info(fw); return;
    case 117: sim_fw_emitf(fw, "echo:%s", sim_gcode_string_arg(gc->args)); return;
    case 118: cmd_host_message(fw, gc); return;
    case 119:
        sim_fw_emit(fw, "Reporting endstop status");
        sim_fw_emit(fw, "x_min: open");
        sim_fw_emit(fw, "y_min: open");
        sim_fw_emit(fw, "z_min: open");
        return;
    case 154:
        if (!fw->cap[SIM_CAP_AUTOREPORT_POS])
            break;
        cmd_autoreport(gc, &fw->pos_every, &fw->pos_next, now);
        return;
    case 155:
        if (!fw->cap[SIM_CAP_AUTOREPORT_TEMP])
            break;
        cmd_autoreport(gc, &fw->temp_every, &fw->temp_next, now);
        return;
    case 400: fw->ex.sync = true; return;
    case 410: sim_fw_plan_clear(fw); return;
    case 503:
        sim_fw_emit(fw, "echo:; Steps per unit:");
        sim_fw_emit(fw, "echo: M92 X80.00 Y80.00 Z400.00 E93.00");
        return;
    case 999: {
        double s;
        if (sim_gcode_value(gc->args, 'S', &s) && s != 0)
            return;
        char line[64];
        if (sim_flavor_format_resend(fw->opt.flavor, fw->last_n + 1, line, sizeof line) > 0)
            sim_fw_emit(fw, line);
        return;
    }
    default:
        if (is_quiet_command(gc))
            return;
    }
    unknown_command(fw, text);
}

void sim_fw_dispatch(struct sim_fw *fw, const char *text, int64_t now)
{
    struct sim_gcode_cmd gc;
    if (fw->opt.flavor == SIM_FLAVOR_KLIPPER && sim_fw_klipper_command(fw, text))
        return;
    if (!sim_gcode_command(text, &gc)) {
        unknown_command(fw, text);
        return;
    }
    if (gc.letter == 'T')
        cmd_tool(fw, &gc);
    else if (gc.letter == 'G')
        dispatch_g(fw, &gc, text);
    else
        dispatch_m(fw, &gc, text, now);
}
