/* link.c: the printer connection's life cycle.
 *
 * Opening: the port (or, for "auto", the port scan's pick) is opened at the configured baud
 * rate, or at each candidate rate in turn when the rate is "auto"; the hello (a numbered
 * M110 N0) is repeated until an ok or wait answers, and a "start" banner (the board just
 * rebooted) earns a fresh hello. Once connected: M110, M115 and the afterPrinterConnected
 * script, temperature polls unless the firmware autoreports, and the watchdog.
 *
 * Timeouts: the watchdog compares two deadlines (any line; an ok while one is owed) and
 * recovers as OctoPrint does, counting consecutive timeouts. Deviation from OctoPrint: the
 * ok deadline applies whenever a command awaits its ok, not only while printing, so a lost
 * ok can never stall an idle printer that keeps autoreporting.
 *
 * The link heals itself: a port that cannot be opened, vanishes or stops answering is closed
 * and reopened on a doubling backoff (printer.reconnect). Repeated identical failures are
 * logged but not re-announced as events, so an unplugged printer does not flood subscribers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printer_impl.h"

#define HELLO_LIMIT 3
#define MAX_TIMEOUTS_IDLE 2
#define MAX_TIMEOUTS_PRINTING 5
#define MAX_TIMEOUTS_LONG 5
#define WATCH_MS 100
#define WATCH_MAX_MS 1000
/* Tried in this order for baudrate "auto", DETECTION_TIMEOUT s each */
static const int baud_candidates[] = { 115200, 250000, 230400, 57600, 38400, 19200, 9600 };
#define BAUD_CANDIDATES (int)(sizeof baud_candidates / sizeof baud_candidates[0])
#define DETECTION_TIMEOUT 2.0

/* ---- timeouts ----------------------------------------------------------------------- */

static double poll_interval(const struct printer *p)
{
    return p->target_set ? p->opt.temperature_interval_target : p->opt.temperature_interval;
}

double link_comm_interval(const struct printer *p)
{
    double base = p->model.busy_protocol ? PRINTER_COMMUNICATION_BUSY : p->opt.communication_timeout;
    double t = (p->autoreport_temp ? p->opt.autoreport_interval : poll_interval(p)) + 1.0;
    return base > t ? base : t;
}

static void on_poll_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    bool dwelling = uv_now(p->loop) < p->dwell_until;
    /* A poll never stacks up: at most one waits in the queue, and none while idle-busy */
    if (printer_state_is_operational(p->state) && !p->autoreport_temp && !p->heating && !dwelling &&
        !sendq_poll_outstanding(p, "M105") && (p->has_src || (p->q_len == 0 && p->inflight == 0))) {
        static const struct printer_waiter poll = { .poll = true };
        sendq_enqueue_then(p, "M105", &poll);
        sendq_pump(p);
    }
    uint64_t next = printer_ms(poll_interval(p));
    if (uv_timer_get_repeat(t) != next)
        uv_timer_set_repeat(t, next);
}

void link_reset_deadlines(struct printer *p)
{
    uint64_t t = uv_now(p->loop) + printer_ms(link_comm_interval(p));
    p->line_deadline = t;
    p->ok_deadline = t;
}

/* What to do about a timeout depends on what the printer is busy with. */
static void recover_from_timeout(struct printer *p, bool printing, const char *hint)
{
    if (p->rs.active) {
        log_warn("printer: communication timeout during a resend, resending the last line. %s", hint);
        resend_on_timeout(&p->rs);
        p->inflight = 0;
        sendq_pump(p);
    } else if (p->heating) {
        log_warn("printer: communication timeout while heating, assuming the heat-up finished. %s", hint);
        p->heating = false;
    } else if (p->long_running) {
        log_info("printer: communication timeout during a long running command, waiting. %s", hint);
    } else if (printing) {
        log_warn("printer: communication timeout while printing, trying to trigger response from printer. %s", hint);
        sendq_fail_inflight(p, "no answer from the printer within the communication timeout");
        sendq_send(p, "M105");
    } else if (p->inflight > 0) {
        log_warn("printer: communication timeout while idle, trying to trigger response from printer. %s", hint);
        sendq_fail_inflight(p, "no answer from the printer within the communication timeout");
        sendq_pump(p);
    } else {
        log_warn("printer: communication timeout while idle, nothing heard from the printer. %s", hint);
        sendq_send(p, "M105");
    }
}

static void handle_timeout(struct printer *p)
{
    static const char hint[] = "Configure long running commands or increase communication timeout "
                               "if that happens regularly on specific commands or long moves.";
    bool printing = p->has_src;
    int max = p->long_running ? MAX_TIMEOUTS_LONG : printing ? MAX_TIMEOUTS_PRINTING : MAX_TIMEOUTS_IDLE;
    link_reset_deadlines(p);
    p->model.timeouts++;
    if (++p->timeouts > max) {
        log_error("printer: no response from printer after %d consecutive communication timeouts, considering it dead. %s",
                  max, hint);
        link_fatal(p, "Too many consecutive timeouts, printer still connected and alive?", "timeout");
        return;
    }
    recover_from_timeout(p, printing, hint);
}

/* The watchdog wakes at the nearest deadline, but at least every second (a deadline can move
 * closer when the communication interval shrinks) and at most every 100 ms: an idle printer
 * costs one wake-up a second instead of ten. */
static void on_watch_timer(uv_timer_t *t);

void link_watch_rearm(struct printer *p)
{
    uint64_t now = uv_now(p->loop), next = p->line_deadline;
    if (p->inflight > 0 && p->ok_deadline < next)
        next = p->ok_deadline;
    uint64_t delay = next > now ? next - now : 0;
    if (delay < WATCH_MS)
        delay = WATCH_MS;
    if (delay > WATCH_MAX_MS)
        delay = WATCH_MAX_MS;
    uv_timer_start(&p->watch_timer, on_watch_timer, delay, 0);
}

static void on_watch_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (!p->port || !printer_state_is_operational(p->state))
        return;
    uint64_t now = uv_now(p->loop);
    if (now >= p->dwell_until) {
        bool line_expired = now >= p->line_deadline;
        bool ok_expired = p->inflight > 0 && !p->long_running && !p->heating && now >= p->ok_deadline;
        if (line_expired || ok_expired)
            handle_timeout(p);
    }
    if (p->port && printer_state_is_operational(p->state))
        link_watch_rearm(p);
}

/* ---- handshake ------------------------------------------------------------------------ */

static void arm_comm_timer(struct printer *p, double seconds);

static bool detecting_baud(const struct printer *p)
{
    return p->opt.baudrate <= 0;
}

static double hello_timeout(const struct printer *p)
{
    if (detecting_baud(p) && p->opt.connection_timeout > DETECTION_TIMEOUT)
        return DETECTION_TIMEOUT;
    return p->opt.connection_timeout;
}

/* The question that keeps the counter: a line numbered 0 is never the one Marlin expects (its
 * counter starts at 0 and only grows), so it answers with its counter and a Resend. The
 * newline first ends whatever a killed process left half-written, so that fragment is
 * rejected on its own (a checksum error, not the line-number error) and the question arrives
 * whole. */
static void ask_line_counter(struct printer *p)
{
    history_clear(&p->hist);
    resend_reset(&p->rs);
    p->resync.asked = true;
    p->resync_line_error = false;
    sendq_write_raw(p, "\n", 1);
    sendq_write_numbered(p, 0, "M105");
    arm_comm_timer(p, hello_timeout(p));
}

static void say_hello(struct printer *p)
{
    p->hellos++;
    if (p->resync_wanted && !p->start_seen) {
        ask_line_counter(p);
        return;
    }
    /* the hello is numbered and resets the count: N0 M110 N0*125 */
    history_clear(&p->hist);
    resend_reset(&p->rs);
    p->line = (unsigned long)-1;
    sendq_numbered(p, "M110 N0");
    arm_comm_timer(p, hello_timeout(p));
}

/* A link that comes up and fails again at once (a firmware that halts right after the
 * handshake) must not retry at the shortest delay forever. */
static void on_healthy_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->port && printer_state_is_operational(p->state))
        p->backoff = p->opt.reconnect_delay;
}

void link_on_connected(struct printer *p)
{
    uv_timer_stop(&p->comm_timer);
    printer_set_state(p, PRINTER_OPERATIONAL);
    uv_timer_start(&p->healthy_timer, on_healthy_timer, PRINTER_HEALTHY_MS, 0);
    p->reported_err = 0;
    p->timeouts = 0;
    p->inflight = 0;     /* the handshake's ok (or wait) clears to send */
    p->model.baudrate = p->baud;
    events_fire(p->ev, EVENT_CONNECTED, json_pack("{s:s, s:i}", "port", p->path, "baudrate", p->baud));
    bool resynced = p->resync_wanted && p->resync.answered;
    p->resync_wanted = false;
    if (resynced) {
        /* the firmware is in the middle of a print: its counter goes on, and the user's
         * connect script (homing, heaters off...) must not run between two of its lines */
        log_info("printer: the firmware's line counter is at %lu; keeping it", p->resync.last_line);
        p->line = p->resync.last_line;
    } else {
        sendq_enqueue(p, "M110 N0");
    }
    sendq_enqueue(p, "M115");
    for (char *const *l = p->opt.after_connected; !resynced && l && *l; l++)
        if (printer_send(p, *l) < 0)
            log_warn("printer: afterPrinterConnected line not sent: %s", *l);
    link_reset_deadlines(p);
    link_watch_rearm(p);
    uv_timer_start(&p->poll_timer, on_poll_timer, printer_ms(poll_interval(p)), printer_ms(poll_interval(p)));
    if (p->cb.connected)
        p->cb.connected(p->cb_ctx);
    sendq_pump(p);
}

static void try_next_baud(struct printer *p)
{
    /* silence at this rate: try the next one on the same open port */
    p->baud = baud_candidates[++p->baud_index];
    log_info("printer: no answer from %s, trying %d baud", p->path, p->baud);
    if (port_set_baud(p->port, p->baud) < 0)
        log_warn("printer: %s refused %d baud", p->path, p->baud);
    p->hellos = 0;
    sendq_write_raw(p, "\n", 1);
    say_hello(p);
}

static void on_comm_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->state != PRINTER_CONNECTING)
        return;
    if (detecting_baud(p) && p->hellos >= 1 && p->baud_index + 1 < BAUD_CANDIDATES) {
        try_next_baud(p);
        return;
    }
    if (!detecting_baud(p) && p->hellos < HELLO_LIMIT) {
        log_info("printer: no answer from %s within %.0f s, trying another hello", p->path,
                 p->opt.connection_timeout);
        say_hello(p);
        return;
    }
    if (detecting_baud(p))
        log_error("printer: %s does not answer at any baud rate; is it a printer? retrying", p->path);
    else
        log_error("printer: %s does not answer; is it a printer, at %d baud? retrying", p->path, p->baud);
    printer_fire_error(p, "There was a timeout while trying to connect to the printer", "timeout");
    link_close(p, PRINTER_CLOSED_WITH_ERROR);
    link_schedule_reconnect(p);
}

static void arm_comm_timer(struct printer *p, double seconds)
{
    uv_timer_start(&p->comm_timer, on_comm_timer, printer_ms(seconds), 0);
}

/* The handshake that asks for the line counter: the ok that follows the line-number error
 * and its Resend connects; oks owed to the killed process's lines and the answers to its
 * half-written line are passed over. */
static void resync_line(struct printer *p, enum protocol_kind kind, const char *line)
{
    unsigned long n;
    if (kind == PROTOCOL_ERROR && protocol_parse_last_line(line, &n) == 0) {
        p->resync_line_error = true;
        p->resync.last_line = n;
    } else if (kind == PROTOCOL_RESEND && p->resync_line_error && protocol_parse_resend(line, &n) == 0 && n > 0) {
        p->resync.last_line = n - 1;
        p->resync.answered = true;
    } else if (kind == PROTOCOL_OK && p->resync.answered) {
        link_on_connected(p);
        return;
    }
    arm_comm_timer(p, hello_timeout(p));
}

bool link_on_handshake_line(struct printer *p, enum protocol_kind kind, const char *line)
{
    if (p->state != PRINTER_CONNECTING)
        return false;
    if (kind == PROTOCOL_START && !p->start_seen) {
        p->start_seen = true;
        if (p->resync_wanted) {
            log_warn("printer: %s sent \"start\": the firmware rebooted while printbridge was away", p->path);
            p->resync.reset = true;
            p->resync.answered = false;
        }
        say_hello(p);       /* the board just rebooted; greet it again */
    } else if (p->resync_wanted && !p->start_seen) {
        resync_line(p, kind, line);
    } else if (kind == PROTOCOL_OK || kind == PROTOCOL_WAIT) {
        link_on_connected(p);
    } else if (!detecting_baud(p)) {
        /* it talks: give it time (not while detecting: noise at a wrong rate talks too) */
        arm_comm_timer(p, hello_timeout(p));
    }
    return true;
}

/* ---- errors and closing ---------------------------------------------------------------- */

void link_fatal(struct printer *p, const char *text, const char *reason)
{
    p->error_pending = false;
    uv_timer_stop(&p->error_timer);
    log_error("printer: %s", text);
    bool emergency = p->opt.send_m112_on_error && p->port && strcmp(reason, "connection") != 0 &&
                     strcmp(reason, "autodetect") != 0;
    printer_set_state(p, PRINTER_ERROR);
    json_t *payload = printer_error_payload(text, reason);
    json_object_set_new(payload, "consequence", json_string(emergency ? "emergency" : "disconnect"));
    const char *faq = strcmp(reason, "firmware") == 0 ? protocol_error_faq(text) : NULL;
    if (faq)
        json_object_set_new(payload, "faq", json_string(faq));
    if (strcmp(reason, "firmware") == 0)
        json_object_set_new(payload, "logs", printer_term_logs(p));
    printer_set_model_error(p, text);
    events_fire(p->ev, EVENT_ERROR, payload);
    if (emergency)
        sendq_emergency_stop(p);
    link_close(p, PRINTER_CLOSED_WITH_ERROR);
    link_schedule_reconnect(p);
}

static void on_lost_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (!p->port)
        return;
    /* libuv reports a hung-up tty as EBADF, a read as EIO or 0 bytes: all mean the same */
    int e = -p->lost_err;
    const char *why = (e == EPIPE || e == EIO || e == EBADF || e == ENXIO || e == ENODEV)
                          ? "the device hung up (unplugged, switched off or reset)" : strerror(e);
    log_warn("printer: lost %s: %s; will reconnect when it is back", p->path, why);
    char text[PRINTER_PATH_SIZE + 128];
    snprintf(text, sizeof text, "The serial port %s went away: %s", p->path, why);
    /* no ERROR state here: subscribers see Error, OFFLINE, Disconnected; the payload is
     * OctoPrint's for a lost connection, consequence "disconnect" */
    json_t *payload = printer_error_payload(text, "connection");
    json_object_set_new(payload, "consequence", json_string("disconnect"));
    printer_set_model_error(p, text);
    events_fire(p->ev, EVENT_ERROR, payload);
    link_close(p, PRINTER_CLOSED_WITH_ERROR);
    link_schedule_reconnect(p);
    p->reported_err = -ENOENT;  /* "gone" is announced; a missing device on retry is the same news */
}

static void on_port_lost(void *ctx, int err)
{
    struct printer *p = ctx;
    /* the port may be deep inside a write for us; react from a fresh loop iteration */
    p->lost_err = err;
    uv_timer_start(&p->lost_timer, on_lost_timer, 0, 0);
}

/* Everything learnt about the firmware goes with the port. */
static void forget_firmware(struct printer *p)
{
    p->firmware_known = p->always_checksum = p->unknown_need_ack = p->manual_streaming = false;
    p->klipper = p->halted = p->restart_wait = false;
    p->cap_seen = p->cap_done = p->m115_sent = false;
    p->cap_autoreport_temp = p->cap_autoreport_sd = p->cap_autoreport_pos = p->cap_emergency = false;
    p->autoreport_temp = p->autoreport_sd = p->autoreport_pos = false;
    p->busy_seen = p->long_running = p->heating = false;
    p->inflight = 0;
    p->fw_free = 0;
    p->dwell_until = 0;
    memset(p->invalid_tool, 0, sizeof p->invalid_tool);
    gcodeevents_z_init(&p->z, p->opt.zchange_mode);
    p->model.port[0] = '\0';
    p->model.firmware_name[0] = '\0';
    p->model.firmware_machine[0] = p->model.firmware_uuid[0] = '\0';
    p->model.nheaters = 0;
    p->model.has_position = false;
    p->model.sd_ready = false;
    p->model.advanced_ok = p->model.emergency_parser = p->model.busy_protocol = false;
}

void link_close(struct printer *p, enum printer_state final_state)
{
    uv_timer_t *timers[] = { &p->comm_timer, &p->watch_timer, &p->poll_timer, &p->lost_timer,
                             &p->error_timer, &p->resend_ok_timer, &p->healthy_timer, &p->restart_timer };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_timer_stop(timers[i]);
    p->error_pending = false;
    p->split_pending = false;
    if (p->has_src) {
        /* the source's owner learns it from the state that follows */
        log_warn("printer: the line source was dropped: the connection closed");
        printer_source_detach(p);
    }
    sendq_clear_why(p, "not sent: the connection to the printer closed");
    sendq_fail_inflight(p, "the connection to the printer closed before the firmware answered");
    history_clear(&p->hist);
    resend_reset(&p->rs);
    bool had_port = p->port != NULL;
    if (p->port) {
        port_close(p->port);
        p->port = NULL;
    }
    forget_firmware(p);
    printer_set_state(p, final_state);
    if (had_port)
        events_fire(p->ev, EVENT_DISCONNECTED, NULL);
}

/* ---- opening and reconnecting ---------------------------------------------------------- */

static bool same_news(int a, int b)
{
    /* a device that is missing, unplugged or not yet enumerated is all one situation */
    bool gone_a = a == -ENOENT || a == -ENODEV || a == -ENXIO;
    bool gone_b = b == -ENOENT || b == -ENODEV || b == -ENXIO;
    return a == b || (gone_a && gone_b);
}

static void open_failed(struct printer *p, int err, const char *why, bool quiet)
{
    if (quiet && same_news(err, p->reported_err)) {
        log_info("printer: still cannot open %s (%s); retrying in %.0f s", p->opt.port, why, p->backoff);
    } else {
        char text[PRINTER_PATH_SIZE + 320];
        log_error("printer: cannot open %s: %s; %s", p->opt.port, why, port_error_hint(err));
        snprintf(text, sizeof text, "Cannot open serial port %s: %s", p->opt.port, why);
        printer_fire_error(p, text, "connection");
        printer_set_state(p, PRINTER_CLOSED_WITH_ERROR);
        p->reported_err = err;
    }
    link_schedule_reconnect(p);
}

static void handshake_begin(struct printer *p, const char *path)
{
    log_info("printer: opened %s at %d baud", path, p->baud);
    snprintf(p->model.port, sizeof p->model.port, "%s", path);
    p->model.baudrate = p->baud;
    printer_set_state(p, PRINTER_CONNECTING);
    p->hellos = 0;
    p->start_seen = false;
    p->current_tool = 0;
    p->target_set = false;
    p->term_count = 0;
    say_hello(p);
}

void link_rehandshake(struct printer *p)
{
    uv_timer_t *timers[] = { &p->comm_timer, &p->watch_timer, &p->poll_timer, &p->error_timer,
                             &p->resend_ok_timer, &p->healthy_timer, &p->restart_timer };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_timer_stop(timers[i]);
    if (p->has_src)
        printer_source_detach(p);
    sendq_clear_why(p, "not sent: the firmware restarted");
    sendq_fail_inflight(p, "the firmware restarted before it answered");
    forget_firmware(p);
    snprintf(p->model.port, sizeof p->model.port, "%s", p->path);
    handshake_begin(p, p->path);
}

static void try_connect(struct printer *p)
{
    char path[PRINTER_PATH_SIZE], why[256];
    bool quiet = p->reported_err != 0;

    if (!quiet) {
        events_fire(p->ev, EVENT_CONNECTING, NULL);
        printer_set_state(p, PRINTER_OPEN_SERIAL);
    }
    if (strcmp(p->opt.port, "auto") == 0) {
        if (portscan_pick(p->opt.usb_id, path, sizeof path, why, sizeof why) < 0) {
            open_failed(p, -ENOENT, why, quiet);
            return;
        }
        log_info("printer: port \"auto\" picked %s", path);
    } else {
        snprintf(path, sizeof path, "%s", p->opt.port);
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    p->baud_index = 0;
    p->baud = detecting_baud(p) ? baud_candidates[0] : p->opt.baudrate;
    static const struct port_callbacks cbs = { .line = receive_line, .lost = on_port_lost };
    int err = port_open(&p->port, p->loop, path, p->baud, &cbs, p);
    if (err < 0) {
        open_failed(p, err, strerror(-err), quiet);
        return;
    }
    /* Stale answers would be read as the handshake's, except when resuming a print: then a
     * "start" waiting there is the proof that the board reset while printbridge was away. */
    if (!p->resync_wanted)
        port_discard_input(p->port);
    if (quiet) {
        events_fire(p->ev, EVENT_CONNECTING, NULL);
        printer_set_state(p, PRINTER_OPEN_SERIAL);
    }
    handshake_begin(p, path);
}

static void on_reconnect_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->want_connected && !p->port)
        try_connect(p);
}

void link_connect_now(struct printer *p)
{
    p->want_connected = true;
    uv_timer_stop(&p->reconnect_timer);
    if (!p->port)
        try_connect(p);
}

void link_schedule_reconnect(struct printer *p)
{
    if (!p->want_connected || p->destroying)
        return;
    if (!p->opt.reconnect) {
        log_info("printer: not reconnecting (printer.reconnect is off)");
        p->want_connected = false;
        return;
    }
    uv_timer_start(&p->reconnect_timer, on_reconnect_timer, printer_ms(p->backoff), 0);
    p->backoff *= 2;
    if (p->backoff > p->opt.reconnect_max_delay)
        p->backoff = p->opt.reconnect_max_delay;
}

void printer_connect(struct printer *p)
{
    p->want_connected = true;
    p->backoff = p->opt.reconnect_delay;
    if (!p->port)
        try_connect(p);
}

void printer_disconnect(struct printer *p)
{
    p->want_connected = false;
    uv_timer_stop(&p->reconnect_timer);
    if (p->port) {
        events_fire(p->ev, EVENT_DISCONNECTING, NULL);
        link_close(p, PRINTER_CLOSED);
    }
}
