/* test_printer.c: printer.c's state machine driven through a pseudo-terminal pair. The test
 * plays the firmware on the master side, inside the same libuv loop: a small Marlin that
 * checks line numbers and checksums, answers M105/M114/M115, and lets each test script
 * faults (resend requests, lost oks, kill messages, resets, busy lines, a vanishing port).
 * Events are recorded as "Name {payload}" strings in Python's JSON form. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "check_loop.h"
#include "printbridge/base.h"
#include "printbridge/serial.h"
#include "printbridge/printer.h"

#define MAX_REC 4096

struct fw;
/* Return true when the hook answered the command itself. */
typedef bool fw_hook(struct fw *f, const char *cmd, long n);

struct fw {
    uv_loop_t *loop;
    int master, slave;
    char path[64];
    uv_poll_t poll;
    bool polling;
    char buf[2048];
    size_t len;
    long last_n;
    fw_hook *hook;
    /* ADVANCED_OK mode: answers from a queue, one per tick */
    int bufsize;
    char *pending[64];
    int npending, max_pending;
    uv_timer_t tick;
    bool silent;              /* go_awol */
    char *raw[MAX_REC];       /* every line received, as on the wire */
    int nraw;
    char *accepted[MAX_REC];  /* commands accepted (number and checksum right) */
    int naccepted;
    int counter;              /* for hooks */
};

static uv_loop_t loop;
static struct events events;
static char *evlog[MAX_REC];
static int nev;
static struct fw fw;
static struct printer *pr;

static void on_event(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ctx;
    (void)ts;
    char *js = pyjson_dumps(payload);
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s, "%s %s", name, js ? js : "?"), 0);
    free(js);
    if (nev < MAX_REC)
        evlog[nev++] = s;
    else
        free(s);
}

static void fw_say(struct fw *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fw_say(struct fw *f, const char *fmt, ...)
{
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    ck_assert_int_eq(write(f->master, line, (size_t)n), n);
}

static void fw_answer(struct fw *f, const char *cmd, long n)
{
    if (f->hook && f->hook(f, cmd, n))
        return;
    if (strncmp(cmd, "M115", 4) == 0) {
        fw_say(f, "FIRMWARE_NAME:Test Marlin 1.0 PROTOCOL_VERSION:1.0 EXTRUDER_COUNT:1");
        fw_say(f, "Cap:EMERGENCY_PARSER:1");
        fw_say(f, "Cap:AUTOREPORT_TEMP:0");
        fw_say(f, "ok");
    } else if (strncmp(cmd, "M105", 4) == 0) {
        fw_say(f, "ok T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0");
    } else if (strncmp(cmd, "M114", 4) == 0) {
        fw_say(f, "X:10.00 Y:20.00 Z:0.30 E:1.50 Count X:800 Y:1600 Z:120");
        fw_say(f, "ok");
    } else if (f->bufsize > 0) {
        /* answered by the tick, with the free buffer count */
        if (f->npending < 64)
            f->pending[f->npending++] = strdup(cmd);
        if (f->npending > f->max_pending)
            f->max_pending = f->npending;
    } else {
        fw_say(f, "ok");
    }
}

static void fw_tick(uv_timer_t *t)
{
    struct fw *f = t->data;
    if (f->npending == 0)
        return;
    free(f->pending[0]);
    memmove(f->pending, f->pending + 1, (size_t)(f->npending - 1) * sizeof f->pending[0]);
    f->npending--;
    fw_say(f, "ok N%ld P15 B%d", f->last_n, f->bufsize - f->npending);
}

/* Checks "N<n> <cmd>*<cs>" like Marlin and hands accepted commands to fw_answer. */
static void fw_line(struct fw *f, char *line)
{
    if (f->nraw < MAX_REC)
        f->raw[f->nraw++] = strdup(line);
    if (f->silent)
        return;
    long n = -1;
    char *cmd = line;
    if (line[0] == 'N') {
        char *star = strrchr(line, '*');
        n = strtol(line + 1, &cmd, 10);
        if (!star) {
            fw_say(f, "Error:No Checksum with line number, Last Line: %ld", f->last_n);
            fw_say(f, "Resend: %ld", f->last_n + 1);
            fw_say(f, "ok");
            return;
        }
        unsigned cs = (unsigned)atoi(star + 1);
        *star = '\0';
        if (framing_checksum(line, strlen(line)) != cs) {
            fw_say(f, "Error:checksum mismatch, Last Line: %ld", f->last_n);
            fw_say(f, "Resend: %ld", f->last_n + 1);
            fw_say(f, "ok");
            return;
        }
        while (*cmd == ' ')
            cmd++;
        if (strncmp(cmd, "M110", 4) == 0) {
            f->last_n = n;
        } else if (n != f->last_n + 1) {
            fw_say(f, "Error:Line Number is not Last Line Number+1, Last Line: %ld", f->last_n);
            fw_say(f, "Resend: %ld", f->last_n + 1);
            fw_say(f, "ok");
            return;
        } else {
            f->last_n = n;
        }
    }
    if (f->naccepted < MAX_REC)
        f->accepted[f->naccepted++] = strdup(cmd);
    fw_answer(f, cmd, n);
}

static void fw_on_poll(uv_poll_t *h, int status, int ev)
{
    struct fw *f = h->data;
    (void)ev;
    if (status < 0)
        return;
    ssize_t n = read(f->master, f->buf + f->len, sizeof f->buf - f->len - 1);
    if (n <= 0)
        return;
    f->len += (size_t)n;
    char *nl;
    while ((nl = memchr(f->buf, '\n', f->len))) {
        *nl = '\0';
        fw_line(f, f->buf);
        size_t used = (size_t)(nl - f->buf) + 1;
        memmove(f->buf, nl + 1, f->len - used);
        f->len -= used;
    }
}

static void fw_open(struct fw *f)
{
    struct termios t;
    ck_assert_int_eq(openpty(&f->master, &f->slave, NULL, NULL, NULL), 0);
    tcgetattr(f->slave, &t);
    cfmakeraw(&t);
    tcsetattr(f->slave, TCSANOW, &t);
    fcntl(f->master, F_SETFL, fcntl(f->master, F_GETFL) | O_NONBLOCK);
    snprintf(f->path, sizeof f->path, "%s", ptsname(f->master));
    uv_poll_init(&loop, &f->poll, f->master);
    f->poll.data = f;
    uv_poll_start(&f->poll, UV_READABLE, fw_on_poll);
    f->polling = true;
    f->last_n = 0;
    f->len = 0;
}

/* Unplugs the printer: the host sees a hang-up. */
static void fw_unplug(struct fw *f)
{
    uv_poll_stop(&f->poll);
    uv_close((uv_handle_t *)&f->poll, NULL);
    f->polling = false;
    close(f->slave);
    close(f->master);
}

static struct printer_options opts(void)
{
    struct printer_options o = {
        .port = fw.path, .baudrate = 115200, .reconnect_delay = 0.1, .reconnect_max_delay = 0.2,
        .connection_timeout = 2, .communication_timeout = 1, .temperature_interval = 30,
        .temperature_interval_target = 30, .autoreport_interval = 0, .extruders = 2,
        .heated_bed = false, .checksum = PRINTER_CHECKSUM_AUTO, .history_size = 1000,
        .advanced_ok_window = 8, .send_m112_on_error = true, .blocked_commands = "M0 M1",
        .reconnect = true, .zchange_mode = GCODEEVENTS_Z_OCTOPRINT,
    };
    return o;
}

static void keepalive_cb(uv_timer_t *t) { (void)t; }
static uv_timer_t keepalive;

static void setup(void)
{
    log_set_level(getenv("PB_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    uv_loop_init(&loop);
    events_init(&events);
    events_add_sink(&events, on_event, NULL);
    memset(&fw, 0, sizeof fw);
    fw.loop = &loop;
    uv_timer_init(&loop, &fw.tick);
    fw.tick.data = &fw;
    uv_timer_init(&loop, &keepalive);
    uv_timer_start(&keepalive, keepalive_cb, 5, 5);
    fw_open(&fw);
    nev = 0;
}

static void destroyed(void *ctx) { (void)ctx; }

static void teardown(void)
{
    if (pr)
        printer_destroy(pr, destroyed, NULL);
    pr = NULL;
    if (fw.polling)
        fw_unplug(&fw);
    uv_close((uv_handle_t *)&fw.tick, NULL);
    uv_close((uv_handle_t *)&keepalive, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    for (int i = 0; i < nev; i++)
        free(evlog[i]);
    for (int i = 0; i < fw.nraw; i++)
        free(fw.raw[i]);
    for (int i = 0; i < fw.naccepted; i++)
        free(fw.accepted[i]);
    for (int i = 0; i < fw.npending; i++)
        free(fw.pending[i]);
}

static int find_event(const char *prefix, int from)
{
    for (int i = from; i < nev; i++)
        if (strncmp(evlog[i], prefix, strlen(prefix)) == 0)
            return i;
    return -1;
}

static int find_raw(const char *line, int from)
{
    for (int i = from; i < fw.nraw; i++)
        if (strcmp(fw.raw[i], line) == 0)
            return i;
    return -1;
}

/* Runs the loop until an event starting with prefix was recorded (index) or seconds pass. */
static int wait_event(const char *prefix, double seconds)
{
    int i;
    RUN_UNTIL((i = find_event(prefix, 0)) >= 0, seconds);
    return i;
}

static bool wait_state(enum printer_state s, double seconds)
{
    RUN_UNTIL(printer_get_state(pr) == s, seconds);
    return printer_get_state(pr) == s;
}

static void run_for(double seconds)
{
    RUN_UNTIL(false, seconds);
}

/* what the printer told its owner */
static int shutdown_asked, connected_told;
static enum printer_state last_state_told;

static void cb_shutdown(void *ctx) { (void)ctx; shutdown_asked++; }
static void cb_connected(void *ctx) { (void)ctx; connected_told++; }
static void cb_state(void *ctx, enum printer_state st) { (void)ctx; last_state_told = st; }

static void connect_with(struct printer_options o)
{
    static const struct printer_callbacks cb = { .shutdown = cb_shutdown, .connected = cb_connected, .state = cb_state };
    shutdown_asked = connected_told = 0;
    ck_assert_int_eq(printer_create(&pr, &loop, &events, &o, &cb, NULL), 0);
    printer_connect(pr);
    RUN_UNTIL(printer_state_is_operational(printer_get_state(pr)), 3);
    ck_assert_msg(printer_state_is_operational(printer_get_state(pr)), "not operational");
    ck_assert_int_eq(connected_told, 1);
    ck_assert_int_eq(last_state_told, PRINTER_OPERATIONAL);
    /* the M115 answer identifies the firmware */
    RUN_UNTIL(find_event("FirmwareData", 0) >= 0, 2);
    run_for(0.05);
}

static void assert_event(const char *exact)
{
    for (int i = 0; i < nev; i++)
        if (strcmp(evlog[i], exact) == 0)
            return;
    for (int i = 0; i < nev; i++)
        fprintf(stderr, "  event %d: %s\n", i, evlog[i]);
    ck_abort_msg("no event %s", exact);
}

/* ---- handshake and states -------------------------------------------------------------- */

START_TEST(test_connect_walks_the_states_and_numbers_until_firmware_known)
{
    connect_with(opts());
    assert_event("Connecting {}");
    int a = find_event("PrinterStateChanged {\"state_id\": \"OPEN_SERIAL\"", 0);
    int b = find_event("PrinterStateChanged {\"state_id\": \"CONNECTING\"", 0);
    int c = find_event("PrinterStateChanged {\"state_id\": \"OPERATIONAL\", \"state_string\": \"Operational\"}", 0);
    int d = find_event("Connected {\"port\": ", 0);
    ck_assert(a >= 0 && a < b && b < c && c < d);
    /* docs/protocol.md 4.2, 4.6: hello, reset, then M115, all numbered */
    ck_assert_str_eq(fw.raw[0], "N0 M110 N0*125");
    ck_assert_int_ge(find_raw("N1 M115*39", 0), 0);
    assert_event("FirmwareData {\"name\": \"Test Marlin 1.0\", \"data\": {\"FIRMWARE_NAME\": \"Test Marlin 1.0\", "
                 "\"PROTOCOL_VERSION\": \"1.0\", \"EXTRUDER_COUNT\": \"1\"}}");
    /* identified: idle commands are sent bare */
    ck_assert_int_eq(printer_send(pr, "M117 hello ; comment"), 0);
    RUN_UNTIL(find_raw("M117 hello", 0) >= 0, 5);
    ck_assert_str_eq(fw.raw[fw.nraw - 1], "M117 hello");
}
END_TEST

static bool hook_start_first(struct fw *f, const char *cmd, long n)
{
    (void)n;
    if (strncmp(cmd, "M110", 4) == 0 && f->counter++ == 0) {
        fw_say(f, "start");     /* the board rebooted on open: greet it again */
        return true;
    }
    return false;
}

START_TEST(test_start_while_connecting_sends_another_hello)
{
    fw.hook = hook_start_first;
    connect_with(opts());
    ck_assert_str_eq(fw.raw[0], "N0 M110 N0*125");
    ck_assert_str_eq(fw.raw[1], "N0 M110 N0*125");
}
END_TEST

START_TEST(test_disconnect_fires_disconnecting_and_offline)
{
    connect_with(opts());
    printer_disconnect(pr);
    int a = find_event("Disconnecting {}", 0);
    int b = find_event("PrinterStateChanged {\"state_id\": \"OFFLINE\", \"state_string\": \"Offline\"}", a);
    int c = find_event("Disconnected {}", b);
    ck_assert(a >= 0 && b > a && c > b);
    ck_assert_int_eq(printer_send(pr, "M105"), -ENOTCONN);
}
END_TEST

/* ---- sending -------------------------------------------------------------------------- */

START_TEST(test_commands_are_validated_and_suppressed)
{
    connect_with(opts());
    ck_assert_int_eq(printer_send_buf(pr, "M105\nM112", 10), -EINVAL);
    ck_assert_int_eq(printer_send_buf(pr, "M105\0M112", 9), -EINVAL);
    ck_assert_int_eq(printer_send(pr, "   ; only a comment"), 0);
    ck_assert_int_eq(printer_send(pr, "M0"), -EPERM);
    assert_event("CommandSuppressed {\"command\": \"M0\", \"message\": \"Not sending M0 to printer, it is configured "
                 "as a blocked command\", \"severity\": \"info\"}");
    ck_assert_int_eq(printer_send(pr, "M140 S60"), -EPERM);
    assert_event("CommandSuppressed {\"command\": \"M140 S60\", \"message\": \"Not sending M140 to printer, the "
                 "printer profile has no heated bed\", \"severity\": \"warn\"}");
    ck_assert_int_eq(printer_send(pr, "M141 S40"), -EPERM);
    ck_assert_int_eq(printer_send(pr, "T5"), -EPERM);
    ck_assert_int_eq(printer_send(pr, "M104 T7 S200"), -EPERM);
    run_for(0.1);
    ck_assert_int_lt(find_raw("M0", 0), 0);
    ck_assert_int_lt(find_raw("M140 S60", 0), 0);
    ck_assert_int_eq(find_event("Waiting", 0), -1);   /* suppressed before the event lookup */
}
END_TEST

START_TEST(test_gcode_events_tool_change_and_zchange)
{
    connect_with(opts());
    const char *cmds[] = { "G28", "M80", "M81", "G4 P1", "M226", "M245", "M300 S440", "M240", "M40",
                           "M600", "M701", "M702", "T1", "G1 Z0.2 F3000", "G1 Z0.2", "G1 Z0.4" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        ck_assert_int_eq(printer_send(pr, cmds[i]), 0);
    RUN_UNTIL(find_event("ZChange {\"new\": 0.4", 0) >= 0, 5);
    const char *want[] = { "Home {}", "PowerOn {}", "PowerOff {}", "Dwelling {}", "Waiting {}", "Cooling {}",
                           "Alert {}", "Conveyor {}", "Eject {}", "FilamentChange {}",
                           "ToolChange {\"old\": 0, \"new\": 1}",
                           "ZChange {\"new\": 0.2, \"old\": null}", "ZChange {\"new\": 0.4, \"old\": 0.2}" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_event(want[i]);
    ck_assert_int_eq(printer_get_model(pr)->current_tool, 1);
    ck_assert(printer_get_model(pr)->has_z && printer_get_model(pr)->current_z == 0.4);
    ck_assert_int_eq(printer_send(pr, "M114"), 0);
    ck_assert_int_ge(wait_event("PositionUpdate", 1), 0);
    assert_event("PositionUpdate {\"reason\": null, \"x\": 10.0, \"y\": 20.0, \"z\": 0.3, \"e\": 1.5, \"t\": 1, "
                 "\"f\": 3000.0}");
}
END_TEST

START_TEST(test_emergency_commands_skip_the_queue)
{
    connect_with(opts());
    fw.silent = true;             /* nothing gets an ok: the queue backs up */
    printer_send(pr, "G28");
    printer_send(pr, "G1 X10");
    printer_send(pr, "M108");     /* Cap:EMERGENCY_PARSER:1 was reported */
    RUN_UNTIL(find_raw("M108", 0) >= 0, 5);
    ck_assert_int_ge(find_raw("M108", 0), 0);
    ck_assert_int_lt(find_raw("G1 X10", 0), 0);
    printer_send(pr, "M112");
    RUN_UNTIL(find_raw("M112", 0) >= 0 && fw.nraw > find_raw("M112", 0) + 2, 5);
    int raw = find_raw("M112", 0);
    ck_assert_int_ge(raw, 0);
    ck_assert_msg(strstr(fw.raw[raw + 1], " M112*") != NULL, "%s", fw.raw[raw + 1]);
    ck_assert_msg(strstr(fw.raw[raw + 2], " M104 T0 S0*") != NULL, "%s", fw.raw[raw + 2]);
    ck_assert_msg(strstr(fw.raw[raw + 3], " M104 T1 S0*") != NULL, "%s", fw.raw[raw + 3]);
    assert_event("EStop {}");
    ck_assert_int_ge(find_event("PrinterStateChanged {\"state_id\": \"ERROR\"", 0), 0);
}
END_TEST

/* ---- streaming, resends, lost oks ---------------------------------------------------------- */

/* A line source as a job would attach it: "G1 X<i>.5 Y<i> E<i>" for i = 1..lines, with a
 * comment-free empty turn now and then; it records the printer's calls. */
struct test_source {
    int lines, next;
    int dry, done;          /* ended(false), ended(true) */
    int calls_after_done;   /* next() called after ended(true): a bug */
    bool active;
};
static struct test_source src;

static int src_next(void *ctx, char *line, size_t size)
{
    struct test_source *t = ctx;
    if (t->done)
        t->calls_after_done++;
    if (t->next >= t->lines)
        return -1;
    t->next++;
    if (t->next % 50 == 0)
        return 0;       /* nothing this time: the printer asks again */
    snprintf(line, size, "G1 X%d.5 Y%d E%d", t->next % 200, t->next % 150, t->next);
    return 1;
}

static void src_ended(void *ctx, bool acknowledged)
{
    struct test_source *t = ctx;
    if (acknowledged) {
        ck_assert_int_eq(t->dry, 1);    /* "ran dry" comes first, once */
        t->done++;
        t->active = false;
    } else {
        t->dry++;
    }
}

static void src_request(void *ctx, enum printer_request r)
{
    (void)ctx;
    (void)r;
}

static const struct printer_source test_source = { .next = src_next, .ended = src_ended, .request = src_request };

static void start_source(int lines)
{
    memset(&src, 0, sizeof src);
    src.lines = lines;
    src.active = true;
    ck_assert_int_eq(printer_set_activity(pr, PRINTER_PRINTING), 0);
    ck_assert_int_eq(printer_source_attach(pr, &test_source, &src), 0);
    ck_assert_int_eq(printer_source_attach(pr, &test_source, &src), -EBUSY);
}

static void wait_source_done(double seconds)
{
    RUN_UNTIL(!src.active, seconds);
    ck_assert_msg(!src.active, "the source did not finish");
    ck_assert_int_eq(src.done, 1);
    run_for(0.05);
    ck_assert_int_eq(src.calls_after_done, 0);
}

/* The file's commands, in order, exactly once each among what the firmware accepted. */
static void assert_stream_arrived(int lines)
{
    int next = 1;
    for (int i = 0; i < fw.naccepted; i++) {
        if (strncmp(fw.accepted[i], "G1 X", 4) != 0)
            continue;
        char want[64];
        if (next % 50 == 0)
            next++;     /* the source's empty turns */
        snprintf(want, sizeof want, "G1 X%d.5 Y%d E%d", next % 200, next % 150, next);
        ck_assert_msg(strcmp(fw.accepted[i], want) == 0, "accepted[%d] = %s, expected %s", i, fw.accepted[i], want);
        next++;
    }
    if (next % 50 == 0)
        next++;
    ck_assert_int_eq(next, lines + 1);
}

static bool hook_faults(struct fw *f, const char *cmd, long n)
{
    (void)cmd;
    f->counter++;
    if (n > 0 && n % 37 == 0 && f->counter % 2 == 0) {
        /* pretend the line arrived corrupted: undo its acceptance and ask again */
        free(f->accepted[--f->naccepted]);
        f->last_n = n - 1;
        fw_say(f, "Error:checksum mismatch, Last Line: %ld", n - 1);
        fw_say(f, "Resend: %ld", n);
        if (n % 3 != 0)
            fw_say(f, "ok");      /* and sometimes forget the ok (docs/protocol.md 8.4) */
        return true;
    }
    if (n == 120)
        return true;              /* a lost ok: the communication timeout must recover */
    return false;
}

START_TEST(test_stream_survives_resends_and_lost_oks)
{
    fw.hook = hook_faults;
    struct printer_options o = opts();
    o.temperature_interval = 0.3;     /* communication interval 1.3 s; M105 polls interleave */
    connect_with(o);
    int before = fw.nraw;
    start_source(400);
    wait_source_done(15);
    /* the source's numbering starts with M110 N0, its first line is N1 */
    int m110 = find_raw("N0 M110 N0*125", before);
    ck_assert_int_ge(m110, 0);
    ck_assert_int_eq(strncmp(fw.raw[m110 + 1], "N1 G1 X1.5 Y1 E1*", 17), 0);
    assert_stream_arrived(400);
    ck_assert_int_gt(printer_get_model(pr)->resends, 5);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_PRINTING);    /* the state is the job's to change */
}
END_TEST

static int count_accepted(const char *line)
{
    int n = 0;
    for (int i = 0; i < fw.naccepted; i++)
        n += strcmp(fw.accepted[i], line) == 0;
    return n;
}

START_TEST(test_source_hold_and_detach)
{
    connect_with(opts());
    start_source(100000);
    RUN_UNTIL(src.next > 0, 5);
    printer_source_hold(pr, true);
    run_for(0.1);
    int held = src.next;
    ck_assert_int_gt(held, 0);
    run_for(0.2);
    ck_assert_int_eq(src.next, held);           /* nothing more is read while held */
    int polls = count_accepted("M105");
    ck_assert_int_eq(printer_send(pr, "M105"), 0);
    RUN_UNTIL(count_accepted("M105") >= polls + 1, 5);
    ck_assert_int_ge(count_accepted("M105"), polls + 1);   /* queued commands still go out */
    ck_assert_int_eq(src.next, held);
    printer_source_hold(pr, false);
    RUN_UNTIL(src.next > held, 5);
    ck_assert_int_gt(src.next, held);
    printer_source_detach(pr);
    int at = src.next;
    run_for(0.2);
    ck_assert_int_eq(src.next, at);             /* never called again */
    ck_assert_int_eq(src.dry + src.done, 0);
    ck_assert_int_eq(printer_source_attach(pr, &test_source, &src), 0);   /* free again */
}
END_TEST

START_TEST(test_advanced_ok_fills_but_never_overruns_the_buffer)
{
    fw.bufsize = 4;
    uv_timer_start(&fw.tick, fw_tick, 2, 1);
    connect_with(opts());
    start_source(300);
    wait_source_done(15);
    assert_stream_arrived(300);
    ck_assert(printer_get_model(pr)->advanced_ok);
    ck_assert_int_le(fw.max_pending, 4);
    ck_assert_int_ge(fw.max_pending, 2);
}
END_TEST

START_TEST(test_resend_outside_history_while_printing_is_fatal)
{
    connect_with(opts());
    fw_say(&fw, "Resend: 5000");
    run_for(0.1);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_OPERATIONAL);   /* idle: dropped */
    fw.silent = true;
    start_source(50000);
    run_for(0.05);
    fw_say(&fw, "Resend: 5000");
    ck_assert_int_ge(wait_event("Error", 1), 0);
    assert_event("Error {\"error\": \"Should resend line 5000 but no sufficient history is available, can't resend\", "
                 "\"reason\": \"resend\", \"consequence\": \"emergency\"}");
    ck_assert(!printer_state_is_operational(printer_get_state(pr)));
    ck_assert_int_eq(src.done, 0);      /* a dropped source is not "done" */
}
END_TEST

/* ---- receiving ------------------------------------------------------------------------ */

START_TEST(test_kill_sequence_is_fatal_with_emergency_stop)
{
    struct printer_options o = opts();
    o.reconnect = false;      /* keep the error in the model (a reconnect clears it) */
    connect_with(o);
    fw_say(&fw, "Error:Thermal Runaway, system stopped! Heater_ID: bed");
    fw_say(&fw, "Error:Printer halted. kill() called!");
    ck_assert_int_ge(wait_event("Error", 2), 0);
    int e = find_event("Error {\"error\": \"Thermal Runaway, system stopped! Heater_ID: bed - Printer halted. "
                       "kill() called!\", \"reason\": \"firmware\", \"consequence\": \"emergency\", \"faq\": "
                       "\"firmware-thermal-runaway\", \"logs\": [", 0);
    ck_assert_msg(e >= 0, "%s", evlog[find_event("Error", 0)]);
    int s1 = find_event("PrinterStateChanged {\"state_id\": \"ERROR\"", 0);
    int es = find_event("EStop {}", 0);
    int s2 = find_event("PrinterStateChanged {\"state_id\": \"OFFLINE\"", s1);
    int dc = find_event("Disconnected {}", s2);
    ck_assert(s1 >= 0 && s1 < e && e < es && es < s2 && s2 < dc);
    RUN_UNTIL(find_raw("M112", 0) >= 0, 5);
    ck_assert_int_ge(find_raw("M112", 0), 0);
    ck_assert_str_eq(printer_get_model(pr)->error,
                     "Thermal Runaway, system stopped! Heater_ID: bed - Printer halted. kill() called!");
}
END_TEST

START_TEST(test_recoverable_errors_are_not_fatal)
{
    connect_with(opts());
    fw_say(&fw, "Error:Unknown command: \"M999x\"");
    fw_say(&fw, "echo:Unknown command: \"G999\"");
    fw_say(&fw, "Error:volume.init failed");
    fw_say(&fw, "Error:No Line Number with checksum, Last Line: 3");
    run_for(0.1);
    ck_assert_int_eq(find_event("Error", 0), -1);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_OPERATIONAL);
}
END_TEST

START_TEST(test_mintemp_is_fatal_without_m112_when_configured)
{
    struct printer_options o = opts();
    o.send_m112_on_error = false;
    o.reconnect = false;
    connect_with(o);
    fw_say(&fw, "Error: MINTEMP triggered, system stopped! Heater_ID: E0");
    fw_say(&fw, "Error:Printer halted. kill() called!");
    ck_assert_int_ge(wait_event("Error", 2), 0);
    ck_assert_int_ge(find_event("Error {\"error\": \"MINTEMP triggered, system stopped! Heater_ID: E0 - Printer halted. "
                                "kill() called!\", \"reason\": \"firmware\", \"consequence\": \"disconnect\", \"faq\": "
                                "\"firmware-mintemp\"", 0), 0);
    ck_assert_int_lt(find_raw("M112", 0), 0);
    run_for(0.5);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_CLOSED_WITH_ERROR);   /* no reconnect */
}
END_TEST

START_TEST(test_silent_printer_times_out)
{
    struct printer_options o = opts();
    o.temperature_interval = 0.2;     /* communication interval max(1, 0.2 + 1) = 1.2 s */
    o.reconnect = false;
    connect_with(o);
    fw.silent = true;
    ck_assert_int_ge(wait_event("Error", 8), 0);
    assert_event("Error {\"error\": \"Too many consecutive timeouts, printer still connected and alive?\", \"reason\": "
                 "\"timeout\", \"consequence\": \"emergency\"}");
    ck_assert_int_eq(printer_get_state(pr), PRINTER_CLOSED_WITH_ERROR);
}
END_TEST

START_TEST(test_start_while_operational_resets)
{
    connect_with(opts());
    int before = fw.nraw;
    fw_say(&fw, "start");
    ck_assert_int_ge(wait_event("PrinterReset", 1), 0);
    assert_event("PrinterReset {\"idle\": true}");
    RUN_UNTIL(find_raw("N0 M110 N0*125", before) >= 0, 5);
    ck_assert_int_ge(find_raw("N0 M110 N0*125", before), 0);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_OPERATIONAL);
}
END_TEST

START_TEST(test_busy_actions_and_invalid_tool)
{
    connect_with(opts());
    fw_say(&fw, "echo:busy: paused for user");
    fw_say(&fw, "//action:notification Filament runout");
    fw_say(&fw, "echo:T1 Invalid extruder");
    fw_say(&fw, "// action:shutdown");
    RUN_UNTIL(shutdown_asked > 0 && find_raw("M113 S2", 0) >= 0 && find_raw("T0", 0) >= 0, 5);
    assert_event("PausedForUser {}");
    assert_event("ActionNotification {\"message\": \"Filament runout\"}");
    assert_event("InvalidToolReported {\"tool\": 1, \"fallback\": 0}");
    ck_assert_int_ge(find_raw("M113 S2", 0), 0);
    ck_assert_int_ge(find_raw("T0", 0), 0);
    ck_assert_int_eq(shutdown_asked, 1);    /* the owner decides what a shutdown request runs */
    /* tool 1 is invalid now: selecting it is suppressed */
    ck_assert_int_eq(printer_send(pr, "T1"), -EPERM);
    fw_say(&fw, "//action:disconnect");
    ck_assert(wait_state(PRINTER_CLOSED, 1));
}
END_TEST

START_TEST(test_unplugged_port_errors_and_reconnects)
{
    char dir[] = "/tmp/pb-pty-XXXXXX", link[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(link, sizeof link, "%s/printer.tty", dir);
    ck_assert_int_eq(symlink(fw.path, link), 0);
    struct printer_options o = opts();
    o.port = link;
    connect_with(o);
    fw_unplug(&fw);
    ck_assert_int_ge(wait_event("Disconnected", 2), 0);
    int e = find_event("Error {\"error\": \"The serial port ", 0);
    ck_assert_int_ge(e, 0);
    ck_assert_msg(strstr(evlog[e], "\"reason\": \"connection\", \"consequence\": \"disconnect\"}") != NULL, "%s", evlog[e]);
    /* plugged in again (a new device node behind the same stable name) */
    fw_open(&fw);
    unlink(link);
    ck_assert_int_eq(symlink(fw.path, link), 0);
    for (int i = 0; i < nev; i++)
        free(evlog[i]);
    nev = 0;
    ck_assert(wait_state(PRINTER_OPERATIONAL, 5));
    unlink(link);
    rmdir(dir);
}
END_TEST

Suite *printer_suite(void);
Suite *printer_suite(void)
{
    Suite *s = suite_create("printer");
    TCase *tc = tcase_create("pty");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_connect_walks_the_states_and_numbers_until_firmware_known);
    tcase_add_test(tc, test_start_while_connecting_sends_another_hello);
    tcase_add_test(tc, test_disconnect_fires_disconnecting_and_offline);
    tcase_add_test(tc, test_commands_are_validated_and_suppressed);
    tcase_add_test(tc, test_gcode_events_tool_change_and_zchange);
    tcase_add_test(tc, test_emergency_commands_skip_the_queue);
    tcase_add_test(tc, test_stream_survives_resends_and_lost_oks);
    tcase_add_test(tc, test_source_hold_and_detach);
    tcase_add_test(tc, test_advanced_ok_fills_but_never_overruns_the_buffer);
    tcase_add_test(tc, test_resend_outside_history_while_printing_is_fatal);
    tcase_add_test(tc, test_kill_sequence_is_fatal_with_emergency_stop);
    tcase_add_test(tc, test_recoverable_errors_are_not_fatal);
    tcase_add_test(tc, test_mintemp_is_fatal_without_m112_when_configured);
    tcase_add_test(tc, test_silent_printer_times_out);
    tcase_add_test(tc, test_start_while_operational_resets);
    tcase_add_test(tc, test_busy_actions_and_invalid_tool);
    tcase_add_test(tc, test_unplugged_port_errors_and_reconnects);
    suite_add_tcase(s, tc);
    return s;
}
