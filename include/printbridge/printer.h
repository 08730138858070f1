/* printbridge/printer.h: the printer layer:
 * The printer link: connection life cycle, the send queue and resend window,
 * received-line handling and OctoPrint's state machine with its events. */
#ifndef PRINTBRIDGE_PRINTER_H
#define PRINTBRIDGE_PRINTER_H

#include <stdbool.h>
#include <uv.h>

#include "printbridge/base.h"

/* ---- printer: the printer link: connection life cycle (open, handshake, reconnect with
 * backoff), the send queue with line numbers and checksums, flow control (one command in
 * flight, or a window with ADVANCED_OK), resends, error classes and fatal errors, timeouts
 * and their recovery, temperature polling or autoreport, file streaming, and OctoPrint's
 * state machine with its state and G-code events (serial-protocol.md 2-14). */

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
 * names unchanged. Returns the length, or -1 if out is too small. */
int protocol_sensor_key(const char *sensor, char *out, size_t outsz);

/* How ZChange events are derived from the Z of sent moves. */
enum gcodeevents_zmode {
    GCODEEVENTS_Z_OCTOPRINT,   /* every literal Z of G0/G1 that differs (upstream semantics) */
    GCODEEVENTS_Z_LAYER,       /* only a Z at which extrusion happens, Z-hops ignored */
};

/* OctoPrint's comm states (serial-protocol.md 13.1), plus OFFLINE for "no connection". */
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

/* When lines carry "N<n> ... *<checksum>" (serial-protocol.md 5.3). M110 always does. */
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
    const char *shutdown_command;   /* run by "//action:shutdown" (sh -c); NULL: ignored */
    enum gcodeevents_zmode zchange_mode;
    const char *print_file;         /* stream this file once operational (--print), or NULL */
};

/* What OctoPrint calls printer data (wire-format.md 6.2): read by the state topic and Home
 * Assistant discovery, written only by the printer (and later job) module. */
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
    bool sd_ready;
    int current_tool;
    bool has_z;
    double current_z;
    struct printer_heater heaters[PRINTER_MAX_HEATERS];
    int nheaters;
    long long temps_time;           /* epoch seconds of the last temperature report */
    unsigned long lines_sent;       /* lines written to the printer (resends included) */
    unsigned long resends;          /* resend requests received */
    /* last position report (M114 answer or autoreport) */
    bool has_position;
    double x, y, z, e;
    bool has_f;
    double f;                       /* last F sent with G0/G1/G28 */
    /* firmware features */
    bool advanced_ok;               /* oks carry P/B: the window is in use */
    bool emergency_parser;
    bool busy_protocol;
    /* a file being streamed by printer_stream_file */
    bool job_active;
    bool job_paused;
    char job_file[512];
    long long job_size;             /* bytes, -1 when unknown */
    long long job_pos;              /* bytes read and handed to the send path */
    unsigned long job_lines;        /* commands taken from the file */
    /* the job's times (issue 5; written by job.c through printer_set_job_times) */
    bool has_print_time, has_time_left;
    long long print_time;           /* s */
    long long print_time_left;      /* s */
    char time_left_origin[16];      /* "linear", "analysis", "mixed-analysis", "" */
};

struct printer_callbacks {
    void (*temperatures)(void *ctx, const struct protocol_temps *t, long long timestamp);
    /* Something in the model changed (state, temperatures, firmware, ...). Called after the
     * corresponding events fired; cheap to receive, consumers rate-limit themselves. */
    void (*changed)(void *ctx, const struct printer_model *m);
    /* Every line received while operational, before the printer acts on it (SD card
     * messages for the job module). May be NULL. */
    void (*line)(void *ctx, const char *line);
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

/* Queues a G-code command from a user, script or hook: comments and surrounding whitespace
 * are stripped, M112 (and M108/M410 when the firmware has an emergency parser) goes out at
 * once, "@pause"/"@resume"/"@cancel" act on the stream and are never sent. Returns 0 (also
 * for a line that is empty once stripped), -EINVAL for a line carrying a newline, carriage
 * return or NUL, -E2BIG for an over-long line, -EPERM when the command was suppressed
 * (blocked, or for a heater or tool the printer does not have; CommandSuppressed fired),
 * -ENOTCONN when no printer is operational. */
int printer_send(struct printer *p, const char *cmd);
/* The same for len bytes that need not be NUL-terminated (payloads from the network). */
int printer_send_buf(struct printer *p, const char *cmd, size_t len);

/* Streams a G-code file through the send path: read line by line in constant memory, every
 * line numbered and checksummed, progress in bytes in the model. The state goes PRINTING,
 * then FINISHING and OPERATIONAL once the last line is acknowledged. Job events
 * (PrintStarted, ...) are not fired here. Returns 0, -ENOTCONN (not operational), -EBUSY
 * (already streaming) or the negative errno of opening the file. */
int printer_stream_file(struct printer *p, const char *path);

/* Stops a stream (nothing more is read; what is in flight completes). */
void printer_stream_cancel(struct printer *p);

/* ---- job control (issue 5): job.c drives OctoPrint's job states around the stream ---- */

/* Sets a job state (OPERATIONAL, STARTING, PRINTING, PAUSING, PAUSED, RESUMING, CANCELLING,
 * FINISHING) with its PrinterStateChanged. Returns 0, -ENOTCONN (not operational) or
 * -EINVAL (not a job state). */
int printer_set_job_state(struct printer *p, enum printer_state s);

/* Holds the stream (no more file lines are read; queued commands still go out) or lets it
 * go on, without changing the state. */
void printer_stream_hold(struct printer *p, bool hold);

/* Closes the stream like printer_stream_cancel, but leaves the state to the caller. */
void printer_stream_stop(struct printer *p);

/* Stores the job's print time and time left in the model for the state topic. */
void printer_set_job_times(struct printer *p, bool has_print_time, long long print_time,
                           bool has_left, long long left, const char *origin);

/* Closes the link (Disconnecting ... Disconnected) and stops reconnecting. */
void printer_disconnect(struct printer *p);

enum printer_state printer_get_state(const struct printer *p);

/* The current model; valid until the next loop iteration. */
const struct printer_model *printer_get_model(const struct printer *p);

/* OctoPrint's state flags (wire-format.md 6.2). */
bool printer_state_is_operational(enum printer_state s);
bool printer_state_is_printing(enum printer_state s);
bool printer_state_is_closed_or_error(enum printer_state s);
bool printer_state_is_error(enum printer_state s);

/* Releases everything; done runs once libuv has closed the handles. */
void printer_destroy(struct printer *p, void (*done)(void *ctx), void *ctx);

#endif
