/* printer_impl.h: the printer layer's shared state, private to src/printer/.
 *
 * One struct printer, owned by printer.c, is read and written by four files, each with its
 * own part and prefix:
 *   printer.c   life cycle, options, the state machine and model, the queuing phase of a
 *               command (printer_send), the line source, errors and the terminal log
 *   sendq.c     the send path: the command queue, line numbers and checksums, the window of
 *               commands in flight, resend replays, bookkeeping once a command went out
 *   link.c      the connection: open, handshake and baud detection, reconnect backoff,
 *               timeouts and the watchdog, temperature polls, close
 *   receive.c   every received line: ok, resend, errors, busy, actions, reports, resets */
#ifndef PRINTBRIDGE_PRINTER_IMPL_H
#define PRINTBRIDGE_PRINTER_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "printbridge/printer.h"
#include "printbridge/serial.h"

#include "gcodeevents.h"
#include "history.h"
#include "protocol.h"
#include "resend.h"

#define PRINTER_PATH_SIZE 512
#define PRINTER_MAX_BLOCKED 16
#define PRINTER_MAX_TOOLS 16
/* the last terminal lines quoted in a firmware Error's "logs" */
#define PRINTER_TERMLOG_LINES 20
#define PRINTER_TERMLOG_WIDTH 200
#define PRINTER_SD_AUTOREPORT_INTERVAL 1
/* the communication timeout once the firmware speaks the busy protocol, s */
#define PRINTER_COMMUNICATION_BUSY 3.0

/* the commands whose ok is awaited, oldest first: at most the window, plus stragglers */
#define PRINTER_ACK_RING 64
#define PRINTER_ACK_TEXT 96
/* a link must stay operational this long before the reconnect backoff starts over, ms */
#define PRINTER_HEALTHY_MS 30000

/* Who wants to hear how a command ended (printer_send_then), and whether it is a poll. */
struct printer_waiter {
    printer_done_fn done;
    void *ctx;
    bool poll;
};

struct queued_cmd {
    struct queued_cmd *next;
    struct printer_waiter w;
    char text[];
};

/* A command written and not yet acknowledged. */
struct printer_ack {
    struct printer_waiter w;
    char text[PRINTER_ACK_TEXT];    /* cut; for CommandError and polls */
};

struct printer {
    uv_loop_t *loop;
    struct events *ev;
    struct printer_options opt;
    char blocked[PRINTER_MAX_BLOCKED][16];
    int nblocked;
    struct printer_callbacks cb;
    void *cb_ctx;

    enum printer_state state;
    struct printer_model model;
    struct port *port;
    char path[PRINTER_PATH_SIZE];   /* the port actually opened */
    int baud;
    bool want_connected;            /* false after printer_disconnect */
    bool destroying;

    uv_timer_t reconnect_timer;
    uv_timer_t comm_timer;          /* handshake deadline */
    uv_timer_t watch_timer;         /* communication timeouts once operational */
    uv_timer_t poll_timer;          /* M105 polling when the firmware does not autoreport */
    uv_timer_t lost_timer;          /* handles a lost port outside the port's callback */
    uv_timer_t error_timer;         /* waits for the second half of a kill message */
    uv_timer_t resend_ok_timer;     /* a resend request without its ok */
    uv_timer_t healthy_timer;       /* operational long enough: the backoff starts over */
    uv_timer_t restart_timer;       /* Klipper's FIRMWARE_RESTART took too long to report Ready */
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
    bool resync_wanted;             /* printer_resync_next: ask for the line counter */
    bool resync_line_error;         /* the line-number error answering the question came */
    struct printer_resync resync;
    int baud_index;                 /* into the baud rates tried while detecting */

    /* send path */
    struct queued_cmd *q_head, *q_tail;
    size_t q_len;
    int inflight;                   /* commands written and not yet acknowledged */
    int fw_free;                    /* B of the last ADVANCED_OK ok */
    unsigned long line;             /* last line number used */
    struct history hist;
    struct resend rs;
    struct printer_ack acks[PRINTER_ACK_RING];
    int ack_head, ack_count;
    char cmd_error[FRAMING_MAX_LINE + 1];  /* the firmware's error for the oldest command */
    bool has_cmd_error;
    bool resend_warned;

    /* the line source (a job's file) */
    bool has_src;
    struct printer_source src;
    void *src_ctx;
    bool src_held;                  /* no more of its lines for now */
    bool src_dry;                   /* next() said there is no more */
    bool src_dry_told;              /* ended(false) was called */

    /* timeouts (uv_now milliseconds) */
    uint64_t line_deadline, ok_deadline, dwell_until;
    int timeouts;
    bool long_running;
    bool heating;

    /* firmware */
    bool firmware_known;
    bool always_checksum;           /* firmware tweak (Repetier, Malyan) */
    bool unknown_need_ack;          /* firmware tweak (Klipper, Prusa) */
    bool klipper;                   /* Klipper's dialect (klipper.c) */
    bool halted;                    /* the firmware shut down; the port stays open for a restart */
    bool restart_wait;              /* FIRMWARE_RESTART sent: waiting for "Klipper state: Ready" */
    bool restart_pending;           /* firmware_restart asked while the link was down */
    bool manual_streaming;          /* M28 typed by a user */
    bool cap_seen, cap_done, m115_sent;
    bool cap_autoreport_temp, cap_autoreport_sd, cap_autoreport_pos, cap_emergency;
    bool autoreport_temp, autoreport_sd, autoreport_pos;
    bool busy_seen;
    bool target_set;                /* any target above 25 C: poll faster */
    int current_tool;
    bool invalid_tool[PRINTER_MAX_TOOLS];
    struct gcodeevents_z z;

    /* terminal log for Error "logs" */
    char termlog[PRINTER_TERMLOG_LINES][PRINTER_TERMLOG_WIDTH];
    int term_next, term_count;
};

/* ---- printer.c ---------------------------------------------------------------------- */

uint64_t printer_ms(double seconds);
/* Inline: the send path asks this a dozen times per line, mostly of constant names, which
 * the compiler then compares without calling strcmp. */
static inline bool printer_is_gcode(const char *gcode, const char *name)
{
    return strcmp(gcode, name) == 0;
}
void printer_set_state(struct printer *p, enum printer_state s);
void printer_model_changed(struct printer *p);
void printer_term_add(struct printer *p, const char *prefix, const char *text, size_t len);
json_t *printer_term_logs(const struct printer *p);
json_t *printer_error_payload(const char *text, const char *reason);
void printer_set_model_error(struct printer *p, const char *text);
void printer_fire_error(struct printer *p, const char *text, const char *reason);
/* The queuing phase shared by user commands and source lines: 1 when cmd is to be sent,
 * 0 when it was consumed here (host command, emergency stop, pausing command), -EPERM when
 * it was suppressed (CommandSuppressed fired). */
int printer_prepare(struct printer *p, const char *cmd, const char *gcode, bool from_source);
bool printer_tool_invalid(const struct printer *p, long t);
/* Passes a pause/resume/cancel request to the source's owner (ignored without a source). */
void printer_request(struct printer *p, enum printer_request r);
/* The source ran dry and everything went out: tells its owner (see struct printer_source). */
void printer_source_check_end(struct printer *p);

/* ---- sendq.c ------------------------------------------------------------------------ */

int sendq_enqueue(struct printer *p, const char *cmd);
int sendq_enqueue_then(struct printer *p, const char *cmd, const struct printer_waiter *w);
/* Drops the queue; its waiters hear why. */
void sendq_clear_why(struct printer *p, const char *why);
void sendq_clear(struct printer *p);
/* Every command awaiting its ok is given up (why), and nothing is in flight any more. */
void sendq_fail_inflight(struct printer *p, const char *why);
/* An ok arrived: the oldest command awaiting one is done (with the error noted for it). */
void sendq_acked(struct printer *p);
/* The firmware refused the oldest command awaiting its ok: CommandError, and its waiter
 * hears the error with the ok that follows. */
void sendq_command_error(struct printer *p, const char *text);
/* Marlin's "Unknown command" for cmd: the CommandError of the oldest command awaiting its
 * ok when it is that command, else an event naming cmd alone. */
void sendq_unknown_command(struct printer *p, const char *cmd, const char *text);
/* True when a poll of this G-code waits in the queue or for its ok. */
bool sendq_poll_outstanding(const struct printer *p, const char *gcode);
/* Sends whatever may go now: resend replays first, then queued commands, then the source. */
void sendq_pump(struct printer *p);
/* Writes one command now (numbered or not) and counts it in flight if it will be acked. */
void sendq_send(struct printer *p, const char *cmd);
void sendq_send_then(struct printer *p, const char *cmd, const struct printer_waiter *w);
/* Numbers cmd with the next line number, keeps it for resends, writes it. */
void sendq_numbered(struct printer *p, const char *cmd);
void sendq_write_numbered(struct printer *p, unsigned long n, const char *cmd);
int sendq_write_raw(struct printer *p, const char *data, size_t n);
/* M112, numbered M112, every heater off, EStop. */
void sendq_emergency_stop(struct printer *p);

/* ---- link.c ------------------------------------------------------------------------- */

/* The communication timeout in force: the larger of the (busy) timeout and the
 * temperature interval + 1. */
double link_comm_interval(const struct printer *p);
void link_reset_deadlines(struct printer *p);
void link_watch_rearm(struct printer *p);
/* Closes the port and forgets everything about the firmware; final_state is shown. */
void link_close(struct printer *p, enum printer_state final_state);
void link_schedule_reconnect(struct printer *p);
/* A fatal error: Error event, emergency stop when configured, close, reconnect later. */
void link_fatal(struct printer *p, const char *text, const char *reason);
/* The hello answered: OPERATIONAL, Connected, the follow-up commands. */
void link_on_connected(struct printer *p);
/* A line while connecting: returns true when it was the handshake's to handle. */
bool link_on_handshake_line(struct printer *p, enum protocol_kind kind, const char *line);
/* Shakes hands again on the open port, as after opening it (the firmware restarted). */
void link_rehandshake(struct printer *p);
/* Connects now, whatever the backoff said. */
void link_connect_now(struct printer *p);

/* ---- klipper.c ---------------------------------------------------------------------- */

/* The firmware turned out to be Klipper: ask for its state (STATUS). */
void klipper_learn(struct printer *p);
/* A line from an operational Klipper: true when it was Klipper's to handle. */
bool klipper_on_line(struct printer *p, const char *line);
/* A line while halted (the port open, the firmware shut down). */
void klipper_on_halted_line(struct printer *p, const char *line, enum protocol_kind kind);
/* The firmware shut down: Error once, the port kept open, no reconnects. */
void klipper_halt(struct printer *p, const char *text);

/* ---- receive.c ---------------------------------------------------------------------- */

/* Every complete line from the port (the port's line callback). */
void receive_line(void *ctx, const char *line, size_t len);
/* An acknowledgement: one command less in flight (line NULL: a simulated ok). */
void receive_ok(struct printer *p, const char *line);

#endif
