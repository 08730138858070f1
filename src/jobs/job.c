/* job.c: print jobs on top of the printer's stream (local files) or the printer's own SD
 * card, following OctoPrint's state transitions (serial-protocol.md 13.3, 15, 16).
 *
 * The printer owns the state; this module asks it to move between the job states and learns
 * what happened without it (end of file, errors, @pause or //action:cancel from the printer)
 * from PrinterStateChanged events: OPERATIONAL after FINISHING is a finished print,
 * OPERATIONAL straight from PRINTING or PAUSED is a cancel done by someone else, an error or
 * a closed link while printing is a failure. Changes this module makes itself are marked so
 * it does not react to its own events.
 *
 * Pause and cancel wait for the head position (M400 then M114, up to position_wait) before
 * announcing PrintPaused / PrintCancelled, as OctoPrint does.
 *
 * Progress goes to <base>progress/printing as an integer percent whenever it or the path
 * changes, checked on every file-position change and on a 0.5 s timer; 100 is published once,
 * at PrintDone. The crash journal is a tiny JSON file rewritten at most every
 * journal_interval seconds while a print runs (a few hundred bytes, no fsync: bounded and
 * cheap enough for the loop), and removed when the print ends. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "printbridge/jobs.h"
#include "printbridge/base.h"
#include "printbridge/wire.h"

#define TICK_MS 500
#define SD_POLL_MS 1000

enum jstate { J_IDLE, J_STARTING, J_PRINTING, J_PAUSING, J_PAUSED, J_RESUMING, J_CANCELLING, J_FINISHING };

static const char *const script_names[JOB_SCRIPT_COUNT] = {
    "beforePrintStarted", "afterPrintDone", "afterPrintCancelled", "afterPrintPaused",
    "beforePrintResumed", "afterPrinterConnected", "beforePrinterDisconnected",
    "beforeToolChange", "afterToolChange",
};

struct job {
    uv_loop_t *loop;
    struct events *ev;
    struct printer *printer;
    struct storage *storage;
    struct job_options opt;
    char *journal_path;

    /* selected file */
    bool selected, sd;
    char path[STORAGE_MAX_PATH];    /* as shown: relative, SD without the leading '/' */
    char abs[4096];                 /* local: resolved path */
    long long size;                 /* -1 unknown */
    double analysis_total;          /* s, < 0 unknown */

    enum jstate st;
    int own;                        /* > 0 while we change the printer's state ourselves */
    uint64_t started_ms, paused_ms, pause_began;
    long long sd_pos;
    bool waiting_position;
    uv_timer_t tick, position_timer;
    uint64_t last_sd_report, last_journal;

    /* progress topic: the last published values */
    int last_progress;
    char last_path[STORAGE_MAX_PATH];
    bool published_any;

    bool stopping;                  /* daemon shutting down: ignore the printer */
    int closed;                     /* timers closed so far */

    /* SD upload */
    bool transfer;
    char transfer_local[STORAGE_MAX_PATH], transfer_remote[256];
    uint64_t transfer_started;
};

bool job_fill_view(const struct job *j, const struct printer_model *m, struct job_view *v)
{
    memset(v, 0, sizeof *v);
    if (!j || !j->selected)
        return false;
    const char *name = strrchr(j->path, '/');
    name = name ? name + 1 : j->path;
    v->name = v->display = name;
    v->path = j->path;
    v->origin = j->sd ? "sdcard" : "local";
    if (j->size >= 0) {
        v->has_size = true;
        v->size = j->size;
    }
    if (j->analysis_total > 0) {
        v->has_estimated_print_time = true;
        v->estimated_print_time = j->analysis_total;
    }
    if (!m)
        return true;
    long long pos = j->sd ? j->sd_pos : m->job_pos;
    if (j->st != J_IDLE && pos >= 0) {
        v->has_filepos = true;
        v->filepos = pos;
        if (j->size > 0) {
            v->has_completion = true;
            v->completion = (double)pos * 100.0 / (double)j->size;
        }
    }
    if (m->has_print_time) {
        v->has_print_time = true;
        v->print_time = m->print_time;
    }
    if (m->has_time_left) {
        v->has_print_time_left = true;
        v->print_time_left = m->print_time_left;
        v->print_time_left_origin = m->time_left_origin[0] ? m->time_left_origin : NULL;
    }
    return true;
}

const char *job_script_name(enum job_script s)
{
    return (unsigned)s < JOB_SCRIPT_COUNT ? script_names[s] : "";
}

/* ---- pure helpers ----------------------------------------------------------------------- */

int job_progress_percent(double completion, bool done)
{
    if (done)
        return 100;
    if (!(completion > 0))
        return 0;
    int p = (int)nearbyint(completion);      /* Python's round(): half to even */
    return p > 99 ? 99 : p;
}

json_t *job_progress_payload(const char *origin, const char *path, int progress, long long ts)
{
    return json_pack("{s:s, s:s, s:i, s:I}", "location", origin, "path", path, "progress", progress,
                     "_timestamp", (json_int_t)ts);
}

bool job_time_left(double print_time, double progress, double analysis_total,
                   double *left, const char **origin)
{
    if (!(progress > 0) && !(analysis_total > 0))
        return false;
    double total;
    if (!(progress > 0)) {
        total = analysis_total;
        *origin = "analysis";
    } else {
        double linear = print_time / progress;
        if (analysis_total > 0 && progress < 0.5) {
            /* trust the analysis at first, the measured rate more as the print goes on */
            double w = 1 - progress / 0.5;
            total = w * analysis_total + (1 - w) * linear;
            *origin = "mixed-analysis";
        } else {
            total = linear;
            *origin = "linear";
        }
    }
    double l = total - print_time;
    *left = l < 0 ? 0 : l;
    return true;
}

/* ---- small utilities ------------------------------------------------------------------------ */

static const char *origin(const struct job *j)
{
    return j->sd ? "sdcard" : "local";
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static bool busy(const struct job *j)
{
    return j->st != J_IDLE;
}

static double print_time(const struct job *j)
{
    if (!j->started_ms)
        return 0;
    uint64_t now = uv_now(j->loop);
    uint64_t paused = j->paused_ms + (j->pause_began ? now - j->pause_began : 0);
    return (double)(now - j->started_ms - paused) / 1000.0;
}

static long long file_pos(const struct job *j)
{
    if (j->sd)
        return j->sd_pos;
    const struct printer_model *m = printer_get_model(j->printer);
    return m->job_active ? m->job_pos : (j->st == J_IDLE ? 0 : j->sd_pos);
}

static double progress(const struct job *j)
{
    if (j->size <= 0)
        return -1;
    double p = (double)file_pos(j) / (double)j->size;
    return p > 1 ? 1 : p;
}

static json_t *base_payload(const struct job *j)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "name", base_name(j->path), "path", j->path,
                     "origin", origin(j), "size", (json_int_t)j->size);
}

static void set_state(struct job *j, enum jstate s, enum printer_state ps)
{
    j->st = s;
    j->own++;
    printer_set_job_state(j->printer, ps);
    j->own--;
}

static void chart(struct job *j, const char *type)
{
    static const char *const labels[][2] = {
        { "print", "Start" }, { "done", "Done" }, { "cancel", "Cancel" }, { "pause", "Pause" },
        { "resume", "Resume" },
    };
    const char *label = type;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(labels[i][0], type) == 0)
            label = labels[i][1];
    events_fire(j->ev, "ChartMarked", json_pack("{s:s, s:s, s:f}", "type", type, "label", label,
                                                 "time", (double)time(NULL)));
}

/* ---- progress topic and model times --------------------------------------------------- */

static void publish_progress(struct job *j, int pct, bool force)
{
    if (!j->opt.publish_progress || !j->selected)
        return;
    if (!force && j->published_any && pct == j->last_progress && strcmp(j->path, j->last_path) == 0)
        return;
    j->opt.publish_progress(j->opt.publish_ctx, origin(j), j->path, pct);
    j->last_progress = pct;
    snprintf(j->last_path, sizeof j->last_path, "%s", j->path);
    j->published_any = true;
}

static void write_journal(struct job *j, bool force);

static void update_progress(struct job *j)
{
    if (j->st == J_IDLE || j->st == J_STARTING)
        return;
    double p = progress(j);
    publish_progress(j, job_progress_percent(p * 100, false), false);
    double left;
    const char *orig = NULL;
    double pt = print_time(j);
    bool has_left = job_time_left(pt, p, j->analysis_total, &left, &orig);
    printer_set_job_times(j->printer, true, (long long)pt, has_left, has_left ? (long long)left : 0, orig);
    write_journal(j, false);
}

void job_on_model_changed(struct job *j)
{
    if (j && !j->stopping)
        update_progress(j);
}

/* ---- journal ------------------------------------------------------------------------------ */

static void write_journal(struct job *j, bool force)
{
    if (!j->journal_path || j->st == J_IDLE)
        return;
    uint64_t now = uv_now(j->loop);
    if (!force && now - j->last_journal < (uint64_t)(j->opt.journal_interval * 1000))
        return;
    j->last_journal = now;
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:f, s:I}", "path", j->path, "origin", origin(j),
                          "size", (json_int_t)j->size, "fileposition", (json_int_t)file_pos(j),
                          "time", print_time(j), "written", (json_int_t)time(NULL));
    char *s = o ? pyjson_dumps(o) : NULL;
    json_decref(o);
    if (!s)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", j->journal_path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        bool ok = fputs(s, f) >= 0;
        ok = fclose(f) == 0 && ok;
        if (ok)
            rename(tmp, j->journal_path);
        else
            unlink(tmp);
    }
    free(s);
}

static void clear_journal(struct job *j)
{
    if (j->journal_path)
        unlink(j->journal_path);
}

static void recover_journal(struct job *j)
{
    if (!j->journal_path)
        return;
    json_error_t jerr;
    json_t *o = json_load_file(j->journal_path, 0, &jerr);
    if (!o)
        return;
    const char *path = json_string_value(json_object_get(o, "path"));
    const char *orig = json_string_value(json_object_get(o, "origin"));
    json_t *size = json_object_get(o, "size"), *pos = json_object_get(o, "fileposition");
    json_t *t = json_object_get(o, "time");
    if (path && orig && json_is_integer(size) && json_is_integer(pos)) {
        double prog = json_integer_value(size) > 0
                      ? (double)json_integer_value(pos) / (double)json_integer_value(size) : 0;
        log_warn("job: printbridge stopped during the print of %s at byte %lld; reporting it failed",
                 path, (long long)json_integer_value(pos));
        events_fire(j->ev, "PrintFailed",
                    json_pack("{s:s, s:s, s:s, s:O, s:f, s:s, s:s, s:f, s:O}", "name", base_name(path),
                              "path", path, "origin", orig, "size", size,
                              "time", json_is_number(t) ? json_number_value(t) : 0.0, "reason", "error",
                              "error", "printbridge restarted during the print; the last acknowledged position is in fileposition",
                              "progress", prog, "fileposition", pos));
    }
    json_decref(o);
    clear_journal(j);
}

/* ---- scripts ------------------------------------------------------------------------------ */

static void send_lines(struct job *j, char *const *lines)
{
    for (int i = 0; lines && lines[i]; i++) {
        int rc = printer_send(j->printer, lines[i]);
        if (rc < 0 && rc != -EPERM)
            log_warn("job: script line not sent (%s): %s", strerror(-rc), lines[i]);
    }
}

void job_run_script(struct job *j, enum job_script s)
{
    char *const *lines = j->opt.scripts[s];
    char *defaults[24] = { NULL };
    char buf[20][24];
    if ((!lines || !lines[0]) && s == JOB_SCRIPT_AFTER_PRINT_CANCELLED) {
        /* OctoPrint's default: motors off, every hotend and the bed off, fan off (16) */
        int n = 0;
        defaults[n++] = "M84";
        for (int t = 0; t < j->opt.extruders && t < 16; t++) {
            snprintf(buf[t], sizeof buf[t], "M104 T%d S0", t);
            defaults[n++] = buf[t];
        }
        if (j->opt.heated_bed)
            defaults[n++] = "M140 S0";
        defaults[n++] = "M106 S0";
        lines = defaults;
    }
    if (!lines || !lines[0])
        return;
    char ev[64];
    const char *name = script_names[s];
    /* GcodeScript<Name>: OctoPrint capitalises the first letter */
    snprintf(ev, sizeof ev, "GcodeScript%c%sRunning", name[0] - 32, name + 1);
    json_t *payload = j->selected ? base_payload(j) : json_object();
    if (j->selected && j->started_ms)
        json_object_set_new(payload, "time", json_real(print_time(j)));
    events_fire(j->ev, ev, json_incref(payload));
    send_lines(j, lines);
    snprintf(ev, sizeof ev, "GcodeScript%c%sFinished", name[0] - 32, name + 1);
    events_fire(j->ev, ev, payload);
}

/* ---- selection ------------------------------------------------------------------------------- */

static void deselect(struct job *j)
{
    if (!j->selected)
        return;
    j->selected = false;
    events_fire(j->ev, "FileDeselected", NULL);
}

int job_select(struct job *j, const char *path, bool sdcard, char *err, size_t errsz)
{
    if (busy(j)) {
        snprintf(err, errsz, "cannot select a file while a print is running");
        return -EBUSY;
    }
    if (!path || !*path) {
        snprintf(err, errsz, "no path given");
        return -EINVAL;
    }
    if (sdcard) {
        if (!printer_get_model(j->printer)->sd_ready && printer_state_is_closed_or_error(printer_get_state(j->printer))) {
            snprintf(err, errsz, "the printer is not connected");
            return -ENOTCONN;
        }
        const char *p = path[0] == '/' ? path + 1 : path;
        if (!*p || strlen(p) > 200 || strpbrk(p, "\n\r")) {
            snprintf(err, errsz, "bad SD file name");
            return -EINVAL;
        }
        char cmd[256];
        snprintf(cmd, sizeof cmd, "M23 %s", p);
        int rc = printer_send(j->printer, cmd);
        if (rc < 0) {
            snprintf(err, errsz, "cannot select %s on the SD card: %s", p, strerror(-rc));
            return rc;
        }
        snprintf(j->path, sizeof j->path, "%s", p);
        j->abs[0] = '\0';
        j->size = -1;
        j->analysis_total = -1;
    } else {
        if (!j->storage) {
            snprintf(err, errsz, "no local storage configured");
            return -ENOENT;
        }
        char abs[4096];
        int rc = storage_resolve(j->storage, path, abs, sizeof abs, err, errsz);
        if (rc < 0)
            return rc;
        struct stat st;
        if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errsz, "%s is not a file", path);
            return -ENOENT;
        }
        snprintf(j->path, sizeof j->path, "%s", path);
        snprintf(j->abs, sizeof j->abs, "%s", abs);
        j->size = (long long)st.st_size;
        struct analysis_result r;
        j->analysis_total = -1;
        if (storage_analysis(j->storage, path, &r) == 0)
            j->analysis_total = r.slicer_time >= 0 ? r.slicer_time : r.estimated_time;
    }
    j->sd = sdcard;
    j->selected = true;
    j->sd_pos = 0;
    if (!sdcard)
        events_fire(j->ev, "FileSelected", base_payload(j));
    /* SD: FileSelected follows the printer's "File selected" */
    publish_progress(j, 0, false);
    return 0;
}

/* ---- start, pause, resume, cancel ---------------------------------------------------------- */

static void on_tick(uv_timer_t *t);

int job_start(struct job *j, char *err, size_t errsz)
{
    if (busy(j)) {
        snprintf(err, errsz, "a print is already running");
        return -EBUSY;
    }
    if (!j->selected) {
        snprintf(err, errsz, "no file selected");
        return -ENOENT;
    }
    if (printer_get_state(j->printer) != PRINTER_OPERATIONAL) {
        snprintf(err, errsz, "the printer is not ready (%s)", printer_state_string(printer_get_state(j->printer)));
        return -ENOTCONN;
    }
    if (j->transfer) {
        snprintf(err, errsz, "a file is being copied to the SD card");
        return -EBUSY;
    }
    j->started_ms = uv_now(j->loop);
    j->paused_ms = j->pause_began = 0;
    j->sd_pos = 0;
    j->last_journal = 0;
    set_state(j, J_STARTING, PRINTER_STARTING);
    events_fire(j->ev, "PrintStarted", base_payload(j));
    chart(j, "print");
    job_run_script(j, JOB_SCRIPT_BEFORE_PRINT_STARTED);
    if (j->sd) {
        printer_send(j->printer, "M26 S0");
        printer_send(j->printer, "M24");
        set_state(j, J_PRINTING, PRINTER_PRINTING);
    } else {
        j->own++;
        int rc = printer_stream_file(j->printer, j->abs);
        j->own--;
        if (rc < 0) {
            snprintf(err, errsz, "cannot print %s: %s", j->path, strerror(-rc));
            events_fire(j->ev, "PrintFailed", json_pack("{s:s, s:s, s:s, s:I, s:f, s:s, s:s}",
                        "name", base_name(j->path), "path", j->path, "origin", "local",
                        "size", (json_int_t)j->size, "time", 0.0, "reason", "error", "error", err));
            set_state(j, J_IDLE, PRINTER_OPERATIONAL);
            return rc;
        }
        j->st = J_PRINTING;
    }
    publish_progress(j, 0, false);
    write_journal(j, true);
    uv_timer_start(&j->tick, on_tick, TICK_MS, TICK_MS);
    return 0;
}

static void position_payload(const struct job *j, json_t *o)
{
    const struct printer_model *m = printer_get_model(j->printer);
    json_t *pos;
    if (m->has_position)
        pos = json_pack("{s:o, s:o, s:o, s:o, s:i, s:o}", "x", pyjson_real_or_null(m->x),
                        "y", pyjson_real_or_null(m->y), "z", pyjson_real_or_null(m->z),
                        "e", pyjson_real_or_null(m->e), "t", m->current_tool,
                        "f", m->has_f ? pyjson_real_or_null(m->f) : json_null());
    else
        pos = json_null();
    json_object_set_new(o, "position", pos);
}

static void finish_pause(struct job *j)
{
    j->waiting_position = false;
    uv_timer_stop(&j->position_timer);
    set_state(j, J_PAUSED, PRINTER_PAUSED);
    json_t *o = base_payload(j);
    position_payload(j, o);
    json_object_set_new(o, "fileposition", json_integer(file_pos(j)));
    json_object_set_new(o, "progress", json_integer((int)(progress(j) * 100)));
    events_fire(j->ev, "PrintPaused", o);
    chart(j, "pause");
    job_run_script(j, JOB_SCRIPT_AFTER_PRINT_PAUSED);
    write_journal(j, true);
}

static void cancel_done(struct job *j, bool external);

static void finish_cancel(struct job *j)
{
    j->waiting_position = false;
    uv_timer_stop(&j->position_timer);
    cancel_done(j, false);
}

static void on_position_timer(uv_timer_t *t)
{
    struct job *j = t->data;
    if (!j->waiting_position)
        return;
    log_warn("job: did not receive parseable position data from printer within %.1fs, continuing without it",
             j->opt.position_wait);
    if (j->st == J_PAUSING)
        finish_pause(j);
    else if (j->st == J_CANCELLING)
        finish_cancel(j);
}

static void ask_position(struct job *j)
{
    j->waiting_position = true;
    printer_send(j->printer, "M400");
    printer_send(j->printer, "M114");
    uv_timer_start(&j->position_timer, on_position_timer, (uint64_t)(j->opt.position_wait * 1000), 0);
}

int job_pause(struct job *j, char *err, size_t errsz)
{
    if (j->st != J_PRINTING && j->st != J_STARTING && j->st != J_RESUMING) {
        snprintf(err, errsz, "nothing to pause: %s", j->st == J_PAUSED ? "the print is already paused" : "no print is running");
        return -EINVAL;
    }
    j->pause_began = uv_now(j->loop);
    set_state(j, J_PAUSING, PRINTER_PAUSING);
    if (j->sd)
        printer_send(j->printer, "M25");
    else
        printer_stream_hold(j->printer, true);
    ask_position(j);
    return 0;
}

int job_resume(struct job *j, char *err, size_t errsz)
{
    if (j->st != J_PAUSED && j->st != J_PAUSING) {
        snprintf(err, errsz, "nothing to resume: no paused print");
        return -EINVAL;
    }
    j->waiting_position = false;
    uv_timer_stop(&j->position_timer);
    if (j->pause_began)
        j->paused_ms += uv_now(j->loop) - j->pause_began;
    j->pause_began = 0;
    set_state(j, J_RESUMING, PRINTER_RESUMING);
    job_run_script(j, JOB_SCRIPT_BEFORE_PRINT_RESUMED);
    events_fire(j->ev, "PrintResumed", base_payload(j));
    chart(j, "resume");
    if (j->sd) {
        printer_send(j->printer, "M24");
        printer_send(j->printer, "M27");
    }
    set_state(j, J_PRINTING, PRINTER_PRINTING);
    if (!j->sd)
        printer_stream_hold(j->printer, false);
    return 0;
}

int job_cancel(struct job *j, char *err, size_t errsz)
{
    if (j->st == J_IDLE || j->st == J_CANCELLING || j->st == J_FINISHING) {
        snprintf(err, errsz, "nothing to cancel: %s", j->st == J_IDLE ? "no print is running" : "the print is already ending");
        return -EINVAL;
    }
    /* the position is that of the last line that reached the printer */
    if (!j->sd)
        j->sd_pos = file_pos(j);
    set_state(j, J_CANCELLING, PRINTER_CANCELLING);
    events_fire(j->ev, "PrintCancelling", base_payload(j));
    if (j->sd) {
        printer_send(j->printer, "M25");
        printer_send(j->printer, "M27");
        printer_send(j->printer, "M26 S0");
    } else {
        printer_stream_stop(j->printer);
    }
    ask_position(j);
    return 0;
}

/* Ends a cancelled print: PrintCancelled, PrintFailed {reason: cancelled}, the cancel script,
 * back to OPERATIONAL (unless someone else already put the printer there). */
static void cancel_done(struct job *j, bool external)
{
    double t = print_time(j);
    json_t *o = base_payload(j);
    json_object_set_new(o, "time", json_real(t));
    if (!external)
        position_payload(j, o);
    json_object_set_new(o, "fileposition", json_integer(j->sd_pos));
    json_object_set_new(o, "progress", json_integer(j->size > 0 ? (int)((double)j->sd_pos * 100 / (double)j->size) : 0));
    events_fire(j->ev, "PrintCancelled", json_incref(o));
    json_object_set_new(o, "reason", json_string("cancelled"));
    events_fire(j->ev, "PrintFailed", o);
    chart(j, "cancel");
    job_run_script(j, JOB_SCRIPT_AFTER_PRINT_CANCELLED);
    uv_timer_stop(&j->tick);
    set_state(j, J_IDLE, PRINTER_OPERATIONAL);
    j->started_ms = 0;
    clear_journal(j);
    publish_progress(j, 0, false);
    printer_set_job_times(j->printer, false, 0, false, 0, NULL);
}

static void print_done(struct job *j)
{
    double t = print_time(j);
    j->sd_pos = j->size;
    json_t *o = base_payload(j);
    json_object_set_new(o, "time", json_real(t));
    events_fire(j->ev, "PrintDone", o);
    chart(j, "done");
    job_run_script(j, JOB_SCRIPT_AFTER_PRINT_DONE);
    uv_timer_stop(&j->tick);
    if (printer_get_state(j->printer) != PRINTER_OPERATIONAL)
        set_state(j, J_IDLE, PRINTER_OPERATIONAL);
    j->st = J_IDLE;
    j->started_ms = 0;
    clear_journal(j);
    publish_progress(j, 100, false);
    printer_set_job_times(j->printer, true, (long long)t, true, 0, NULL);
}

static void print_failed(struct job *j, const char *error)
{
    double p = progress(j);
    json_t *o = base_payload(j);
    json_object_set_new(o, "time", json_real(print_time(j)));
    json_object_set_new(o, "reason", json_string("error"));
    json_object_set_new(o, "error", json_string(error && *error ? error : "the printer connection was lost"));
    /* OctoPrint sends the raw 0..1 float here (serial-protocol.md 16) */
    json_object_set_new(o, "progress", json_real(p < 0 ? 0 : p));
    events_fire(j->ev, "PrintFailed", o);
    uv_timer_stop(&j->tick);
    uv_timer_stop(&j->position_timer);
    j->waiting_position = false;
    j->st = J_IDLE;
    j->started_ms = 0;
    clear_journal(j);
    publish_progress(j, 0, false);
    printer_set_job_times(j->printer, false, 0, false, 0, NULL);
}

int job_command(struct job *j, const char *text, size_t len, char *err, size_t errsz)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    int rc = -EINVAL;
    if (!json_is_object(o)) {
        snprintf(err, errsz, "not a JSON object");
        goto out;
    }
    const char *cmd = json_string_value(json_object_get(o, "command"));
    const char *path = json_string_value(json_object_get(o, "path"));
    const char *orig = json_string_value(json_object_get(o, "origin"));
    if (!cmd) {
        snprintf(err, errsz, "missing \"command\"");
        goto out;
    }
    if (orig && strcmp(orig, "local") != 0 && strcmp(orig, "sdcard") != 0) {
        snprintf(err, errsz, "origin must be \"local\" or \"sdcard\"");
        goto out;
    }
    bool sd = orig && strcmp(orig, "sdcard") == 0;
    if (strcmp(cmd, "select") == 0) {
        rc = job_select(j, path, sd, err, errsz);
    } else if (strcmp(cmd, "start") == 0) {
        rc = path ? job_select(j, path, sd, err, errsz) : 0;
        if (rc == 0)
            rc = job_start(j, err, errsz);
    } else if (strcmp(cmd, "pause") == 0) {
        rc = job_pause(j, err, errsz);
    } else if (strcmp(cmd, "resume") == 0) {
        rc = job_resume(j, err, errsz);
    } else if (strcmp(cmd, "toggle") == 0) {
        rc = (j->st == J_PAUSED || j->st == J_PAUSING) ? job_resume(j, err, errsz) : job_pause(j, err, errsz);
    } else if (strcmp(cmd, "cancel") == 0) {
        rc = job_cancel(j, err, errsz);
    } else {
        snprintf(err, errsz, "unknown job command \"%.32s\"", cmd);
    }
out:
    json_decref(o);
    return rc;
}

/* ---- SD card ------------------------------------------------------------------------------- */

int job_sd_upload(struct job *j, const char *rel, const char *remote, char *err, size_t errsz)
{
    if (busy(j) || j->transfer) {
        snprintf(err, errsz, "the printer is busy");
        return -EBUSY;
    }
    if (!j->storage) {
        snprintf(err, errsz, "no local storage configured");
        return -ENOENT;
    }
    if (!remote || !*remote || strlen(remote) > 200 || strpbrk(remote, " \n\r/")) {
        snprintf(err, errsz, "bad SD file name");
        return -EINVAL;
    }
    char abs[4096];
    int rc = storage_resolve(j->storage, rel, abs, sizeof abs, err, errsz);
    if (rc < 0)
        return rc;
    if (printer_get_state(j->printer) != PRINTER_OPERATIONAL) {
        snprintf(err, errsz, "the printer is not ready");
        return -ENOTCONN;
    }
    snprintf(j->transfer_local, sizeof j->transfer_local, "%s", rel);
    snprintf(j->transfer_remote, sizeof j->transfer_remote, "%s", remote);
    j->own++;
    rc = printer_stream_file(j->printer, abs);
    j->own--;
    if (rc < 0) {
        snprintf(err, errsz, "cannot send %s: %s", rel, strerror(-rc));
        return rc;
    }
    /* after M110 (already on its way), before the first file line: the queue goes first */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "M28 %s", remote);
    printer_send(j->printer, cmd);
    j->transfer = true;
    j->transfer_started = uv_now(j->loop);
    events_fire(j->ev, "TransferStarted", json_pack("{s:s, s:s}", "local", rel, "remote", remote));
    return 0;
}

static void transfer_end(struct job *j, bool ok)
{
    j->transfer = false;
    printer_send(j->printer, "M29");
    if (ok) {
        double t = (double)(uv_now(j->loop) - j->transfer_started) / 1000.0;
        events_fire(j->ev, "TransferDone", json_pack("{s:s, s:s, s:f}", "local", j->transfer_local,
                                                     "remote", j->transfer_remote, "time", t));
        printer_send(j->printer, "M20");
    } else {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "M30 %s", j->transfer_remote);
        printer_send(j->printer, cmd);
        events_fire(j->ev, "TransferFailed", json_pack("{s:s, s:s}", "local", j->transfer_local,
                                                       "remote", j->transfer_remote));
    }
}

void job_on_line(struct job *j, const char *line)
{
    if (!j || j->stopping)
        return;
    const char *s;
    if ((s = strstr(line, "SD printing byte")) != NULL) {
        long long cur, total;
        if (sscanf(s, "SD printing byte %lld/%lld", &cur, &total) == 2 && j->sd && j->st != J_IDLE) {
            j->last_sd_report = uv_now(j->loop);
            j->sd_pos = cur;
            if (total > 0)
                j->size = total;
            update_progress(j);
        }
    } else if (strstr(line, "Done printing file")) {
        if (j->sd && j->st != J_IDLE && j->st != J_CANCELLING)
            print_done(j);
    } else if ((s = strstr(line, "File opened:")) != NULL) {
        long long size;
        const char *sz = strstr(s, "Size:");
        if (sz && sscanf(sz, "Size: %lld", &size) == 1 && j->sd)
            j->size = size;
    } else if (strstr(line, "File selected")) {
        if (j->sd && j->selected && j->st == J_IDLE)
            events_fire(j->ev, "FileSelected", base_payload(j));
    } else if (strstr(line, "open failed")) {
        if (j->sd && j->selected && j->st == J_IDLE) {
            log_warn("job: the printer could not open %s on its SD card", j->path);
            deselect(j);
        }
    } else if (strstr(line, "End file list")) {
        events_fire(j->ev, "UpdatedFiles", json_pack("{s:s}", "type", "printables"));
    } else if (strstr(line, "SD card ok") || strstr(line, "Card successfully initialized")) {
        printer_send(j->printer, "M20");
    }
}

/* ---- following the printer ------------------------------------------------------------------ */

static void on_state(struct job *j, const char *id)
{
    if (j->own > 0)
        return;
    if (j->transfer) {
        if (strcmp(id, "OPERATIONAL") == 0)
            transfer_end(j, true);
        else if (strcmp(id, "ERROR") == 0 || strcmp(id, "OFFLINE") == 0)
            transfer_end(j, false);
        return;
    }
    if (j->st == J_IDLE) {
        if (strcmp(id, "OFFLINE") == 0)
            deselect(j);
        return;
    }
    if (strcmp(id, "FINISHING") == 0) {
        j->st = J_FINISHING;
    } else if (strcmp(id, "OPERATIONAL") == 0) {
        if (j->st == J_FINISHING)
            print_done(j);
        else if (j->st != J_CANCELLING) {
            /* @cancel, //action:cancel or an external reset stopped the stream */
            j->sd_pos = file_pos(j);
            cancel_done(j, true);
        }
    } else if (strcmp(id, "PAUSED") == 0 && j->st == J_PRINTING) {
        /* @pause or //action:pause: the printer paused itself */
        j->pause_began = uv_now(j->loop);
        j->st = J_PAUSED;
        json_t *o = base_payload(j);
        json_object_set_new(o, "fileposition", json_integer(file_pos(j)));
        json_object_set_new(o, "progress", json_integer((int)(progress(j) * 100)));
        events_fire(j->ev, "PrintPaused", o);
        chart(j, "pause");
    } else if (strcmp(id, "PRINTING") == 0 && j->st == J_PAUSED) {
        if (j->pause_began)
            j->paused_ms += uv_now(j->loop) - j->pause_began;
        j->pause_began = 0;
        j->st = J_PRINTING;
        events_fire(j->ev, "PrintResumed", base_payload(j));
        chart(j, "resume");
    } else if (strcmp(id, "ERROR") == 0 || strcmp(id, "OFFLINE") == 0 || strcmp(id, "CLOSED") == 0) {
        print_failed(j, printer_get_model(j->printer)->error);
        deselect(j);
    }
}

void job_stop(struct job *j)
{
    if (!j)
        return;
    j->stopping = true;
    j->opt.publish_progress = NULL;     /* the publisher is going away first */
    uv_timer_stop(&j->tick);
    uv_timer_stop(&j->position_timer);
}

void job_on_event(void *ctx, const char *name, json_t *payload, long long timestamp)
{
    struct job *j = ctx;
    (void)timestamp;
    if (j->stopping)
        return;
    if (strcmp(name, EVENT_PRINTER_STATE_CHANGED) == 0) {
        const char *id = json_string_value(json_object_get(payload, "state_id"));
        if (id)
            on_state(j, id);
    } else if (strcmp(name, EVENT_POSITION_UPDATE) == 0 && j->waiting_position) {
        if (j->st == J_PAUSING)
            finish_pause(j);
        else if (j->st == J_CANCELLING)
            finish_cancel(j);
    } else if (strcmp(name, EVENT_TOOL_CHANGE) == 0) {
        job_run_script(j, JOB_SCRIPT_AFTER_TOOL_CHANGE);
    } else if (strcmp(name, EVENT_CONNECTED) == 0) {
        if (j->opt.scripts[JOB_SCRIPT_AFTER_PRINTER_CONNECTED])
            log_debug("job: afterPrinterConnected is sent by the printer module");
    }
}

static void on_tick(uv_timer_t *t)
{
    struct job *j = t->data;
    update_progress(j);
    /* SD progress: poll unless the firmware autoreports */
    if (j->sd && (j->st == J_PRINTING) && uv_now(j->loop) - j->last_sd_report > SD_POLL_MS * 2)
        printer_send(j->printer, "M27");
}

/* ---- life cycle ------------------------------------------------------------------------------ */

int job_create(struct job **out, uv_loop_t *loop, struct events *ev, struct printer *printer,
               struct storage *storage, const struct job_options *opt)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->loop = loop;
    j->ev = ev;
    j->printer = printer;
    j->storage = storage;
    j->opt = *opt;
    if (j->opt.journal_interval <= 0)
        j->opt.journal_interval = 2;
    if (j->opt.position_wait <= 0)
        j->opt.position_wait = 10;
    if (j->opt.extruders <= 0)
        j->opt.extruders = 1;
    j->journal_path = opt->journal_path ? strdup(opt->journal_path) : NULL;
    j->opt.journal_path = NULL;
    j->size = -1;
    j->analysis_total = -1;
    uv_timer_init(loop, &j->tick);
    uv_timer_init(loop, &j->position_timer);
    j->tick.data = j->position_timer.data = j;
    if (j->journal_path) {
        /* the journal lives in a folder of its own (storage's .printbridge) */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", j->journal_path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0755);
        }
    }
    recover_journal(j);
    *out = j;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    /* libuv runs close callbacks in no promised order: free after the second */
    if (++j->closed == 2) {
        free(j->journal_path);
        free(j);
    }
}

void job_destroy(struct job *j)
{
    if (!j)
        return;
    /* a print still running at shutdown stays in the journal: the next start reports it */
    uv_close((uv_handle_t *)&j->tick, on_closed);
    uv_close((uv_handle_t *)&j->position_timer, on_closed);
}
