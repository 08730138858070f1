/* printbridge/printer.h: the printer layer:
 * The printer link: connection life cycle, the send queue and resend window,
 * received-line handling and OctoPrint's state machine with its events. */
#ifndef PRINTBRIDGE_PRINTER_H
#define PRINTBRIDGE_PRINTER_H

#include <stdbool.h>
#include <uv.h>

#include "printbridge/base.h"

/* ---- printer: the printer link. It knows lines, not jobs: it opens the port (and
 * reopens it with backoff), shakes hands, numbers and checksums lines, keeps a window of
 * commands in flight and a history for resends, reads every received line, and keeps the
 * printer model and OctoPrint's state machine with its events. A job hands it a line source
 * (struct printer_source) and sets the job's part of the state (printer_set_activity); the
 * printer tells the source's owner when the source ran dry and when its last line was
 * acknowledged, and passes on what the firmware asks of a print (pause, resume, cancel).
 * The serial protocol as implemented is described in docs/protocol.md. */

/* A temperature report, parsed and canonicalised (see protocol_parse_temperatures). */
#define PROTOCOL_MAX_SENSORS 16
#define PROTOCOL_SENSOR_NAME 32
/* Highest tool number accepted from a report (Marlin drives at most 8 extruders). "T<n>:" with
 * a larger n, or with a leading zero as in "T01:", is dropped, so a garbled line cannot make
 * the daemon publish a hundred tools. Tools, B and C therefore always fit in t[]. */
#define PROTOCOL_MAX_TOOL 7

struct protocol_temp {
    char sensor[PROTOCOL_SENSOR_NAME]; /* canonical: "T0".."Tn", "B", "C", or a custom \w+ name */
    double actual;
    double target;
    bool has_target;
};

struct protocol_temps {
    struct protocol_temp t[PROTOCOL_MAX_SENSORS]; /* tools in ascending order, then B, C, custom */
    int count;
    int max_tool;          /* highest tool number seen, at least current_tool */
};


/* MQTT key of a canonical sensor: "T3" -> "tool3", "B" -> "bed", "C" -> "chamber", custom
 * names unchanged. Returns the length, or -E2BIG if out is too small. */
int protocol_sensor_key(const char *sensor, char *out, size_t outsz);

/* How ZChange events are derived from the Z of sent moves. */
enum gcodeevents_zmode {
    GCODEEVENTS_Z_OCTOPRINT,   /* every literal Z of G0/G1 that differs (upstream semantics) */
    GCODEEVENTS_Z_LAYER,       /* only a Z at which extrusion happens, Z-hops ignored */
};

/* OctoPrint's comm states (docs/protocol.md 14.1), plus OFFLINE for "no connection". */
enum printer_state {
    PRINTER_NONE, PRINTER_OPEN_SERIAL, PRINTER_DETECT_SERIAL, PRINTER_CONNECTING,
    PRINTER_OPERATIONAL, PRINTER_STARTING, PRINTER_PRINTING, PRINTER_PAUSED, PRINTER_PAUSING,
    PRINTER_RESUMING, PRINTER_FINISHING, PRINTER_CLOSED, PRINTER_ERROR, PRINTER_CLOSED_WITH_ERROR,
    PRINTER_TRANSFERING_FILE, PRINTER_CANCELLING, PRINTER_OFFLINE,
};

/* "OPERATIONAL", "CLOSED_WITH_ERROR", ... */
const char *printer_state_id(enum printer_state s);
/* "Operational", "Offline after error", ... */
const char *printer_state_string(enum printer_state s);

/* When lines carry "N<n> ... *<checksum>" (docs/protocol.md 3.3). M110 always does. */
enum printer_checksum {
    PRINTER_CHECKSUM_AUTO,      /* as OctoPrint: until the firmware is identified, while streaming */
    PRINTER_CHECKSUM_ALWAYS,    /* every G/M/T command */
    PRINTER_CHECKSUM_NEVER,     /* only M110 */
};

/* "auto", "always", "never" -> the mode; -1 for anything else. */
int printer_checksum_parse(const char *name);
/* "octoprint", "layer" -> the ZChange mode; -1 for anything else. */
int printer_zchange_mode_parse(const char *name);

struct printer_options {
    const char *port;               /* path or "auto" */
    int baudrate;                   /* 0: auto */
    const char *usb_id;             /* "VID:PID" or NULL, for port "auto" */
    double reconnect_delay;         /* s */
    double reconnect_max_delay;     /* s */
    double connection_timeout;      /* s */
    double communication_timeout;   /* s */
    double temperature_interval;    /* s */
    double temperature_interval_target; /* s */
    int autoreport_interval;        /* s; 0: never ask the firmware to autoreport */
    int position_autoreport_interval; /* s; 0: never ask for position autoreports (M154) */
    char *const *after_connected;   /* NULL-terminated G-code lines, or NULL */
    /* the printer profile (what the machine has) */
    int extruders;                  /* 1.. */
    bool heated_bed;
    bool heated_chamber;
    /* protocol engine */
    enum printer_checksum checksum;
    int history_size;               /* lines kept for resend requests; < 1000: 1000 */
    int advanced_ok_window;         /* most commands in flight with ADVANCED_OK; <= 1: one */
    bool send_m112_on_error;        /* fatal error: M112 and heaters off before closing */
    const char *blocked_commands;   /* G-codes never sent ("M0 M1"), or NULL */
    bool reconnect;                 /* reopen a lost or failed port on a backoff */
    enum gcodeevents_zmode zchange_mode;
};

/* What the printer is and does, as OctoPrint's printer data shows it: read by the state topic
 * and Home Assistant discovery, written only by the printer layer. The job's part (file,
 * progress, times) belongs to the jobs layer. */
#define PRINTER_MAX_HEATERS PROTOCOL_MAX_SENSORS

struct printer_heater {
    char key[PROTOCOL_SENSOR_NAME + 8];  /* "tool0", "bed", "chamber", custom name */
    double actual, target;
    bool has_target;
};

struct printer_model {
    enum printer_state state;
    char error[512];                /* last error text, "" when none */
    char port[512];                 /* port in use, "" when none */
    int baudrate;
    char firmware_name[256];        /* "" until known */
    char firmware_machine[256];     /* MACHINE_TYPE of the firmware report, "" until known */
    char firmware_uuid[256];        /* UUID of the firmware report, "" until known */
    bool sd_ready;
    int current_tool;
    bool has_z;
    double current_z;
    struct printer_heater heaters[PRINTER_MAX_HEATERS];
    int nheaters;
    long long temps_time;           /* epoch seconds of the last temperature report */
    unsigned long lines_sent;       /* lines written to the printer (resends included) */
    unsigned long resends;          /* resend requests received */
    unsigned long timeouts;         /* communication timeouts since start (docs/protocol.md 12.4) */
    /* last position report (M114 answer or autoreport) */
    bool has_position;
    double x, y, z, e;
    bool has_f;
    double f;                       /* last F sent with G0/G1/G28 */
    /* firmware features */
    bool advanced_ok;               /* oks carry P/B: the window is in use */
    bool emergency_parser;
    bool busy_protocol;
};

/* What the firmware, or a host command in the printed file, asks of the print. */
enum printer_request {
    PRINTER_REQUEST_PAUSE,      /* "@pause", "//action:pause", M0/M1/M25 in the file */
    PRINTER_REQUEST_RESUME,     /* "@resume", "//action:resume" */
    PRINTER_REQUEST_CANCEL,     /* "@cancel", "//action:cancel", or the printer reset itself */
};

/* A source of lines to print, owned by a job. */
struct printer_source {
    /* Writes the next command into line (size bytes, NUL-terminated, comment already
     * stripped). Returns 1 for a command, 0 for nothing this time (an empty or skipped
     * line: the printer asks again), -1 when the source has no more lines. */
    int (*next)(void *ctx, char *line, size_t size);
    /* The source ran dry: acknowledged false while lines are still in flight, then true
     * once every line was acknowledged; the source is detached before the second call. */
    void (*ended)(void *ctx, bool acknowledged);
    /* The firmware or the file asked to pause, resume or cancel the print. */
    void (*request)(void *ctx, enum printer_request r);
    /* A command just sent began extruding at a new Z (z, mm): a layer change, Z-hops not
     * counted. May be NULL. */
    void (*layer)(void *ctx, double z);
    /* Line number n is going out while the source is attached: the source's last command
     * (or a poll, a user's command between two of its lines). Lines sent without a number
     * are not told. May be NULL. */
    void (*numbered)(void *ctx, unsigned long n);
};

/* What the last handshake learnt about the firmware's line counter (printer_resync_next). */
struct printer_resync {
    bool asked;                     /* the handshake asked instead of resetting the counter */
    bool answered;                  /* the firmware named its counter: last_line is valid */
    bool reset;                     /* the firmware sent "start" (it rebooted) first */
    unsigned long last_line;        /* the last line number the firmware accepted */
};

/* How a command sent with printer_send_then ended: error NULL when acknowledged. */
typedef void (*printer_done_fn)(void *ctx, const char *error);

struct printer_callbacks {
    void (*temperatures)(void *ctx, const struct protocol_temps *t, long long timestamp);
    /* Something in the model changed (state, temperatures, firmware, ...). Called after the
     * corresponding events fired; cheap to receive, consumers rate-limit themselves. */
    void (*changed)(void *ctx, const struct printer_model *m);
    /* Every line received while operational, before the printer acts on it (SD card
     * messages for the job). May be NULL. */
    void (*line)(void *ctx, const char *line);
    /* Every command written to the printer for the first time (resends are not repeated),
     * as the queuing phase left it: no line number, no checksum. May be NULL. */
    void (*sent)(void *ctx, const char *cmd);
    /* The state changed (after its PrinterStateChanged). May be NULL. */
    void (*state)(void *ctx, enum printer_state s);
    /* The handshake is done and its follow-up commands are queued. May be NULL. */
    void (*connected)(void *ctx);
    /* The firmware asked the host to shut down ("//action:shutdown"). May be NULL. */
    void (*shutdown)(void *ctx);
};

struct printer;

/* opt is copied (strings included): the caller may free its configuration afterwards. */
int printer_create(struct printer **out, uv_loop_t *loop, struct events *ev,
                   const struct printer_options *opt, const struct printer_callbacks *cb, void *ctx);

/* Applies new options (a configuration reload) without dropping the link or a running job.
 * A changed port or baud rate takes effect at the next (re)connect. Returns 0 or -ENOMEM
 * (the old options are then kept). */
int printer_set_options(struct printer *p, const struct printer_options *opt);

/* Starts connecting now; from then on the link is kept up: a lost or unopenable port is
 * retried with backoff until printer_disconnect. */
void printer_connect(struct printer *p);

/* Closes the link (Disconnecting ... Disconnected) and stops reconnecting. */
void printer_disconnect(struct printer *p);

/* Queues a G-code command from a user, script or hook: comments and surrounding whitespace
 * are stripped, M112 (and M108/M410 when the firmware has an emergency parser) goes out at
 * once, "@pause"/"@resume"/"@cancel" are passed to the source's owner and never sent.
 * Returns 0 (also for a line that is empty once stripped), -EINVAL for a line carrying a
 * newline, carriage return or NUL, -E2BIG for an over-long line, -EPERM when the command
 * was suppressed (blocked, or for a heater or tool the printer does not have;
 * CommandSuppressed fired), -ENOTCONN when no printer is operational. */
int printer_send(struct printer *p, const char *cmd);
/* The tool cmd changes to when it is a tool change ("T1") to a tool this printer has, else
 * -1 (a T for another tool is suppressed, not sent). The printer fires ToolChange for these;
 * the job wraps them in the tool change scripts. */
int printer_tool_change(const struct printer *p, const char *cmd);
/* The same for len bytes that need not be NUL-terminated (payloads from the network). */
int printer_send_buf(struct printer *p, const char *cmd, size_t len);

/* The same, and done(ctx, error) is called exactly once when it returned 0: error NULL once
 * the firmware acknowledged the command (or at once for a line that gets no ok: empty, a host
 * command, M112), else one line saying what the firmware answered ("Must home axis first:
 * ...") or why it never got an answer (the link closed). Never called when it returned < 0. */
int printer_send_then(struct printer *p, const char *cmd, size_t len, printer_done_fn done, void *ctx);

/* Queues a status poll (M27, M105, M114...) unless one of the same G-code still waits in the
 * queue or for its ok: a firmware that holds back its oks (a heating wait) never finds a pile
 * of polls afterwards. Returns 0, -EALREADY (one is outstanding) or printer_send's errors. */
int printer_poll(struct printer *p, const char *cmd);

/* Restarts the firmware after it halted: FIRMWARE_RESTART on Klipper (then a new handshake
 * once it reports Ready), M999 on others; a link that is down is reconnected now and the
 * restart follows once the firmware is known. Returns 0, or -ENOTCONN with err set when
 * printer.port cannot be reached at all. */
int printer_firmware_restart(struct printer *p, char *err, size_t errsz);

/* Attaches a line source: the line count restarts (M110 N0 goes first), then the source's
 * lines follow, each numbered and checksummed, after any queued command. src is copied.
 * Returns 0, -ENOTCONN (not operational) or -EBUSY (a source is attached). */
int printer_source_attach(struct printer *p, const struct printer_source *src, void *ctx);
/* The next handshake keeps the firmware's line counter: instead of "M110 N0" it sends a line
 * numbered 0, which Marlin answers with "Error:Line Number is not Last Line Number+1, Last
 * Line: N" and "Resend: N+1", and it sends neither M110 nor the afterPrinterConnected script
 * once connected. For continuing a print a previous process left in the firmware. */
void printer_resync_next(struct printer *p);
/* The outcome of the last handshake that asked (see struct printer_resync). */
const struct printer_resync *printer_get_resync(const struct printer *p);
/* Holds the source (no more of its lines are read; queued commands still go out) or lets
 * it go on. Returns whether it was held before (false without a source). */
bool printer_source_hold(struct printer *p, bool hold);
/* Detaches the source without calling it again; what is in flight completes. */
void printer_source_detach(struct printer *p);

/* Sets the job's part of the state: OPERATIONAL (no job), STARTING, PRINTING, PAUSING,
 * PAUSED, RESUMING, CANCELLING, FINISHING or TRANSFERING_FILE, with its
 * PrinterStateChanged. The printer never changes these itself; when the link closes, the
 * state becomes the link's. Returns 0, -ENOTCONN (not operational) or -EINVAL. */
int printer_set_activity(struct printer *p, enum printer_state s);

enum printer_state printer_get_state(const struct printer *p);

/* The current model; valid until the next loop iteration. */
const struct printer_model *printer_get_model(const struct printer *p);

/* OctoPrint's state flags. */
bool printer_state_is_operational(enum printer_state s);
bool printer_state_is_printing(enum printer_state s);
bool printer_state_is_closed_or_error(enum printer_state s);
bool printer_state_is_error(enum printer_state s);

/* Releases everything; done runs once libuv has closed the handles. */
void printer_destroy(struct printer *p, void (*done)(void *ctx), void *ctx);

#endif
