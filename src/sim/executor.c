/* executor.c: the firmware core from pending line to ok (see firmware_state.h): the intake
 * that judges each line's N and checksum, the command buffer, the executor that runs the
 * command at its head until it blocks (planner, dwell, heater, user), the motion planner,
 * the ok with its seeded faults, the timers, and when all this next needs the clock. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "firmware_state.h"
#include "flavor.h"

#define OUTPUT_SOFT_MAX (1u << 20)    /* queued output before execution pauses */
#define USER_PROMPT_MS  2000          /* "paused for user" cadence */
#define HEAT_REPORT_MS  1000          /* temperature line cadence while M109 waits */
#define HEAT_POLL_MS    50

static bool is_m29(const char *text)
{
    return (text[0] == 'M' || text[0] == 'm') && strncmp(text + 1, "29", 2) == 0 && !isdigit((unsigned char)text[3]);
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

void sim_fw_plan_clear(struct sim_fw *fw)
{
    fw->plan_head = fw->plan_len = 0;
}

/* ---- ok, and the faults counted in answered lines ---- */

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
        sim_fw_emit(fw, line);
    }
    host_line_answered(fw);
}

/* ---- the command buffer ---- */

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
            sim_fw_emit(fw, line);
        if (sim_flavor_format_resend(fw->opt.flavor, c->reject_last_n + 1, line, sizeof line) > 0)
            sim_fw_emit(fw, line);
        return;
    }
    if (fw->sd_write && !c->from_sd) {
        /* Uploading: every line but M29 goes into the file, unexecuted. */
        if (is_m29(c->text)) {
            sim_fw_sd_close_write(fw);
            sim_fw_record(fw, c->text);
            sim_fw_emit(fw, "Done saving file.");
        } else {
            fputs(c->text, fw->sd_write);
            fputc('\n', fw->sd_write);
        }
        return;
    }
    if (c->text[0] == '\0')
        return;
    sim_fw_record(fw, c->text);
    sim_fw_dispatch(fw, c->text, now);
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
        sim_fw_emit(fw, "echo:busy: processing");
        while (ex->busy_next <= now)
            ex->busy_next += fw->busy_ms;
    }
    if (ex->heater >= 0 && now >= ex->heat_report_next) {
        char line[REPORT_MAX];
        if (sim_flavor_format_wait_temps(fw->opt.flavor, fw->heat, fw->opt.extruders, fw->opt.chamber, fw->tool,
                                         line, sizeof line) > 0)
            sim_fw_emit(fw, line);
        while (ex->heat_report_next <= now)
            ex->heat_report_next += HEAT_REPORT_MS;
    }
    if (ex->user && now >= ex->user_next) {
        sim_fw_emit(fw, "echo:busy: paused for user");
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
        sim_fw_emit(fw, fw->ex.payload);      /* M105/M114 inside an SD print: the report, no ok */
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
    if (fw->opt.flavor == SIM_FLAVOR_KLIPPER)
        v = SIM_LINE_OK;        /* Klipper ignores line numbers and checksums */
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
    if (!sim_fw_sd_next_line(fw, c->text)) {
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
        const char *line = sim_fw_pend_peek(fw);
        if (line) {
            char copy[LINE_MAX_LEN + 1];
            snprintf(copy, sizeof copy, "%s", line);
            sim_fw_pend_pop(fw);
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
    sim_fw_emit(fw, "Done printing file");
    sim_fw_sd_close_read(fw);
}

static bool output_congested(const struct sim_fw *fw)
{
    return fw->out.len - fw->out_head > OUTPUT_SOFT_MAX;
}

void sim_fw_execute(struct sim_fw *fw, int64_t now)
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

void sim_fw_report_timers(struct sim_fw *fw, int64_t now)
{
    char line[REPORT_MAX];
    if (fw->temp_every > 0 && now >= fw->temp_next) {
        if (sim_fw_format_temps(fw, line, sizeof line) > 0)
            sim_fw_emit(fw, line);
        timer_due(&fw->temp_next, fw->temp_every, now);
    }
    if (fw->sd_every > 0 && now >= fw->sd_next) {
        sim_fw_report_sd_status(fw);
        timer_due(&fw->sd_next, fw->sd_every, now);
    }
    if (fw->pos_every > 0 && now >= fw->pos_next) {
        if (sim_fw_format_position(fw, line, sizeof line) > 0)
            sim_fw_emit(fw, line);
        timer_due(&fw->pos_next, fw->pos_every, now);
    }
    if (fw->wait_ms > 0 && idle(fw) && now >= fw->wait_next) {
        sim_fw_emit(fw, "wait");
        timer_due(&fw->wait_next, fw->wait_ms, now);
    }
}

/* ---- the next deadline ---- */

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
