/* printer.c: the host side of the serial protocol and OctoPrint's state machine.
 *
 * One struct printer owns the port, the send queue, the resend history and every timer of
 * the link. Lines come in through port.c, are classified by protocol.c and change state here;
 * every state change and notable line becomes an event.
 *
 * Sending: user, script and hook commands wait in one FIFO queue which always goes before the
 * next line of a streamed file; M112 (and M108/M410 with an emergency parser) skip the queue.
 * A command may go when fewer commands are in flight than allowed: one (OctoPrint's ackMax),
 * or, once oks carry ADVANCED_OK's free-buffer count B, min(window, B) so the firmware's
 * command buffer stays full but is never overrun. Lines are numbered per checksum policy and
 * kept in the history ring; resend requests replay from it (resend.c decides).
 *
 * Receiving follows serial-protocol.md 18.2: busy, actions, errors (with the two-line joins),
 * ok/wait, resend, end of the capability report, position, temperatures, capabilities,
 * firmware name, invalid tools, and state-specific lines (handshake, external reset).
 *
 * Timeouts: a 100 ms watchdog compares two deadlines (any line; an ok while one is owed) and
 * recovers as in serial-protocol.md 11.3, counting consecutive timeouts. Deviation from
 * upstream: the ok deadline applies whenever a command awaits its ok, not only while
 * printing, so a lost ok can never stall an idle printer that keeps autoreporting.
 *
 * The link heals itself: a port that cannot be opened, vanishes or stops answering is closed
 * and reopened on a doubling backoff (printer.reconnect). Repeated identical failures are
 * logged but not re-announced as events, so an unplugged printer does not flood subscribers. */
#include "printbridge/printer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "printbridge/serial.h"
#include "history.h"
#include "printbridge/base.h"
#include "gcodeevents.h"
#include "protocol.h"
#include "resend.h"

#define HISTORY_MIN 1000
#define HELLO_LIMIT 3
#define PATH_SIZE 512
/* serial-protocol.md 11.1 */
#define MAX_TIMEOUTS_IDLE 2
#define MAX_TIMEOUTS_PRINTING 5
#define MAX_TIMEOUTS_LONG 5
#define COMMUNICATION_BUSY 3.0
#define RESEND_OK_TIMEOUT_MS 500
#define KILL_JOIN_TIMEOUT_MS 1000
#define WATCH_MS 100
#define WATCH_MAX_MS 1000
#define SD_AUTOREPORT_INTERVAL 1
#define POS_AUTOREPORT_INTERVAL 5
/* the last terminal lines quoted in a firmware Error's "logs" */
#define TERMLOG_LINES 20
#define TERMLOG_WIDTH 200
#define MAX_BLOCKED 16
#define MAX_TOOLS 16
/* Tried in this order for baudrate "auto" (serial-protocol.md 2.4), 2 s each */
static const int baud_candidates[] = { 115200, 250000, 230400, 57600, 38400, 19200, 9600 };
#define BAUD_CANDIDATES (int)(sizeof baud_candidates / sizeof baud_candidates[0])
#define DETECTION_TIMEOUT 2.0

/* serial.longRunningCommands */
static const char *const long_running_commands[] = { "G4", "G28", "G29", "G30", "G32", "M400", "M226", "M600" };

struct queued_cmd {
    struct queued_cmd *next;
    char text[];
};

struct printer {
    uv_loop_t *loop;
    struct events *ev;
    struct printer_options opt;
    char blocked[MAX_BLOCKED][16];
    int nblocked;
    struct printer_callbacks cb;
    void *cb_ctx;

    enum printer_state state;
    struct printer_model model;
    struct port *port;
    char path[PATH_SIZE];           /* the port actually opened */
    int baud;
    bool want_connected;            /* false after printer_disconnect */
    bool destroying;
    bool print_started;             /* opt.print_file was handed to the stream once */

    uv_timer_t reconnect_timer;
    uv_timer_t comm_timer;          /* handshake deadline */
    uv_timer_t watch_timer;         /* communication timeouts once operational */
    uv_timer_t poll_timer;          /* M105 polling when the firmware does not autoreport */
    uv_timer_t lost_timer;          /* handles a lost port outside port.c's callback */
    uv_timer_t error_timer;         /* waits for the second half of a kill message */
    uv_timer_t resend_ok_timer;     /* a resend request without its ok (7.3) */
    uv_process_t *shutdown_proc;
    char pending_error[FRAMING_MAX_LINE + 1];
    bool error_pending;
    char split_error[FRAMING_MAX_LINE + 1];  /* "Error:0": the text follows on the next line */
    bool split_pending;
    int handles_open;
    void (*destroy_done)(void *);
    void *destroy_ctx;
    int lost_err;

    double backoff;                 /* next reconnect delay, s */
    int reported_err;               /* last open error announced as an event (0: none) */

    /* handshake */
    int hellos;
    bool start_seen;
    int baud_index;                 /* into baud_candidates while detecting */

    /* send path */
    struct queued_cmd *q_head, *q_tail;
    size_t q_len;
    int inflight;                   /* commands written and not yet acknowledged */
    int fw_free;                    /* B of the last ADVANCED_OK ok */
    unsigned long line;             /* last line number used */
    struct history hist;
    struct resend rs;
    bool poll_queued;               /* an M105 poll waits in the queue */
    bool resend_warned;

    /* timeouts (uv_now milliseconds) */
    uint64_t line_deadline, ok_deadline, dwell_until;
    int timeouts;
    bool long_running;
    bool heating;

    /* firmware */
    bool firmware_known;
    bool always_checksum;           /* firmware tweak (Repetier, Malyan) */
    bool unknown_need_ack;          /* firmware tweak (Klipper, Prusa) */
    bool manual_streaming;          /* M28 typed by a user */
    bool cap_seen, cap_done, m115_sent;
    bool cap_autoreport_temp, cap_autoreport_sd, cap_autoreport_pos, cap_emergency;
    bool autoreport_temp, autoreport_sd, autoreport_pos;
    bool busy_seen;
    bool target_set;                /* any target above 25 C: poll faster */
    int current_tool;
    bool invalid_tool[MAX_TOOLS];
    struct gcodeevents_z z;

    /* streamed file */
    FILE *job;
    bool job_eof;
    uint64_t job_started;
    int job_percent;

    /* terminal log for Error "logs" */
    char termlog[TERMLOG_LINES][TERMLOG_WIDTH];
    int term_next, term_count;
};

/* ---- option parsing helpers --------------------------------------------------------- */

int printer_checksum_parse(const char *name)
{
    if (!name || strcmp(name, "auto") == 0)
        return PRINTER_CHECKSUM_AUTO;
    if (strcmp(name, "always") == 0)
        return PRINTER_CHECKSUM_ALWAYS;
    if (strcmp(name, "never") == 0)
        return PRINTER_CHECKSUM_NEVER;
    return -1;
}

int printer_zchange_mode_parse(const char *name)
{
    if (!name || strcmp(name, "octoprint") == 0)
        return GCODEEVENTS_Z_OCTOPRINT;
    if (strcmp(name, "layer") == 0)
        return GCODEEVENTS_Z_LAYER;
    return -1;
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

static void model_changed(struct printer *p)
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

static void set_state(struct printer *p, enum printer_state s)
{
    if (p->state == s)
        return;
    log_info("printer: state %s -> %s", printer_state_id(p->state), printer_state_id(s));
    p->state = s;
    /* OctoPrint drops its comm object before announcing a close, so subscribers see OFFLINE,
     * never CLOSED or CLOSED_WITH_ERROR (serial-protocol.md 13.2) */
    enum printer_state shown = (s == PRINTER_CLOSED || s == PRINTER_CLOSED_WITH_ERROR) ? PRINTER_OFFLINE : s;
    events_fire(p->ev, EVENT_PRINTER_STATE_CHANGED,
                json_pack("{s:s, s:s}", "state_id", printer_state_id(shown),
                          "state_string", printer_state_string(shown)));
    if (s == PRINTER_OPERATIONAL)
        p->model.error[0] = '\0';
    model_changed(p);
}

/* ---- terminal log -------------------------------------------------------------------- */

static void term_add(struct printer *p, const char *prefix, const char *text, size_t len)
{
    char *slot = p->termlog[p->term_next];
    int room = TERMLOG_WIDTH - 1 - (int)strlen(prefix);
    if ((int)len > room)
        snprintf(slot, TERMLOG_WIDTH, "%s%.*s...", prefix, room - 3, text);
    else
        snprintf(slot, TERMLOG_WIDTH, "%s%.*s", prefix, (int)len, text);
    p->term_next = (p->term_next + 1) % TERMLOG_LINES;
    if (p->term_count < TERMLOG_LINES)
        p->term_count++;
}

static json_t *term_logs(const struct printer *p)
{
    json_t *a = json_array();
    int start = (p->term_next - p->term_count + TERMLOG_LINES) % TERMLOG_LINES;
    for (int i = 0; i < p->term_count; i++) {
        const char *l = p->termlog[(start + i) % TERMLOG_LINES];
        json_array_append_new(a, pyjson_string_lossy(l, strlen(l)));
    }
    return a;
}

/* ---- errors ------------------------------------------------------------------------- */

/* Error texts may quote the printer, whose bytes need not be UTF-8: never json_pack them */
static json_t *error_payload(const char *text, const char *reason)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", pyjson_string_lossy(text, strlen(text)));
    json_object_set_new(o, "reason", json_string(reason));
    return o;
}

static void set_model_error(struct printer *p, const char *text)
{
    /* the model keeps a bounded copy; the full text went out with the Error event */
    snprintf(p->model.error, sizeof p->model.error, "%.*s", (int)sizeof p->model.error - 1, text);
}

static void fire_error(struct printer *p, const char *text, const char *reason)
{
    set_model_error(p, text);
    events_fire(p->ev, EVENT_ERROR, error_payload(text, reason));
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

/* ---- send path ---------------------------------------------------------------------- */

static void close_link(struct printer *p, enum printer_state final_state);
static void schedule_reconnect(struct printer *p);
static void fatal_error(struct printer *p, const char *text, const char *reason);
static void job_close(struct printer *p);
static void job_pause(struct printer *p, bool paused);
static double comm_interval(const struct printer *p);

static uint64_t ms(double seconds)
{
    return seconds <= 0 ? 0 : (uint64_t)llround(seconds * 1000.0);
}

static bool is_gcode(const char *gcode, const char *name)
{
    return strcmp(gcode, name) == 0;
}

static void clear_queue(struct printer *p)
{
    while (p->q_head) {
        struct queued_cmd *c = p->q_head;
        p->q_head = c->next;
        free(c);
    }
    p->q_tail = NULL;
    p->q_len = 0;
    p->poll_queued = false;
}

static int write_raw(struct printer *p, const char *data, size_t n)
{
    if (!p->port)
        return -ENOTCONN;
    int rc = port_write(p->port, data, n);
    if (rc < 0 && rc != -EPIPE)
        log_warn("printer: write to %s failed: %s", p->path, strerror(-rc));
    return rc;
}

static void write_numbered(struct printer *p, unsigned long n, const char *cmd)
{
    char buf[FRAMING_MAX_LINE + 32];
    int len = framing_frame(buf, sizeof buf, n, cmd);
    if (len < 0) {
        log_warn("printer: command too long, not sent: %.40s...", cmd);
        return;
    }
    log_debug("send: %.*s", len - 1, buf);
    term_add(p, "Send: ", buf, (size_t)len - 1);
    p->model.lines_sent++;
    write_raw(p, buf, (size_t)len);
}

static void write_plain(struct printer *p, const char *cmd)
{
    char buf[FRAMING_MAX_LINE + 2];
    int len = snprintf(buf, sizeof buf, "%s\n", cmd);
    if (len < 0 || (size_t)len >= sizeof buf)
        return;
    log_debug("send: %s", cmd);
    term_add(p, "Send: ", cmd, (size_t)len - 1);
    p->model.lines_sent++;
    write_raw(p, buf, (size_t)len);
}

/* serial-protocol.md 5.3: M110 always; otherwise G/M/T commands while checksums are on */
static bool needs_checksum(const struct printer *p, const char *gcode)
{
    if (is_gcode(gcode, "M110"))
        return true;
    if (p->opt.checksum == PRINTER_CHECKSUM_NEVER || gcode[0] == '\0')
        return false;
    if (p->opt.checksum == PRINTER_CHECKSUM_ALWAYS)
        return true;
    return p->job || p->manual_streaming || p->always_checksum || !p->firmware_known;
}

static void numbered_send(struct printer *p, const char *cmd)
{
    p->line++;
    if (history_add(&p->hist, p->line, cmd) < 0)
        log_warn("printer: out of memory keeping line %lu for resends", p->line);
    write_numbered(p, p->line, cmd);
}

static void fire_tool_change(struct printer *p, int tool)
{
    int old = p->current_tool;
    p->current_tool = tool;
    events_fire(p->ev, EVENT_TOOL_CHANGE, json_pack("{s:i, s:i}", "old", old, "new", tool));
    model_changed(p);
}

/* Bookkeeping once a command went out (OctoPrint's "sent" phase, serial-protocol.md 14). */
static void on_command_sent(struct printer *p, const char *gcode, const char *cmd)
{
    long s;
    double d, nz, oz;
    bool has_old;

    if (gcode[0] == '\0')
        return;
    if (gcode[0] == 'G' && gcodeevents_z_sent(&p->z, gcode, cmd, &nz, &oz, &has_old)) {
        json_t *o = json_object();
        json_object_set_new(o, "new", pyjson_real_or_null(nz));
        json_object_set_new(o, "old", has_old ? pyjson_real_or_null(oz) : json_null());
        events_fire(p->ev, EVENT_Z_CHANGE, o);
        model_changed(p);
    } else if (gcode[0] == 'M' && !is_gcode(gcode, "M110")) {
        gcodeevents_z_sent(&p->z, gcode, cmd, &nz, &oz, &has_old);     /* M82/M83 in layer mode */
    }
    if (is_gcode(gcode, "T") && protocol_param_int(cmd, 'T', &s) && s >= 0 && s < MAX_TOOLS) {
        fire_tool_change(p, (int)s);
    } else if (is_gcode(gcode, "M155") && protocol_param_int(cmd, 'S', &s)) {
        p->autoreport_temp = p->cap_autoreport_temp && s > 0;
    } else if (is_gcode(gcode, "M27") && protocol_param_int(cmd, 'S', &s)) {
        p->autoreport_sd = p->cap_autoreport_sd && s > 0;
    } else if (is_gcode(gcode, "M154") && protocol_param_int(cmd, 'S', &s)) {
        p->autoreport_pos = p->cap_autoreport_pos && s > 0;
    } else if (is_gcode(gcode, "M113") && protocol_param_int(cmd, 'S', &s)) {
        p->model.busy_protocol = s > 0;
    } else if (is_gcode(gcode, "M115")) {
        p->m115_sent = true;
    } else if (is_gcode(gcode, "M28")) {
        if (!p->job)
            p->manual_streaming = true;
    } else if (is_gcode(gcode, "M29")) {
        p->manual_streaming = false;
    } else if (is_gcode(gcode, "G4")) {
        double dwell = 0;
        if (protocol_param_float(cmd, 'P', &d))
            dwell = d / 1000.0;
        else if (protocol_param_float(cmd, 'S', &d))
            dwell = d;
        if (dwell > 0) {
            uint64_t now = uv_now(p->loop);
            p->dwell_until = now + ms(dwell);
            p->line_deadline = p->dwell_until + ms(comm_interval(p));
        }
    }
    if ((is_gcode(gcode, "M104") || is_gcode(gcode, "M109") || is_gcode(gcode, "M140") ||
         is_gcode(gcode, "M190") || is_gcode(gcode, "M141") || is_gcode(gcode, "M191")) &&
        protocol_param_float(cmd, 'S', &d))
        p->target_set = d > 25.0 || (d > 0 && p->target_set);
    if (is_gcode(gcode, "M109") || is_gcode(gcode, "M190") || is_gcode(gcode, "M191") || is_gcode(gcode, "M116"))
        p->heating = true;
    for (size_t i = 0; i < sizeof long_running_commands / sizeof long_running_commands[0]; i++)
        if (is_gcode(gcode, long_running_commands[i]))
            p->long_running = true;
}

/* Writes one command (numbered or not) and counts it in flight if it will be acked. */
static void send_command(struct printer *p, const char *cmd)
{
    char gcode[16];
    protocol_gcode_of(cmd, gcode, sizeof gcode);
    if (needs_checksum(p, gcode)) {
        long n;
        if (is_gcode(gcode, "M110") && protocol_param_int(cmd, 'N', &n) && n >= 0) {
            /* M110 N<n> goes out as line n and restarts the count there */
            history_clear(&p->hist);
            resend_reset(&p->rs);
            p->line = (unsigned long)n - 1;   /* wraps for n = 0; numbered_send adds 1 */
        }
        numbered_send(p, cmd);
    } else {
        write_plain(p, cmd);
    }
    /* unknown commands (no G/M/T) get no ok unless the firmware acks them (4) */
    if (gcode[0] != '\0' || p->unknown_need_ack) {
        if (p->inflight == 0)
            p->ok_deadline = uv_now(p->loop) + ms(comm_interval(p));
        p->inflight++;
    }
    if (is_gcode(gcode, "M105"))
        p->poll_queued = false;
    on_command_sent(p, gcode, cmd);
}

static int max_inflight(const struct printer *p)
{
    if (!p->model.advanced_ok || p->opt.advanced_ok_window <= 1)
        return 1;
    int lim = p->fw_free < p->opt.advanced_ok_window ? p->fw_free : p->opt.advanced_ok_window;
    return lim < 1 ? 1 : lim;
}

static int job_next(struct printer *p, char *out, size_t outsz);
static void job_maybe_finish(struct printer *p);

/* Sends whatever may go now: resend replays first, then queued commands, then the file. */
static void pump(struct printer *p)
{
    char line[FRAMING_MAX_LINE + 2];
    while (p->port && printer_state_is_operational(p->state) && p->inflight < max_inflight(p)) {
        if (resend_pending(&p->rs)) {
            unsigned long n = resend_take(&p->rs);
            const char *cmd = history_get(&p->hist, n);
            if (!cmd) {
                /* cannot happen: the history was checked when the resend started */
                resend_reset(&p->rs);
                continue;
            }
            write_numbered(p, n, cmd);
            p->inflight++;
            continue;
        }
        struct queued_cmd *c = p->q_head;
        if (c) {
            p->q_head = c->next;
            if (!p->q_head)
                p->q_tail = NULL;
            p->q_len--;
            send_command(p, c->text);
            free(c);
            continue;
        }
        if (!p->job || p->model.job_paused || p->job_eof)
            break;
        int rc = job_next(p, line, sizeof line);
        if (rc > 0)
            send_command(p, line);
        else if (rc < 0)
            break;
    }
    job_maybe_finish(p);
}

static int enqueue_front(struct printer *p, const char *cmd, bool front)
{
    size_t n = strlen(cmd) + 1;
    struct queued_cmd *c = malloc(sizeof *c + n);
    if (!c)
        return -ENOMEM;
    memcpy(c->text, cmd, n);
    if (front) {
        c->next = p->q_head;
        p->q_head = c;
        if (!p->q_tail)
            p->q_tail = c;
    } else {
        c->next = NULL;
        if (p->q_tail)
            p->q_tail->next = c;
        else
            p->q_head = c;
        p->q_tail = c;
    }
    p->q_len++;
    return 0;
}

static int enqueue(struct printer *p, const char *cmd)
{
    return enqueue_front(p, cmd, false);
}

/* Tool numbers in T<n> and M104/M109 T<n> that the profile or firmware rules out */
static bool tool_invalid(const struct printer *p, long t)
{
    return t < 0 || t >= p->opt.extruders || t >= MAX_TOOLS || p->invalid_tool[t];
}

/* OctoPrint's queuing phase: returns true (and fires CommandSuppressed) when the command must
 * not be sent at all. */
static bool suppressed(struct printer *p, const char *gcode, const char *cmd)
{
    char msg[160];
    long t;
    for (int i = 0; i < p->nblocked; i++) {
        if (strcmp(p->blocked[i], gcode) == 0) {
            snprintf(msg, sizeof msg, "Not sending %s to printer, it is configured as a blocked command", gcode);
            fire_suppressed(p, cmd, msg, "info");
            return true;
        }
    }
    if ((is_gcode(gcode, "M140") || is_gcode(gcode, "M190")) && !p->opt.heated_bed) {
        snprintf(msg, sizeof msg, "Not sending %s to printer, the printer profile has no heated bed", gcode);
        fire_suppressed(p, cmd, msg, "warn");
        return true;
    }
    if ((is_gcode(gcode, "M141") || is_gcode(gcode, "M191")) && !p->opt.heated_chamber) {
        snprintf(msg, sizeof msg, "Not sending %s to printer, the printer profile has no heated chamber", gcode);
        fire_suppressed(p, cmd, msg, "warn");
        return true;
    }
    if ((is_gcode(gcode, "T") || is_gcode(gcode, "M104") || is_gcode(gcode, "M109")) &&
        protocol_param_int(cmd, 'T', &t) && tool_invalid(p, t)) {
        snprintf(msg, sizeof msg, "Not sending %s%ld to printer, tool %ld is invalid for this printer",
                 is_gcode(gcode, "T") ? "T" : gcode, is_gcode(gcode, "T") ? t : 0, t);
        fire_suppressed(p, cmd, msg, "warn");
        return true;
    }
    return false;
}

static void emergency_stop(struct printer *p);

/* "@pause" and friends: host commands, never sent (serial-protocol.md 4) */
static void host_command(struct printer *p, const char *cmd)
{
    if (strcmp(cmd, "@pause") == 0)
        job_pause(p, true);
    else if (strcmp(cmd, "@resume") == 0)
        job_pause(p, false);
    else if (strcmp(cmd, "@cancel") == 0 || strcmp(cmd, "@abort") == 0)
        printer_stream_cancel(p);
    else
        log_debug("printer: host command %s ignored", cmd);
}

/* The queuing phase shared by user commands and file lines. Returns 1 when cmd should be
 * sent, 0 when it was consumed here (host command, emergency, suppressed). */
static int prepare(struct printer *p, const char *cmd, const char *gcode, bool from_job)
{
    if (cmd[0] == '@') {
        host_command(p, cmd);
        return 0;
    }
    if (is_gcode(gcode, "M112")) {
        emergency_stop(p);
        const char *text = "Closing serial port due to emergency stop M112.";
        log_error("printer: %s", text);
        set_model_error(p, text);
        set_state(p, PRINTER_ERROR);
        close_link(p, PRINTER_CLOSED_WITH_ERROR);
        schedule_reconnect(p);
        return 0;
    }
    if (from_job && (is_gcode(gcode, "M0") || is_gcode(gcode, "M1") || is_gcode(gcode, "M25"))) {
        /* serial.pausingCommands: the print pauses here (and M0/M1 are also blocked) */
        job_pause(p, true);
        if (!is_gcode(gcode, "M25") && !suppressed(p, gcode, cmd))
            return 1;
        return 0;
    }
    if (suppressed(p, gcode, cmd))
        return -1;
    const char *name = gcodeevents_for(gcode);
    if (name)
        events_fire(p->ev, name, NULL);
    return 1;
}

int printer_send_buf(struct printer *p, const char *cmd, size_t len)
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
    if (framing_strip_comment(line) == 0)
        return 0;
    protocol_gcode_of(line, gcode, sizeof gcode);
    int rc = prepare(p, line, gcode, false);
    if (rc <= 0)
        return rc < 0 ? -EPERM : 0;
    if (p->cap_emergency && (is_gcode(gcode, "M108") || is_gcode(gcode, "M410"))) {
        /* the firmware's emergency parser reads these even with a full buffer: skip the
         * queue and the window, but count the ok they will get (10.2) */
        send_command(p, line);
        return 0;
    }
    if (enqueue(p, line) < 0)
        return -ENOMEM;
    pump(p);
    return 0;
}

int printer_send(struct printer *p, const char *cmd)
{
    return printer_send_buf(p, cmd, strlen(cmd));
}

/* serial-protocol.md 10.2: raw M112, numbered M112, every heater off, EStop. */
static void emergency_stop(struct printer *p)
{
    char cmd[32];
    if (!p->port)
        return;
    log_warn("printer: emergency stop (M112), heaters off");
    write_raw(p, "M112\n", 5);
    term_add(p, "Send: ", "M112", 4);
    numbered_send(p, "M112");
    for (int i = 0; i < p->opt.extruders; i++) {
        snprintf(cmd, sizeof cmd, "M104 T%d S0", i);
        numbered_send(p, cmd);
    }
    if (p->opt.heated_bed)
        numbered_send(p, "M140 S0");
    events_fire(p->ev, EVENT_ESTOP, NULL);
}

/* ---- streamed file -------------------------------------------------------------------- */

static void job_close(struct printer *p)
{
    if (p->job)
        fclose(p->job);
    p->job = NULL;
    p->job_eof = false;
    p->model.job_active = false;
    p->model.job_paused = false;
}

/* Reads the next command of the file into out: 1 (a command), 0 (skipped: comment, empty,
 * suppressed), -1 (nothing now: end of file or the stream stopped). Lines longer than a
 * printer accepts stop the stream rather than being cut. */
static int job_next(struct printer *p, char *out, size_t outsz)
{
    char gcode[16];
    if (!fgets(out, (int)outsz, p->job)) {
        if (ferror(p->job))
            log_error("printer: reading %s failed: %s", p->model.job_file, strerror(errno));
        p->job_eof = true;
        return -1;
    }
    size_t len = strlen(out);
    p->model.job_pos += (long long)len;
    if (len == outsz - 1 && out[len - 1] != '\n' && !feof(p->job)) {
        log_error("printer: %s: line %lu is longer than %d bytes; stopping the stream",
                  p->model.job_file, p->model.job_lines + 1, FRAMING_MAX_LINE);
        p->job_eof = true;
        return -1;
    }
    if (memchr(out, '\0', len) != NULL || len < strlen(out))
        return 0;
    if (framing_strip_comment(out) == 0)
        return 0;
    p->model.job_lines++;
    if (p->model.job_size > 0) {
        int pct = (int)(p->model.job_pos * 100 / p->model.job_size);
        if (pct != p->job_percent) {
            p->job_percent = pct;
            model_changed(p);
        }
    }
    protocol_gcode_of(out, gcode, sizeof gcode);
    return prepare(p, out, gcode, true) > 0 ? 1 : 0;
}

static void job_maybe_finish(struct printer *p)
{
    if (!p->job || !p->job_eof)
        return;
    if (p->state == PRINTER_PRINTING)
        set_state(p, PRINTER_FINISHING);
    if (p->inflight > 0 || p->q_head || resend_pending(&p->rs))
        return;
    double secs = (double)(uv_now(p->loop) - p->job_started) / 1000.0;
    log_info("printer: streamed %s: %lu lines in %.1f s (%.0f lines/s)", p->model.job_file,
             p->model.job_lines, secs, secs > 0 ? (double)p->model.job_lines / secs : 0.0);
    job_close(p);
    set_state(p, PRINTER_OPERATIONAL);
}

int printer_stream_file(struct printer *p, const char *path)
{
    struct stat st;
    if (!p->port || !printer_state_is_operational(p->state))
        return -ENOTCONN;
    if (p->job)
        return -EBUSY;
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    /* big reads: the loop should not take a syscall per line */
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    p->job = f;
    p->job_eof = false;
    p->job_percent = -1;
    p->job_started = uv_now(p->loop);
    p->model.job_active = true;
    p->model.job_paused = false;
    snprintf(p->model.job_file, sizeof p->model.job_file, "%s", path);
    p->model.job_size = fstat(fileno(f), &st) == 0 ? (long long)st.st_size : -1;
    p->model.job_pos = 0;
    p->model.job_lines = 0;
    log_info("printer: streaming %s (%lld bytes)", path, p->model.job_size);
    set_state(p, PRINTER_STARTING);
    /* the job numbers its lines from 1 (15.1) */
    enqueue(p, "M110 N0");
    set_state(p, PRINTER_PRINTING);
    pump(p);
    return 0;
}

static void job_pause(struct printer *p, bool paused)
{
    if (!p->job || p->model.job_paused == paused)
        return;
    p->model.job_paused = paused;
    log_info("printer: stream %s", paused ? "paused" : "resumed");
    set_state(p, paused ? PRINTER_PAUSED : PRINTER_PRINTING);
    if (!paused)
        pump(p);
}

void printer_stream_cancel(struct printer *p)
{
    if (!p->job)
        return;
    log_info("printer: stream of %s cancelled after %lu lines", p->model.job_file, p->model.job_lines);
    job_close(p);
    gcodeevents_z_forget(&p->z);
    if (printer_state_is_operational(p->state))
        set_state(p, PRINTER_OPERATIONAL);
}

/* ---- job control (issue 5) ------------------------------------------------------------ */

int printer_set_job_state(struct printer *p, enum printer_state s)
{
    if (!p->port || !printer_state_is_operational(p->state))
        return -ENOTCONN;
    if (s != PRINTER_OPERATIONAL && !printer_state_is_printing(s) && s != PRINTER_PAUSED)
        return -EINVAL;
    set_state(p, s);
    return 0;
}

void printer_stream_hold(struct printer *p, bool hold)
{
    if (!p->job || p->model.job_paused == hold)
        return;
    p->model.job_paused = hold;
    if (!hold)
        pump(p);
}

void printer_stream_stop(struct printer *p)
{
    if (!p->job)
        return;
    log_info("printer: stream of %s stopped after %lu lines", p->model.job_file, p->model.job_lines);
    job_close(p);
    gcodeevents_z_forget(&p->z);
}

void printer_set_job_times(struct printer *p, bool has_print_time, long long print_time,
                           bool has_left, long long left, const char *origin)
{
    p->model.has_print_time = has_print_time;
    p->model.print_time = print_time;
    p->model.has_time_left = has_left;
    p->model.print_time_left = left;
    snprintf(p->model.time_left_origin, sizeof p->model.time_left_origin, "%s", origin ? origin : "");
}

/* ---- timers ------------------------------------------------------------------------- */

static double poll_interval(const struct printer *p)
{
    return p->target_set ? p->opt.temperature_interval_target : p->opt.temperature_interval;
}

/* serial-protocol.md 11.1: the larger of the (busy) communication timeout and the temperature
 * interval + 1 */
static double comm_interval(const struct printer *p)
{
    double base = p->model.busy_protocol ? COMMUNICATION_BUSY : p->opt.communication_timeout;
    double t = (p->autoreport_temp ? p->opt.autoreport_interval : poll_interval(p)) + 1.0;
    return base > t ? base : t;
}

static void on_poll_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    bool dwelling = uv_now(p->loop) < p->dwell_until;
    /* A poll never stacks up: at most one waits in the queue, and none while idle-busy */
    if (printer_state_is_operational(p->state) && !p->autoreport_temp && !p->heating && !dwelling &&
        !p->poll_queued && (p->job || (p->q_len == 0 && p->inflight == 0))) {
        if (enqueue(p, "M105") == 0)
            p->poll_queued = true;
        pump(p);
    }
    uint64_t next = ms(poll_interval(p));
    if (uv_timer_get_repeat(t) != next)
        uv_timer_set_repeat(t, next);
}

static void reset_deadlines(struct printer *p)
{
    uint64_t t = uv_now(p->loop) + ms(comm_interval(p));
    p->line_deadline = t;
    p->ok_deadline = t;
}

/* serial-protocol.md 11.3 */
static void handle_timeout(struct printer *p)
{
    static const char hint[] = "Configure long running commands or increase communication timeout "
                               "if that happens regularly on specific commands or long moves.";
    bool printing = p->job != NULL;
    int max = p->long_running ? MAX_TIMEOUTS_LONG : printing ? MAX_TIMEOUTS_PRINTING : MAX_TIMEOUTS_IDLE;
    reset_deadlines(p);
    if (++p->timeouts > max) {
        log_error("printer: no response from printer after %d consecutive communication timeouts, considering it dead. %s",
                  max, hint);
        fatal_error(p, "Too many consecutive timeouts, printer still connected and alive?", "timeout");
        return;
    }
    if (p->rs.active) {
        log_warn("printer: communication timeout during a resend, resending the last line. %s", hint);
        resend_on_timeout(&p->rs);
        p->inflight = 0;
        pump(p);
    } else if (p->heating) {
        log_warn("printer: communication timeout while heating, assuming the heat-up finished. %s", hint);
        p->heating = false;
    } else if (p->long_running) {
        log_info("printer: communication timeout during a long running command, waiting. %s", hint);
    } else if (printing) {
        log_warn("printer: communication timeout while printing, trying to trigger response from printer. %s", hint);
        p->inflight = 0;
        send_command(p, "M105");
    } else if (p->inflight > 0) {
        log_warn("printer: communication timeout while idle, trying to trigger response from printer. %s", hint);
        p->inflight = 0;
        pump(p);
    } else {
        log_warn("printer: communication timeout while idle, nothing heard from the printer. %s", hint);
        send_command(p, "M105");
    }
}

/* The watchdog wakes at the nearest deadline, but at least every second (a deadline can move
 * closer when the communication interval shrinks) and at most every 100 ms: an idle printer
 * costs one wake-up a second instead of ten. */
static void on_watch_timer(uv_timer_t *t);

static void watch_rearm(struct printer *p)
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
        watch_rearm(p);
}

/* ---- connection life cycle ----------------------------------------------------------- */

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

static void say_hello(struct printer *p)
{
    p->hellos++;
    /* the hello is numbered and resets the count: N0 M110 N0*125 */
    history_clear(&p->hist);
    resend_reset(&p->rs);
    p->line = (unsigned long)-1;
    numbered_send(p, "M110 N0");
    arm_comm_timer(p, hello_timeout(p));
}

static void on_connected(struct printer *p)
{
    uv_timer_stop(&p->comm_timer);
    set_state(p, PRINTER_OPERATIONAL);
    p->backoff = p->opt.reconnect_delay;
    p->reported_err = 0;
    p->timeouts = 0;
    p->inflight = 0;     /* the handshake's ok (or wait) clears to send */
    p->model.baudrate = p->baud;
    events_fire(p->ev, EVENT_CONNECTED, json_pack("{s:s, s:i}", "port", p->path, "baudrate", p->baud));
    enqueue(p, "M110 N0");
    enqueue(p, "M115");
    for (char *const *l = p->opt.after_connected; l && *l; l++)
        if (printer_send(p, *l) < 0)
            log_warn("printer: afterPrinterConnected line not sent: %s", *l);
    reset_deadlines(p);
    watch_rearm(p);
    uv_timer_start(&p->poll_timer, on_poll_timer, ms(poll_interval(p)), ms(poll_interval(p)));
    if (p->opt.print_file && !p->print_started) {
        p->print_started = true;
        int rc = printer_stream_file(p, p->opt.print_file);
        if (rc < 0)
            log_error("printer: cannot stream %s: %s", p->opt.print_file, strerror(-rc));
    }
    pump(p);
}

static void on_comm_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->state != PRINTER_CONNECTING)
        return;
    if (detecting_baud(p) && p->hellos >= 1 && p->baud_index + 1 < BAUD_CANDIDATES) {
        /* silence at this rate: try the next one on the same open port */
        p->baud = baud_candidates[++p->baud_index];
        log_info("printer: no answer from %s, trying %d baud", p->path, p->baud);
        if (port_set_baud(p->port, p->baud) < 0)
            log_warn("printer: %s refused %d baud", p->path, p->baud);
        p->hellos = 0;
        write_raw(p, "\n", 1);
        say_hello(p);
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
    fire_error(p, "There was a timeout while trying to connect to the printer", "timeout");
    close_link(p, PRINTER_CLOSED_WITH_ERROR);
    schedule_reconnect(p);
}

static void arm_comm_timer(struct printer *p, double seconds)
{
    uv_timer_start(&p->comm_timer, on_comm_timer, ms(seconds), 0);
}

/* serial-protocol.md 10.1 */
static void fatal_error(struct printer *p, const char *text, const char *reason)
{
    p->error_pending = false;
    uv_timer_stop(&p->error_timer);
    log_error("printer: %s", text);
    bool emergency = p->opt.send_m112_on_error && p->port && strcmp(reason, "connection") != 0 &&
                     strcmp(reason, "autodetect") != 0;
    set_state(p, PRINTER_ERROR);
    json_t *payload = error_payload(text, reason);
    json_object_set_new(payload, "consequence", json_string(emergency ? "emergency" : "disconnect"));
    const char *faq = strcmp(reason, "firmware") == 0 ? protocol_error_faq(text) : NULL;
    if (faq)
        json_object_set_new(payload, "faq", json_string(faq));
    if (strcmp(reason, "firmware") == 0)
        json_object_set_new(payload, "logs", term_logs(p));
    set_model_error(p, text);
    events_fire(p->ev, EVENT_ERROR, payload);
    if (emergency)
        emergency_stop(p);
    close_link(p, PRINTER_CLOSED_WITH_ERROR);
    schedule_reconnect(p);
}

/* ---- receive path --------------------------------------------------------------------- */

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
    /* external heat-up detection (11.4): a wait loop's report, not an answer to M105 */
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
    model_changed(p);
}

/* serial-protocol.md 12.2, 14.3 */
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
    model_changed(p);
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

static void handle_firmware(struct printer *p, const char *line)
{
    struct protocol_firmware fw;
    if (protocol_parse_firmware(line, &fw) <= 0)
        return;
    json_t *data = json_object();
    for (int i = 0; i < fw.count; i++)
        json_object_set_new(data, fw.f[i].key, pyjson_string_lossy(fw.f[i].value, strlen(fw.f[i].value)));
    if (!p->firmware_known && fw.name[0]) {
        log_info("printer: firmware %s", fw.name);
        /* firmware tweaks of serial-protocol.md 3.1 that concern the send path */
        if (name_contains(fw.name, "repetier") || name_contains(fw.name, "anet_a8") ||
            name_contains(fw.name, "malyan"))
            p->always_checksum = true;
        if (name_contains(fw.name, "klipper") || name_contains(fw.name, "prusa-firmware"))
            p->unknown_need_ack = true;
    }
    if (fw.name[0])
        p->firmware_known = true;
    snprintf(p->model.firmware_name, sizeof p->model.firmware_name, "%s", fw.name);
    json_t *payload = json_object();
    /* a firmware line without a name is published with "name": null, as upstream */
    json_object_set_new(payload, "name", fw.name[0] ? pyjson_string_lossy(fw.name, strlen(fw.name)) : json_null());
    json_object_set_new(payload, "data", data);
    events_fire(p->ev, EVENT_FIRMWARE_DATA, payload);
    model_changed(p);
}

static void handle_capability(struct printer *p, const char *line)
{
    char name[64], cmd[32];
    bool on;
    if (protocol_parse_capability(line, name, sizeof name, &on) < 0)
        return;
    p->cap_seen = true;
    if (strcmp(name, "AUTOREPORT_TEMP") == 0) {
        p->cap_autoreport_temp = on;
        if (on && p->opt.autoreport_interval > 0) {
            snprintf(cmd, sizeof cmd, "M155 S%d", p->opt.autoreport_interval);
            enqueue(p, cmd);
        }
    } else if (strcmp(name, "AUTOREPORT_SD_STATUS") == 0) {
        p->cap_autoreport_sd = on;
        if (on) {
            snprintf(cmd, sizeof cmd, "M27 S%d", SD_AUTOREPORT_INTERVAL);
            enqueue(p, cmd);
        }
    } else if (strcmp(name, "AUTOREPORT_POS") == 0) {
        p->cap_autoreport_pos = on;
        if (on) {
            snprintf(cmd, sizeof cmd, "M154 S%d", POS_AUTOREPORT_INTERVAL);
            enqueue(p, cmd);
        }
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

static void on_resend_ok_timer(uv_timer_t *t);

static void handle_ok(struct printer *p, const char *line)
{
    bool has_n;
    unsigned long n;
    int planner, buffer;

    uv_timer_stop(&p->resend_ok_timer);
    p->ok_deadline = uv_now(p->loop) + ms(comm_interval(p));
    p->timeouts = 0;
    if (p->inflight > 0)
        p->inflight--;
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
    pump(p);
}

static void on_resend_ok_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    log_info("printer: firmware didn't send an 'ok' with its resend request; that's a known bug, simulating one");
    handle_ok(p, NULL);
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
        log_debug("printer: resending from line %lu", n);
        if (!p->resend_warned && p->model.lines_sent > 100 && p->model.resends * 10 >= p->model.lines_sent) {
            p->resend_warned = true;
            log_warn("printer: more than 10%% of the lines sent needed a resend; check the cable and the baud rate");
        }
        uv_timer_start(&p->resend_ok_timer, on_resend_ok_timer, RESEND_OK_TIMEOUT_MS, 0);
        break;
    case RESEND_IGNORED_UNSENT:
    case RESEND_IGNORED_STALE:
        log_debug("printer: ignoring resend request for line %lu", n);
        break;
    case RESEND_LOOP:
        snprintf(text, sizeof text, "Printer keeps requesting line %lu again and again, communication stuck", n);
        fatal_error(p, text, "resend_loop");
        break;
    case RESEND_NO_HISTORY:
        snprintf(text, sizeof text, "Should resend line %lu but no sufficient history is available, can't resend", n);
        if (p->job) {
            fatal_error(p, text, "resend");
        } else {
            log_warn("printer: %s", text);
        }
        break;
    }
}

static void on_error_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->error_pending)
        fatal_error(p, p->pending_error, "firmware");   /* the second half never came */
}

/* serial-protocol.md 9 */
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
        handle_ok(p, NULL);
        return;
    case PROTOCOL_ERROR_RESEND:
        resend_note_error(&p->rs, line);
        return;
    case PROTOCOL_ERROR_SD:
    case PROTOCOL_ERROR_UNKNOWN_COMMAND:
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
    fatal_error(p, text, "firmware");
}

static void handle_busy(struct printer *p, const char *line)
{
    p->ok_deadline = uv_now(p->loop) + ms(comm_interval(p));
    p->timeouts = 0;
    if (!p->busy_seen) {
        p->busy_seen = true;
        char cmd[16];
        int s = (int)COMMUNICATION_BUSY - 1;
        snprintf(cmd, sizeof cmd, "M113 S%d", s < 1 ? 1 : s);
        enqueue(p, cmd);
        pump(p);
    }
    if (strncmp(line, "echo:busy: paused for user", 26) == 0)
        events_fire(p->ev, EVENT_PAUSED_FOR_USER, NULL);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_shutdown_exit(uv_process_t *proc, int64_t status, int sig)
{
    (void)sig;
    log_info("printer: shutdown command exited with status %lld", (long long)status);
    struct printer *p = proc->data;
    p->shutdown_proc = NULL;
    uv_close((uv_handle_t *)proc, free_handle);
}

static void run_shutdown(struct printer *p)
{
    if (!p->opt.shutdown_command || !p->opt.shutdown_command[0]) {
        log_info("printer: printer asked the host to shut down; ignored (printer.shutdown_command is not set)");
        return;
    }
    if (p->shutdown_proc)
        return;
    uv_process_t *proc = calloc(1, sizeof *proc);
    if (!proc)
        return;
    char *args[] = { "/bin/sh", "-c", (char *)p->opt.shutdown_command, NULL };
    uv_process_options_t o = { .file = "/bin/sh", .args = args, .exit_cb = on_shutdown_exit };
    proc->data = p;
    int rc = uv_spawn(p->loop, proc, &o);
    if (rc < 0) {
        log_error("printer: cannot run the shutdown command: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)proc, free_handle);
        return;
    }
    log_warn("printer: printer asked the host to shut down; running: %s", p->opt.shutdown_command);
    p->shutdown_proc = proc;
}

/* serial-protocol.md 12.9 */
static void handle_action(struct printer *p, const char *line)
{
    char name[64], params[FRAMING_MAX_LINE + 1];
    if (protocol_parse_action(line, name, sizeof name, params, sizeof params) < 0)
        return;
    log_info("printer: action command %s%s%s", name, params[0] ? " " : "", params);
    if (strcmp(name, "pause") == 0 || strcmp(name, "paused") == 0) {
        job_pause(p, true);
    } else if (strcmp(name, "resume") == 0 || strcmp(name, "resumed") == 0) {
        job_pause(p, false);
    } else if (strcmp(name, "cancel") == 0) {
        printer_stream_cancel(p);
    } else if (strcmp(name, "disconnect") == 0) {
        printer_disconnect(p);
    } else if (strcmp(name, "shutdown") == 0) {
        run_shutdown(p);
    } else if (strcmp(name, "notification") == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "message", pyjson_string_lossy(params, strlen(params)));
        events_fire(p->ev, EVENT_ACTION_NOTIFICATION, o);
    }
}

/* serial-protocol.md 12.8: "echo:T3 Invalid extruder" */
static void handle_invalid_tool(struct printer *p, const char *line)
{
    long t;
    if (!protocol_param_int(line, 'T', &t) || t < 0 || t >= MAX_TOOLS)
        return;
    p->invalid_tool[t] = true;
    int fallback = -1;
    if (!tool_invalid(p, p->current_tool) && p->current_tool != t)
        fallback = p->current_tool;
    for (int i = 0; fallback < 0 && i < p->opt.extruders && i < MAX_TOOLS; i++)
        if (!p->invalid_tool[i])
            fallback = i;
    log_warn("printer: firmware reports tool %ld as invalid; falling back to tool %d", t, fallback);
    events_fire(p->ev, EVENT_INVALID_TOOL_REPORTED, json_pack("{s:i, s:i}", "tool", (int)t, "fallback", fallback));
    if (fallback >= 0) {
        char cmd[16];
        snprintf(cmd, sizeof cmd, "T%d", fallback);
        enqueue(p, cmd);
        pump(p);
    }
}

/* serial-protocol.md 11.4: "start" while operational */
static void external_reset(struct printer *p)
{
    bool printing = p->job != NULL;
    if (printing)
        log_warn("printer: printer sent 'start' while printing; external reset? aborting the stream since the printer lost state");
    else
        log_warn("printer: printer sent 'start' while already operational; external reset? resetting line numbers to be on the safe side");
    clear_queue(p);
    history_clear(&p->hist);
    resend_reset(&p->rs);
    uv_timer_stop(&p->resend_ok_timer);
    p->inflight = 0;
    if (printing)
        printer_stream_cancel(p);
    enqueue(p, "M110 N0");
    char cmd[32];
    if (p->autoreport_temp) {
        snprintf(cmd, sizeof cmd, "M155 S%d", p->opt.autoreport_interval);
        enqueue(p, cmd);
    }
    if (p->autoreport_sd) {
        snprintf(cmd, sizeof cmd, "M27 S%d", SD_AUTOREPORT_INTERVAL);
        enqueue(p, cmd);
    }
    if (p->autoreport_pos) {
        snprintf(cmd, sizeof cmd, "M154 S%d", POS_AUTOREPORT_INTERVAL);
        enqueue(p, cmd);
    }
    if (p->model.busy_protocol)
        enqueue(p, "M113 S2");
    events_fire(p->ev, EVENT_PRINTER_RESET, json_pack("{s:b}", "idle", !printing));
    pump(p);
}

static void on_line(void *ctx, const char *line, size_t len)
{
    struct printer *p = ctx;
    char joined[2 * FRAMING_MAX_LINE + 8];

    log_debug("recv: %s", line);
    term_add(p, "Recv: ", line, len);
    enum protocol_kind kind = protocol_classify(line);

    if (p->state == PRINTER_CONNECTING) {
        if (kind == PROTOCOL_START && !p->start_seen) {
            p->start_seen = true;
            say_hello(p);       /* the board just rebooted; greet it again */
        } else if (kind == PROTOCOL_OK || kind == PROTOCOL_WAIT) {
            on_connected(p);
        } else if (!detecting_baud(p)) {
            /* it talks: give it time (not while detecting: noise at a wrong rate talks too) */
            arm_comm_timer(p, hello_timeout(p));
        }
        return;
    }
    if (!printer_state_is_operational(p->state))
        return;
    p->line_deadline = uv_now(p->loop) + ms(comm_interval(p));
    if (p->cb.line)
        p->cb.line(p->cb_ctx, line);

    if (p->split_pending) {
        /* old firmware: "Error:0" then ": Extruder switched off. MAXTEMP triggered !" */
        p->split_pending = false;
        snprintf(joined, sizeof joined, "%s%s", p->split_error, line);
        handle_error_line(p, joined);
        return;
    }
    if (p->error_pending) {
        if (protocol_error_join(p->pending_error, line, joined, sizeof joined) < 0)
            snprintf(joined, sizeof joined, "%s", p->pending_error);
        fatal_error(p, joined, "firmware");
        return;
    }
    if (p->cap_seen && !p->cap_done && kind != PROTOCOL_CAPABILITY)
        cap_report_done(p);

    switch (kind) {
    case PROTOCOL_BUSY:
        handle_busy(p, line);
        break;
    case PROTOCOL_ACTION:
        handle_action(p, line);
        break;
    case PROTOCOL_ERROR:
        handle_error_line(p, line);
        break;
    case PROTOCOL_OK:
        /* an ok may carry a report: "ok T:..." or "ok X:... Y:..." (serial-protocol.md 6) */
        if (protocol_has_position(line))
            handle_position(p, line);
        else if (protocol_has_temperatures(line))
            handle_temperatures(p, line);
        if (strstr(line, "NAME:"))
            handle_firmware(p, line);
        handle_ok(p, line);
        break;
    case PROTOCOL_WAIT:
        /* an ack only while printing (serial-protocol.md 8) */
        if (printer_state_is_printing(p->state))
            handle_ok(p, NULL);
        break;
    case PROTOCOL_RESEND:
        handle_resend(p, line);
        break;
    case PROTOCOL_POSITION:
        handle_position(p, line);
        break;
    case PROTOCOL_TEMPERATURE:
        handle_temperatures(p, line);
        break;
    case PROTOCOL_CAPABILITY:
        handle_capability(p, line);
        break;
    case PROTOCOL_FIRMWARE:
        handle_firmware(p, line);
        break;
    case PROTOCOL_START:
        external_reset(p);
        break;
    default:
        if (name_contains(line, "invalid extruder"))
            handle_invalid_tool(p, line);
        break;
    }
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
    char text[PATH_SIZE + 128];
    snprintf(text, sizeof text, "The serial port %s went away: %s", p->path, why);
    /* no ERROR state here: subscribers see Error, OFFLINE, Disconnected (test_it_printer_gone);
     * the payload is _trigger_error's, consequence "disconnect" (10.1) */
    json_t *payload = error_payload(text, "connection");
    json_object_set_new(payload, "consequence", json_string("disconnect"));
    set_model_error(p, text);
    events_fire(p->ev, EVENT_ERROR, payload);
    close_link(p, PRINTER_CLOSED_WITH_ERROR);
    schedule_reconnect(p);
    p->reported_err = -ENOENT;  /* "gone" is announced; a missing device on retry is the same news */
}

static void on_port_lost(void *ctx, int err)
{
    struct printer *p = ctx;
    /* port.c may be deep inside a write for us; react from a fresh loop iteration */
    p->lost_err = err;
    uv_timer_start(&p->lost_timer, on_lost_timer, 0, 0);
}

static void close_link(struct printer *p, enum printer_state final_state)
{
    uv_timer_stop(&p->comm_timer);
    uv_timer_stop(&p->watch_timer);
    uv_timer_stop(&p->poll_timer);
    uv_timer_stop(&p->lost_timer);
    uv_timer_stop(&p->error_timer);
    uv_timer_stop(&p->resend_ok_timer);
    p->error_pending = false;
    p->split_pending = false;
    if (p->job) {
        log_warn("printer: stream of %s aborted after %lu lines: the connection closed", p->model.job_file,
                 p->model.job_lines);
        job_close(p);
    }
    clear_queue(p);
    history_clear(&p->hist);
    resend_reset(&p->rs);
    bool had_port = p->port != NULL;
    if (p->port) {
        port_close(p->port);
        p->port = NULL;
    }
    p->firmware_known = p->always_checksum = p->unknown_need_ack = p->manual_streaming = false;
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
    p->model.nheaters = 0;
    p->model.has_position = false;
    p->model.advanced_ok = p->model.emergency_parser = p->model.busy_protocol = false;
    set_state(p, final_state);
    if (had_port)
        events_fire(p->ev, EVENT_DISCONNECTED, NULL);
}

static bool same_news(int a, int b)
{
    /* a device that is missing, unplugged or not yet enumerated is all one situation */
    bool gone_a = a == -ENOENT || a == -ENODEV || a == -ENXIO;
    bool gone_b = b == -ENOENT || b == -ENODEV || b == -ENXIO;
    return a == b || (gone_a && gone_b);
}

static void try_connect(struct printer *p)
{
    char path[PATH_SIZE], why[256];
    int err;
    bool quiet = p->reported_err != 0;

    if (!quiet) {
        events_fire(p->ev, EVENT_CONNECTING, NULL);
        set_state(p, PRINTER_OPEN_SERIAL);
    }
    if (strcmp(p->opt.port, "auto") == 0) {
        if (portscan_pick(p->opt.usb_id, path, sizeof path, why, sizeof why) < 0) {
            err = -ENOENT;
            goto failed;
        }
        log_info("printer: port \"auto\" picked %s", path);
    } else {
        snprintf(path, sizeof path, "%s", p->opt.port);
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    p->baud_index = 0;
    p->baud = detecting_baud(p) ? baud_candidates[0] : p->opt.baudrate;
    static const struct port_callbacks cbs = { .line = on_line, .lost = on_port_lost };
    err = port_open(&p->port, p->loop, path, p->baud, &cbs, p);
    if (err < 0) {
        snprintf(why, sizeof why, "%s", strerror(-err));
        goto failed;
    }
    if (quiet) {
        events_fire(p->ev, EVENT_CONNECTING, NULL);
        set_state(p, PRINTER_OPEN_SERIAL);
    }
    log_info("printer: opened %s at %d baud", path, p->baud);
    snprintf(p->model.port, sizeof p->model.port, "%s", path);
    p->model.baudrate = p->baud;
    set_state(p, PRINTER_CONNECTING);
    p->hellos = 0;
    p->start_seen = false;
    p->current_tool = 0;
    p->target_set = false;
    p->term_count = 0;
    say_hello(p);
    return;

failed:
    if (quiet && same_news(err, p->reported_err)) {
        log_info("printer: still cannot open %s (%s); retrying in %.0f s", p->opt.port, why, p->backoff);
    } else {
        char text[PATH_SIZE + 320];
        log_error("printer: cannot open %s: %s; %s", p->opt.port, why, port_error_hint(err));
        snprintf(text, sizeof text, "Cannot open serial port %s: %s", p->opt.port, why);
        fire_error(p, text, "connection");
        set_state(p, PRINTER_CLOSED_WITH_ERROR);
        p->reported_err = err;
    }
    schedule_reconnect(p);
}

static void on_reconnect_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->want_connected && !p->port)
        try_connect(p);
}

static void schedule_reconnect(struct printer *p)
{
    if (!p->want_connected || p->destroying)
        return;
    if (!p->opt.reconnect) {
        log_info("printer: not reconnecting (printer.reconnect is off)");
        p->want_connected = false;
        return;
    }
    uv_timer_start(&p->reconnect_timer, on_reconnect_timer, ms(p->backoff), 0);
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
        close_link(p, PRINTER_CLOSED);
    }
}

static void free_options(struct printer_options *o)
{
    free((char *)o->port);
    free((char *)o->usb_id);
    free((char *)o->blocked_commands);
    free((char *)o->shutdown_command);
    free((char *)o->print_file);
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

/* Deep copy: the printer outlives configuration reloads. */
static int copy_options(struct printer_options *dst, const struct printer_options *src)
{
    size_t n = 0;
    *dst = *src;
    dst->port = strdup(src->port ? src->port : "auto");
    bool ok = dst->port != NULL;
    ok = dup_opt(&dst->usb_id, src->usb_id) && ok;
    ok = dup_opt(&dst->blocked_commands, src->blocked_commands) && ok;
    ok = dup_opt(&dst->shutdown_command, src->shutdown_command) && ok;
    ok = dup_opt(&dst->print_file, src->print_file) && ok;
    dst->after_connected = NULL;
    while (src->after_connected && src->after_connected[n])
        n++;
    char **lines = calloc(n + 1, sizeof *lines);
    if (lines)
        dst->after_connected = lines;
    ok = ok && lines;
    for (size_t i = 0; ok && i < n; i++)
        ok = (lines[i] = strdup(src->after_connected[i])) != NULL;
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
        if (len > 0 && len < sizeof p->blocked[0] && p->nblocked < MAX_BLOCKED) {
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
    uv_timer_t *timers[] = { &p->reconnect_timer, &p->comm_timer, &p->watch_timer, &p->poll_timer,
                             &p->lost_timer, &p->error_timer, &p->resend_ok_timer };
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
    clear_queue(p);
    job_close(p);
    if (p->port) {
        port_close(p->port);
        p->port = NULL;
    }
    if (p->shutdown_proc) {
        /* the command keeps running on its own; only our handle goes */
        uv_close((uv_handle_t *)p->shutdown_proc, free_handle);
        p->shutdown_proc = NULL;
    }
    p->destroy_done = done;
    p->destroy_ctx = ctx;
    uv_timer_t *timers[] = { &p->reconnect_timer, &p->comm_timer, &p->watch_timer, &p->poll_timer,
                             &p->lost_timer, &p->error_timer, &p->resend_ok_timer };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
}
