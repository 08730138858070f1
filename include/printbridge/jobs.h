/* printbridge/jobs.h: the jobs layer:
 * Print jobs: the one owner of a job (local files and the SD card), the storage
 * folder with uploads, G-code analysis and progress notifications. */
#ifndef PRINTBRIDGE_JOBS_H
#define PRINTBRIDGE_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/base.h"
#include "printbridge/printer.h"

/* ---- analysis: G-code metadata analysis. A pure, streaming analyser: feed it bytes in any
 * chunking, then read the result: an acceleration-aware print time estimate, the slicer's own
 * estimate when the file carries one, filament per tool, the printing and travel areas,
 * layer count and height. No I/O except analysis_file, which reads a file in fixed-size
 * chunks (meant for a worker thread: it touches no shared state). */

#define ANALYSIS_MAX_TOOLS 16
#define ANALYSIS_MAX_LINE 512

struct analysis_options {
    double filament_diameter;       /* mm, for volumes (default 1.75) */
    double acceleration;            /* mm/s^2 until the file sets one with M204 (default 1500) */
    double junction_deviation;      /* mm, cornering speed model (default 0.05) */
    double max_feedrate;            /* mm/s, cap for any move (default 500) */
};

struct analysis_box { double min[3], max[3]; bool valid; };

struct analysis_result {
    double estimated_time;          /* s, this analyser's own estimate */
    double slicer_time;             /* s, the slicer's estimate; < 0 when the file has none */
    int ntools;                     /* tools that extruded (highest index + 1) */
    double filament_length[ANALYSIS_MAX_TOOLS];   /* mm */
    double filament_volume[ANALYSIS_MAX_TOOLS];   /* cm^3 */
    struct analysis_box printing;   /* bounds of extruding moves */
    struct analysis_box travel;     /* bounds of every move */
    int layers;
    double layer_height;            /* mm; 0 when unknown */
    double first_layer_height;      /* mm */
    unsigned long lines;
};

/* The analyser's running state. Plain data: embed it anywhere; ~1 KB. */
struct analysis_move { double d[4]; double u[3]; double len, v, a; bool valid; };   /* u: unit direction */

struct analysis {
    struct analysis_options opt;
    double pos[4];                  /* X Y Z E (E relative to the tool's running total) */
    bool pos_in_box, pos_in_print_box;  /* pos is in the travel / printing box already */
    double e_total[ANALYSIS_MAX_TOOLS], e_max[ANALYSIS_MAX_TOOLS];
    double offset[4];               /* G92 */
    bool relative, e_relative, inches;
    double feed;                    /* mm/s */
    double acc_print, acc_travel;
    int tool, max_tool;
    double time, dwell;
    struct analysis_move pending;   /* one move of look-ahead for the exit speed */
    double pending_vin;
    struct analysis_box printing, travel;
    double layer_z;                 /* z of the current layer, < -1e8 before the first */
    int layers;
    double first_layer_z;
    double slicer_time;
    char carry[ANALYSIS_MAX_LINE + 1];
    size_t ncarry;
    bool overlong;
    unsigned long lines;
};

/* Defaults as documented in etc/printbridge.conf. */
void analysis_options_default(struct analysis_options *o);

void analysis_init(struct analysis *a, const struct analysis_options *o);
/* Feeds bytes; lines may span calls. Over-long lines are skipped whole. */
void analysis_feed(struct analysis *a, const char *buf, size_t len);
/* Ends the input (a last line without newline counts) and fills r. */
void analysis_finish(struct analysis *a, struct analysis_result *r);

/* Analyses one line (without its newline). Exposed for tests. */
void analysis_line(struct analysis *a, const char *line, size_t len);

/* Parses a slicer's own estimate from one comment line: PrusaSlicer's
 * "; estimated printing time (normal mode) = 1d 2h 3m 4s" and Cura's ";TIME:3723".
 * Returns seconds, or -1 when the line is no estimate. */
double analysis_parse_slicer_time(const char *line, size_t len);

/* Reads path in 64 KiB chunks and analyses it. Returns 0 or a negative errno. */
int analysis_file(const char *path, const struct analysis_options *o, struct analysis_result *r);

/* OctoPrint's metadata shape: {"printingArea", "dimensions", "travelArea", "travelDimensions",
 * "estimatedPrintTime", "filament": {"tool0": {"length", "volume"}}} plus printbridge's
 * "analysisPrintTime", "slicerPrintTime" (when known) and "layers": {"count", "height"}.
 * estimatedPrintTime is the slicer's estimate when the file carries one, else ours.
 * New reference. */
json_t *analysis_to_json(const struct analysis_result *r);

/* The inverse, for the cache; returns 0 or -EINVAL when the object lacks a field. */
int analysis_from_json(const json_t *o, struct analysis_result *r);

/* ---- storage: the local file storage. One folder (with subfolders) holds the printable files;
 * changes made by anyone are watched through the event loop and published as OctoPrint's
 * file events (FileAdded, FileRemoved, FileMoved, FolderAdded, FolderRemoved, FolderMoved,
 * UpdatedFiles). Uploads are stored atomically (temporary file, fsync, rename) off the loop.
 * Every added file is analysed in the background and the result cached beside it in
 * <folder>/.printbridge/<path>.json. Hidden names (leading '.') are never listed. */

#define STORAGE_MAX_PATH 1024

struct storage_options {
    const char *folder;             /* created if missing */
    long long max_upload_size;      /* bytes */
    struct analysis_options analysis;
    double settle_time;             /* s a changed file must stay still before analysis (0.5) */
    int inject_write_error;         /* tests: fail upload writes with this errno (0: off) */
    /* An STL model appeared or changed anywhere in the folder (not at start-up), uploads
     * included; rel is its path. NULL: models are ignored, and not accepted as uploads. */
    void (*model)(void *ctx, const char *rel);
    void *model_ctx;
};

struct storage;

/* Scans the folder (no events for what is already there; files without a cached analysis
 * are analysed) and starts watching it. Returns 0 or a negative errno. */
int storage_create(struct storage **out, uv_loop_t *loop, struct events *ev,
                   const struct storage_options *opt);

/* Closes the watchers and frees s once libuv has closed them and no work is in flight; then
 * runs done (may be NULL). */
void storage_destroy(struct storage *s, void (*done)(void *ctx), void *ctx);

/* Checks a user-supplied path: relative, no "..", no empty, hidden or control-character
 * component, a machine-code extension (.gcode, .gco, .g). Returns 0 or -EINVAL with a reason
 * in err. Pure. */
int storage_check_path(const char *rel, char *err, size_t errsz);

/* The absolute path of rel inside the storage, confined: -EINVAL for a bad path, -EPERM when
 * it resolves (through symlinks) outside the folder, -ENOENT when it does not exist. */
int storage_resolve(const struct storage *s, const char *rel, char *out, size_t outsz,
                    char *err, size_t errsz);

/* Upload completion: rc 0 or a negative errno, err a one-line reason. */
typedef void (*storage_upload_cb)(void *ctx, int rc, const char *rel, const char *err);

/* Stores len bytes as rel: validated now (-EINVAL bad path, -EFBIG over the size limit, with
 * err; an .stl path is accepted when the options have a model callback), then written off
 * the loop to a hidden temporary file, fsync'd and renamed into place, creating missing
 * folders. On success announces what it created, in order, unless the watchers already did
 * (FolderAdded for each new folder from the outermost, FileAdded, UpdatedFiles; the model
 * callback for an STL), then fires Upload {name, path, target, select, print,
 * effective_select, effective_print} (effective_print only when select is also granted:
 * printing implies selecting) and then cb, which does the selecting and printing. On failure (disk full: -ENOSPC) nothing is left
 * behind and cb reports why. data is copied. */
int storage_upload(struct storage *s, const char *rel, const void *data, size_t len,
                   bool select, bool print, storage_upload_cb cb, void *ctx,
                   char *err, size_t errsz);

/* Bytes handed over with the call that gives them back: release(owner), from any thread. */
struct storage_bytes {
    const void *data;
    size_t len;
    void (*release)(void *owner);
    void *owner;
};

/* storage_upload without the copy: takes the bytes, whatever the result, and releases them
 * as soon as they are written, so a large upload is held in memory once. */
int storage_upload_take(struct storage *s, const char *rel, struct storage_bytes b,
                        bool select, bool print, storage_upload_cb cb, void *ctx,
                        char *err, size_t errsz);

/* The cached analysis of rel, if it has finished: 0, or -ENOENT. */
int storage_analysis(const struct storage *s, const char *rel, struct analysis_result *r);

/* Whether rel is a known file of the storage (watched and listed). */
bool storage_has_file(const struct storage *s, const char *rel);

/* Number of files currently known. */
int storage_count(const struct storage *s);

/* ---- progressnotify: when to publish PrintProgress while printing: every N percent, every N
 * minutes of print time and every N layers, with Z-hops not counted as layers (a layer
 * begins when material is extruded at a Z above the current layer's). Pure: the job module
 * (not written yet) feeds it progress and moves and fires the event it returns. */

#define EVENT_PRINT_PROGRESS "PrintProgress"

struct progressnotify_settings {
    double percent;             /* 0: off */
    double minutes;             /* 0: off */
    int layers;                 /* 0: off */
};

struct progressnotify {
    struct progressnotify_settings s;
    bool active;
    char name[256], path[1024];
    double next_percent;
    double next_time;           /* s of print time */
    int next_layer;
    int layer;                  /* layers begun so far (1 = the first) */
    double layer_z;
};

/* A job starts: resets every step. name/path as in the job's events (NULL: ""). */
void progressnotify_start(struct progressnotify *pn, const struct progressnotify_settings *s, const char *name,
                          const char *path);

/* The job ended (done, failed, cancelled): nothing fires until the next start. */
void progressnotify_stop(struct progressnotify *pn);

/* A move was sent: z after it, and whether it extruded. True when it began a new layer. */
bool progressnotify_move(struct progressnotify *pn, double z, bool extruding);

/* Progress now: completion in percent, print time and time left in seconds (time_left < 0:
 * unknown). Returns the PrintProgress payload {progress, time, timeLeft, layer, name, path}
 * (a new reference) when a step is due, else NULL. 100 % never fires: PrintDone does. */
json_t *progressnotify_update(struct progressnotify *pn, double progress, double print_time, double time_left);

/* ---- job: print jobs, the one owner of a print. Selects, starts, pauses, resumes and
 * cancels prints of local files (read line by line and handed to the printer as its line
 * source) and of files on the printer's SD card, copies files to the SD card, runs
 * OctoPrint's G-code scripts around them, sets the job's part of the printer state, fires
 * the job events with OctoPrint's payloads, publishes progress, fires PrintProgress steps,
 * and journals a running print so a crash is reported after a restart. */

/* OctoPrint's script names, in this order (config keys scripts.<name>). */
enum job_script {
    JOB_SCRIPT_BEFORE_PRINT_STARTED, JOB_SCRIPT_AFTER_PRINT_DONE, JOB_SCRIPT_AFTER_PRINT_CANCELLED,
    JOB_SCRIPT_AFTER_PRINT_PAUSED, JOB_SCRIPT_BEFORE_PRINT_RESUMED, JOB_SCRIPT_AFTER_PRINTER_CONNECTED,
    JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED, JOB_SCRIPT_BEFORE_TOOL_CHANGE, JOB_SCRIPT_AFTER_TOOL_CHANGE,
    JOB_SCRIPT_COUNT,
};

/* "beforePrintStarted", ... */
const char *job_script_name(enum job_script s);

/* Where a file lives. */
enum job_origin { JOB_LOCAL, JOB_SDCARD };

struct job_options {
    /* progress/printing goes out through this (the MQTT publisher), NULL: not published */
    void (*publish_progress)(void *ctx, const char *location, const char *path, int progress);
    /* what the job shows changed (selection, progress, times): NULL or a state refresh */
    void (*changed)(void *ctx);
    void *publish_ctx;
    char *const *scripts[JOB_SCRIPT_COUNT]; /* NULL-terminated lines; NULL or empty: none, except
                                              * afterPrintCancelled, which then defaults to
                                              * motors, heaters and fan off for the profile */
    int extruders;                  /* profile, for the default cancel script */
    bool heated_bed;
    const char *journal_path;       /* NULL: no crash journal */
    double journal_interval;        /* s between journal writes while printing (default 2) */
    double position_wait;           /* s to wait for M114 on pause/cancel (default 10) */
    struct progressnotify_settings steps;   /* PrintProgress every N %, minutes or layers */
};

/* What the state topic shows of the selected file and its progress. */
struct job_view {
    const char *name, *path, *display, *origin;
    bool has_size, has_date;
    long long size, date;
    bool has_estimated_print_time, has_last_print_time;
    double estimated_print_time, last_print_time;
    bool has_completion, has_filepos, has_print_time, has_print_time_left;
    double completion;
    long long filepos, print_time, print_time_left;
    const char *print_time_left_origin;
    const char *user;
};

struct job;

/* storage may be NULL (no local files). If the journal says a print was running when the
 * previous process died, PrintFailed is fired now. */
int job_create(struct job **out, uv_loop_t *loop, struct events *ev, struct printer *printer,
               struct storage *storage, const struct job_options *opt);
/* PrintProgress steps for the next print (a configuration reload). */
void job_set_steps(struct job *j, const struct progressnotify_settings *steps);
/* Shutdown, step 1 (before the broker and printer go): stop publishing and following the
 * printer. A running print stays in the journal, so the next start reports it. */
void job_stop(struct job *j);
/* Step 2, once no more events can come (the printer is destroyed). */
void job_destroy(struct job *j);

/* What the job follows of the printer, forwarded by whoever owns both: */
/* events sink: PositionUpdate (pause/cancel position) and ToolChange */
void job_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);
/* the printer's state (a closed or failed link ends the print) */
void job_on_printer_state(struct job *j, enum printer_state s);
/* every received line (SD card messages) */
void job_on_line(struct job *j, const char *line);

/* Fills the state topic's view of the selected file and its progress (strings point into j
 * and stay valid until the next job change). Returns false when no file is selected. */
bool job_fill_view(const struct job *j, struct job_view *v);

/* The job commands. Each returns 0, or a negative errno with a one-line reason in err
 * (refused in the current state, no such file, ...). path is relative to the storage
 * folder, or a name on the SD card. */
int job_select(struct job *j, const char *path, enum job_origin origin, char *err, size_t errsz);
/* Starts path (selecting it first), or the selected file when path is NULL. */
int job_start(struct job *j, const char *path, enum job_origin origin, char *err, size_t errsz);
/* Prints a file given by its own path, outside the storage folder (--print). */
int job_start_file(struct job *j, const char *file, char *err, size_t errsz);
int job_pause(struct job *j, char *err, size_t errsz);
int job_resume(struct job *j, char *err, size_t errsz);
/* Pauses a running print, resumes a paused one. */
int job_toggle(struct job *j, char *err, size_t errsz);
int job_cancel(struct job *j, char *err, size_t errsz);

/* Copies local file rel to the SD card as remote (M28/M29): TransferStarted, then
 * TransferDone {local, remote, time} or TransferFailed. */
int job_sd_upload(struct job *j, const char *rel, const char *remote, char *err, size_t errsz);

/* Sends a named script (GcodeScript<Name>Running/Finished around it). */
void job_run_script(struct job *j, enum job_script s);
/* Disconnects the printer the way a user asks for it: scripts.beforePrinterDisconnected is
 * sent first, and the link closes once the firmware took its last line. */
void job_disconnect(struct job *j);

/* Progress payload of progress/printing (without printer_data): pure, for tests.
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
