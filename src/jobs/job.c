/* job.c: print jobs, following OctoPrint's job states and events.
 *
 * The job is the one owner of a print. For a local file it hands the printer a line source
 * (its file, read by stream.c) and hears back when the source ran dry and when its last
 * line was acknowledged; for an SD print it drives the firmware with M23/M24/M25/M26 and
 * reads the card's messages (job_sd.c). It sets the job's part of the printer state itself
 * (STARTING, PRINTING, PAUSING, ...); the printer only ever changes the link's part, and a
 * link that closes or fails during a print makes it a failed print here. What the firmware
 * or the file asks of the print (@pause, //action:cancel, M0, a reset) arrives as a request.
 *
 * Pause and cancel wait for the head position (M400 then M114, up to position_wait) before
 * announcing PrintPaused / PrintCancelled, as OctoPrint does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "job_impl.h"

#define TICK_MS 500

static const char *const script_names[JOB_SCRIPT_COUNT] = {
    "beforePrintStarted", "afterPrintDone", "afterPrintCancelled", "afterPrintPaused",
    "beforePrintResumed", "afterPrinterConnected", "beforePrinterDisconnected",
    "beforeToolChange", "afterToolChange",
};

const char *job_script_name(enum job_script s)
{
    return (unsigned)s < JOB_SCRIPT_COUNT ? script_names[s] : "";
}

/* ---- small utilities ------------------------------------------------------------------ */

const char *job_origin_name(const struct job *j)
{
    return j->sd ? "sdcard" : "local";
}

const char *job_base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

json_t *job_base_payload(const struct job *j)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "name", job_base_name(j->path), "path", j->path,
                     "origin", job_origin_name(j), "size", (json_int_t)j->size);
}

void job_changed(struct job *j)
{
    if (j->opt.changed)
        j->opt.changed(j->opt.publish_ctx);
}

/* The job's state, and the printer's part of the state that shows it. */
static void set_state(struct job *j, enum jstate s, enum printer_state ps)
{
    j->st = s;
    printer_set_activity(j->printer, ps);
}

void job_chart(struct job *j, const char *type)
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

/* ---- scripts ---------------------------------------------------------------------------- */

static void send_line(struct job *j, const char *line)
{
    int rc = printer_send(j->printer, line);
    if (rc < 0 && rc != -EPERM)
        log_warn("job: script line not sent (%s): %s", strerror(-rc), line);
}

static void send_lines(struct job *j, char *const *lines)
{
    for (int i = 0; lines && lines[i]; i++)
        send_line(j, lines[i]);
}

/* OctoPrint's afterPrintCancelled default: motors off, every hotend and the bed off, fan off */
static char *const *default_cancel_script(const struct job *j, char *lines[24], char buf[16][24])
{
    int n = 0;
    lines[n++] = "M84";
    for (int t = 0; t < j->opt.extruders && t < 16; t++) {
        snprintf(buf[t], sizeof buf[t], "M104 T%d S0", t);
        lines[n++] = buf[t];
    }
    if (j->opt.heated_bed)
        lines[n++] = "M140 S0";
    lines[n++] = "M106 S0";
    lines[n] = NULL;
    return lines;
}

/* GcodeScript<Name>Running / ...Finished, with the job's keys while a file is selected */
static json_t *script_payload(const struct job *j)
{
    json_t *payload = j->selected ? job_base_payload(j) : json_object();
    if (j->selected && j->started_ms)
        json_object_set_new(payload, "time", json_real(job_print_time(j)));
    return payload;
}

static void script_event(struct job *j, enum job_script s, const char *phase, json_t *payload)
{
    char ev[64];
    const char *name = script_names[s];
    /* OctoPrint capitalises the script name's first letter */
    snprintf(ev, sizeof ev, "GcodeScript%c%s%s", name[0] - 32, name + 1, phase);
    events_fire(j->ev, ev, payload);
}

void job_run_script(struct job *j, enum job_script s)
{
    char *const *lines = j->opt.scripts[s];
    char *defaults[24];
    char buf[16][24];
    if ((!lines || !lines[0]) && s == JOB_SCRIPT_AFTER_PRINT_CANCELLED)
        lines = default_cancel_script(j, defaults, buf);
    if (!lines || !lines[0])
        return;
    /* the file waits while the script is queued: otherwise sending its first line could
     * pull the next file lines (and their scripts) in between its events */
    bool held = printer_source_hold(j->printer, true);
    json_t *payload = script_payload(j);
    script_event(j, s, "Running", json_incref(payload));
    send_lines(j, lines);
    script_event(j, s, "Finished", payload);
    printer_source_hold(j->printer, held);
}

static void on_disconnect_script_done(void *ctx, const char *error)
{
    struct job *j = ctx;
    j->disconnecting = false;
    if (error)
        log_warn("job: beforePrinterDisconnected: %s", error);
    if (j->stopping)
        return;                         /* the daemon is closing the link itself */
    script_event(j, JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED, "Finished", script_payload(j));
    printer_disconnect(j->printer);
}

void job_disconnect(struct job *j)
{
    char *const *lines = j->opt.scripts[JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED];
    if (j->disconnecting)
        return;
    if (!lines || !lines[0] || !printer_state_is_operational(printer_get_state(j->printer))) {
        printer_disconnect(j->printer);
        return;
    }
    script_event(j, JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED, "Running", script_payload(j));
    int last = 0;
    while (lines[last + 1])
        send_line(j, lines[last++]);
    /* the link closes once the firmware took the script's last line (or the link failed) */
    j->disconnecting = true;
    if (printer_send_then(j->printer, lines[last], strlen(lines[last]), on_disconnect_script_done, j) < 0) {
        log_warn("job: beforePrinterDisconnected line not sent: %s", lines[last]);
        on_disconnect_script_done(j, NULL);
    }
}

/* ---- selection ------------------------------------------------------------------------------- */

void job_deselect(struct job *j)
{
    if (!j->selected)
        return;
    j->selected = false;
    events_fire(j->ev, "FileDeselected", NULL);
    job_changed(j);
}

static int select_sd(struct job *j, const char *path, char *err, size_t errsz)
{
    if (!printer_state_is_operational(printer_get_state(j->printer))) {
        snprintf(err, errsz, "the printer is not connected");
        return -ENOTCONN;
    }
    if (!printer_get_model(j->printer)->sd_ready) {
        snprintf(err, errsz, "the printer reports no SD card (sdReady is false); insert one and send M21");
        return -ENODEV;
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
    return 0;
}

/* shown is the path as events show it; abs the file to read */
static int select_file(struct job *j, const char *shown, const char *abs, char *err, size_t errsz)
{
    struct stat st;
    if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s is not a file", shown);
        return -ENOENT;
    }
    snprintf(j->path, sizeof j->path, "%s", shown);
    snprintf(j->abs, sizeof j->abs, "%s", abs);
    j->size = (long long)st.st_size;
    struct analysis_result r;
    j->analysis_total = -1;
    if (j->storage && storage_analysis(j->storage, shown, &r) == 0)
        j->analysis_total = r.slicer_time >= 0 ? r.slicer_time : r.estimated_time;
    return 0;
}

static int select_local(struct job *j, const char *path, char *err, size_t errsz)
{
    if (!j->storage) {
        snprintf(err, errsz, "no local storage configured");
        return -ENOENT;
    }
    char abs[4096];
    int rc = storage_resolve(j->storage, path, abs, sizeof abs, err, errsz);
    return rc < 0 ? rc : select_file(j, path, abs, err, errsz);
}

static void selected(struct job *j, bool sdcard)
{
    j->sd = sdcard;
    j->selected = true;
    j->done_shown = false;
    j->sd_pos = 0;
    j->sd_start_pending = false;
    if (!sdcard)
        events_fire(j->ev, "FileSelected", job_base_payload(j));
    /* SD: FileSelected follows the printer's "File selected" */
    job_progress_publish(j, 0, false);
    job_changed(j);
}

int job_select(struct job *j, const char *path, enum job_origin origin, char *err, size_t errsz)
{
    if (j->st != J_IDLE) {
        snprintf(err, errsz, "cannot select a file while a print is running");
        return -EBUSY;
    }
    if (!path || !*path) {
        snprintf(err, errsz, "no path given");
        return -EINVAL;
    }
    int rc = origin == JOB_SDCARD ? select_sd(j, path, err, errsz) : select_local(j, path, err, errsz);
    if (rc == 0)
        selected(j, origin == JOB_SDCARD);
    return rc;
}

/* ---- start ---------------------------------------------------------------------------------- */


/* A print can begin: idle, operational, no copy to the card running, and a file selected
 * (unless a path is about to select one). */
static int can_start(const struct job *j, bool selecting, char *err, size_t errsz)
{
    if (j->st != J_IDLE) {
        snprintf(err, errsz, "a print is already running");
        return -EBUSY;
    }
    if (!j->selected && !selecting) {
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
    if (j->recovery) {
        snprintf(err, errsz, "the print interrupted by printbridge's restart is being continued");
        return -EBUSY;
    }
    return 0;
}

static void print_begins(struct job *j)
{
    j->started_ms = uv_now(j->loop);
    j->paused_ms = j->pause_began = 0;
    j->sd_pos = 0;
    j->last_journal = 0;
    j->done_shown = false;
    set_state(j, J_STARTING, PRINTER_STARTING);
    events_fire(j->ev, "PrintStarted", job_base_payload(j));
    progressnotify_start(&j->steps, &j->opt.steps, job_base_name(j->path), j->path);
    job_chart(j, "print");
    job_run_script(j, JOB_SCRIPT_BEFORE_PRINT_STARTED);
}

static int start_selected(struct job *j, char *err, size_t errsz)
{
    int rc = can_start(j, false, err, errsz);
    if (rc < 0)
        return rc;
    if (!j->sd && (rc = stream_open(&j->stream, j->abs)) < 0) {
        snprintf(err, errsz, "cannot print %s: %s", j->path, strerror(-rc));
        return rc;
    }
    print_begins(j);
    if (j->sd) {
        printer_send(j->printer, "M26 S0");
        printer_send(j->printer, "M24");
        set_state(j, J_PRINTING, PRINTER_PRINTING);
    } else {
        log_info("job: printing %s (%lld bytes)", j->abs, j->stream.size);
        set_state(j, J_PRINTING, PRINTER_PRINTING);
        job_lines_open(j);
        printer_source_attach(j->printer, &job_source, j);
    }
    job_progress_publish(j, 0, false);
    job_journal_write(j, true);
    uv_timer_start(&j->tick, job_on_tick, TICK_MS, TICK_MS);
    job_changed(j);
    return 0;
}

int job_start(struct job *j, const char *path, enum job_origin origin, char *err, size_t errsz)
{
    if (path) {
        int rc = can_start(j, true, err, errsz);
        if (rc < 0 || (rc = job_select(j, path, origin, err, errsz)) < 0)
            return rc;
        /* on the card, the print starts once the printer confirmed the selection with the
         * file's size (job_sd_start_selected), as OctoPrint's print-after-select does */
        if (origin == JOB_SDCARD) {
            j->sd_start_pending = true;
            return 0;
        }
    }
    return start_selected(j, err, errsz);
}

void job_sd_start_selected(struct job *j)
{
    char err[256];
    j->sd_start_pending = false;
    if (start_selected(j, err, sizeof err) < 0)
        log_warn("job: %s was selected on the SD card but not started: %s", j->path, err);
}

int job_start_file(struct job *j, const char *file, char *err, size_t errsz)
{
    if (j->st != J_IDLE) {
        snprintf(err, errsz, "a print is already running");
        return -EBUSY;
    }
    int rc = select_file(j, file, file, err, errsz);
    if (rc < 0)
        return rc;
    selected(j, false);
    return start_selected(j, err, errsz);
}

/* ---- pause and resume --------------------------------------------------------------------- */

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

static json_t *paused_payload(const struct job *j)
{
    json_t *o = job_base_payload(j);
    json_object_set_new(o, "fileposition", json_integer(job_file_pos(j)));
    json_object_set_new(o, "progress", json_integer(job_percent(j)));
    return o;
}

static void finish_pause(struct job *j)
{
    j->waiting_position = false;
    uv_timer_stop(&j->position_timer);
    set_state(j, J_PAUSED, PRINTER_PAUSED);
    json_t *o = job_base_payload(j);
    position_payload(j, o);
    json_object_set_new(o, "fileposition", json_integer(job_file_pos(j)));
    json_object_set_new(o, "progress", json_integer(job_percent(j)));
    events_fire(j->ev, "PrintPaused", o);
    job_chart(j, "pause");
    job_run_script(j, JOB_SCRIPT_AFTER_PRINT_PAUSED);
    job_journal_write(j, true);
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
        printer_source_hold(j->printer, true);
    ask_position(j);
    return 0;
}

static void end_pause(struct job *j)
{
    if (j->pause_began)
        j->paused_ms += uv_now(j->loop) - j->pause_began;
    j->pause_began = 0;
}

int job_resume(struct job *j, char *err, size_t errsz)
{
    if (j->st != J_PAUSED && j->st != J_PAUSING) {
        snprintf(err, errsz, "nothing to resume: no paused print");
        return -EINVAL;
    }
    j->waiting_position = false;
    uv_timer_stop(&j->position_timer);
    end_pause(j);
    set_state(j, J_RESUMING, PRINTER_RESUMING);
    job_run_script(j, JOB_SCRIPT_BEFORE_PRINT_RESUMED);
    events_fire(j->ev, "PrintResumed", job_base_payload(j));
    job_chart(j, "resume");
    if (j->sd) {
        printer_send(j->printer, "M24");
        printer_send(j->printer, "M27");
    }
    set_state(j, J_PRINTING, PRINTER_PRINTING);
    if (!j->sd)
        printer_source_hold(j->printer, false);
    return 0;
}

int job_toggle(struct job *j, char *err, size_t errsz)
{
    return (j->st == J_PAUSED || j->st == J_PAUSING) ? job_resume(j, err, errsz) : job_pause(j, err, errsz);
}

/* ---- the end of a print ------------------------------------------------------------------- */

static void print_over(struct job *j)
{
    uv_timer_stop(&j->tick);
    stream_close(&j->stream);
    j->started_ms = 0;
    job_journal_clear(j);
    job_lines_close(j);
}

int job_cancel(struct job *j, char *err, size_t errsz)
{
    if (j->st == J_IDLE || j->st == J_CANCELLING || j->st == J_FINISHING) {
        snprintf(err, errsz, "nothing to cancel: %s", j->st == J_IDLE ? "no print is running" : "the print is already ending");
        return -EINVAL;
    }
    set_state(j, J_CANCELLING, PRINTER_CANCELLING);
    events_fire(j->ev, "PrintCancelling", job_base_payload(j));
    if (j->sd) {
        printer_send(j->printer, "M25");
        printer_send(j->printer, "M27");
        printer_send(j->printer, "M26 S0");
    } else {
        /* the position stays that of the last line that reached the printer */
        printer_source_detach(j->printer);
    }
    ask_position(j);
    return 0;
}

/* PrintCancelled, PrintFailed {reason: cancelled}, the cancel script, back to OPERATIONAL. */
static void cancel_done(struct job *j, bool external)
{
    double t = job_print_time(j);
    long long pos = job_file_pos(j);
    json_t *o = job_base_payload(j);
    json_object_set_new(o, "time", json_real(t));
    if (!external)
        position_payload(j, o);
    json_object_set_new(o, "fileposition", json_integer(pos));
    json_object_set_new(o, "progress", json_integer(job_percent(j)));
    events_fire(j->ev, "PrintCancelled", json_incref(o));
    json_object_set_new(o, "reason", json_string("cancelled"));
    events_fire(j->ev, "PrintFailed", o);
    job_progress_end(j, false, t);
    job_chart(j, "cancel");
    job_run_script(j, JOB_SCRIPT_AFTER_PRINT_CANCELLED);
    set_state(j, J_IDLE, PRINTER_OPERATIONAL);
    print_over(j);
    job_progress_publish(j, 0, false);
    job_changed(j);
}

void job_print_done(struct job *j)
{
    double t = job_print_time(j);
    j->sd_pos = j->size;
    json_t *o = job_base_payload(j);
    json_object_set_new(o, "time", json_real(t));
    job_progress_end(j, true, t);     /* before the event: its hooks see 100 % */
    events_fire(j->ev, "PrintDone", o);
    job_chart(j, "done");
    job_run_script(j, JOB_SCRIPT_AFTER_PRINT_DONE);
    set_state(j, J_IDLE, PRINTER_OPERATIONAL);
    print_over(j);
    job_progress_publish(j, 100, false);
    job_changed(j);
}

static void print_failed(struct job *j, const char *error)
{
    json_t *o = job_base_payload(j);
    json_object_set_new(o, "time", json_real(job_print_time(j)));
    json_object_set_new(o, "reason", json_string("error"));
    json_object_set_new(o, "error", json_string(error && *error ? error : "the printer connection was lost"));
    /* OctoPrint sends the raw 0..1 fraction here and a percent everywhere else; printbridge
     * sends the percent everywhere (docs/wire-format.md 5.7) */
    json_object_set_new(o, "progress", json_integer(job_percent(j)));
    events_fire(j->ev, "PrintFailed", o);
    job_progress_end(j, false, 0);
    uv_timer_stop(&j->position_timer);
    j->waiting_position = false;
    j->st = J_IDLE;
    print_over(j);
    job_progress_publish(j, 0, false);
    job_changed(j);
}

/* ---- the printer's line source ------------------------------------------------------------ */

static bool has_lines(char *const *lines)
{
    return lines && lines[0];
}

/* A T line from the file: beforeToolChange goes first. The line is put back and read again
 * once the script is queued, so that the script's lines are noted at the position before the
 * T (a resume after a crash in the script sends it again, then the T, never skips the T). */
static bool script_before_tool_change(struct job *j, const struct stream *mark, const char *line)
{
    if (j->transfer || j->tool_scripted || !has_lines(j->opt.scripts[JOB_SCRIPT_BEFORE_TOOL_CHANGE]) ||
        printer_tool_change(j->printer, line) < 0 || stream_rewind(&j->stream, mark) < 0)
        return false;
    j->tool_scripted = true;
    job_run_script(j, JOB_SCRIPT_BEFORE_TOOL_CHANGE);  /* holds the file while it queues */
    return true;
}

static int source_next(void *ctx, char *line, size_t size)
{
    struct job *j = ctx;
    bool moved;
    if (j->transfer && !j->transfer_m28_sent) {
        j->transfer_m28_sent = true;
        snprintf(line, size, "M28 %s", j->transfer_remote);
        return 1;
    }
    struct stream mark = j->stream;
    int rc = stream_next(&j->stream, line, size, &moved);
    if (rc == 1 && script_before_tool_change(j, &mark, line))
        return 0;
    if (rc == 1)
        j->tool_scripted = false;
    if (moved && !j->transfer)
        job_progress_update(j);
    return rc;
}

static void source_ended(void *ctx, bool acknowledged)
{
    struct job *j = ctx;
    if (j->transfer) {
        if (acknowledged)
            job_sd_transfer_end(j, j->stream.error[0] == '\0');
        return;
    }
    if (!acknowledged) {
        if (j->st == J_PRINTING)
            set_state(j, J_FINISHING, PRINTER_FINISHING);
        return;
    }
    double secs = job_print_time(j);
    log_info("job: streamed %s: %lu lines in %.1f s (%.0f lines/s)", j->path, j->stream.lines, secs,
             secs > 0 ? (double)j->stream.lines / secs : 0.0);
    if (j->stream.error[0]) {
        log_error("job: %s: %s; the print stopped there", j->path, j->stream.error);
        print_failed(j, j->stream.error);
        printer_set_activity(j->printer, PRINTER_OPERATIONAL);
        return;
    }
    printer_set_activity(j->printer, PRINTER_OPERATIONAL);
    job_print_done(j);
}

/* The firmware or the file paused, resumed or cancelled the print by itself. */
static void source_request(void *ctx, enum printer_request r)
{
    struct job *j = ctx;
    if (j->transfer)
        return;
    if (r == PRINTER_REQUEST_PAUSE && j->st == J_PRINTING) {
        printer_source_hold(j->printer, true);
        j->pause_began = uv_now(j->loop);
        set_state(j, J_PAUSED, PRINTER_PAUSED);
        events_fire(j->ev, "PrintPaused", paused_payload(j));
        job_chart(j, "pause");
    } else if (r == PRINTER_REQUEST_RESUME && j->st == J_PAUSED) {
        end_pause(j);
        set_state(j, J_PRINTING, PRINTER_PRINTING);
        events_fire(j->ev, "PrintResumed", job_base_payload(j));
        job_chart(j, "resume");
        printer_source_hold(j->printer, false);
    } else if (r == PRINTER_REQUEST_CANCEL && j->st != J_IDLE && j->st != J_CANCELLING && j->st != J_FINISHING) {
        printer_source_detach(j->printer);
        printer_set_activity(j->printer, PRINTER_OPERATIONAL);
        cancel_done(j, true);
    }
}

static void source_layer(void *ctx, double z)
{
    job_progress_layer(ctx, z);
}

static void source_numbered(void *ctx, unsigned long n)
{
    job_lines_note(ctx, n);
}

const struct printer_source job_source = {
    .next = source_next, .ended = source_ended, .request = source_request, .layer = source_layer,
    .numbered = source_numbered,
};

/* ---- following the printer ------------------------------------------------------------------ */

void job_on_printer_state(struct job *j, enum printer_state s)
{
    if (!j || j->stopping)
        return;
    if (j->recovery) {
        if (printer_state_is_operational(s))
            job_resume_on_printer(j, s);
        else if (printer_state_is_closed_or_error(s))
            job_resume_on_link_lost(j);
        return;
    }
    if (printer_state_is_operational(s))
        return;
    if (j->transfer) {
        if (s == PRINTER_ERROR || printer_state_is_closed_or_error(s))
            job_sd_transfer_end(j, false);
        return;
    }
    bool closed = s == PRINTER_CLOSED || s == PRINTER_CLOSED_WITH_ERROR || s == PRINTER_OFFLINE;
    if (j->st == J_IDLE) {
        if (closed)
            job_deselect(j);
        return;
    }
    if (closed || s == PRINTER_ERROR) {
        print_failed(j, printer_get_model(j->printer)->error);
        job_deselect(j);
    }
}

void job_on_event(void *ctx, const char *name, json_t *payload, long long timestamp)
{
    struct job *j = ctx;
    (void)timestamp;
    if (j->stopping)
        return;
    if (strcmp(name, EVENT_POSITION_UPDATE) == 0 && j->waiting_position) {
        if (j->st == J_PAUSING)
            finish_pause(j);
        else if (j->st == J_CANCELLING)
            finish_cancel(j);
    } else if (strcmp(name, EVENT_FIRMWARE_DATA) == 0) {
        job_resume_on_firmware(j, payload);
    } else if (strcmp(name, EVENT_TOOL_CHANGE) == 0) {
        job_run_script(j, JOB_SCRIPT_AFTER_TOOL_CHANGE);
    }
}

void job_on_tick(uv_timer_t *t)
{
    struct job *j = t->data;
    job_progress_update(j);
    job_sd_poll(j);
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
    j->lines.fd = -1;
    if (j->journal_path) {
        /* journal.json -> journal.lines */
        snprintf(j->lines_path, sizeof j->lines_path, "%s", j->journal_path);
        char *dot = strrchr(j->lines_path, '.');
        if (dot && strchr(dot, '/') == NULL)
            *dot = '\0';
        snprintf(j->lines_path + strlen(j->lines_path), sizeof j->lines_path - strlen(j->lines_path), ".lines");
    }
    j->size = -1;
    j->analysis_total = -1;
    uv_timer_init(loop, &j->tick);
    uv_timer_init(loop, &j->position_timer);
    j->tick.data = j->position_timer.data = j;
    if (j->journal_path)
        journal_prepare(j->journal_path);   /* its own folder (storage's .printbridge) */
    job_journal_recover(j);
    *out = j;
    return 0;
}

void job_set_steps(struct job *j, const struct progressnotify_settings *steps)
{
    if (j)
        j->opt.steps = *steps;
}

void job_stop(struct job *j)
{
    if (!j)
        return;
    j->stopping = true;
    j->opt.publish_progress = NULL;     /* the publisher is going away first */
    j->opt.changed = NULL;
    uv_timer_stop(&j->tick);
    uv_timer_stop(&j->position_timer);
}

static void on_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    /* libuv runs close callbacks in no promised order: free after the second */
    if (++j->closed == 2) {
        stream_close(&j->stream);
        linemap_close(&j->lines, NULL, false);     /* a print still running goes on next time */
        json_decref(j->recovery);
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
