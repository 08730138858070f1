/* job.h: print jobs. Selects, starts, pauses, resumes and cancels prints of local files
 * (streamed by the printer module) and of files on the printer's SD card, uploads files to
 * the SD card, runs OctoPrint's G-code scripts around them, fires the job events with
 * OctoPrint's payloads, publishes <base>progress/printing, keeps print time and time left in
 * the printer model, and journals a running print so a crash is reported after a restart. */
#ifndef PRINTBRIDGE_JOB_H
#define PRINTBRIDGE_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/events.h"
#include "printbridge/printer.h"
#include "printbridge/storage.h"

struct mqtt;

/* OctoPrint's script names, in this order (config keys scripts.<name>). */
enum job_script {
    JOB_SCRIPT_BEFORE_PRINT_STARTED, JOB_SCRIPT_AFTER_PRINT_DONE, JOB_SCRIPT_AFTER_PRINT_CANCELLED,
    JOB_SCRIPT_AFTER_PRINT_PAUSED, JOB_SCRIPT_BEFORE_PRINT_RESUMED, JOB_SCRIPT_AFTER_PRINTER_CONNECTED,
    JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED, JOB_SCRIPT_BEFORE_TOOL_CHANGE, JOB_SCRIPT_AFTER_TOOL_CHANGE,
    JOB_SCRIPT_COUNT,
};

/* "beforePrintStarted", ... */
const char *job_script_name(enum job_script s);

struct job_options {
    /* progress/printing goes out through this (the MQTT publisher), NULL: not published */
    void (*publish_progress)(void *ctx, const char *location, const char *path, int progress);
    void *publish_ctx;
    char *const *scripts[JOB_SCRIPT_COUNT]; /* NULL-terminated lines; NULL or empty: none, except
                                              * afterPrintCancelled, which then defaults to
                                              * motors, heaters and fan off for the profile */
    int extruders;                  /* profile, for the default cancel script */
    bool heated_bed;
    const char *journal_path;       /* NULL: no crash journal */
    double journal_interval;        /* s between journal writes while printing (default 2) */
    double position_wait;           /* s to wait for M114 on pause/cancel (default 10) */
};

struct job;

/* storage may be NULL (no local files). If the journal says a
 * print was running when the previous process died, PrintFailed is fired now. */
int job_create(struct job **out, uv_loop_t *loop, struct events *ev, struct printer *printer,
               struct storage *storage, const struct job_options *opt);
/* Shutdown, step 1 (before the broker and printer go): stop publishing and following the
 * printer. A running print stays in the journal, so the next start reports it. */
void job_stop(struct job *j);
/* Step 2, once no more events can come (the printer is destroyed). */
void job_destroy(struct job *j);

/* events sink: follows PrinterStateChanged (done, failure, external pause/cancel),
 * PositionUpdate (pause/cancel position) and ToolChange. Add it after the printer exists. */
void job_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);

/* printer callbacks to forward: every received line (SD card messages) and model changes
 * (file position -> progress). */
void job_on_line(struct job *j, const char *line);
void job_on_model_changed(struct job *j);

struct job_view;
struct printer_model;
/* Fills the state topic's view of the selected file and its progress (strings point into j
 * and stay valid until the next job change). Returns false when no file is selected. */
bool job_fill_view(const struct job *j, const struct printer_model *m, struct job_view *v);

/* A command from <base>command/job: {"command": "select"|"start"|"pause"|"resume"|"cancel"|
 * "toggle", "path": "...", "origin": "local"|"sdcard"}. Returns 0, or a negative errno with a
 * one-line reason in err (bad JSON, unknown command, refused in the current state). */
int job_command(struct job *j, const char *json, size_t len, char *err, size_t errsz);

int job_select(struct job *j, const char *path, bool sdcard, char *err, size_t errsz);
int job_start(struct job *j, char *err, size_t errsz);
int job_pause(struct job *j, char *err, size_t errsz);
int job_resume(struct job *j, char *err, size_t errsz);
int job_cancel(struct job *j, char *err, size_t errsz);

/* Copies local file rel to the SD card as remote (M28/M29): TransferStarted, then
 * TransferDone {local, remote, time} or TransferFailed. */
int job_sd_upload(struct job *j, const char *rel, const char *remote, char *err, size_t errsz);

/* Sends a named script (GcodeScript<Name>Running/Finished around it). */
void job_run_script(struct job *j, enum job_script s);

/* Progress payload of wire-format.md 6 (without printer_data): pure, for tests.
 * New reference. */
json_t *job_progress_payload(const char *origin, const char *path, int progress, long long ts);

/* Python's round() of a completion percent (half to even), capped at 99 until done. */
int job_progress_percent(double completion, bool done);

/* Time left from the linear rule, mixed with an analysis estimate below 50 %:
 * fills left (s) and origin ("linear", "analysis", "mixed-analysis"); false when there is
 * no estimate yet. Pure. */
bool job_time_left(double print_time, double progress, double analysis_total,
                   double *left, const char **origin);

#endif
