/* receive.c: what the printer says, line by line, in the order OctoPrint checks it: busy,
 * actions, errors (with the two-line joins), ok and wait, resend requests, the end of the
 * capability report, positions, temperatures, capabilities, the firmware name, invalid
 * tools, and the state-specific lines (the handshake's answers, an external reset). Each
 * kind of line changes the model and fires its event here; how lines are classified and
 * parsed is protocol.c's (pure) business. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "printer_impl.h"

#define RESEND_OK_TIMEOUT_MS 500
#define KILL_JOIN_TIMEOUT_MS 1000

static void handle_temperatures(struct printer *p, const char *line)
{
    struct protocol_temps t;
    if (protocol_parse_temperatures(line, p->current_tool, &t) <= 0)
        return;
    bool target = false;
    for (int i = 0; i < t.count; i++)
        if (t.t[i].has_target && t.t[i].target > 25.0)
            target = true;
    p->target_set = target;
    /* external heat-up detection: a wait loop's report, not an answer to M105 */
    if (strncmp(line, "ok", 2) != 0 && !p->autoreport_temp && p->firmware_known && !p->heating) {
        log_info("printer: externally triggered heatup detected");
        p->heating = true;
    }
    long long now = (long long)time(NULL);
    p->model.nheaters = 0;
    for (int i = 0; i < t.count && i < PRINTER_MAX_HEATERS; i++) {
        struct printer_heater *h = &p->model.heaters[p->model.nheaters];
        if (protocol_sensor_key(t.t[i].sensor, h->key, sizeof h->key) < 0)
            continue;
        h->actual = t.t[i].actual;
        h->target = t.t[i].target;
        h->has_target = t.t[i].has_target;
        p->model.nheaters++;
    }
    p->model.temps_time = now;
    if (p->cb.temperatures)
        p->cb.temperatures(p->cb_ctx, &t, now);
    printer_model_changed(p);
}

static void handle_position(struct printer *p, const char *line)
{
    struct protocol_position pos;
    if (!protocol_parse_position(line, &pos))
        return;
    double e = pos.has_e ? pos.e : (p->current_tool < pos.extruders ? pos.en[p->current_tool] : NAN);
    p->model.has_position = true;
    p->model.x = pos.x;
    p->model.y = pos.y;
    p->model.z = pos.z;
    p->model.e = e;
    json_t *o = json_object();
    json_object_set_new(o, "reason", json_null());
    json_object_set_new(o, "x", pyjson_real_or_null(pos.x));
    json_object_set_new(o, "y", pyjson_real_or_null(pos.y));
    json_object_set_new(o, "z", pyjson_real_or_null(pos.z));
    json_object_set_new(o, "e", pyjson_real_or_null(e));
    json_object_set_new(o, "t", json_integer(p->current_tool));
    json_object_set_new(o, "f", p->z.has_f ? pyjson_real_or_null(p->z.f) : json_null());
    for (int i = 0; i < pos.extruders; i++) {
        char key[16];
        snprintf(key, sizeof key, "e%d", i);
        json_object_set_new(o, key, pyjson_real_or_null(pos.en[i]));
    }
    events_fire(p->ev, EVENT_POSITION_UPDATE, o);
    printer_model_changed(p);
}

static bool name_contains(const char *name, const char *what)
{
    char low[256];
    size_t i;
    for (i = 0; name[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    return strstr(low, what) != NULL;
}

/* Firmware tweaks that concern the send path (see docs/protocol.md). */
static void learn_firmware(struct printer *p, const char *name)
{
    log_info("printer: firmware %s", name);
    if (name_contains(name, "repetier") || name_contains(name, "anet_a8") || name_contains(name, "malyan"))
        p->always_checksum = true;
    if (name_contains(name, "klipper") || name_contains(name, "prusa-firmware"))
        p->unknown_need_ack = true;
    if (name_contains(name, "klipper"))
        klipper_learn(p);
    if (p->restart_pending && !p->klipper) {
        p->restart_pending = false;
        log_info("printer: restarting the firmware (M999)");
        sendq_enqueue(p, "M999");
    }
}

static void handle_firmware(struct printer *p, const char *line)
{
    struct protocol_firmware fw;
    if (protocol_parse_firmware(line, &fw) <= 0)
        return;
    json_t *data = json_object();
    for (int i = 0; i < fw.count; i++)
        json_object_set_new(data, fw.f[i].key, pyjson_string_lossy(fw.f[i].value, strlen(fw.f[i].value)));
    if (!p->firmware_known && fw.name[0])
        learn_firmware(p, fw.name);
    if (fw.name[0])
        p->firmware_known = true;
    snprintf(p->model.firmware_name, sizeof p->model.firmware_name, "%s", fw.name);
    /* what identifies the machine (Home Assistant's device page); kept from the last report
     * that carried them, as other firmware lines (capabilities, extra reports) do not */
    for (int i = 0; i < fw.count; i++) {
        if (strcmp(fw.f[i].key, "MACHINE_TYPE") == 0)
            snprintf(p->model.firmware_machine, sizeof p->model.firmware_machine, "%s", fw.f[i].value);
        else if (strcmp(fw.f[i].key, "UUID") == 0)
            snprintf(p->model.firmware_uuid, sizeof p->model.firmware_uuid, "%s", fw.f[i].value);
    }
    json_t *payload = json_object();
    /* a firmware line without a name is published with "name": null, as OctoPrint does */
    json_object_set_new(payload, "name", fw.name[0] ? pyjson_string_lossy(fw.name, strlen(fw.name)) : json_null());
    json_object_set_new(payload, "data", data);
    events_fire(p->ev, EVENT_FIRMWARE_DATA, payload);
    printer_model_changed(p);
}

static void enqueue_autoreport(struct printer *p, const char *gcode, int interval)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "%s S%d", gcode, interval);
    sendq_enqueue(p, cmd);
}

static void handle_capability(struct printer *p, const char *line)
{
    char name[64];
    bool on;
    if (protocol_parse_capability(line, name, sizeof name, &on) < 0)
        return;
    p->cap_seen = true;
    if (strcmp(name, "AUTOREPORT_TEMP") == 0) {
        p->cap_autoreport_temp = on;
        if (on && p->opt.autoreport_interval > 0)
            enqueue_autoreport(p, "M155", p->opt.autoreport_interval);
    } else if (strcmp(name, "AUTOREPORT_SD_STATUS") == 0) {
        p->cap_autoreport_sd = on;
        if (on)
            enqueue_autoreport(p, "M27", PRINTER_SD_AUTOREPORT_INTERVAL);
    } else if (strcmp(name, "AUTOREPORT_POS") == 0) {
        p->cap_autoreport_pos = on;
        if (on && p->opt.position_autoreport_interval > 0)
            enqueue_autoreport(p, "M154", p->opt.position_autoreport_interval);
    } else if (strcmp(name, "EMERGENCY_PARSER") == 0) {
        p->cap_emergency = on;
        p->model.emergency_parser = on;
    }
}

static void cap_report_done(struct printer *p)
{
    if (p->cap_done)
        return;
    p->cap_done = true;
    log_info("printer: capability report complete%s", p->cap_seen ? "" : " (no capabilities reported)");
}

void receive_ok(struct printer *p, const char *line)
{
    bool has_n;
    unsigned long n;
    int planner, buffer;

    uv_timer_stop(&p->resend_ok_timer);
    p->ok_deadline = uv_now(p->loop) + printer_ms(link_comm_interval(p));
    p->timeouts = 0;
    if (p->inflight > 0) {
        p->inflight--;
        sendq_acked(p);
    }
    p->long_running = false;
    p->heating = false;
    if (line && p->opt.advanced_ok_window > 1 &&
        protocol_parse_advanced_ok(line, &has_n, &n, &planner, &buffer) == 0) {
        if (!p->model.advanced_ok)
            log_info("printer: firmware acknowledges with ADVANCED_OK; keeping up to %d commands in flight",
                     p->opt.advanced_ok_window);
        p->model.advanced_ok = true;
        p->fw_free = buffer;
    }
    resend_on_ok(&p->rs);
    if (p->m115_sent && p->firmware_known)
        cap_report_done(p);
    sendq_pump(p);
}

static void on_resend_ok_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    log_info("printer: firmware didn't send an 'ok' with its resend request; that's a known bug, simulating one");
    receive_ok(p, NULL);
}

static void resend_started(struct printer *p, unsigned long n)
{
    log_debug("printer: resending from line %lu", n);
    if (!p->resend_warned && p->model.lines_sent > 100 && p->model.resends * 10 >= p->model.lines_sent) {
        p->resend_warned = true;
        log_warn("printer: more than 10%% of the lines sent needed a resend; check the cable and the baud rate");
    }
    uv_timer_start(&p->resend_ok_timer, on_resend_ok_timer, RESEND_OK_TIMEOUT_MS, 0);
}

static void handle_resend(struct printer *p, const char *line)
{
    unsigned long n;
    char text[192];
    if (protocol_parse_resend(line, &n) < 0)
        return;
    p->model.resends++;
    bool available = history_get(&p->hist, n) != NULL;
    switch (resend_request(&p->rs, n, p->line + 1, available)) {
    case RESEND_STARTED:
        resend_started(p, n);
        break;
    case RESEND_IGNORED_UNSENT:
    case RESEND_IGNORED_STALE:
        log_debug("printer: ignoring resend request for line %lu", n);
        break;
    case RESEND_LOOP:
        snprintf(text, sizeof text, "Printer keeps requesting line %lu again and again, communication stuck", n);
        link_fatal(p, text, "resend_loop");
        break;
    case RESEND_NO_HISTORY:
        snprintf(text, sizeof text, "Should resend line %lu but no sufficient history is available, can't resend", n);
        if (p->has_src)
            link_fatal(p, text, "resend");
        else
            log_warn("printer: %s", text);
        break;
    }
}

static void on_error_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->error_pending)
        link_fatal(p, p->pending_error, "firmware");   /* the second half never came */
}

/* The firmware refused one command and carries on: CommandError, no reconnect. */
static bool handle_unknown_command(struct printer *p, const char *line)
{
    char cmd[PRINTER_ACK_TEXT], text[FRAMING_MAX_LINE + 1];
    if (!protocol_unknown_command(line, cmd, sizeof cmd, text, sizeof text))
        return false;
    sendq_unknown_command(p, cmd, text);
    return true;
}

static void handle_error_line(struct printer *p, const char *line)
{
    char text[FRAMING_MAX_LINE + 1];
    if (protocol_error_is_split(line)) {
        snprintf(p->split_error, sizeof p->split_error, "%s", line);
        p->split_pending = true;
        return;
    }
    enum protocol_error_class cls = protocol_classify_error(line);
    protocol_error_text(line, text, sizeof text);
    switch (cls) {
    case PROTOCOL_ERROR_RECOVERABLE:
        /* the firmware sends no ok here; the next line draws a proper resend request */
        receive_ok(p, NULL);
        return;
    case PROTOCOL_ERROR_RESEND:
        resend_note_error(&p->rs, line);
        return;
    case PROTOCOL_ERROR_UNKNOWN_COMMAND:
        if (handle_unknown_command(p, line))
            return;
        /* fall through */
    case PROTOCOL_ERROR_SD:
    case PROTOCOL_ERROR_NONE:
        log_info("printer: %s", line);
        return;
    case PROTOCOL_ERROR_FATAL:
        break;
    }
    if (p->state == PRINTER_ERROR)
        return;
    log_error("printer: received an error from the printer's firmware: %s", text);
    if (protocol_error_needs_next_line(line)) {
        /* Marlin: "Error:Thermal Runaway..." then "Error:Printer halted. kill() called!" */
        snprintf(p->pending_error, sizeof p->pending_error, "%s", text);
        p->error_pending = true;
        uv_timer_start(&p->error_timer, on_error_timer, KILL_JOIN_TIMEOUT_MS, 0);
        return;
    }
    link_fatal(p, text, "firmware");
}

static void handle_busy(struct printer *p, const char *line)
{
    p->ok_deadline = uv_now(p->loop) + printer_ms(link_comm_interval(p));
    p->timeouts = 0;
    if (!p->busy_seen) {
        p->busy_seen = true;
        int s = (int)PRINTER_COMMUNICATION_BUSY - 1;
        enqueue_autoreport(p, "M113", s < 1 ? 1 : s);
        sendq_pump(p);
    }
    if (strncmp(line, "echo:busy: paused for user", 26) == 0)
        events_fire(p->ev, EVENT_PAUSED_FOR_USER, NULL);
}

static void handle_action(struct printer *p, const char *line)
{
    char name[64], params[FRAMING_MAX_LINE + 1];
    if (protocol_parse_action(line, name, sizeof name, params, sizeof params) < 0)
        return;
    log_info("printer: action command %s%s%s", name, params[0] ? " " : "", params);
    if (strcmp(name, "pause") == 0 || strcmp(name, "paused") == 0) {
        printer_request(p, PRINTER_REQUEST_PAUSE);
    } else if (strcmp(name, "resume") == 0 || strcmp(name, "resumed") == 0) {
        printer_request(p, PRINTER_REQUEST_RESUME);
    } else if (strcmp(name, "cancel") == 0) {
        printer_request(p, PRINTER_REQUEST_CANCEL);
    } else if (strcmp(name, "disconnect") == 0) {
        printer_disconnect(p);
    } else if (strcmp(name, "shutdown") == 0) {
        if (p->cb.shutdown)
            p->cb.shutdown(p->cb_ctx);
    } else if (strcmp(name, "notification") == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "message", pyjson_string_lossy(params, strlen(params)));
        events_fire(p->ev, EVENT_ACTION_NOTIFICATION, o);
    }
}

/* "echo:T3 Invalid extruder" */
static void handle_invalid_tool(struct printer *p, const char *line)
{
    long t;
    if (!protocol_param_int(line, 'T', &t) || t < 0 || t >= PRINTER_MAX_TOOLS)
        return;
    p->invalid_tool[t] = true;
    int fallback = -1;
    if (!printer_tool_invalid(p, p->current_tool) && p->current_tool != t)
        fallback = p->current_tool;
    for (int i = 0; fallback < 0 && i < p->opt.extruders && i < PRINTER_MAX_TOOLS; i++)
        if (!p->invalid_tool[i])
            fallback = i;
    log_warn("printer: firmware reports tool %ld as invalid; falling back to tool %d", t, fallback);
    events_fire(p->ev, EVENT_INVALID_TOOL_REPORTED, json_pack("{s:i, s:i}", "tool", (int)t, "fallback", fallback));
    if (fallback >= 0) {
        char cmd[16];
        snprintf(cmd, sizeof cmd, "T%d", fallback);
        sendq_enqueue(p, cmd);
        sendq_pump(p);
    }
}

/* "start" while operational: the board reset behind our back and lost its line count,
 * its autoreport settings and any print. */
static void external_reset(struct printer *p)
{
    bool printing = p->has_src;
    if (printing)
        log_warn("printer: printer sent 'start' while printing; external reset? aborting the print since the printer lost state");
    else
        log_warn("printer: printer sent 'start' while already operational; external reset? resetting line numbers to be on the safe side");
    sendq_clear(p);
    history_clear(&p->hist);
    resend_reset(&p->rs);
    uv_timer_stop(&p->resend_ok_timer);
    sendq_fail_inflight(p, "the printer reset before it answered");
    if (printing)
        printer_request(p, PRINTER_REQUEST_CANCEL);
    sendq_enqueue(p, "M110 N0");
    if (p->autoreport_temp)
        enqueue_autoreport(p, "M155", p->opt.autoreport_interval);
    if (p->autoreport_sd)
        enqueue_autoreport(p, "M27", PRINTER_SD_AUTOREPORT_INTERVAL);
    if (p->autoreport_pos)
        enqueue_autoreport(p, "M154", p->opt.position_autoreport_interval);
    if (p->model.busy_protocol)
        sendq_enqueue(p, "M113 S2");
    events_fire(p->ev, EVENT_PRINTER_RESET, json_pack("{s:b}", "idle", !printing));
    sendq_pump(p);
}

/* An ok may carry a report: "ok T:..." or "ok X:... Y:..." */
static void handle_ok_line(struct printer *p, const char *line)
{
    if (line[2] == '\0') {
        receive_ok(p, line);        /* the bare "ok" of almost every streamed line */
        return;
    }
    if (protocol_has_position(line))
        handle_position(p, line);
    else if (protocol_has_temperatures(line))
        handle_temperatures(p, line);
    if (strstr(line, "NAME:"))
        handle_firmware(p, line);
    receive_ok(p, line);
}

static void dispatch(struct printer *p, enum protocol_kind kind, const char *line)
{
    switch (kind) {
    case PROTOCOL_BUSY: handle_busy(p, line); break;
    case PROTOCOL_ACTION: handle_action(p, line); break;
    case PROTOCOL_ERROR: handle_error_line(p, line); break;
    case PROTOCOL_OK: handle_ok_line(p, line); break;
    case PROTOCOL_WAIT:
        /* an ack only while printing */
        if (printer_state_is_printing(p->state))
            receive_ok(p, NULL);
        break;
    case PROTOCOL_RESEND: handle_resend(p, line); break;
    case PROTOCOL_POSITION: handle_position(p, line); break;
    case PROTOCOL_TEMPERATURE: handle_temperatures(p, line); break;
    case PROTOCOL_CAPABILITY: handle_capability(p, line); break;
    case PROTOCOL_FIRMWARE: handle_firmware(p, line); break;
    case PROTOCOL_START: external_reset(p); break;
    case PROTOCOL_ECHO:
        if (handle_unknown_command(p, line))
            break;
        /* fall through */
    default:
        if (name_contains(line, "invalid extruder"))
            handle_invalid_tool(p, line);
        break;
    }
}

/* The card's presence as the firmware reports it (sdReady): the answers to M21 and M20. */
static void track_sd_card(struct printer *p, const char *line)
{
    int ready = protocol_sd_card_state(line);
    if (ready < 0 || p->model.sd_ready == (ready == 1))
        return;
    p->model.sd_ready = ready == 1;
    printer_model_changed(p);
}

/* A line that completes an error begun on the previous one; true when it was one. */
static bool join_pending_error(struct printer *p, const char *line)
{
    char joined[2 * FRAMING_MAX_LINE + 8];
    if (p->split_pending) {
        /* old firmware: "Error:0" then ": Extruder switched off. MAXTEMP triggered !" */
        p->split_pending = false;
        snprintf(joined, sizeof joined, "%s%s", p->split_error, line);
        handle_error_line(p, joined);
        return true;
    }
    if (p->error_pending) {
        if (protocol_error_join(p->pending_error, line, joined, sizeof joined) < 0)
            snprintf(joined, sizeof joined, "%s", p->pending_error);
        link_fatal(p, joined, "firmware");
        return true;
    }
    return false;
}

void receive_line(void *ctx, const char *line, size_t len)
{
    struct printer *p = ctx;
    log_debug("recv: %s", line);
    printer_term_add(p, "Recv: ", line, len);
    enum protocol_kind kind = protocol_classify(line);

    if (p->halted) {
        klipper_on_halted_line(p, line, kind);
        return;
    }
    if (link_on_handshake_line(p, kind, line))
        return;
    if (!printer_state_is_operational(p->state))
        return;
    p->line_deadline = uv_now(p->loop) + printer_ms(link_comm_interval(p));
    if (p->cb.line)
        p->cb.line(p->cb_ctx, line);
    if (join_pending_error(p, line))
        return;
    if (kind != PROTOCOL_OK)
        track_sd_card(p, line);     /* the card's messages are never acknowledgements */
    if (p->cap_seen && !p->cap_done && kind != PROTOCOL_CAPABILITY)
        cap_report_done(p);
    if ((p->klipper || protocol_klipper_state_line(line)) && klipper_on_line(p, line))
        return;
    dispatch(p, kind, line);
}
