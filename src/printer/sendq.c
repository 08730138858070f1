/* sendq.c: the printer's send path.
 *
 * User, script and hook commands wait in one FIFO queue which always goes before the next
 * line of the source; M112 (and M108/M410 with an emergency parser) skip the queue. A command
 * may go when fewer commands are in flight than allowed: one, or, once oks carry
 * ADVANCED_OK's free-buffer count B, min(window, B), so the firmware's command buffer stays
 * full but is never overrun. Lines are numbered per the checksum policy and kept in the
 * history ring; resend requests replay from it (resend.c decides what). Once a command went
 * out, its bookkeeping follows: tool changes, ZChange, autoreport switches, dwell, heating
 * and long-running commands that stretch the timeouts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printer_impl.h"

/* commands that may take longer than the communication timeout without an ok */
static const char *const long_running_commands[] = { "G4", "G28", "G29", "G30", "G32", "M400", "M226", "M600" };

static void waiter_done(const struct printer_waiter *w, const char *error)
{
    if (w->done)
        w->done(w->ctx, error);
}

void sendq_clear_why(struct printer *p, const char *why)
{
    /* unlinked first: a waiter may queue again from its callback */
    struct queued_cmd *c = p->q_head;
    p->q_head = p->q_tail = NULL;
    p->q_len = 0;
    while (c) {
        struct queued_cmd *next = c->next;
        waiter_done(&c->w, why);
        free(c);
        c = next;
    }
}

void sendq_clear(struct printer *p)
{
    sendq_clear_why(p, "not sent: the queue was dropped (the link closed or the printer reset)");
}

/* ---- acknowledgements ------------------------------------------------------------------ */

static struct printer_ack *ack_at(struct printer *p, int i)
{
    return &p->acks[(p->ack_head + i) % PRINTER_ACK_RING];
}

static void ack_push(struct printer *p, const char *cmd, const struct printer_waiter *w)
{
    if (p->ack_count == PRINTER_ACK_RING) {
        /* more in flight than any window allows: the oldest ok must have been lost */
        struct printer_waiter old = ack_at(p, 0)->w;
        p->ack_head = (p->ack_head + 1) % PRINTER_ACK_RING;
        p->ack_count--;
        waiter_done(&old, NULL);
    }
    struct printer_ack *a = ack_at(p, p->ack_count++);
    a->w = *w;
    size_t len = strnlen(cmd, sizeof a->text - 1);    /* cut, as the text is only shown */
    memcpy(a->text, cmd, len);
    a->text[len] = '\0';
}

void sendq_acked(struct printer *p)
{
    if (p->ack_count == 0) {
        p->has_cmd_error = false;
        return;
    }
    struct printer_waiter w = ack_at(p, 0)->w;
    p->ack_head = (p->ack_head + 1) % PRINTER_ACK_RING;
    p->ack_count--;
    bool failed = p->has_cmd_error;
    p->has_cmd_error = false;
    waiter_done(&w, failed ? p->cmd_error : NULL);
}

void sendq_fail_inflight(struct printer *p, const char *why)
{
    p->inflight = 0;
    p->has_cmd_error = false;
    while (p->ack_count > 0) {
        struct printer_waiter w = ack_at(p, 0)->w;
        p->ack_head = (p->ack_head + 1) % PRINTER_ACK_RING;
        p->ack_count--;
        waiter_done(&w, why);
    }
}

static void fire_command_error(struct printer *p, const char *cmd, const char *text)
{
    log_warn("printer: the firmware refused %s%s%s: %s", cmd ? "\"" : "a command", cmd ? cmd : "", cmd ? "\"" : "",
             text);
    json_t *o = json_object();
    json_object_set_new(o, "command", cmd ? pyjson_string_lossy(cmd, strlen(cmd)) : json_null());
    json_object_set_new(o, "error", pyjson_string_lossy(text, strlen(text)));
    json_object_set_new(o, "firmware", p->model.firmware_name[0] ? pyjson_string_lossy(p->model.firmware_name, strlen(p->model.firmware_name)) : json_null());
    events_fire(p->ev, EVENT_COMMAND_ERROR, o);
}

void sendq_command_error(struct printer *p, const char *text)
{
    const char *cmd = p->ack_count > 0 ? ack_at(p, 0)->text : NULL;
    fire_command_error(p, cmd, text);
    if (cmd && !p->has_cmd_error) {
        /* the first error wins: Klipper explains in "// " lines, then says "!! " once */
        snprintf(p->cmd_error, sizeof p->cmd_error, "%s", text);
        p->has_cmd_error = true;
    }
}

static bool same_gcode(const char *cmd, const char *gcode);

void sendq_unknown_command(struct printer *p, const char *cmd, const char *text)
{
    char gcode[16];
    protocol_gcode_of(cmd, gcode, sizeof gcode);
    /* Marlin acknowledges a command without a G/M/T word that was never counted in flight:
     * then the refusal is not the oldest command's */
    if (gcode[0] != '\0' && p->ack_count > 0 && same_gcode(ack_at(p, 0)->text, gcode))
        sendq_command_error(p, text);
    else
        fire_command_error(p, cmd[0] ? cmd : NULL, text);
}

static bool same_gcode(const char *cmd, const char *gcode)
{
    char g[16];
    protocol_gcode_of(cmd, g, sizeof g);
    return strcmp(g, gcode) == 0;
}

bool sendq_poll_outstanding(const struct printer *p, const char *gcode)
{
    for (const struct queued_cmd *c = p->q_head; c; c = c->next)
        if (c->w.poll && same_gcode(c->text, gcode))
            return true;
    for (int i = 0; i < p->ack_count; i++) {
        const struct printer_ack *a = &p->acks[(p->ack_head + i) % PRINTER_ACK_RING];
        if (a->w.poll && same_gcode(a->text, gcode))
            return true;
    }
    return false;
}

/* ---- the queue ------------------------------------------------------------------------- */

int sendq_enqueue(struct printer *p, const char *cmd)
{
    static const struct printer_waiter none = { 0 };
    return sendq_enqueue_then(p, cmd, &none);
}

int sendq_enqueue_then(struct printer *p, const char *cmd, const struct printer_waiter *w)
{
    size_t n = strlen(cmd) + 1;
    struct queued_cmd *c = malloc(sizeof *c + n);
    if (!c)
        return -ENOMEM;
    memcpy(c->text, cmd, n);
    c->w = *w;
    c->next = NULL;
    if (p->q_tail)
        p->q_tail->next = c;
    else
        p->q_head = c;
    p->q_tail = c;
    p->q_len++;
    return 0;
}

int sendq_write_raw(struct printer *p, const char *data, size_t n)
{
    if (!p->port)
        return -ENOTCONN;
    int rc = port_write(p->port, data, n);
    if (rc < 0 && rc != -EPIPE)
        log_warn("printer: write to %s failed: %s", p->path, strerror(-rc));
    return rc;
}

void sendq_write_numbered(struct printer *p, unsigned long n, const char *cmd)
{
    char buf[FRAMING_MAX_LINE + 32];
    int len = framing_frame(buf, sizeof buf, n, cmd);
    if (len < 0) {
        log_warn("printer: command too long, not sent: %.40s...", cmd);
        return;
    }
    log_debug("send: %.*s", len - 1, buf);
    printer_term_add(p, "Send: ", buf, (size_t)len - 1);
    p->model.lines_sent++;
    sendq_write_raw(p, buf, (size_t)len);
}

static void write_plain(struct printer *p, const char *cmd)
{
    char buf[FRAMING_MAX_LINE + 2];
    int len = snprintf(buf, sizeof buf, "%s\n", cmd);
    if (len < 0 || (size_t)len >= sizeof buf)
        return;
    log_debug("send: %s", cmd);
    printer_term_add(p, "Send: ", cmd, (size_t)len - 1);
    p->model.lines_sent++;
    sendq_write_raw(p, buf, (size_t)len);
}

/* M110 always; otherwise G/M/T commands while checksums are on (docs/protocol.md) */
static bool needs_checksum(const struct printer *p, const char *gcode)
{
    if (printer_is_gcode(gcode, "M110"))
        return true;
    if (p->opt.checksum == PRINTER_CHECKSUM_NEVER || gcode[0] == '\0')
        return false;
    if (p->opt.checksum == PRINTER_CHECKSUM_ALWAYS)
        return true;
    return p->has_src || p->manual_streaming || p->always_checksum || !p->firmware_known;
}

void sendq_numbered(struct printer *p, const char *cmd)
{
    p->line++;
    if (history_add(&p->hist, p->line, cmd) < 0)
        log_warn("printer: out of memory keeping line %lu for resends", p->line);
    if (p->has_src && p->src.numbered)
        p->src.numbered(p->src_ctx, p->line);
    sendq_write_numbered(p, p->line, cmd);
}

static void fire_tool_change(struct printer *p, int tool)
{
    int old = p->current_tool;
    p->current_tool = tool;
    events_fire(p->ev, EVENT_TOOL_CHANGE, json_pack("{s:i, s:i}", "old", old, "new", tool));
    printer_model_changed(p);
}

static void fire_z_change(struct printer *p, double nz, double oz, bool has_old)
{
    json_t *o = json_object();
    json_object_set_new(o, "new", pyjson_real_or_null(nz));
    json_object_set_new(o, "old", has_old ? pyjson_real_or_null(oz) : json_null());
    events_fire(p->ev, EVENT_Z_CHANGE, o);
    printer_model_changed(p);
}

static void note_dwell(struct printer *p, const char *cmd)
{
    double d, dwell = 0;
    if (protocol_param_float(cmd, 'P', &d))
        dwell = d / 1000.0;
    else if (protocol_param_float(cmd, 'S', &d))
        dwell = d;
    if (dwell > 0) {
        p->dwell_until = uv_now(p->loop) + printer_ms(dwell);
        p->line_deadline = p->dwell_until + printer_ms(link_comm_interval(p));
    }
}

/* What a G-code's arrival means for timeouts: heating waits and long-running commands. */
static void note_timing(struct printer *p, const char *gcode, const char *cmd)
{
    double d;
    if ((printer_is_gcode(gcode, "M104") || printer_is_gcode(gcode, "M109") || printer_is_gcode(gcode, "M140") ||
         printer_is_gcode(gcode, "M190") || printer_is_gcode(gcode, "M141") || printer_is_gcode(gcode, "M191")) &&
        protocol_param_float(cmd, 'S', &d))
        p->target_set = d > 25.0 || (d > 0 && p->target_set);
    if (printer_is_gcode(gcode, "M109") || printer_is_gcode(gcode, "M190") || printer_is_gcode(gcode, "M191") ||
        printer_is_gcode(gcode, "M116"))
        p->heating = true;
    for (size_t i = 0; i < sizeof long_running_commands / sizeof long_running_commands[0]; i++)
        if (printer_is_gcode(gcode, long_running_commands[i]))
            p->long_running = true;
}

/* Bookkeeping once a command went out (OctoPrint's "sent" phase). */
static void on_command_sent(struct printer *p, const char *gcode, const char *cmd)
{
    long s;
    double nz, oz;
    bool has_old;

    if (gcode[0] == '\0')
        return;
    if (gcode[0] == 'G' && gcodeevents_z_sent(&p->z, gcode, cmd, &nz, &oz, &has_old))
        fire_z_change(p, nz, oz, has_old);
    else if (gcode[0] == 'M' && !printer_is_gcode(gcode, "M110"))
        gcodeevents_z_sent(&p->z, gcode, cmd, &nz, &oz, &has_old);     /* M82/M83: the E mode */
    if (p->z.layer_due) {
        p->z.layer_due = false;
        if (p->has_src && p->src.layer)
            p->src.layer(p->src_ctx, p->z.layer_z);
    }
    int tool = printer_tool_change(p, cmd);
    if (tool >= 0)
        fire_tool_change(p, tool);
    else if (printer_is_gcode(gcode, "M155") && protocol_param_int(cmd, 'S', &s))
        p->autoreport_temp = p->cap_autoreport_temp && s > 0;
    else if (printer_is_gcode(gcode, "M27") && protocol_param_int(cmd, 'S', &s))
        p->autoreport_sd = p->cap_autoreport_sd && s > 0;
    else if (printer_is_gcode(gcode, "M154") && protocol_param_int(cmd, 'S', &s))
        p->autoreport_pos = p->cap_autoreport_pos && s > 0;
    else if (printer_is_gcode(gcode, "M113") && protocol_param_int(cmd, 'S', &s))
        p->model.busy_protocol = s > 0;
    else if (printer_is_gcode(gcode, "M115"))
        p->m115_sent = true;
    else if (printer_is_gcode(gcode, "M28"))
        p->manual_streaming = p->manual_streaming || !p->has_src;
    else if (printer_is_gcode(gcode, "M29"))
        p->manual_streaming = false;
    else if (printer_is_gcode(gcode, "G4"))
        note_dwell(p, cmd);
    note_timing(p, gcode, cmd);
}

void sendq_send(struct printer *p, const char *cmd)
{
    static const struct printer_waiter none = { 0 };
    sendq_send_then(p, cmd, &none);
}

void sendq_send_then(struct printer *p, const char *cmd, const struct printer_waiter *w)
{
    char gcode[16];
    protocol_gcode_of(cmd, gcode, sizeof gcode);
    if (needs_checksum(p, gcode)) {
        long n;
        if (printer_is_gcode(gcode, "M110") && protocol_param_int(cmd, 'N', &n) && n >= 0) {
            /* M110 N<n> goes out as line n and restarts the count there */
            history_clear(&p->hist);
            resend_reset(&p->rs);
            p->line = (unsigned long)n - 1;   /* wraps for n = 0; sendq_numbered adds 1 */
        }
        sendq_numbered(p, cmd);
    } else {
        write_plain(p, cmd);
    }
    /* unknown commands (no G/M/T) get no ok unless the firmware acks them */
    bool acked = gcode[0] != '\0' || p->unknown_need_ack;
    if (acked) {
        if (p->inflight == 0)
            p->ok_deadline = uv_now(p->loop) + printer_ms(link_comm_interval(p));
        p->inflight++;
        ack_push(p, cmd, w);
    }
    on_command_sent(p, gcode, cmd);
    if (!acked)
        waiter_done(w, NULL);
    if (p->cb.sent)
        p->cb.sent(p->cb_ctx, cmd);
}

static int max_inflight(const struct printer *p)
{
    if (!p->model.advanced_ok || p->opt.advanced_ok_window <= 1)
        return 1;
    int lim = p->fw_free < p->opt.advanced_ok_window ? p->fw_free : p->opt.advanced_ok_window;
    return lim < 1 ? 1 : lim;
}

/* The next line of the source through the queuing phase: true when one went out or was
 * consumed, false when the source has nothing now. */
static bool pump_source(struct printer *p)
{
    char line[FRAMING_MAX_LINE + 2], gcode[16];
    if (!p->has_src || p->src_held || p->src_dry)
        return false;
    int rc = p->src.next(p->src_ctx, line, sizeof line);
    if (rc < 0) {
        p->src_dry = true;
        return false;
    }
    if (rc > 0) {
        protocol_gcode_of(line, gcode, sizeof gcode);
        if (printer_prepare(p, line, gcode, true) > 0)
            sendq_send(p, line);
    }
    return true;
}

void sendq_pump(struct printer *p)
{
    while (p->port && printer_state_is_operational(p->state) && p->inflight < max_inflight(p)) {
        if (resend_pending(&p->rs)) {
            unsigned long n = resend_take(&p->rs);
            const char *cmd = history_get(&p->hist, n);
            if (!cmd) {
                /* cannot happen: the history was checked when the resend started */
                resend_reset(&p->rs);
                continue;
            }
            sendq_write_numbered(p, n, cmd);
            p->inflight++;
            continue;
        }
        struct queued_cmd *c = p->q_head;
        if (c) {
            p->q_head = c->next;
            if (!p->q_head)
                p->q_tail = NULL;
            p->q_len--;
            sendq_send_then(p, c->text, &c->w);
            free(c);
            continue;
        }
        if (!pump_source(p))
            break;
    }
    printer_source_check_end(p);
}

void sendq_emergency_stop(struct printer *p)
{
    char cmd[32];
    if (!p->port)
        return;
    if (p->klipper) {
        /* Klipper shuts down on the first M112 and answers anything else with "!! Shutdown
         * due to M112 command"; its heaters are off already (docs/klipper.md) */
        log_warn("printer: emergency stop (M112)");
        sendq_write_raw(p, "M112\n", 5);
        printer_term_add(p, "Send: ", "M112", 4);
        events_fire(p->ev, EVENT_ESTOP, NULL);
        return;
    }
    log_warn("printer: emergency stop (M112), heaters off");
    sendq_write_raw(p, "M112\n", 5);
    printer_term_add(p, "Send: ", "M112", 4);
    sendq_numbered(p, "M112");
    for (int i = 0; i < p->opt.extruders; i++) {
        snprintf(cmd, sizeof cmd, "M104 T%d S0", i);
        sendq_numbered(p, cmd);
    }
    if (p->opt.heated_bed)
        sendq_numbered(p, "M140 S0");
    events_fire(p->ev, EVENT_ESTOP, NULL);
}
