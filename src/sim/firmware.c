/* firmware.c: the simulated printer firmware (see firmware.h). It owns everything a Marlin board
 * keeps between two bytes on the wire:
 *
 *   received bytes -> line assembler -> emergency parser (M112/M108/M410/M876 act at arrival)
 *   -> pending lines (unvalidated, like a UART buffer) -> intake: N/checksum verdict, resend
 *   -> command buffer (--buffer slots, shared with SD-print lines, host lines first)
 *   -> executor: one command at a time; long ones block on the planner, a dwell, a heater or
 *      the user, sending busy:/temperature/paused-for-user lines meanwhile -> ok
 *
 * plus the heaters, the motion planner (a ring of move end times), autoreports, the SD card
 * and the seeded faults. Time only enters through the now_ms arguments, so the core runs
 * under a fake clock in tests. Output is appended to one buffer the I/O layer drains. */
#include "firmware.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"

#include "cap.h"
#include "flavor.h"
#include "gcode.h"
#include "heater.h"
#include "rx.h"
#include "sd.h"

#define LINE_MAX_LEN    SIM_RX_LINE_MAX
#define REPORT_MAX      2048
#define PENDING_LIMIT   (1u << 20)    /* unprocessed input before reading pauses */
#define OUTPUT_SOFT_MAX (1u << 20)    /* queued output before execution pauses */
#define OUTPUT_HARD_MAX (16u << 20)   /* queued output beyond which lines are dropped */
#define HOME_MS_PER_AXIS 700
#define PROBE_MS        1500
#define USER_PROMPT_MS  2000          /* "paused for user" cadence */
#define HEAT_REPORT_MS  1000          /* temperature line cadence while M109 waits */
#define HEAT_POLL_MS    50
#define DEFAULT_FEED    1500.0        /* mm/min, Marlin's 25 mm/s */
#define MAX_WAIT_MS     86400000.0    /* longest dwell or move: a day (keeps casts defined) */
#define PLANNER_SLOTS   16            /* Marlin's BLOCK_BUFFER_SIZE */

enum fault_bits { FAULT_KILL = 1, FAULT_RESET = 2, FAULT_HANGUP = 4 };

/* A buffer entry. A rejected line is queued too (as its verdict), so every host line is
 * answered in the order it arrived whatever the read chunking: that keeps seeded faults
 * reproducible with many lines in flight. */
struct sim_cmd {
    char text[LINE_MAX_LEN + 1];    /* without N, checksum and comment */
    long n;
    bool numbered;
    bool from_sd;
    enum sim_line_verdict verdict;  /* not SIM_LINE_OK: answer with error + Resend + ok */
    long reject_last_n;             /* the last accepted N when it was rejected */
};

/* What the command at the head of the buffer still waits for, checked in this order. */
struct sim_exec {
    bool active;
    bool move_pending;      /* a move waits for a free planner slot */
    double move_ms;
    bool sync;              /* wait until the planner is empty */
    int64_t dwell_ms;       /* dwell to start once synced; -1: none */
    int64_t until;          /* dwelling until this time; 0: not dwelling */
    int heater;             /* waiting for this heater; -1: none */
    bool heater_both_ways;  /* M109 R: also wait while cooling */
    int64_t heat_report_next;
    bool user;              /* waiting for the user (M0/M1/M600) */
    int64_t user_next;
    unsigned home_axes;     /* axes set to 0 when homing ends (bits X=1 Y=2 Z=4) */
    bool send_ok;
    bool ok_delayed;
    int64_t ok_at;
    int64_t busy_next;
    bool has_payload;
    char payload[REPORT_MAX];   /* "ok <payload>" (M105, M114) */
};

struct sim_fw {
    struct sim_options opt;
    bool cap[SIM_CAP_COUNT];
    FILE *record;

    struct strbuf out;             /* replies; the first out_head bytes are written already */
    size_t out_head;
    unsigned long out_dropped;

    struct sim_rx rx;
    int64_t feed_now;              /* the clock of the current sim_fw_feed call */
    struct strbuf pend;            /* received lines, each ended by a NUL; oldest at pend_head */
    size_t pend_head, pend_lines;

    struct sim_cmd *cmds;
    int cmd_head, cmd_count, sd_inflight;
    struct sim_exec ex;
    long last_n;

    bool booted, halted, hangup;
    unsigned fault_due;
    bool kill_fired, reset_fired, hangup_fired, runaway_fired;
    unsigned long handled;         /* host lines answered with an ok (sent or dropped) */
    int64_t runaway_at;            /* 0: not armed */

    struct sim_heater heat[SIM_MAX_HEATERS];
    int nheaters;                  /* extruders + bed + chamber slot */
    int64_t temp_clock;
    int tool;

    double pos[4];
    bool relative, e_relative;
    double feed;
    double plan[PLANNER_SLOTS];    /* end times (ms) of planned moves, oldest first */
    int plan_head, plan_len;

    int busy_ms;
    int wait_ms;
    int64_t wait_next;
    int64_t temp_every, sd_every, pos_every;
    int64_t temp_next, sd_next, pos_next;

    bool sd_mounted;
    FILE *sd_read;
    char sd_name[LINE_MAX_LEN + 1];
    long long sd_size, sd_pos;
    bool sd_printing, sd_eof;
    FILE *sd_write;

    uint64_t rng_resend, rng_drop, rng_garbage;
};

/* ---- small helpers ---- */

/* splitmix64: tiny, seedable, and every fault gets its own stream so one fault's draws do not
 * shift another's when timing-dependent lines (autoreports, busy) come and go. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool rng_chance(uint64_t *s, double p)
{
    if (p <= 0)
        return false;
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static int bed_index(const struct sim_fw *fw) { return fw->opt.extruders; }
static int chamber_index(const struct sim_fw *fw) { return fw->opt.extruders + 1; }

static bool is_m29(const char *text)
{
    return (text[0] == 'M' || text[0] == 'm') && strncmp(text + 1, "29", 2) == 0 && !isdigit((unsigned char)text[3]);
}

/* A parameter in milliseconds, clamped so converting it is always defined. */
static int64_t clamp_ms(double ms)
{
    return ms <= 0 ? 0 : ms >= MAX_WAIT_MS ? (int64_t)MAX_WAIT_MS : (int64_t)ms;
}

/* ---- the two queues of bytes: a strbuf consumed from the front ---- */

/* When appending n bytes would make b grow, the bytes already consumed (before *head) are
 * dropped first, so a queue drained as fast as it fills never grows. */
static void queue_reclaim(struct strbuf *b, size_t *head, size_t n)
{
    if (*head == 0 || b->len + n < b->cap)
        return;
    memmove(b->s, b->s + *head, b->len - *head);
    b->len -= *head;
    b->s[b->len] = '\0';
    *head = 0;
}

static void queue_clear(struct strbuf *b, size_t *head)
{
    b->len = *head = 0;
    if (b->s)
        b->s[0] = '\0';
}

/* ---- output ---- */

static void out_append(struct sim_fw *fw, const char *data, size_t n)
{
    if (fw->out.len - fw->out_head + n > OUTPUT_HARD_MAX) {
        fw->out_dropped++;
        return;
    }
    queue_reclaim(&fw->out, &fw->out_head, n);
    if (strbuf_put(&fw->out, data, n) != 0)
        fw->out_dropped++;
}

/* Noise on the way back: a line of 1-16 bytes that may hold NUL, control bytes and invalid
 * UTF-8, whose first byte is never a letter, so it can never read as ok, Error or Resend. */
static void emit_garbage(struct sim_fw *fw)
{
    static const char first[] = {'\0', (char)0x80, (char)0xC3, (char)0xFF, '#', '~', '%', (char)0xFE};
    char noise[17];
    uint64_t r = rng_next(&fw->rng_garbage);
    size_t n = 1 + (size_t)(r % 16);
    noise[0] = first[(r >> 8) % sizeof first];
    for (size_t i = 1; i < n; i++) {
        char c = (char)(rng_next(&fw->rng_garbage) & 0xFF);
        noise[i] = c == '\n' ? '\r' : c;
    }
    out_append(fw, noise, n);
    out_append(fw, "\n", 1);
}

static void emit_n(struct sim_fw *fw, const char *s, size_t n)
{
    if (fw->opt.garbage_rate > 0 && rng_chance(&fw->rng_garbage, fw->opt.garbage_rate))
        emit_garbage(fw);
    if (fw->opt.verbose)
        fprintf(stderr, "printbridge-sim: > %.*s\n", (int)n, s);
    out_append(fw, s, n);
    out_append(fw, "\n", 1);
}

static void emit(struct sim_fw *fw, const char *s)
{
    emit_n(fw, s, strlen(s));
}

static void emitf(struct sim_fw *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emitf(struct sim_fw *fw, const char *fmt, ...)
{
    char line[REPORT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    emit_n(fw, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* ---- the planner: end times of queued moves ---- */

static void plan_prune(struct sim_fw *fw, int64_t now)
{
    while (fw->plan_len > 0 && fw->plan[fw->plan_head] <= (double)now) {
        fw->plan_head = (fw->plan_head + 1) % PLANNER_SLOTS;
        fw->plan_len--;
    }
}

static double plan_last_end(const struct sim_fw *fw)
{
    if (fw->plan_len == 0)
        return 0;
    return fw->plan[(fw->plan_head + fw->plan_len - 1) % PLANNER_SLOTS];
}

static void plan_push(struct sim_fw *fw, double ms, int64_t now)
{
    double start = fmax((double)now, plan_last_end(fw));
    fw->plan[(fw->plan_head + fw->plan_len) % PLANNER_SLOTS] = start + ms;
    fw->plan_len++;
}

static void plan_clear(struct sim_fw *fw)
{
    fw->plan_head = fw->plan_len = 0;
}

/* ---- the record ---- */

static void record(struct sim_fw *fw, const char *text)
{
    if (!fw->record)
        return;
    fputs(text, fw->record);
    fputc('\n', fw->record);
}

void sim_fw_flush_record(struct sim_fw *fw)
{
    if (fw->record)
        fflush(fw->record);
}

/* ---- faults counted in answered lines ---- */

static void host_line_answered(struct sim_fw *fw)
{
    fw->handled++;
    if (fw->opt.kill_after && !fw->kill_fired && fw->handled >= fw->opt.kill_after) {
        fw->kill_fired = true;
        fw->fault_due |= FAULT_KILL;
    }
    if (fw->opt.reset_after && !fw->reset_fired && fw->handled >= fw->opt.reset_after) {
        fw->reset_fired = true;
        fw->fault_due |= FAULT_RESET;
    }
    if (fw->opt.disconnect_after && !fw->hangup_fired && fw->handled >= fw->opt.disconnect_after) {
        fw->hangup_fired = true;
        fw->fault_due |= FAULT_HANGUP;
    }
}

/* ok for a host line: Marlin's ADVANCED_OK adds N (if numbered), free planner slots and free
 * buffer slots; Repetier acknowledges numbered lines as "ok <N>". */
static void emit_ok(struct sim_fw *fw, const struct sim_cmd *c, const char *payload, int64_t now)
{
    char line[REPORT_MAX + 8];
    if (payload) {
        snprintf(line, sizeof line, "ok %s", payload);
    } else if (fw->opt.advanced_ok) {
        plan_prune(fw, now);
        int n = snprintf(line, sizeof line, "ok");
        if (c && c->numbered)
            n += snprintf(line + n, sizeof line - (size_t)n, " N%ld", c->n);
        snprintf(line + n, sizeof line - (size_t)n, " P%d B%d", PLANNER_SLOTS - fw->plan_len - 1,
                 fw->opt.buffer - fw->cmd_count);
    } else if (fw->opt.flavor == SIM_FLAVOR_REPETIER && c && c->numbered) {
        snprintf(line, sizeof line, "ok %ld", c->n);
    } else {
        snprintf(line, sizeof line, "ok");
    }
    if (fw->opt.drop_ok_rate > 0 && rng_chance(&fw->rng_drop, fw->opt.drop_ok_rate)) {
        if (fw->opt.verbose)
            fprintf(stderr, "printbridge-sim: (dropped) %s\n", line);
    } else {
        emit(fw, line);
    }
    host_line_answered(fw);
}

/* ---- SD card ---- */

static void sd_close_read(struct sim_fw *fw)
{
    if (fw->sd_read)
        fclose(fw->sd_read);
    fw->sd_read = NULL;
    fw->sd_printing = false;
    fw->sd_eof = false;
    fw->sd_pos = fw->sd_size = 0;
    fw->sd_name[0] = '\0';
}

static void sd_close_write(struct sim_fw *fw)
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
static bool sd_next_line(struct sim_fw *fw, char *out)
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
    emit(fw, "echo:No media");
    return false;
}

/* ---- queues ---- */

/* Queues a received line with its NUL; out of memory, the line is lost like a UART overrun. */
static void pend_push(struct sim_fw *fw, const char *line, size_t len)
{
    struct strbuf *b = &fw->pend;
    queue_reclaim(b, &fw->pend_head, len + 1);
    size_t before = b->len;
    if (strbuf_put(b, line, len) != 0 || strbuf_put(b, "", 1) != 0) {
        b->len = before;
        if (b->s)
            b->s[before] = '\0';
        return;
    }
    fw->pend_lines++;
}

static const char *pend_peek(const struct sim_fw *fw)
{
    return fw->pend_lines ? fw->pend.s + fw->pend_head : NULL;
}

static void pend_pop(struct sim_fw *fw)
{
    size_t len = strlen(fw->pend.s + fw->pend_head);
    fw->pend_head += len + 1;
    fw->pend_lines--;
    if (fw->pend_lines == 0)
        queue_clear(&fw->pend, &fw->pend_head);
}

static struct sim_cmd *cmd_tail_slot(struct sim_fw *fw)
{
    return &fw->cmds[(fw->cmd_head + fw->cmd_count) % fw->opt.buffer];
}

static struct sim_cmd *cmd_head(struct sim_fw *fw)
{
    return &fw->cmds[fw->cmd_head];
}

static void cmd_pop(struct sim_fw *fw)
{
    if (cmd_head(fw)->from_sd)
        fw->sd_inflight--;
    fw->cmd_head = (fw->cmd_head + 1) % fw->opt.buffer;
    fw->cmd_count--;
}

static void queues_clear(struct sim_fw *fw)
{
    queue_clear(&fw->pend, &fw->pend_head);
    fw->pend_lines = 0;
    fw->cmd_head = fw->cmd_count = fw->sd_inflight = 0;
    memset(&fw->ex, 0, sizeof fw->ex);
    fw->ex.heater = -1;
    sim_rx_reset(&fw->rx);
}

/* ---- kill, reset, runaway ---- */

static void heaters_off(struct sim_fw *fw)
{
    for (int i = 0; i < fw->nheaters; i++)
        fw->heat[i].target = 0;
}

void sim_fw_kill(struct sim_fw *fw)
{
    if (fw->halted)
        return;
    emit(fw, "Error:Printer halted. kill() called!");
    fw->halted = true;
    queues_clear(fw);
    plan_clear(fw);
    heaters_off(fw);
    sd_close_read(fw);
    sd_close_write(fw);
}

static const char *heater_id(const struct sim_fw *fw, int h, char *buf, size_t bufsz)
{
    if (h == bed_index(fw))
        return "bed";
    if (h == chamber_index(fw))
        return "chamber";
    snprintf(buf, bufsz, "E%d", h);
    return buf;
}

void sim_fw_runaway(struct sim_fw *fw, int h, int64_t now_ms)
{
    (void)now_ms;
    if (fw->halted)
        return;
    if (h < 0 || h >= fw->nheaters) {
        h = 0;
        for (int i = 0; i < fw->nheaters; i++)
            if (fw->heat[i].target > 0) {
                h = i;
                break;
            }
    }
    char id[16];
    emitf(fw, "Error:Thermal Runaway, system stopped! Heater_ID: %s", heater_id(fw, h, id, sizeof id));
    sim_fw_kill(fw);
}

static void apply_due_faults(struct sim_fw *fw, int64_t now)
{
    unsigned due = fw->fault_due;
    fw->fault_due = 0;
    if (due & FAULT_KILL)
        sim_fw_kill(fw);
    if (due & FAULT_RESET)
        sim_fw_boot(fw, now);
    if (due & FAULT_HANGUP)
        fw->hangup = true;
}

/* ---- heaters ---- */

static void temps_update(struct sim_fw *fw, int64_t now)
{
    double dt = (double)(now - fw->temp_clock) / 1000.0;
    fw->temp_clock = now;
    for (int i = 0; i < fw->nheaters; i++) {
        if (fw->opt.fast)
            sim_heater_settle(&fw->heat[i]);
        else
            sim_heater_step(&fw->heat[i], dt);
    }
}

static void target_set(struct sim_fw *fw, int h, double celsius, int64_t now)
{
    fw->heat[h].target = celsius > 0 ? (celsius < 1000 ? celsius : 1000) : 0;
    if (celsius > 0 && fw->opt.runaway_after_s > 0 && !fw->runaway_fired && fw->runaway_at == 0)
        fw->runaway_at = now + (int64_t)(fw->opt.runaway_after_s * 1000.0);
    if (fw->opt.fast)
        sim_heater_settle(&fw->heat[h]);
}

static int format_temps(struct sim_fw *fw, char *out, size_t outsz)
{
    return sim_flavor_format_temps(fw->opt.flavor, fw->heat, fw->opt.extruders, fw->opt.chamber, fw->tool, out,
                                   outsz);
}

static int format_position(struct sim_fw *fw, char *out, size_t outsz)
{
    return sim_flavor_format_position(fw->opt.flavor, fw->pos, fw->opt.extruders, fw->tool, out, outsz);
}

/* ---- command handlers ---- */

static void unknown_command(struct sim_fw *fw, const char *text)
{
    emitf(fw, "echo:Unknown command: \"%s\"", text);
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
    emitf(fw, "echo:M%ld Invalid extruder %.0f", gc->code, t);
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
        target_set(fw, h, s, now);
    } else if (wait && sim_gcode_value(gc->args, 'R', &s)) {
        target_set(fw, h, s, now);
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

static void report_sd_status(struct sim_fw *fw)
{
    if (fw->sd_read)
        emitf(fw, "SD printing byte %lld/%lld", fw->sd_pos, fw->sd_size);
    else
        emit(fw, "Not SD printing");
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
    emit(fw, "Begin file list");
    if (rc == 0) {
        for (size_t i = 0; i < list.count; i++) {
            char line[600];
            if (!sim_sd_is_gcode(&list.files[i]))
                continue;
            if (sim_sd_format_entry(line, sizeof line, &list.files[i], with_long, with_time) > 0)
                emit(fw, line);
        }
        sim_sd_list_free(&list);
    }
    emit(fw, "End file list");
}

static void cmd_sd_select(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (!sd_card_ready(fw))
        return;
    const char *name = sim_gcode_string_arg(gc->args);
    while (*name == '/')
        name++;
    sd_close_read(fw);
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
        emitf(fw, "File opened: %s Size: %lld", name, fw->sd_size);
        emit(fw, "File selected");
    } else {
        emitf(fw, "open failed, File: %s.", name);
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
    sd_close_write(fw);
    if (allowed && sd_path(fw, real, path, sizeof path) == 0)
        fw->sd_write = fopen(path, "wb");
    if (fw->sd_write)
        emitf(fw, "Writing to file: %s", name);
    else
        emitf(fw, "open failed, File: %s.", name);
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
        emitf(fw, "File deleted:%s", name);
    else
        emitf(fw, "Deletion failed, File: %s.", name);
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
        emitf(fw, "/%s", f->name);
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
            emit(fw, "SD card ok");
        } else {
            emit(fw, "echo:SD init fail");
        }
        return true;
    case 22:
        sd_close_read(fw);
        fw->sd_mounted = false;
        emit(fw, "echo:SD card released");
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
            report_sd_status(fw);
        return true;
    case 28: cmd_sd_begin_write(fw, gc); return true;
    case 29: return true;     /* not writing: nothing to close */
    case 30: cmd_sd_delete(fw, gc); return true;
    case 33: cmd_sd_long_name(fw, gc); return true;
    case 524:
        if (fw->sd_read)
            sd_close_read(fw);
        return true;
    }
    return false;
}

static void cmd_firmware_info(struct sim_fw *fw)
{
    char line[REPORT_MAX];
    if (sim_flavor_format_m115(fw->opt.flavor, fw->opt.extruders, line, sizeof line) > 0)
        emit(fw, line);
    if (!sim_flavor_reports_caps(fw->opt.flavor) || fw->opt.no_cap_lines)
        return;
    for (int i = 0; i < SIM_CAP_COUNT; i++)
        emitf(fw, "Cap:%s:%d", sim_cap_name((enum sim_cap)i), fw->cap[i] ? 1 : 0);
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
    emitf(fw, "%s%s", action ? "//" : echo ? "echo:" : "", p);
}

static void cmd_tool(struct sim_fw *fw, const struct sim_gcode_cmd *gc)
{
    if (gc->code >= fw->opt.extruders) {
        emitf(fw, "echo:T%ld Invalid extruder", gc->code);
        return;
    }
    fw->tool = (int)gc->code;
    if (fw->opt.extruders > 1)
        emitf(fw, "echo:Active Extruder: %d", fw->tool);
}

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
        fw->ex.has_payload = format_temps(fw, fw->ex.payload, sizeof fw->ex.payload) > 0;
        return;
    }
    case 112: sim_fw_kill(fw); return;
    case 113: {
        double s;
        if (!fw->cap[SIM_CAP_BUSY_PROTOCOL])
            break;
        if (sim_gcode_value(gc->args, 'S', &s))
            fw->busy_ms = (int)(s < 0 ? 0 : s > 60 ? 60 : s) * 1000;
        else
            emitf(fw, "echo:M113 S%d", fw->busy_ms / 1000);
        return;
    }
    case 114:
        fw->ex.has_payload = format_position(fw, fw->ex.payload, sizeof fw->ex.payload) > 0;
        return;
    case 115: cmd_firmware_info(fw); return;
    case 117: emitf(fw, "echo:%s", sim_gcode_string_arg(gc->args)); return;
    case 118: cmd_host_message(fw, gc); return;
    case 119:
        emit(fw, "Reporting endstop status");
        emit(fw, "x_min: open");
        emit(fw, "y_min: open");
        emit(fw, "z_min: open");
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
    case 410: plan_clear(fw); return;
    case 503:
        emit(fw, "echo:; Steps per unit:");
        emit(fw, "echo: M92 X80.00 Y80.00 Z400.00 E93.00");
        return;
    case 999: {
        double s;
        if (sim_gcode_value(gc->args, 'S', &s) && s != 0)
            return;
        char line[64];
        if (sim_flavor_format_resend(fw->opt.flavor, fw->last_n + 1, line, sizeof line) > 0)
            emit(fw, line);
        return;
    }
    default:
        if (is_quiet_command(gc))
            return;
    }
    unknown_command(fw, text);
}

/* ---- the executor ---- */

static void exec_begin(struct sim_fw *fw, int64_t now)
{
    struct sim_cmd *c = cmd_head(fw);
    memset(&fw->ex, 0, sizeof fw->ex);
    fw->ex.active = true;
    fw->ex.heater = -1;
    fw->ex.dwell_ms = -1;
    fw->ex.send_ok = !c->from_sd;
    fw->ex.busy_next = now + fw->busy_ms;

    if (c->verdict != SIM_LINE_OK) {
        char line[256];
        if (sim_flavor_format_line_error(fw->opt.flavor, c->verdict, c->reject_last_n, c->n, line, sizeof line) > 0)
            emit(fw, line);
        if (sim_flavor_format_resend(fw->opt.flavor, c->reject_last_n + 1, line, sizeof line) > 0)
            emit(fw, line);
        return;
    }
    if (fw->sd_write && !c->from_sd) {
        /* Uploading: every line but M29 goes into the file, unexecuted. */
        if (is_m29(c->text)) {
            sd_close_write(fw);
            record(fw, c->text);
            emit(fw, "Done saving file.");
        } else {
            fputs(c->text, fw->sd_write);
            fputc('\n', fw->sd_write);
        }
        return;
    }
    if (c->text[0] == '\0')
        return;
    record(fw, c->text);
    struct sim_gcode_cmd gc;
    if (!sim_gcode_command(c->text, &gc)) {
        unknown_command(fw, c->text);
        return;
    }
    if (gc.letter == 'T')
        cmd_tool(fw, &gc);
    else if (gc.letter == 'G')
        dispatch_g(fw, &gc, c->text);
    else
        dispatch_m(fw, &gc, c->text, now);
}

static bool exec_keepalive_applies(const struct sim_fw *fw)
{
    const struct sim_exec *ex = &fw->ex;
    return fw->busy_ms > 0 && fw->cap[SIM_CAP_BUSY_PROTOCOL] && !ex->user && !ex->ok_delayed &&
           (ex->move_pending || ex->sync || ex->until || ex->heater >= 0);
}

/* While blocked: Marlin's host keepalive, the heating report and the user prompt. */
static void exec_report(struct sim_fw *fw, int64_t now)
{
    struct sim_exec *ex = &fw->ex;
    if (exec_keepalive_applies(fw) && now >= ex->busy_next) {
        emit(fw, "echo:busy: processing");
        while (ex->busy_next <= now)
            ex->busy_next += fw->busy_ms;
    }
    if (ex->heater >= 0 && now >= ex->heat_report_next) {
        char line[REPORT_MAX];
        if (sim_flavor_format_wait_temps(fw->opt.flavor, fw->heat, fw->opt.extruders, fw->opt.chamber, fw->tool,
                                         line, sizeof line) > 0)
            emit(fw, line);
        while (ex->heat_report_next <= now)
            ex->heat_report_next += HEAT_REPORT_MS;
    }
    if (ex->user && now >= ex->user_next) {
        emit(fw, "echo:busy: paused for user");
        while (ex->user_next <= now)
            ex->user_next += USER_PROMPT_MS;
    }
}

/* Advances the head command's waits; true once it is complete (ok may be sent). */
static bool exec_progress(struct sim_fw *fw, int64_t now)
{
    struct sim_exec *ex = &fw->ex;
    plan_prune(fw, now);
    if (ex->move_pending) {
        if (fw->plan_len >= PLANNER_SLOTS - 1)     /* Marlin's ring keeps one slot free */
            goto blocked;
        plan_push(fw, ex->move_ms, now);
        ex->move_pending = false;
    }
    if (ex->sync) {
        if (fw->plan_len > 0)
            goto blocked;
        ex->sync = false;
    }
    if (ex->dwell_ms >= 0) {
        ex->until = now + ex->dwell_ms;
        ex->dwell_ms = -1;
    }
    if (ex->until) {
        if (now < ex->until)
            goto blocked;
        ex->until = 0;
    }
    if (ex->heater >= 0) {
        if (!sim_heater_reached(&fw->heat[ex->heater], ex->heater_both_ways))
            goto blocked;
        ex->heater = -1;
    }
    if (ex->user)
        goto blocked;
    if (ex->home_axes) {
        for (int i = 0; i < 3; i++)
            if (ex->home_axes & (1u << i))
                fw->pos[i] = 0;
        ex->home_axes = 0;
    }
    if (ex->send_ok && fw->opt.ok_delay_ms > 0 && !fw->halted) {
        if (!ex->ok_delayed) {
            ex->ok_delayed = true;
            ex->ok_at = now + fw->opt.ok_delay_ms;
        }
        if (now < ex->ok_at)
            return false;
    }
    return true;
blocked:
    exec_report(fw, now);
    return false;
}

static void exec_finish(struct sim_fw *fw, int64_t now)
{
    struct sim_cmd *c = cmd_head(fw);
    if (fw->ex.send_ok)
        emit_ok(fw, c, fw->ex.has_payload ? fw->ex.payload : NULL, now);
    else if (fw->ex.has_payload)
        emit(fw, fw->ex.payload);      /* M105/M114 inside an SD print: the report, no ok */
    fw->ex.active = false;
    cmd_pop(fw);
    if (fw->wait_ms > 0)
        fw->wait_next = now + fw->wait_ms;
}

/* ---- intake: pending line -> verdict -> command buffer ---- */

static void intake_host_line(struct sim_fw *fw, const char *raw)
{
    struct sim_gcode_line l;
    sim_gcode_split(raw, strlen(raw), &l);
    enum sim_line_verdict v = sim_gcode_check(&l, fw->last_n);
    /* Marlin insists on numbered lines while writing to SD (M29 itself may come bare). */
    if (v == SIM_LINE_OK && !l.has_n && fw->sd_write) {
        char head[5] = {0};
        memcpy(head, l.cmd, l.cmd_len < 4 ? l.cmd_len : 4);
        if (!is_m29(head))
            v = SIM_LINE_NO_CHECKSUM;
    }
    if (v == SIM_LINE_OK && l.has_n && !l.is_m110 && fw->opt.resend_rate > 0 &&
        rng_chance(&fw->rng_resend, fw->opt.resend_rate))
        v = SIM_LINE_BAD_CHECKSUM;     /* --resend-rate: as if the line arrived corrupted */
    struct sim_cmd *c = cmd_tail_slot(fw);
    c->verdict = v;
    c->from_sd = false;
    if (v != SIM_LINE_OK) {
        c->text[0] = '\0';
        c->n = l.n;
        c->numbered = false;
        c->reject_last_n = fw->last_n;
        fw->cmd_count++;
        return;
    }
    fw->last_n = sim_gcode_new_last_n(&l, fw->last_n);
    memcpy(c->text, l.cmd, l.cmd_len);
    c->text[l.cmd_len] = '\0';
    sim_gcode_strip_comment(c->text);
    c->n = l.n;
    c->numbered = l.has_n;
    fw->cmd_count++;
}

static bool intake_sd_line(struct sim_fw *fw)
{
    struct sim_cmd *c = cmd_tail_slot(fw);
    if (!sd_next_line(fw, c->text)) {
        fw->sd_eof = true;
        return false;
    }
    c->n = 0;
    c->numbered = false;
    c->from_sd = true;
    c->verdict = SIM_LINE_OK;
    fw->cmd_count++;
    fw->sd_inflight++;
    return true;
}

/* Fills the command buffer: host lines first, then the SD print, like Marlin's
 * get_available_commands. */
static void intake(struct sim_fw *fw)
{
    while (fw->cmd_count < fw->opt.buffer && !fw->halted && !fw->hangup && !fw->fault_due) {
        const char *line = pend_peek(fw);
        if (line) {
            char copy[LINE_MAX_LEN + 1];
            snprintf(copy, sizeof copy, "%s", line);
            pend_pop(fw);
            intake_host_line(fw, copy);
            continue;
        }
        if (fw->sd_printing && !fw->sd_eof && fw->sd_read) {
            if (intake_sd_line(fw))
                continue;
        }
        break;
    }
}

static void sd_check_done(struct sim_fw *fw, int64_t now)
{
    if (!fw->sd_printing || !fw->sd_eof || fw->sd_inflight > 0)
        return;
    plan_prune(fw, now);
    if (fw->plan_len > 0)
        return;
    emit(fw, "Done printing file");
    sd_close_read(fw);
}

static bool output_congested(const struct sim_fw *fw)
{
    return fw->out.len - fw->out_head > OUTPUT_SOFT_MAX;
}

static void execute(struct sim_fw *fw, int64_t now)
{
    for (;;) {
        if (fw->fault_due)
            apply_due_faults(fw, now);
        if (fw->halted || fw->hangup || output_congested(fw))
            return;
        intake(fw);
        if (fw->fault_due)
            continue;
        if (!fw->ex.active) {
            if (fw->cmd_count == 0) {
                sd_check_done(fw, now);
                return;
            }
            exec_begin(fw, now);
            if (fw->halted)
                return;
        }
        if (!exec_progress(fw, now))
            return;
        exec_finish(fw, now);
    }
}

/* ---- timers ---- */

static bool idle(const struct sim_fw *fw)
{
    return fw->pend_lines == 0 && fw->cmd_count == 0 && !fw->ex.active && !fw->sd_printing;
}

static void timer_due(int64_t *next, int64_t every, int64_t now)
{
    *next += every;
    if (*next <= now)
        *next = now + every;
}

static void report_timers(struct sim_fw *fw, int64_t now)
{
    char line[REPORT_MAX];
    if (fw->temp_every > 0 && now >= fw->temp_next) {
        if (format_temps(fw, line, sizeof line) > 0)
            emit(fw, line);
        timer_due(&fw->temp_next, fw->temp_every, now);
    }
    if (fw->sd_every > 0 && now >= fw->sd_next) {
        report_sd_status(fw);
        timer_due(&fw->sd_next, fw->sd_every, now);
    }
    if (fw->pos_every > 0 && now >= fw->pos_next) {
        if (format_position(fw, line, sizeof line) > 0)
            emit(fw, line);
        timer_due(&fw->pos_next, fw->pos_every, now);
    }
    if (fw->wait_ms > 0 && idle(fw) && now >= fw->wait_next) {
        emit(fw, "wait");
        timer_due(&fw->wait_next, fw->wait_ms, now);
    }
}

/* ---- public API ---- */

/* Checks the SD folder and opens the record file the options name. */
static int open_files(struct sim_fw *fw, char *err, size_t errsz)
{
    const struct sim_options *o = &fw->opt;
    struct stat st;
    if (o->sd_dir && stat(o->sd_dir, &st) != 0) {
        int rc = -errno;
        snprintf(err, errsz, "--sd-dir %s: %s", o->sd_dir, strerror(-rc));
        return rc;
    }
    if (o->sd_dir && !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "--sd-dir %s: not a directory", o->sd_dir);
        return -ENOTDIR;
    }
    if (o->record_path) {
        fw->record = fopen(o->record_path, "w");
        if (!fw->record) {
            int rc = -errno;
            snprintf(err, errsz, "--record %s: %s", o->record_path, strerror(-rc));
            return rc;
        }
        setvbuf(fw->record, NULL, _IOFBF, 1 << 16);
    }
    return 0;
}

int sim_fw_create(struct sim_fw **out, const struct sim_options *o, char *err, size_t errsz)
{
    *out = NULL;
    if (o->extruders < 1 || o->extruders > SIM_MAX_EXTRUDERS) {
        snprintf(err, errsz, "extruders must be 1..%d", SIM_MAX_EXTRUDERS);
        return -EINVAL;
    }
    if (o->buffer < 1 || o->buffer > SIM_MAX_BUFFER) {
        snprintf(err, errsz, "buffer must be 1..%d", SIM_MAX_BUFFER);
        return -EINVAL;
    }
    struct sim_fw *fw = calloc(1, sizeof *fw);
    if (!fw || !(fw->cmds = calloc((size_t)o->buffer, sizeof *fw->cmds))) {
        free(fw);
        snprintf(err, errsz, "out of memory");
        return -ENOMEM;
    }
    fw->opt = *o;
    fw->out.max = fw->pend.max = SIZE_MAX;
    int rc = open_files(fw, err, errsz);
    if (rc != 0) {
        sim_fw_destroy(fw);
        return rc;
    }
    for (int i = 0; i < SIM_CAP_COUNT; i++)
        fw->cap[i] = o->caps[i] >= 0 ? o->caps[i] > 0 : sim_cap_default((enum sim_cap)i, o);
    fw->nheaters = fw->opt.extruders + 2;
    for (int i = 0; i < SIM_MAX_HEATERS; i++)
        sim_heater_init(&fw->heat[i]);
    fw->rng_resend = o->seed ^ 0x5245534E44ull;
    fw->rng_drop = o->seed ^ 0x44524F504Bull;
    fw->rng_garbage = o->seed ^ 0x4741524241ull;
    queues_clear(fw);
    *out = fw;
    return 0;
}

void sim_fw_destroy(struct sim_fw *fw)
{
    if (!fw)
        return;
    sd_close_read(fw);
    sd_close_write(fw);
    if (fw->record)
        fclose(fw->record);
    free(fw->cmds);
    free(fw->out.s);
    free(fw->pend.s);
    free(fw);
}

void sim_fw_boot(struct sim_fw *fw, int64_t now_ms)
{
    if (fw->booted)
        temps_update(fw, now_ms);
    fw->booted = true;
    fw->temp_clock = now_ms;
    queues_clear(fw);
    plan_clear(fw);
    heaters_off(fw);
    sd_close_read(fw);
    sd_close_write(fw);
    fw->halted = fw->hangup = false;
    fw->fault_due = 0;
    fw->last_n = 0;
    fw->tool = 0;
    memset(fw->pos, 0, sizeof fw->pos);
    fw->relative = fw->e_relative = false;
    fw->feed = DEFAULT_FEED;
    fw->busy_ms = fw->cap[SIM_CAP_BUSY_PROTOCOL] ? fw->opt.busy_ms : 0;
    fw->wait_ms = fw->opt.wait_ms >= 0 ? fw->opt.wait_ms : sim_flavor_default_wait_ms(fw->opt.flavor);
    fw->wait_next = now_ms + fw->wait_ms;
    fw->temp_every = fw->sd_every = fw->pos_every = 0;
    fw->sd_mounted = fw->opt.sd_dir != NULL;

    emit(fw, "start");
    emit(fw, sim_flavor_banner(fw->opt.flavor));
    if (fw->cap[SIM_CAP_SDCARD])
        emit(fw, fw->sd_mounted ? "SD card ok" : "echo:SD init fail");
}

static void on_received_line(void *ctx, const char *line, size_t len)
{
    struct sim_fw *fw = ctx;
    if (fw->halted || fw->hangup)
        return;
    if (fw->opt.verbose)
        fprintf(stderr, "printbridge-sim: < %s\n", line);
    if (fw->cap[SIM_CAP_EMERGENCY_PARSER]) {
        /* Marlin's emergency parser reads the bytes as they arrive, N word or not, before any
         * validation, so these act even while the queue is blocked or full. */
        struct sim_gcode_line l;
        struct sim_gcode_cmd gc;
        sim_gcode_split(line, len, &l);
        char word[16];
        size_t n = l.cmd_len < sizeof word - 1 ? l.cmd_len : sizeof word - 1;
        memcpy(word, l.cmd, n);
        word[n] = '\0';
        if (sim_gcode_command(word, &gc) && gc.letter == 'M' && (*gc.args == '\0' || *gc.args == ' ')) {
            if (gc.code == 112) {
                record(fw, "M112");
                sim_fw_kill(fw);
                return;
            }
            if (gc.code == 108 || gc.code == 876)
                sim_fw_continue(fw);
            if (gc.code == 410)
                plan_clear(fw);
        }
    }
    pend_push(fw, line, len);
    if (fw->wait_ms > 0)
        fw->wait_next = fw->feed_now + fw->wait_ms;
}

void sim_fw_feed(struct sim_fw *fw, const char *data, size_t n, int64_t now_ms)
{
    if (fw->hangup)
        return;
    fw->feed_now = now_ms;
    sim_rx_feed(&fw->rx, data, n, on_received_line, fw);
}

void sim_fw_run(struct sim_fw *fw, int64_t now_ms)
{
    temps_update(fw, now_ms);
    if (fw->halted || fw->hangup)
        return;
    if (fw->runaway_at && now_ms >= fw->runaway_at && !fw->runaway_fired) {
        fw->runaway_fired = true;
        fw->runaway_at = 0;
        sim_fw_runaway(fw, -1, now_ms);
        return;
    }
    report_timers(fw, now_ms);
    execute(fw, now_ms);
}

static void deadline_min(int64_t *d, int64_t t)
{
    if (t < *d)
        *d = t;
}

int64_t sim_fw_next_deadline(const struct sim_fw *fw, int64_t now_ms)
{
    int64_t d = SIM_NO_DEADLINE;
    if (fw->halted || fw->hangup)
        return d;
    if (fw->runaway_at)
        deadline_min(&d, fw->runaway_at);
    if (fw->temp_every > 0)
        deadline_min(&d, fw->temp_next);
    if (fw->sd_every > 0)
        deadline_min(&d, fw->sd_next);
    if (fw->pos_every > 0)
        deadline_min(&d, fw->pos_next);
    if (fw->wait_ms > 0 && idle(fw))
        deadline_min(&d, fw->wait_next);
    if (output_congested(fw))
        return d;
    if (fw->fault_due || (fw->pend_lines > 0 && fw->cmd_count < fw->opt.buffer))
        return now_ms;
    const struct sim_exec *ex = &fw->ex;
    if (ex->active) {
        if (ex->move_pending && fw->plan_len > 0)
            deadline_min(&d, (int64_t)ceil(fw->plan[fw->plan_head]));
        else if (ex->sync && fw->plan_len > 0)
            deadline_min(&d, (int64_t)ceil(plan_last_end(fw)));
        else if (ex->until)
            deadline_min(&d, ex->until);
        else if (ex->heater >= 0)
            deadline_min(&d, now_ms + HEAT_POLL_MS);
        else if (ex->ok_delayed)
            deadline_min(&d, ex->ok_at);
        else if (!ex->user)
            deadline_min(&d, now_ms);
        if (ex->heater >= 0)
            deadline_min(&d, ex->heat_report_next);
        if (ex->user)
            deadline_min(&d, ex->user_next);
        if (exec_keepalive_applies(fw))
            deadline_min(&d, ex->busy_next);
    } else if (fw->cmd_count > 0) {
        return now_ms;
    }
    if (fw->sd_printing) {
        if (!fw->sd_eof && fw->cmd_count < fw->opt.buffer)
            return now_ms;
        if (fw->sd_eof && fw->sd_inflight == 0)
            deadline_min(&d, fw->plan_len > 0 ? (int64_t)ceil(plan_last_end(fw)) : now_ms);
    }
    return d < now_ms ? now_ms : d;
}

bool sim_fw_wants_input(const struct sim_fw *fw)
{
    return fw->pend.len - fw->pend_head < PENDING_LIMIT;
}

const char *sim_fw_output(const struct sim_fw *fw, size_t *len)
{
    *len = fw->out.len - fw->out_head;
    return fw->out.s ? fw->out.s + fw->out_head : "";
}

void sim_fw_consume_output(struct sim_fw *fw, size_t n)
{
    size_t avail = fw->out.len - fw->out_head;
    fw->out_head += n < avail ? n : avail;
    if (fw->out_head == fw->out.len)
        queue_clear(&fw->out, &fw->out_head);
}

void sim_fw_discard_output(struct sim_fw *fw)
{
    queue_clear(&fw->out, &fw->out_head);
}

bool sim_fw_hangup_requested(const struct sim_fw *fw)
{
    return fw->hangup;
}

void sim_fw_request_hangup(struct sim_fw *fw)
{
    fw->hangup = true;
}

bool sim_fw_halted(const struct sim_fw *fw)
{
    return fw->halted;
}

int sim_fw_heater_lookup(const struct sim_fw *fw, const char *name)
{
    if (strcasecmp(name, "bed") == 0 || strcasecmp(name, "B") == 0)
        return bed_index(fw);
    if (strcasecmp(name, "chamber") == 0 || strcasecmp(name, "C") == 0)
        return fw->opt.chamber ? chamber_index(fw) : -ENOENT;
    const char *digits = NULL;
    if (strncasecmp(name, "tool", 4) == 0)
        digits = name + 4;
    else if (name[0] == 'T' || name[0] == 't')
        digits = name + 1;
    if (!digits || !isdigit((unsigned char)digits[0]))
        return -ENOENT;
    char *end;
    long n = strtol(digits, &end, 10);
    if (*end != '\0' || n < 0 || n >= fw->opt.extruders)
        return -ENOENT;
    return (int)n;
}

void sim_fw_emit_line(struct sim_fw *fw, const char *text)
{
    emit(fw, text);
}

void sim_fw_emit_raw(struct sim_fw *fw, const char *data, size_t n)
{
    out_append(fw, data, n);
}

void sim_fw_pin_temperature(struct sim_fw *fw, int h, double celsius, int64_t now_ms)
{
    temps_update(fw, now_ms);
    fw->heat[h].pinned = true;
    fw->heat[h].pin = celsius;
    fw->heat[h].actual = celsius;
}

void sim_fw_unpin_temperature(struct sim_fw *fw, int h, int64_t now_ms)
{
    temps_update(fw, now_ms);
    fw->heat[h].pinned = false;
}

void sim_fw_set_target(struct sim_fw *fw, int h, double celsius, int64_t now_ms)
{
    temps_update(fw, now_ms);
    target_set(fw, h, celsius, now_ms);
}

void sim_fw_continue(struct sim_fw *fw)
{
    fw->ex.user = false;
    fw->ex.heater = -1;
}

void sim_fw_describe(struct sim_fw *fw, int64_t now_ms, char *out, size_t outsz)
{
    temps_update(fw, now_ms);
    char temps[REPORT_MAX], pos[REPORT_MAX];
    if (format_temps(fw, temps, sizeof temps) < 0)
        temps[0] = '\0';
    if (format_position(fw, pos, sizeof pos) < 0)
        pos[0] = '\0';
    snprintf(out, outsz, "last_line=%ld answered=%lu halted=%d linked=%d queued=%d sd=%s%s tool=%d %s %s",
             fw->last_n, fw->handled, fw->halted ? 1 : 0, fw->hangup ? 0 : 1, fw->cmd_count + (int)fw->pend_lines,
             fw->sd_printing ? "printing:" : fw->sd_read ? "selected:" : "idle", fw->sd_read ? fw->sd_name : "",
             fw->tool, pos, temps);
}
