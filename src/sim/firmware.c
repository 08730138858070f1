/* firmware.c: the simulated printer firmware's edges (see firmware.h and, for the whole
 * pipeline, firmware_state.h): creation and boot, received bytes up to the pending lines
 * (the emergency parser acts here), the output queue, the heaters, kill and runaway, and the
 * state the control socket reads and injects. */
#include "firmware.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cap.h"
#include "firmware_state.h"
#include "flavor.h"

#define PENDING_LIMIT   (1u << 20)    /* unprocessed input before reading pauses */
#define OUTPUT_HARD_MAX (16u << 20)   /* queued output beyond which lines are dropped */
#define DEFAULT_FEED    1500.0        /* mm/min, Marlin's 25 mm/s */

/* ---- queues of bytes: a strbuf consumed from the front ---- */

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

void sim_fw_emit(struct sim_fw *fw, const char *s)
{
    emit_n(fw, s, strlen(s));
}

void sim_fw_emitf(struct sim_fw *fw, const char *fmt, ...)
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

/* ---- the record ---- */

void sim_fw_record(struct sim_fw *fw, const char *text)
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

/* ---- pending lines ---- */

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

const char *sim_fw_pend_peek(const struct sim_fw *fw)
{
    return fw->pend_lines ? fw->pend.s + fw->pend_head : NULL;
}

void sim_fw_pend_pop(struct sim_fw *fw)
{
    size_t len = strlen(fw->pend.s + fw->pend_head);
    fw->pend_head += len + 1;
    fw->pend_lines--;
    if (fw->pend_lines == 0)
        queue_clear(&fw->pend, &fw->pend_head);
}

/* ---- kill, reset, runaway ---- */

static void queues_clear(struct sim_fw *fw)
{
    queue_clear(&fw->pend, &fw->pend_head);
    fw->pend_lines = 0;
    fw->cmd_head = fw->cmd_count = fw->sd_inflight = 0;
    memset(&fw->ex, 0, sizeof fw->ex);
    fw->ex.heater = -1;
    sim_rx_reset(&fw->rx);
}

static void heaters_off(struct sim_fw *fw)
{
    for (int i = 0; i < fw->nheaters; i++)
        fw->heat[i].target = 0;
}

void sim_fw_kill(struct sim_fw *fw)
{
    if (fw->halted)
        return;
    sim_fw_emit(fw, "Error:Printer halted. kill() called!");
    fw->halted = true;
    queues_clear(fw);
    sim_fw_plan_clear(fw);
    heaters_off(fw);
    sim_fw_sd_close_read(fw);
    sim_fw_sd_close_write(fw);
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
    sim_fw_emitf(fw, "Error:Thermal Runaway, system stopped! Heater_ID: %s", heater_id(fw, h, id, sizeof id));
    sim_fw_kill(fw);
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

void sim_fw_target_set(struct sim_fw *fw, int h, double celsius, int64_t now)
{
    fw->heat[h].target = celsius > 0 ? (celsius < 1000 ? celsius : 1000) : 0;
    if (celsius > 0 && fw->opt.runaway_after_s > 0 && !fw->runaway_fired && fw->runaway_at == 0)
        fw->runaway_at = now + (int64_t)(fw->opt.runaway_after_s * 1000.0);
    if (fw->opt.fast)
        sim_heater_settle(&fw->heat[h]);
}

int sim_fw_format_temps(struct sim_fw *fw, char *out, size_t outsz)
{
    return sim_flavor_format_temps(fw->opt.flavor, fw->heat, fw->opt.extruders, fw->opt.chamber, fw->tool, out,
                                   outsz);
}

int sim_fw_format_position(struct sim_fw *fw, char *out, size_t outsz)
{
    return sim_flavor_format_position(fw->opt.flavor, fw->pos, fw->opt.extruders, fw->tool, out, outsz);
}

/* ---- creation, boot, received bytes ---- */

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
    sim_fw_sd_close_read(fw);
    sim_fw_sd_close_write(fw);
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
    sim_fw_plan_clear(fw);
    heaters_off(fw);
    sim_fw_sd_close_read(fw);
    sim_fw_sd_close_write(fw);
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

    fw->homed = 0;
    fw->klipper_shutdown = false;
    if (fw->opt.flavor == SIM_FLAVOR_KLIPPER) {
        /* klippy has no banner; a client that opens its pty reads its state first */
        sim_fw_emit(fw, sim_flavor_banner(fw->opt.flavor));
        return;
    }
    sim_fw_emit(fw, "start");
    sim_fw_emit(fw, sim_flavor_banner(fw->opt.flavor));
    if (fw->cap[SIM_CAP_SDCARD])
        sim_fw_emit(fw, fw->sd_mounted ? "SD card ok" : "echo:SD init fail");
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
            if (gc.code == 112 && fw->opt.flavor == SIM_FLAVOR_KLIPPER) {
                /* Klipper acts at once and answers it in turn: recorded and acked there */
                sim_fw_klipper_shutdown(fw);
                pend_push(fw, line, len);
                return;
            }
            if (gc.code == 112) {
                sim_fw_record(fw, "M112");
                sim_fw_kill(fw);
                return;
            }
            if (gc.code == 108 || gc.code == 876)
                sim_fw_continue(fw);
            if (gc.code == 410)
                sim_fw_plan_clear(fw);
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
    sim_fw_report_timers(fw, now_ms);
    sim_fw_execute(fw, now_ms);
}

/* ---- the I/O layer's side ---- */

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

/* ---- injections used by the control socket ---- */

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
    sim_fw_target_set(fw, h, celsius, now_ms);
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
    if (sim_fw_format_temps(fw, temps, sizeof temps) < 0)
        temps[0] = '\0';
    if (sim_fw_format_position(fw, pos, sizeof pos) < 0)
        pos[0] = '\0';
    snprintf(out, outsz, "last_line=%ld answered=%lu halted=%d linked=%d queued=%d sd=%s%s tool=%d %s %s",
             fw->last_n, fw->handled, fw->halted ? 1 : 0, fw->hangup ? 0 : 1, fw->cmd_count + (int)fw->pend_lines,
             fw->sd_printing ? "printing:" : fw->sd_read ? "selected:" : "idle", fw->sd_read ? fw->sd_name : "",
             fw->tool, pos, temps);
}
