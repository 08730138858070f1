/* klipper.c: Klipper's dialect on its G-code pseudo-terminal (docs/klipper.md): its "!! "
 * command errors, which leave the printer usable; its shutdown, which is the error state
 * (shown once, the port kept open, no reconnect loop) until a firmware restart; and the
 * firmware restart itself, FIRMWARE_RESTART on Klipper and M999 elsewhere.
 *
 * Why the port stays open while Klipper is shut down: Klipper still answers M105, M110 and
 * M115 then, so closing and reopening would shake hands, look Operational and halt again,
 * over and over. Its shutdown only ends with FIRMWARE_RESTART, which a user asks for. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "printer_impl.h"
#include "scan.h"

/* FIRMWARE_RESTART takes Klipper about a second; a slow host gets much longer before the
 * handshake is tried anyway */
#define RESTART_READY_MS 20000

void klipper_learn(struct printer *p)
{
    if (!p->klipper)
        log_info("printer: Klipper: \"!! \" errors are command errors; asking for its state");
    p->klipper = true;
    /* M105 and M115 answer in Klipper's shutdown state too: only STATUS tells */
    sendq_enqueue(p, "STATUS");
    sendq_pump(p);
}

/* "!! Shutdown due to M112 command" -> "Shutdown due to M112 command" */
static const char *klipper_text(const char *line)
{
    const char *s = scan_skip_space(line);
    if (strncmp(s, "!!", 2) == 0 || strncmp(s, "//", 2) == 0)
        s = scan_skip_space(s + 2);
    return s;
}

static void restart_now(struct printer *p);

void klipper_halt(struct printer *p, const char *text)
{
    char msg[FRAMING_MAX_LINE + 160];
    if (p->halted)
        return;
    if (p->restart_pending) {
        /* a firmware restart was asked for while the link was down: this is what it is for */
        p->restart_pending = false;
        restart_now(p);
        return;
    }
    p->halted = true;
    uv_timer_t *timers[] = { &p->watch_timer, &p->poll_timer, &p->healthy_timer, &p->error_timer,
                             &p->resend_ok_timer };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_timer_stop(timers[i]);
    if (p->has_src) {
        log_warn("printer: the line source was dropped: the firmware shut down");
        printer_source_detach(p);
    }
    snprintf(msg, sizeof msg, "Klipper is shut down (%s); fix the cause, then send firmware_restart to command/connection",
             text);
    log_error("printer: %s", msg);
    json_t *payload = printer_error_payload(msg, "firmware");
    json_object_set_new(payload, "consequence", json_string("halted"));
    json_object_set_new(payload, "logs", printer_term_logs(p));
    printer_set_model_error(p, msg);
    events_fire(p->ev, EVENT_ERROR, payload);
    sendq_clear_why(p, "not sent: the firmware shut down");
    printer_set_state(p, PRINTER_ERROR);
}

bool klipper_on_line(struct printer *p, const char *line)
{
    char text[FRAMING_MAX_LINE + 1];
    switch (protocol_klipper_line(line)) {
    case PROTOCOL_KLIPPER_COMMAND_ERROR:
        snprintf(text, sizeof text, "%s", klipper_text(line));
        sendq_command_error(p, text);
        return true;
    case PROTOCOL_KLIPPER_SHUTDOWN:
        snprintf(text, sizeof text, "%s", klipper_text(line));
        if (!p->klipper)
            log_info("printer: the firmware reports Klipper's state: it is Klipper");
        p->klipper = true;
        klipper_halt(p, text);
        return true;
    case PROTOCOL_KLIPPER_READY:
        p->klipper = true;
        p->restart_pending = false;     /* nothing to restart */
        return true;
    case PROTOCOL_KLIPPER_NOT_READY:
        p->klipper = true;
        return true;
    case PROTOCOL_KLIPPER_OTHER:
        break;
    }
    return false;
}

void klipper_on_halted_line(struct printer *p, const char *line, enum protocol_kind kind)
{
    if (kind == PROTOCOL_OK) {
        /* the answer to whatever was in flight when it shut down, or to FIRMWARE_RESTART */
        if (p->inflight > 0) {
            p->inflight--;
            sendq_acked(p);
        }
        return;
    }
    if (protocol_klipper_line(line) == PROTOCOL_KLIPPER_READY && p->restart_wait) {
        log_info("printer: Klipper is ready again; connecting");
        link_rehandshake(p);
    }
}

static void on_restart_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (!p->port || !p->restart_wait)
        return;
    log_warn("printer: Klipper did not report \"Klipper state: Ready\" within %d s of FIRMWARE_RESTART; "
             "connecting anyway", RESTART_READY_MS / 1000);
    link_rehandshake(p);
}

/* FIRMWARE_RESTART on the open port; the handshake starts over once Klipper is ready. */
static void restart_now(struct printer *p)
{
    log_info("printer: restarting Klipper (FIRMWARE_RESTART)");
    if (!p->halted) {
        p->halted = true;   /* from here until Ready, nothing but the restart goes out */
        uv_timer_t *timers[] = { &p->watch_timer, &p->poll_timer, &p->healthy_timer };
        for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
            uv_timer_stop(timers[i]);
        if (p->has_src)
            printer_source_detach(p);
        sendq_clear_why(p, "not sent: the firmware is restarting");
        sendq_fail_inflight(p, "the firmware restarted before it answered");
        printer_set_state(p, PRINTER_CONNECTING);
    }
    p->restart_wait = true;
    sendq_send(p, "FIRMWARE_RESTART");
    uv_timer_start(&p->restart_timer, on_restart_timer, RESTART_READY_MS, 0);
}

int printer_firmware_restart(struct printer *p, char *err, size_t errsz)
{
    if (p->restart_wait) {
        snprintf(err, errsz, "a firmware restart is already under way");
        return -EALREADY;
    }
    p->backoff = p->opt.reconnect_delay;
    if (p->port && p->klipper) {
        restart_now(p);
        return 0;
    }
    if (p->port && printer_state_is_operational(p->state)) {
        log_info("printer: restarting the firmware (M999)");
        return printer_send(p, "M999") < 0 ? -ENOTCONN : 0;
    }
    /* down, or not yet identified: the restart follows once the firmware is known */
    p->restart_pending = true;
    log_info("printer: firmware restart asked for; it follows once the printer is connected and identified");
    link_connect_now(p);
    return 0;
}
