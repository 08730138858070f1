/* printer.c: the host side of the serial protocol and OctoPrint's state machine.
 *
 * One struct printer owns the port, the send queue and every timer of the link. Lines come in
 * through port.c, are classified by protocol.c and change state here; every state change and
 * notable line becomes an event. Commands go out one at a time (OctoPrint's default
 * "ackMax = 1"): a command is written only when the previous one was acknowledged with ok.
 *
 * The link heals itself: a port that cannot be opened, vanishes or stops answering is closed
 * and reopened on a doubling backoff. Repeated identical failures are logged but not
 * re-announced as events, so an unplugged printer does not flood subscribers. */
#include "printbridge/printer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "printbridge/framing.h"
#include "printbridge/log.h"
#include "printbridge/port.h"
#include "printbridge/portscan.h"
#include "printbridge/pyjson.h"

/* Lines kept for resend requests; OctoPrint keeps 50, slow SD-less streams need more. */
#define HISTORY_SIZE 1024
#define HELLO_LIMIT 3
#define MAX_TIMEOUTS_IDLE 2
#define PATH_SIZE 512
/* Tried in this order for baudrate "auto" (serial-protocol.md 2.4), 2 s each */
static const int baud_candidates[] = { 115200, 250000, 230400, 57600, 38400, 19200, 9600 };
#define BAUD_CANDIDATES (int)(sizeof baud_candidates / sizeof baud_candidates[0])
#define DETECTION_TIMEOUT 2.0

struct queued_cmd {
    struct queued_cmd *next;
    char text[];
};

struct printer {
    uv_loop_t *loop;
    struct events *ev;
    struct printer_options opt;
    struct printer_callbacks cb;
    void *cb_ctx;

    enum printer_state state;
    struct printer_model model;
    struct port *port;
    char path[PATH_SIZE];           /* the port actually opened */
    int baud;
    bool want_connected;            /* false after printer_disconnect */
    bool destroying;

    uv_timer_t reconnect_timer;
    uv_timer_t comm_timer;          /* handshake deadline, then communication timeout */
    uv_timer_t poll_timer;          /* M105 polling when the firmware does not autoreport */
    uv_timer_t lost_timer;          /* handles a lost port outside port.c's callback */
    uv_timer_t error_timer;         /* waits for the second half of a kill message */
    char pending_error[FRAMING_MAX_LINE + 1];
    bool error_pending;
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
    int acks;                       /* clear-to-send: 1 = may send */
    unsigned long line;             /* last line number used */
    char *history[HISTORY_SIZE];    /* payloads by line number % HISTORY_SIZE */
    bool resending;
    unsigned long resend_next;      /* next line to replay while resending */
    unsigned long resend_requests;
    unsigned long last_resend_req;
    int same_resend_count;

    /* firmware */
    bool firmware_known;
    bool cap_autoreport_temp;
    bool autoreport_temp;
    int timeouts;
    int current_tool;
    bool target_set;                /* any target above 25 C: poll faster */
};

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

/* ---- send path ---------------------------------------------------------------------- */

static void clear_queue(struct printer *p)
{
    while (p->q_head) {
        struct queued_cmd *c = p->q_head;
        p->q_head = c->next;
        free(c);
    }
    p->q_tail = NULL;
    p->q_len = 0;
}

static void clear_history(struct printer *p)
{
    for (int i = 0; i < HISTORY_SIZE; i++) {
        free(p->history[i]);
        p->history[i] = NULL;
    }
    p->resending = false;
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
    p->model.lines_sent++;
    write_raw(p, buf, (size_t)len);
}

/* Numbered when the firmware demands it (M110) or while it is not yet identified
 * (serial-protocol.md 5.3). */
static bool needs_checksum(const struct printer *p, const char *gcode)
{
    return strcmp(gcode, "M110") == 0 || (!p->firmware_known && gcode[0] != '\0');
}

static void remember(struct printer *p, unsigned long n, const char *cmd)
{
    char **slot = &p->history[n % HISTORY_SIZE];
    free(*slot);
    *slot = strdup(cmd);
}

/* Bookkeeping when a command actually goes out. */
static void on_command_sent(struct printer *p, const char *gcode, const char *cmd)
{
    long s;
    if (strcmp(gcode, "M155") == 0 && protocol_param_int(cmd, 'S', &s)) {
        p->autoreport_temp = p->cap_autoreport_temp && s > 0;
        if (p->autoreport_temp)
            uv_timer_stop(&p->poll_timer);
    } else if ((strcmp(gcode, "M104") == 0 || strcmp(gcode, "M109") == 0 || strcmp(gcode, "M140") == 0 ||
                strcmp(gcode, "M190") == 0) && protocol_param_int(cmd, 'S', &s)) {
        if (s > 25)
            p->target_set = true;
    }
}

static void send_command(struct printer *p, const char *cmd)
{
    char gcode[16];
    protocol_gcode_of(cmd, gcode, sizeof gcode);
    if (needs_checksum(p, gcode)) {
        long n;
        if (strcmp(gcode, "M110") == 0 && protocol_param_int(cmd, 'N', &n) && n >= 0) {
            /* M110 N<n> goes out as line n and restarts the count there */
            clear_history(p);
            p->line = (unsigned long)n;
        } else {
            p->line++;
        }
        remember(p, p->line, cmd);
        write_numbered(p, p->line, cmd);
    } else {
        write_plain(p, cmd);
    }
    on_command_sent(p, gcode, cmd);
}

/* Sends whatever may go now: resend replays first, then queued commands. */
static void pump(struct printer *p)
{
    if (!p->port || !printer_state_is_operational(p->state))
        return;
    while (p->acks > 0) {
        if (p->resending) {
            const char *cmd = p->history[p->resend_next % HISTORY_SIZE];
            if (cmd)
                write_numbered(p, p->resend_next, cmd);
            p->acks--;
            if (++p->resend_next > p->line)
                p->resending = false;
            continue;
        }
        struct queued_cmd *c = p->q_head;
        if (!c)
            return;
        p->q_head = c->next;
        if (!p->q_head)
            p->q_tail = NULL;
        p->q_len--;
        p->acks--;
        send_command(p, c->text);
        free(c);
    }
}

static int enqueue(struct printer *p, const char *cmd)
{
    char line[FRAMING_MAX_LINE + 1];
    if (strlen(cmd) > FRAMING_MAX_LINE)
        return -E2BIG;
    if (strpbrk(cmd, "\r\n"))
        return -EINVAL;
    snprintf(line, sizeof line, "%s", cmd);
    if (framing_strip_comment(line) == 0)
        return 0;
    size_t n = strlen(line) + 1;
    struct queued_cmd *c = malloc(sizeof *c + n);
    if (!c)
        return -ENOMEM;
    memcpy(c->text, line, n);
    c->next = NULL;
    if (p->q_tail)
        p->q_tail->next = c;
    else
        p->q_head = c;
    p->q_tail = c;
    p->q_len++;
    return 0;
}

int printer_send(struct printer *p, const char *cmd)
{
    if (!p->port || !printer_state_is_operational(p->state))
        return -ENOTCONN;
    int rc = enqueue(p, cmd);
    if (rc == 0)
        pump(p);
    return rc;
}

/* ---- timers ------------------------------------------------------------------------- */

static uint64_t ms(double seconds)
{
    return seconds <= 0 ? 0 : (uint64_t)llround(seconds * 1000.0);
}

static double poll_interval(const struct printer *p)
{
    return p->target_set ? p->opt.temperature_interval_target : p->opt.temperature_interval;
}

/* OctoPrint: max(communication timeout, temperature interval + 1) (serial-protocol.md 11.1) */
static double communication_timeout(const struct printer *p)
{
    double t = poll_interval(p) + 1.0;
    if (p->autoreport_temp)
        t = p->opt.autoreport_interval + 1.0;
    return p->opt.communication_timeout > t ? p->opt.communication_timeout : t;
}

static void arm_comm_timer(struct printer *p, double seconds);

static void on_poll_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    /* Only when the line is idle: a poll never queues behind other work or stacks up */
    if (p->state == PRINTER_OPERATIONAL && !p->autoreport_temp && p->q_len == 0 && p->acks > 0) {
        enqueue(p, "M105");
        pump(p);
    }
    uint64_t next = ms(poll_interval(p));
    if (uv_timer_get_repeat(t) != next)
        uv_timer_set_repeat(t, next);
}

/* ---- connection life cycle ----------------------------------------------------------- */

static void close_link(struct printer *p, enum printer_state final_state);
static void schedule_reconnect(struct printer *p);

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
    clear_history(p);
    p->line = 0;
    remember(p, 0, "M110 N0");
    write_numbered(p, 0, "M110 N0");
    arm_comm_timer(p, hello_timeout(p));
}

static void on_connected(struct printer *p)
{
    set_state(p, PRINTER_OPERATIONAL);
    p->backoff = p->opt.reconnect_delay;
    p->reported_err = 0;
    p->timeouts = 0;
    p->acks = 1;
    p->model.baudrate = p->baud;
    events_fire(p->ev, EVENT_CONNECTED, json_pack("{s:s, s:i}", "port", p->path, "baudrate", p->baud));
    enqueue(p, "M110 N0");
    enqueue(p, "M115");
    for (char *const *l = p->opt.after_connected; l && *l; l++)
        if (enqueue(p, *l) < 0)
            log_warn("printer: afterPrinterConnected line not sent: %s", *l);
    arm_comm_timer(p, communication_timeout(p));
    uv_timer_start(&p->poll_timer, on_poll_timer, ms(poll_interval(p)), ms(poll_interval(p)));
    pump(p);
}

static void on_comm_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->state == PRINTER_CONNECTING) {
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
        return;
    }
    if (!printer_state_is_operational(p->state))
        return;
    if (++p->timeouts > MAX_TIMEOUTS_IDLE) {
        log_error("printer: no response from %s after %d consecutive communication timeouts, considering it dead",
                  p->path, p->timeouts - 1);
        fire_error(p, "Too many consecutive timeouts, printer still connected and alive?", "timeout");
        close_link(p, PRINTER_CLOSED_WITH_ERROR);
        schedule_reconnect(p);
        return;
    }
    log_warn("printer: communication timeout, trying to trigger a response from the printer");
    p->acks = 1;
    if (p->resending) {
        pump(p);
    } else {
        write_plain(p, "M105");
        p->acks = 0;
    }
    arm_comm_timer(p, communication_timeout(p));
}

static void arm_comm_timer(struct printer *p, double seconds)
{
    uv_timer_start(&p->comm_timer, on_comm_timer, ms(seconds), 0);
}

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

static void handle_firmware(struct printer *p, const char *line)
{
    struct protocol_firmware fw;
    if (protocol_parse_firmware(line, &fw) <= 0)
        return;
    json_t *data = json_object();
    for (int i = 0; i < fw.count; i++)
        json_object_set_new(data, fw.f[i].key, pyjson_string_lossy(fw.f[i].value, strlen(fw.f[i].value)));
    if (!p->firmware_known)
        log_info("printer: firmware %s", fw.name[0] ? fw.name : "(unnamed)");
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
    char name[64];
    bool on;
    if (protocol_parse_capability(line, name, sizeof name, &on) < 0)
        return;
    if (strcmp(name, "AUTOREPORT_TEMP") == 0) {
        p->cap_autoreport_temp = on;
        if (on && p->opt.autoreport_interval > 0) {
            char cmd[32];
            snprintf(cmd, sizeof cmd, "M155 S%d", p->opt.autoreport_interval);
            enqueue(p, cmd);
        }
    }
}

static void handle_resend(struct printer *p, const char *line)
{
    unsigned long n;
    if (protocol_parse_resend(line, &n) < 0)
        return;
    p->resend_requests++;
    p->model.resends++;
    if (n == p->line + 1 && !p->resending)
        return;     /* asks for the line not sent yet: a stale duplicate after a timeout */
    if (n > p->line || p->line - n >= HISTORY_SIZE || !p->history[n % HISTORY_SIZE]) {
        log_error("printer: printer asked for line %lu but only lines up to %lu are known; cannot resend", n, p->line);
        return;
    }
    if (n == p->last_resend_req && ++p->same_resend_count >= 10) {
        fire_error(p, "Printer keeps requesting the same line again and again, communication stuck", "resend_loop");
        close_link(p, PRINTER_CLOSED_WITH_ERROR);
        schedule_reconnect(p);
        return;
    }
    if (n != p->last_resend_req)
        p->same_resend_count = 0;
    p->last_resend_req = n;
    p->resending = true;
    p->resend_next = n;
    log_info("printer: resending from line %lu", n);
}

static void raise_fatal(struct printer *p, const char *text)
{
    p->error_pending = false;
    uv_timer_stop(&p->error_timer);
    log_error("printer: firmware error: %s", text);
    set_state(p, PRINTER_ERROR);
    json_t *payload = error_payload(text, "firmware");
    json_object_set_new(payload, "consequence", json_string("disconnect"));
    set_model_error(p, text);
    const char *faq = protocol_error_faq(text);
    if (faq)
        json_object_set_new(payload, "faq", json_string(faq));
    events_fire(p->ev, EVENT_ERROR, payload);
    close_link(p, PRINTER_CLOSED_WITH_ERROR);
    schedule_reconnect(p);
}

static void on_error_timer(uv_timer_t *t)
{
    struct printer *p = t->data;
    if (p->error_pending)
        raise_fatal(p, p->pending_error);   /* the second half never came */
}

static void handle_error_line(struct printer *p, const char *line)
{
    enum protocol_error_class cls = protocol_classify_error(line);
    char text[FRAMING_MAX_LINE + 1];
    protocol_error_text(line, text, sizeof text);
    switch (cls) {
    case PROTOCOL_ERROR_RECOVERABLE:
        p->acks = 1;        /* the firmware sends no ok here; the next line draws a resend */
        pump(p);
        return;
    case PROTOCOL_ERROR_RESEND:
    case PROTOCOL_ERROR_SD:
    case PROTOCOL_ERROR_UNKNOWN_COMMAND:
    case PROTOCOL_ERROR_NONE:
        log_info("printer: %s", line);
        return;
    case PROTOCOL_ERROR_FATAL:
        break;
    }
    if (protocol_error_needs_next_line(line)) {
        /* Marlin: "Error:Thermal Runaway..." then "Error:Printer halted. kill() called!" */
        snprintf(p->pending_error, sizeof p->pending_error, "%s", text);
        p->error_pending = true;
        uv_timer_start(&p->error_timer, on_error_timer, 1000, 0);
        return;
    }
    raise_fatal(p, text);
}

static void handle_ok(struct printer *p, const char *line)
{
    p->timeouts = 0;
    if (p->acks < 1)
        p->acks = 1;
    if (protocol_has_temperatures(line) && !protocol_has_position(line))
        handle_temperatures(p, line);
    pump(p);
}

static void on_line(void *ctx, const char *line, size_t len)
{
    struct printer *p = ctx;
    (void)len;
    log_debug("recv: %s", line);
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
    arm_comm_timer(p, communication_timeout(p));
    if (p->error_pending) {
        char joined[2 * FRAMING_MAX_LINE + 8];
        if (protocol_error_join(p->pending_error, line, joined, sizeof joined) < 0)
            snprintf(joined, sizeof joined, "%s", p->pending_error);
        raise_fatal(p, joined);
        return;
    }

    switch (kind) {
    case PROTOCOL_OK:
        handle_ok(p, line);
        break;
    case PROTOCOL_WAIT:
        break;      /* an ack only while printing (serial-protocol.md 8) */
    case PROTOCOL_BUSY:
        p->timeouts = 0;
        break;
    case PROTOCOL_START:
        log_warn("printer: printer sent 'start' while operational; external reset? resetting line numbers");
        clear_queue(p);
        events_fire(p->ev, EVENT_PRINTER_RESET, json_pack("{s:b}", "idle", 1));
        p->acks = 1;
        p->firmware_known = false;
        enqueue(p, "M110 N0");
        enqueue(p, "M115");
        pump(p);
        break;
    case PROTOCOL_RESEND:
        handle_resend(p, line);
        break;
    case PROTOCOL_ERROR:
        handle_error_line(p, line);
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
    default:
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
    fire_error(p, text, "connection");
    close_link(p, PRINTER_CLOSED_WITH_ERROR);
    p->reported_err = -ENOENT;  /* "gone" is announced; a missing device on retry is the same news */
    schedule_reconnect(p);
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
    uv_timer_stop(&p->poll_timer);
    uv_timer_stop(&p->lost_timer);
    uv_timer_stop(&p->error_timer);
    p->error_pending = false;
    clear_queue(p);
    clear_history(p);
    bool had_port = p->port != NULL;
    if (p->port) {
        port_close(p->port);
        p->port = NULL;
    }
    p->firmware_known = false;
    p->cap_autoreport_temp = false;
    p->autoreport_temp = false;
    p->acks = 0;
    p->model.port[0] = '\0';
    p->model.firmware_name[0] = '\0';
    p->model.nheaters = 0;
    p->model.has_z = false;
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
    if (o->after_connected) {
        for (char *const *l = o->after_connected; *l; l++)
            free(*l);
        free((char **)o->after_connected);
    }
    memset(o, 0, sizeof *o);
}

/* Deep copy: the printer outlives configuration reloads. */
static int copy_options(struct printer_options *dst, const struct printer_options *src)
{
    size_t n = 0;
    *dst = *src;
    dst->port = strdup(src->port ? src->port : "auto");
    dst->usb_id = src->usb_id ? strdup(src->usb_id) : NULL;
    dst->after_connected = NULL;
    while (src->after_connected && src->after_connected[n])
        n++;
    char **lines = calloc(n + 1, sizeof *lines);
    if (lines)
        dst->after_connected = lines;
    bool ok = dst->port && (!src->usb_id || dst->usb_id) && lines;
    for (size_t i = 0; ok && i < n; i++)
        ok = (lines[i] = strdup(src->after_connected[i])) != NULL;
    if (dst->extruders < 1)
        dst->extruders = 1;
    if (!ok) {
        free_options(dst);
        return -ENOMEM;
    }
    return 0;
}

int printer_set_options(struct printer *p, const struct printer_options *opt)
{
    struct printer_options fresh;
    if (copy_options(&fresh, opt) < 0)
        return -ENOMEM;
    free_options(&p->opt);
    p->opt = fresh;
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
    if (cb)
        p->cb = *cb;
    p->cb_ctx = ctx;
    p->state = PRINTER_OFFLINE;
    p->model.state = PRINTER_OFFLINE;
    uv_timer_t *timers[] = { &p->reconnect_timer, &p->comm_timer, &p->poll_timer, &p->lost_timer,
                             &p->error_timer };
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
    clear_history(p);
    if (p->port) {
        port_close(p->port);
        p->port = NULL;
    }
    p->destroy_done = done;
    p->destroy_ctx = ctx;
    uv_close((uv_handle_t *)&p->reconnect_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->comm_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->poll_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->lost_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->error_timer, on_timer_closed);
}
