/* printer.c: the printer layer's owner of struct printer (see printer_impl.h for how its
 * files share it): life cycle and options, OctoPrint's state machine and the printer model,
 * the queuing phase every command passes (blocked and impossible commands are suppressed,
 * host commands and M112 are acted on, G-code events fire), the line source a job attaches,
 * and the error payloads with the terminal log they quote. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printer_impl.h"

#define HISTORY_MIN 1000

/* ---- small helpers ------------------------------------------------------------------- */

uint64_t printer_ms(double seconds)
{
    return seconds <= 0 ? 0 : (uint64_t)llround(seconds * 1000.0);
}

int printer_checksum_parse(const char *name)
{
    if (!name || strcmp(name, "auto") == 0)
        return PRINTER_CHECKSUM_AUTO;
    if (strcmp(name, "always") == 0)
        return PRINTER_CHECKSUM_ALWAYS;
    if (strcmp(name, "never") == 0)
        return PRINTER_CHECKSUM_NEVER;
    return -EINVAL;
}

int printer_zchange_mode_parse(const char *name)
{
    if (!name || strcmp(name, "octoprint") == 0)
        return GCODEEVENTS_Z_OCTOPRINT;
    if (strcmp(name, "layer") == 0)
        return GCODEEVENTS_Z_LAYER;
    return -EINVAL;
}

/* ---- states ------------------------------------------------------------------------- */

static const struct { const char *id, *text; } state_names[] = {
    [PRINTER_NONE] = { "NONE", "Offline" },
    [PRINTER_OPEN_SERIAL] = { "OPEN_SERIAL", "Opening serial connection" },
    [PRINTER_DETECT_SERIAL] = { "DETECT_SERIAL", "Detecting serial connection" },
    [PRINTER_CONNECTING] = { "CONNECTING", "Connecting" },
    [PRINTER_OPERATIONAL] = { "OPERATIONAL", "Operational" },
    [PRINTER_STARTING] = { "STARTING", "Starting" },
    [PRINTER_PRINTING] = { "PRINTING", "Printing" },
    [PRINTER_PAUSED] = { "PAUSED", "Paused" },
    [PRINTER_PAUSING] = { "PAUSING", "Pausing" },
    [PRINTER_RESUMING] = { "RESUMING", "Resuming" },
    [PRINTER_FINISHING] = { "FINISHING", "Finishing" },
    [PRINTER_CLOSED] = { "CLOSED", "Offline" },
    [PRINTER_ERROR] = { "ERROR", "Error" },
    [PRINTER_CLOSED_WITH_ERROR] = { "CLOSED_WITH_ERROR", "Offline after error" },
    [PRINTER_TRANSFERING_FILE] = { "TRANSFERING_FILE", "Transferring file to SD" },
    [PRINTER_CANCELLING] = { "CANCELLING", "Cancelling" },
    [PRINTER_OFFLINE] = { "OFFLINE", "Offline" },
};

const char *printer_state_id(enum printer_state s)
{
    return s <= PRINTER_OFFLINE ? state_names[s].id : "NONE";
}

const char *printer_state_string(enum printer_state s)
{
    return s <= PRINTER_OFFLINE ? state_names[s].text : "Offline";
}

enum printer_state printer_get_state(const struct printer *p)
{
    return p->state;
}

const struct printer_model *printer_get_model(const struct printer *p)
{
    return &p->model;
}

bool printer_state_is_printing(enum printer_state s)
{
    return s == PRINTER_STARTING || s == PRINTER_PRINTING || s == PRINTER_CANCELLING ||
           s == PRINTER_PAUSING || s == PRINTER_RESUMING || s == PRINTER_FINISHING;
}

bool printer_state_is_closed_or_error(enum printer_state s)
{
    return s == PRINTER_ERROR || s == PRINTER_CLOSED || s == PRINTER_CLOSED_WITH_ERROR ||
           s == PRINTER_OFFLINE || s == PRINTER_NONE;
}

bool printer_state_is_error(enum printer_state s)
{
    return s == PRINTER_ERROR || s == PRINTER_CLOSED_WITH_ERROR;
}

bool printer_state_is_operational(enum printer_state s)
{
    switch (s) {
    case PRINTER_OPERATIONAL: case PRINTER_STARTING: case PRINTER_PRINTING: case PRINTER_PAUSED:
    case PRINTER_PAUSING: case PRINTER_RESUMING: case PRINTER_FINISHING: case PRINTER_CANCELLING:
    case PRINTER_TRANSFERING_FILE:
        return true;
    default:
        return false;
    }
}

void printer_model_changed(struct printer *p)
{
    p->model.state = p->state;
    p->model.current_tool = p->current_tool;
    p->model.has_z = p->z.has_z;
    p->model.current_z = p->z.z;
    p->model.has_f = p->z.has_f;
    p->model.f = p->z.f;
    if (p->cb.changed)
        p->cb.changed(p->cb_ctx, &p->model);
}

void printer_set_state(struct printer *p, enum printer_state s)
{
    if (p->state == s)
        return;
    log_info("printer: state %s -> %s", printer_state_id(p->state), printer_state_id(s));
    p->state = s;
    /* OctoPrint drops its comm object before announcing a close, so subscribers see OFFLINE,
     * never CLOSED or CLOSED_WITH_ERROR */
    enum printer_state shown = (s == PRINTER_CLOSED || s == PRINTER_CLOSED_WITH_ERROR) ? PRINTER_OFFLINE : s;
    events_fire(p->ev, EVENT_PRINTER_STATE_CHANGED,
                json_pack("{s:s, s:s}", "state_id", printer_state_id(shown),
                          "state_string", printer_state_string(shown)));
    if (s == PRINTER_OPERATIONAL)
        p->model.error[0] = '\0';
    if (p->cb.state)
        p->cb.state(p->cb_ctx, s);
    printer_model_changed(p);
}

int printer_set_activity(struct printer *p, enum printer_state s)
{
    if (!p->port || !printer_state_is_operational(p->state))
        return -ENOTCONN;
    if (!printer_state_is_operational(s))
        return -EINVAL;
    printer_set_state(p, s);
    return 0;
}

/* ---- terminal log and errors ----------------------------------------------------------- */

/* Copied by hand rather than with snprintf: it runs for every line sent and received. Like
 * "%.*s", the text ends at its first NUL. */
void printer_term_add(struct printer *p, const char *prefix, const char *text, size_t len)
{
    char *slot = p->termlog[p->term_next];
    size_t plen = strlen(prefix), room = PRINTER_TERMLOG_WIDTH - 1 - plen;
    len = strnlen(text, len);
    memcpy(slot, prefix, plen);
    if (len > room) {
        memcpy(slot + plen, text, room - 3);
        memcpy(slot + plen + room - 3, "...", 4);
    } else {
        memcpy(slot + plen, text, len);
        slot[plen + len] = '\0';
    }
    p->term_next = (p->term_next + 1) % PRINTER_TERMLOG_LINES;
    if (p->term_count < PRINTER_TERMLOG_LINES)
        p->term_count++;
}

json_t *printer_term_logs(const struct printer *p)
{
    json_t *a = json_array();
    int start = (p->term_next - p->term_count + PRINTER_TERMLOG_LINES) % PRINTER_TERMLOG_LINES;
    for (int i = 0; i < p->term_count; i++) {
        const char *l = p->termlog[(start + i) % PRINTER_TERMLOG_LINES];
        json_array_append_new(a, pyjson_string_lossy(l, strlen(l)));
    }
    return a;
}

/* Error texts may quote the printer, whose bytes need not be UTF-8: never json_pack them */
json_t *printer_error_payload(const char *text, const char *reason)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", pyjson_string_lossy(text, strlen(text)));
    json_object_set_new(o, "reason", json_string(reason));
    return o;
}

void printer_set_model_error(struct printer *p, const char *text)
{
    /* the model keeps a bounded copy; the full text went out with the Error event */
    snprintf(p->model.error, sizeof p->model.error, "%.*s", (int)sizeof p->model.error - 1, text);
}

void printer_fire_error(struct printer *p, const char *text, const char *reason)
{
    printer_set_model_error(p, text);
    events_fire(p->ev, EVENT_ERROR, printer_error_payload(text, reason));
}

static void fire_suppressed(struct printer *p, const char *cmd, const char *message, const char *severity)
{
    log_info("printer: %s", message);
    json_t *o = json_object();
    json_object_set_new(o, "command", pyjson_string_lossy(cmd, strlen(cmd)));
    json_object_set_new(o, "message", pyjson_string_lossy(message, strlen(message)));
    json_object_set_new(o, "severity", json_string(severity));
    events_fire(p->ev, EVENT_COMMAND_SUPPRESSED, o);
}

/* ---- the queuing phase ---------------------------------------------------------------- */

/* Tool numbers in T<n> and M104/M109 T<n> that the profile or firmware rules out */
bool printer_tool_invalid(const struct printer *p, long t)
{
    return t < 0 || t >= p->opt.extruders || t >= PRINTER_MAX_TOOLS || p->invalid_tool[t];
}

/* The reason a command must not be sent at all, or NULL (msg: room for the message). */
static const char *suppression(const struct printer *p, const char *gcode, const char *cmd, char *msg, size_t msgsz)
{
    long t;
    for (int i = 0; i < p->nblocked; i++) {
        if (strcmp(p->blocked[i], gcode) == 0) {
            snprintf(msg, msgsz, "Not sending %s to printer, it is configured as a blocked command", gcode);
            return "info";
        }
    }
    if ((printer_is_gcode(gcode, "M140") || printer_is_gcode(gcode, "M190")) && !p->opt.heated_bed) {
        snprintf(msg, msgsz, "Not sending %s to printer, the printer profile has no heated bed", gcode);
        return "warn";
    }
    if ((printer_is_gcode(gcode, "M141") || printer_is_gcode(gcode, "M191")) && !p->opt.heated_chamber) {
        snprintf(msg, msgsz, "Not sending %s to printer, the printer profile has no heated chamber", gcode);
        return "warn";
    }
    if ((printer_is_gcode(gcode, "T") || printer_is_gcode(gcode, "M104") || printer_is_gcode(gcode, "M109")) &&
        protocol_param_int(cmd, 'T', &t) && printer_tool_invalid(p, t)) {
        bool tool = printer_is_gcode(gcode, "T");
        snprintf(msg, msgsz, "Not sending %s%ld to printer, tool %ld is invalid for this printer",
                 tool ? "T" : gcode, tool ? t : 0, t);
        return "warn";
    }
    return NULL;
}

/* True (and CommandSuppressed fired) when the command must not be sent at all. */
static bool suppressed(struct printer *p, const char *gcode, const char *cmd)
{
    char msg[160];
    const char *severity = suppression(p, gcode, cmd, msg, sizeof msg);
    if (severity)
        fire_suppressed(p, cmd, msg, severity);
    return severity != NULL;
}

/* "@pause" and friends: host commands, never sent */
static void host_command(struct printer *p, const char *cmd)
{
    if (strcmp(cmd, "@pause") == 0)
        printer_request(p, PRINTER_REQUEST_PAUSE);
    else if (strcmp(cmd, "@resume") == 0)
        printer_request(p, PRINTER_REQUEST_RESUME);
    else if (strcmp(cmd, "@cancel") == 0 || strcmp(cmd, "@abort") == 0)
        printer_request(p, PRINTER_REQUEST_CANCEL);
    else
        log_debug("printer: host command %s ignored", cmd);
}

static void emergency_stop_and_close(struct printer *p)
{
    static const char text[] = "Closing serial port due to emergency stop M112.";
    sendq_emergency_stop(p);
    log_error("printer: %s", text);
    printer_set_model_error(p, text);
    printer_set_state(p, PRINTER_ERROR);
    link_close(p, PRINTER_CLOSED_WITH_ERROR);
    link_schedule_reconnect(p);
}

int printer_prepare(struct printer *p, const char *cmd, const char *gcode, bool from_source)
{
    if (cmd[0] == '@') {
        host_command(p, cmd);
        return 0;
    }
    if (printer_is_gcode(gcode, "M112")) {
        emergency_stop_and_close(p);
        return 0;
    }
    if (from_source && (printer_is_gcode(gcode, "M0") || printer_is_gcode(gcode, "M1") || printer_is_gcode(gcode, "M25"))) {
        /* pausing commands: the print pauses here (and M0/M1 are also blocked by default) */
        printer_request(p, PRINTER_REQUEST_PAUSE);
        if (!printer_is_gcode(gcode, "M25") && !suppressed(p, gcode, cmd))
            return 1;
        return 0;
    }
    if (suppressed(p, gcode, cmd))
        return -EPERM;
    const char *name = gcodeevents_for(gcode);
    if (name)
        events_fire(p->ev, name, NULL);
    return 1;
}

static int send_with(struct printer *p, const char *cmd, size_t len, const struct printer_waiter *w)
{
    char line[FRAMING_MAX_LINE + 1], gcode[16];
    if (!p->port || !printer_state_is_operational(p->state))
        return -ENOTCONN;
    if (len > FRAMING_MAX_LINE)
        return -E2BIG;
    if (memchr(cmd, '\n', len) || memchr(cmd, '\r', len) || memchr(cmd, '\0', len))
        return -EINVAL;
    memcpy(line, cmd, len);
    line[len] = '\0';
    if (framing_strip_comment(line) == 0) {
        if (w->done)
            w->done(w->ctx, NULL);
        return 0;
    }
    protocol_gcode_of(line, gcode, sizeof gcode);
    if (w->poll && sendq_poll_outstanding(p, gcode))
        return -EALREADY;
    int rc = printer_prepare(p, line, gcode, false);
    if (rc == 0 && w->done)
        w->done(w->ctx, NULL);      /* consumed here: a host command, M112 */
    if (rc <= 0)
        return rc;
    if (p->cap_emergency && (printer_is_gcode(gcode, "M108") || printer_is_gcode(gcode, "M410"))) {
        /* the firmware's emergency parser reads these even with a full buffer: skip the
         * queue and the window, but count the ok they will get */
        sendq_send_then(p, line, w);
        return 0;
    }
    if (sendq_enqueue_then(p, line, w) < 0)
        return -ENOMEM;
    sendq_pump(p);
    return 0;
}

int printer_send_buf(struct printer *p, const char *cmd, size_t len)
{
    static const struct printer_waiter none = { 0 };
    return send_with(p, cmd, len, &none);
}

int printer_tool_change(const struct printer *p, const char *cmd)
{
    char gcode[16];
    long t;
    protocol_gcode_of(cmd, gcode, sizeof gcode);
    if (!printer_is_gcode(gcode, "T") || !protocol_param_int(cmd, 'T', &t) || printer_tool_invalid(p, t))
        return -1;
    return (int)t;
}

int printer_send(struct printer *p, const char *cmd)
{
    return printer_send_buf(p, cmd, strlen(cmd));
}

int printer_send_then(struct printer *p, const char *cmd, size_t len, printer_done_fn done, void *ctx)
{
    struct printer_waiter w = { .done = done, .ctx = ctx };
    return send_with(p, cmd, len, &w);
}

int printer_poll(struct printer *p, const char *cmd)
{
    static const struct printer_waiter poll = { .poll = true };
    return send_with(p, cmd, strlen(cmd), &poll);
}

/* ---- the line source ------------------------------------------------------------------- */

int printer_source_attach(struct printer *p, const struct printer_source *src, void *ctx)
{
    if (!p->port || !printer_state_is_operational(p->state))
        return -ENOTCONN;
    if (p->has_src)
        return -EBUSY;
    p->src = *src;
    p->src_ctx = ctx;
    p->has_src = true;
    p->src_held = p->src_dry = p->src_dry_told = false;
    /* the source numbers its lines from 1 */
    sendq_enqueue(p, "M110 N0");
    sendq_pump(p);
    return 0;
}

void printer_resync_next(struct printer *p)
{
    p->resync_wanted = true;
    memset(&p->resync, 0, sizeof p->resync);
}

const struct printer_resync *printer_get_resync(const struct printer *p)
{
    return &p->resync;
}

bool printer_source_hold(struct printer *p, bool hold)
{
    bool was = p->has_src && p->src_held;
    if (!p->has_src || p->src_held == hold)
        return was;
    p->src_held = hold;
    if (!hold)
        sendq_pump(p);
    return was;
}

void printer_source_detach(struct printer *p)
{
    if (!p->has_src)
        return;
    p->has_src = false;
    gcodeevents_z_forget(&p->z);
}

void printer_request(struct printer *p, enum printer_request r)
{
    if (!p->has_src) {
        log_debug("printer: pause/resume/cancel request ignored: nothing is printing from a source");
        return;
    }
    if (p->src.request)
        p->src.request(p->src_ctx, r);
}

void printer_source_check_end(struct printer *p)
{
    if (!p->has_src || !p->src_dry)
        return;
    if (!p->src_dry_told) {
        p->src_dry_told = true;
        p->src.ended(p->src_ctx, false);
        if (!p->has_src)
            return;     /* the owner let go of it meanwhile */
    }
    if (p->inflight > 0 || p->q_head || resend_pending(&p->rs))
        return;
    struct printer_source src = p->src;
    void *ctx = p->src_ctx;
    printer_source_detach(p);
    src.ended(ctx, true);
}

/* ---- options ---------------------------------------------------------------------------- */

static void free_options(struct printer_options *o)
{
    free((char *)o->port);
    free((char *)o->usb_id);
    free((char *)o->blocked_commands);
    if (o->after_connected) {
        for (char *const *l = o->after_connected; *l; l++)
            free(*l);
        free((char **)o->after_connected);
    }
    memset(o, 0, sizeof *o);
}

static bool dup_opt(const char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static char **dup_lines(char *const *src)
{
    size_t n = 0;
    while (src && src[n])
        n++;
    char **lines = calloc(n + 1, sizeof *lines);
    for (size_t i = 0; lines && i < n; i++) {
        if (!(lines[i] = strdup(src[i]))) {
            while (i-- > 0)
                free(lines[i]);
            free(lines);
            return NULL;
        }
    }
    return lines;
}

/* Deep copy: the printer outlives configuration reloads. */
static int copy_options(struct printer_options *dst, const struct printer_options *src)
{
    *dst = *src;
    dst->port = strdup(src->port ? src->port : "auto");
    bool ok = dst->port != NULL;
    ok = dup_opt(&dst->usb_id, src->usb_id) && ok;
    ok = dup_opt(&dst->blocked_commands, src->blocked_commands) && ok;
    dst->after_connected = dup_lines(src->after_connected);
    ok = ok && dst->after_connected;
    if (dst->extruders < 1)
        dst->extruders = 1;
    if (dst->history_size < HISTORY_MIN)
        dst->history_size = HISTORY_MIN;
    if (!ok) {
        free_options(dst);
        return -ENOMEM;
    }
    return 0;
}

/* "M0 M1" / "M0, M1" -> the blocked table */
static void parse_blocked(struct printer *p)
{
    p->nblocked = 0;
    const char *s = p->opt.blocked_commands;
    while (s && *s) {
        s += strspn(s, " ,\t");
        size_t len = strcspn(s, " ,\t");
        if (len > 0 && len < sizeof p->blocked[0] && p->nblocked < PRINTER_MAX_BLOCKED) {
            memcpy(p->blocked[p->nblocked], s, len);
            p->blocked[p->nblocked][len] = '\0';
            for (char *c = p->blocked[p->nblocked]; *c; c++)
                *c = (char)toupper((unsigned char)*c);
            p->nblocked++;
        }
        s += len;
    }
}

int printer_set_options(struct printer *p, const struct printer_options *opt)
{
    struct printer_options fresh;
    if (copy_options(&fresh, opt) < 0)
        return -ENOMEM;
    /* a different history size takes effect at the next connection */
    fresh.history_size = p->opt.history_size;
    free_options(&p->opt);
    p->opt = fresh;
    p->z.mode = p->opt.zchange_mode;
    parse_blocked(p);
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------- */

#define PRINTER_TIMERS(p) { &(p)->reconnect_timer, &(p)->comm_timer, &(p)->watch_timer, &(p)->poll_timer, \
                            &(p)->lost_timer, &(p)->error_timer, &(p)->resend_ok_timer, &(p)->healthy_timer, \
                            &(p)->restart_timer }

int printer_create(struct printer **out, uv_loop_t *loop, struct events *ev,
                   const struct printer_options *opt, const struct printer_callbacks *cb, void *ctx)
{
    struct printer *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->ev = ev;
    if (copy_options(&p->opt, opt) < 0) {
        free(p);
        return -ENOMEM;
    }
    if (history_init(&p->hist, (size_t)p->opt.history_size) < 0) {
        free_options(&p->opt);
        free(p);
        return -ENOMEM;
    }
    parse_blocked(p);
    gcodeevents_z_init(&p->z, p->opt.zchange_mode);
    if (cb)
        p->cb = *cb;
    p->cb_ctx = ctx;
    p->state = PRINTER_OFFLINE;
    p->model.state = PRINTER_OFFLINE;
    uv_timer_t *timers[] = PRINTER_TIMERS(p);
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = p;
        p->handles_open++;
    }
    *out = p;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct printer *p = h->data;
    if (--p->handles_open > 0)
        return;
    void (*done)(void *) = p->destroy_done;
    void *ctx = p->destroy_ctx;
    history_free(&p->hist);
    free_options(&p->opt);
    free(p);
    if (done)
        done(ctx);
}

void printer_destroy(struct printer *p, void (*done)(void *ctx), void *ctx)
{
    p->destroying = true;
    p->want_connected = false;
    sendq_clear_why(p, "not sent: printbridge is shutting down");
    sendq_fail_inflight(p, "printbridge is shutting down");
    printer_source_detach(p);
    if (p->port) {
        port_close(p->port);
        p->port = NULL;
    }
    p->destroy_done = done;
    p->destroy_ctx = ctx;
    uv_timer_t *timers[] = PRINTER_TIMERS(p);
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
}
