/* job_progress.c: how far a print is. The file position (the stream's for a local file, the
 * printer's report for an SD print) gives the progress; the clock, less paused time, gives
 * the print time; both give the time left. Progress goes to <base>progress/printing as an
 * integer percent whenever it or the path changes (100 once, at PrintDone); PrintProgress
 * fires at the configured steps; the crash journal is rewritten at most every
 * journal_interval seconds (a few hundred bytes, no fsync: cheap enough for the loop). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "job_impl.h"

/* ---- pure rules ----------------------------------------------------------------------- */

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

/* ---- where the print is ------------------------------------------------------------------ */

double job_print_time(const struct job *j)
{
    if (!j->started_ms)
        return 0;
    uint64_t now = uv_now(j->loop);
    uint64_t paused = j->paused_ms + (j->pause_began ? now - j->pause_began : 0);
    return (double)(now - j->started_ms - paused) / 1000.0;
}

long long job_file_pos(const struct job *j)
{
    if (j->sd)
        return j->sd_pos;
    return j->st == J_IDLE ? 0 : j->stream.pos;
}

double job_progress(const struct job *j)
{
    if (j->size <= 0)
        return -1;
    double p = (double)job_file_pos(j) / (double)j->size;
    return p > 1 ? 1 : p;
}

int job_percent(const struct job *j)
{
    double p = job_progress(j);
    return p > 0 ? (int)(p * 100.0) : 0;
}

void job_progress_publish(struct job *j, int pct, bool force)
{
    if (!j->opt.publish_progress || !j->selected)
        return;
    if (!force && j->published_any && pct == j->last_progress && strcmp(j->path, j->last_path) == 0)
        return;
    j->opt.publish_progress(j->opt.publish_ctx, job_origin_name(j), j->path, pct);
    j->last_progress = pct;
    snprintf(j->last_path, sizeof j->last_path, "%s", j->path);
    j->published_any = true;
}

static void fire_steps(struct job *j, double p)
{
    if (!j->steps.active || !(p >= 0))
        return;
    const struct job_times *t = &j->times;
    json_t *payload = progressnotify_update(&j->steps, p * 100.0, t->has_print_time ? (double)t->print_time : 0,
                                            t->has_left ? (double)t->left : -1);
    if (payload)
        events_fire(j->ev, EVENT_PRINT_PROGRESS, payload);
}

void job_progress_layer(struct job *j, double z)
{
    if (progressnotify_move(&j->steps, z, true))
        fire_steps(j, job_progress(j));
}

void job_progress_update(struct job *j)
{
    if (j->st == J_IDLE || j->st == J_STARTING)
        return;
    double p = job_progress(j);
    job_progress_publish(j, job_progress_percent(p * 100, false), false);
    double left, pt = job_print_time(j);
    const char *orig = NULL;
    bool has_left = job_time_left(pt, p, j->analysis_total, &left, &orig);
    j->times = (struct job_times){ .has_print_time = true, .print_time = (long long)pt, .has_left = has_left,
                                   .left = has_left ? (long long)left : 0, .origin = orig };
    if (j->opt.changed)
        j->opt.changed(j->opt.publish_ctx);
    fire_steps(j, p);
    job_journal_write(j, false);
}

void job_progress_end(struct job *j, bool done, double print_time)
{
    j->done_shown = done;
    if (done) {
        j->times = (struct job_times){ .has_print_time = true, .print_time = (long long)print_time, .has_left = true };
        j->has_last_print_time = true;
        j->last_print_time = print_time;
        j->last_print_sd = j->sd;
        snprintf(j->last_print_path, sizeof j->last_print_path, "%s", j->path);
    } else {
        j->times = (struct job_times){ 0 };
    }
    progressnotify_stop(&j->steps);
}

bool job_fill_view(const struct job *j, struct job_view *v)
{
    memset(v, 0, sizeof *v);
    if (!j || !j->selected)
        return false;
    v->name = v->display = job_base_name(j->path);
    v->path = j->path;
    v->origin = job_origin_name(j);
    if (j->size >= 0) {
        v->has_size = true;
        v->size = j->size;
    }
    if (j->analysis_total > 0) {
        v->has_estimated_print_time = true;
        v->estimated_print_time = j->analysis_total;
    }
    if (j->has_last_print_time && j->last_print_sd == j->sd && strcmp(j->last_print_path, j->path) == 0) {
        v->has_last_print_time = true;
        v->last_print_time = j->last_print_time;
    }
    long long pos = job_file_pos(j);
    if (j->done_shown) {
        /* OctoPrint's printer_data after a finished print: the whole file, 100 % */
        v->has_completion = true;
        v->completion = 100.0;
        v->has_filepos = j->size >= 0;
        v->filepos = j->size;
    } else if (j->st != J_IDLE && pos >= 0) {
        v->has_filepos = true;
        v->filepos = pos;
        if (j->size > 0) {
            v->has_completion = true;
            v->completion = (double)pos * 100.0 / (double)j->size;
        }
    }
    v->has_print_time = j->times.has_print_time;
    v->print_time = j->times.print_time;
    v->has_print_time_left = j->times.has_left;
    v->print_time_left = j->times.left;
    v->print_time_left_origin = j->times.origin;
    return true;
}

/* ---- the crash journal ------------------------------------------------------------------- */

void job_journal_write(struct job *j, bool force)
{
    if (!j->journal_path || j->st == J_IDLE)
        return;
    uint64_t now = uv_now(j->loop);
    if (!force && now - j->last_journal < (uint64_t)(j->opt.journal_interval * 1000))
        return;
    j->last_journal = now;
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:f, s:I}", "path", j->path, "origin", job_origin_name(j),
                          "size", (json_int_t)j->size, "fileposition", (json_int_t)job_file_pos(j),
                          "time", job_print_time(j), "written", (json_int_t)time(NULL));
    if (o)
        job_resume_record(j, o);
    if (o)
        journal_write(j->journal_path, o);
    json_decref(o);
}

void job_journal_clear(struct job *j)
{
    if (j->journal_path)
        journal_clear(j->journal_path);
}

void job_journal_recover(struct job *j)
{
    if (!j->journal_path)
        return;
    json_t *o = journal_read(j->journal_path);
    if (!o)
        return;
    if (!job_resume_recover(j, o))
        job_resume_fail(j, o, "printbridge restarted during the print; the last acknowledged position is in fileposition");
    json_decref(o);
}
