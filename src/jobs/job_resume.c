/* job_resume.c: a local print that outlives printbridge.
 *
 * While a local file prints, the line map (linemap.c) notes the file position of every line
 * number and the journal (journal.c, job_progress.c) names the file, its size and mtime, the
 * port and the firmware. A process that finds such a journal at start-up does not give the
 * print up: the printer's next handshake asks the firmware for its line counter instead of
 * resetting it (printer_resync_next), and once the firmware has named its counter and
 * identified itself (M115), the print continues from the line after the last one the
 * firmware accepted, announced as PrintRecovered. Whatever does not match (a "start" banner,
 * a counter outside the print, another port or firmware, a changed file) ends it as before,
 * with PrintFailed and the reason. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "job_impl.h"

/* ---- while printing --------------------------------------------------------------------- */

static long long mtime_ns(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

void job_lines_open(struct job *j)
{
    if (!j->journal_path || j->sd)
        return;
    struct stat st;
    j->file_mtime = stat(j->abs, &st) == 0 ? mtime_ns(&st) : 0;
    /* 62 bits: an exact JSON integer for every reader */
    j->print_id = ((uint64_t)time(NULL) << 24 ^ (uint64_t)getpid() << 8 ^ uv_hrtime()) & ((1ULL << 62) - 1);
    int rc = linemap_open(&j->lines, j->lines_path, j->print_id);
    if (rc < 0)
        log_warn("job: cannot create %s: %s; this print cannot continue after a restart of printbridge",
                 j->lines_path, strerror(-rc));
}

void job_lines_close(struct job *j)
{
    linemap_close(&j->lines, j->lines_path, true);
}

void job_lines_note(struct job *j, unsigned long n)
{
    if (!j->transfer)
        linemap_note(&j->lines, n, j->stream.pos, j->stream.lines);
}

void job_resume_record(const struct job *j, json_t *o)
{
    if (j->sd || !j->lines.map)
        return;
    const struct printer_model *m = printer_get_model(j->printer);
    json_object_set_new(o, "file", json_string(j->abs));
    json_object_set_new(o, "mtime_ns", json_integer(j->file_mtime));
    json_object_set_new(o, "port", json_string(m->port));
    json_object_set_new(o, "firmware", json_string(m->firmware_name));
    json_object_set_new(o, "lines", json_integer((json_int_t)j->print_id));
}

/* ---- after a restart ---------------------------------------------------------------------- */

/* why, cut to whysz: the reasons name paths, which may be long */
static void say(char *why, size_t whysz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

static const char *rec_str(const struct job *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j->recovery, key));
    return s ? s : "";
}

static long long rec_int(const struct job *j, const char *key)
{
    return (long long)json_integer_value(json_object_get(j->recovery, key));
}

/* PrintFailed for the print the journal names, with why it could not go on. */
void job_resume_fail(struct job *j, json_t *record, const char *why)
{
    const char *path = json_string_value(json_object_get(record, "path"));
    const char *orig = json_string_value(json_object_get(record, "origin"));
    json_t *size = json_object_get(record, "size"), *pos = json_object_get(record, "fileposition");
    json_t *t = json_object_get(record, "time");
    if (path && orig && json_is_integer(size) && json_is_integer(pos)) {
        int prog = json_integer_value(size) > 0
                   ? (int)((double)json_integer_value(pos) * 100.0 / (double)json_integer_value(size)) : 0;
        log_warn("job: printbridge stopped during the print of %s at byte %lld; reporting it failed: %s", path,
                 (long long)json_integer_value(pos), why);
        events_fire(j->ev, "PrintFailed",
                    json_pack("{s:s, s:s, s:s, s:O, s:f, s:s, s:s, s:i, s:O}", "name", job_base_name(path),
                              "path", path, "origin", orig, "size", size,
                              "time", json_is_number(t) ? json_number_value(t) : 0.0, "reason", "error",
                              "error", why, "progress", prog, "fileposition", pos));
    }
    job_journal_clear(j);
    linemap_close(&j->lines, j->lines_path, true);
}

static void give_up(struct job *j, const char *why)
{
    uv_timer_stop(&j->position_timer);
    json_t *rec = j->recovery;
    j->recovery = NULL;
    j->resume_identity_wait = false;
    job_resume_fail(j, rec, why);
    json_decref(rec);
}

bool job_resume_recover(struct job *j, json_t *record)
{
    if (!json_is_string(json_object_get(record, "file")) || !json_is_integer(json_object_get(record, "lines")))
        return false;   /* an SD print, or a journal without a line map */
    j->recovery = json_incref(record);
    printer_resync_next(j->printer);
    log_info("job: printbridge stopped during the print of %s; asking the printer where it is",
             rec_str(j, "path"));
    return true;
}

static void on_identity_timeout(uv_timer_t *t)
{
    struct job *j = t->data;
    if (j->recovery && j->resume_identity_wait)
        give_up(j, "the firmware did not identify itself (M115) after printbridge restarted; "
                   "the print was not continued");
}

/* The line after the firmware's last: found in the line map, or the reason it is not. */
static int find_resume_point(struct job *j, unsigned long last_line, struct linemap_entry *at, char *why, size_t whysz)
{
    struct linemap_entry *slots = malloc(sizeof *slots * LINEMAP_SLOTS);
    if (!slots) {
        say(why, whysz, "out of memory reading the line map");
        return -ENOMEM;
    }
    int rc = linemap_load(j->lines_path, (uint64_t)rec_int(j, "lines"), slots);
    if (rc < 0)
        say(why, whysz, "the line map %s is %s", j->lines_path,
                 rc == -ESTALE ? "another print's" : rc == -ENOENT ? "missing" : strerror(-rc));
    else
        rc = linemap_find(slots, LINEMAP_SLOTS, last_line, at, why, whysz);
    free(slots);
    return rc;
}

void job_resume_on_printer(struct job *j, enum printer_state s)
{
    if (!j->recovery || s != PRINTER_OPERATIONAL || j->resume_identity_wait)
        return;
    const struct printer_resync *r = printer_get_resync(j->printer);
    const struct printer_model *m = printer_get_model(j->printer);
    char why[512];
    if (r->reset) {
        give_up(j, "the firmware restarted while printbridge was away (it sent \"start\"): the board was reset "
                   "and lost the print");
        return;
    }
    if (!r->answered) {
        give_up(j, "the firmware did not name its line counter after printbridge restarted; the print was not continued");
        return;
    }
    if (strcmp(m->port, rec_str(j, "port")) != 0) {
        say(why, sizeof why, "the printer is now on %s, the print ran on %s", m->port, rec_str(j, "port"));
        give_up(j, why);
        return;
    }
    if (find_resume_point(j, r->last_line, &j->resume_at, why, sizeof why) < 0) {
        give_up(j, why);
        return;
    }
    j->resume_last_line = r->last_line;
    j->resume_identity_wait = true;
    uv_timer_start(&j->position_timer, on_identity_timeout, (uint64_t)(j->opt.position_wait * 1000), 0);
}

/* The file as the journal knows it: the same path, size and modification time. */
static bool same_file(struct job *j, char *why, size_t whysz)
{
    struct stat st;
    const char *file = rec_str(j, "file");
    if (stat(file, &st) != 0) {
        say(why, whysz, "%s is gone (%s)", file, strerror(errno));
        return false;
    }
    if ((long long)st.st_size != rec_int(j, "size") || mtime_ns(&st) != rec_int(j, "mtime_ns")) {
        say(why, whysz, "%s changed while printbridge was away (size or modification time differ)", file);
        return false;
    }
    return true;
}

static int reopen_at(struct job *j, char *why, size_t whysz)
{
    int rc = stream_open(&j->stream, j->abs);
    if (rc == 0 && fseeko(j->stream.f, (off_t)j->resume_at.pos, SEEK_SET) != 0)
        rc = -errno;
    if (rc < 0) {
        say(why, whysz, "cannot reopen %s: %s", j->abs, strerror(-rc));
        stream_close(&j->stream);
        return rc;
    }
    j->stream.pos = (long long)j->resume_at.pos;
    j->stream.lines = j->resume_at.index;
    return 0;
}

/* Everything matches: the print goes on from the line after the firmware's last. */
static void continue_print(struct job *j)
{
    char why[512];
    json_t *rec = j->recovery;
    snprintf(j->path, sizeof j->path, "%s", rec_str(j, "path"));
    snprintf(j->abs, sizeof j->abs, "%s", rec_str(j, "file"));
    j->size = rec_int(j, "size");
    j->analysis_total = -1;
    struct analysis_result ar;
    if (j->storage && storage_analysis(j->storage, j->path, &ar) == 0)
        j->analysis_total = ar.slicer_time >= 0 ? ar.slicer_time : ar.estimated_time;
    if (!same_file(j, why, sizeof why) || reopen_at(j, why, sizeof why) < 0) {
        give_up(j, why);
        return;
    }
    double t = json_number_value(json_object_get(rec, "time"));
    long long written = rec_int(j, "written");
    j->recovery = NULL;
    j->resume_identity_wait = false;
    uv_timer_stop(&j->position_timer);
    j->sd = false;
    j->selected = true;
    j->done_shown = false;
    j->started_ms = uv_now(j->loop) - (uint64_t)(t * 1000);
    j->paused_ms = j->pause_began = 0;
    j->last_journal = 0;
    events_fire(j->ev, "FileSelected", job_base_payload(j));
    progressnotify_start(&j->steps, &j->opt.steps, job_base_name(j->path), j->path);
    json_t *o = job_base_payload(j);
    json_object_set_new(o, "fileposition", json_integer(j->stream.pos));
    json_object_set_new(o, "progress", json_integer(j->size > 0 ? (int)(j->stream.pos * 100 / j->size) : 0));
    json_object_set_new(o, "lines", json_integer((json_int_t)j->stream.lines));
    json_object_set_new(o, "last_line", json_integer((json_int_t)j->resume_last_line));
    json_object_set_new(o, "time", json_real(t));
    json_object_set_new(o, "away", json_integer(written > 0 ? (long long)time(NULL) - written : 0));
    log_info("job: continuing %s from byte %lld (command %lu) after the firmware's line %lu", j->path,
             j->stream.pos, j->stream.lines, j->resume_last_line);
    events_fire(j->ev, "PrintRecovered", o);
    printer_set_activity(j->printer, PRINTER_PRINTING);
    j->st = J_PRINTING;
    json_decref(rec);
    job_lines_open(j);
    printer_source_attach(j->printer, &job_source, j);
    job_progress_publish(j, job_percent(j), true);
    job_journal_write(j, true);
    uv_timer_start(&j->tick, job_on_tick, 500, 500);
    job_changed(j);
}

void job_resume_on_firmware(struct job *j, json_t *payload)
{
    if (!j->recovery || !j->resume_identity_wait)
        return;
    const char *name = json_string_value(json_object_get(payload, "name"));
    const char *was = rec_str(j, "firmware");
    if (*was && (!name || strcmp(name, was) != 0)) {
        char why[700];
        say(why, sizeof why, "the firmware is now \"%s\", the print ran on \"%s\"", name ? name : "", was);
        give_up(j, why);
        return;
    }
    continue_print(j);
}

/* The printer went away before the print could continue: ask again on the next connect. */
void job_resume_on_link_lost(struct job *j)
{
    if (!j->recovery)
        return;
    uv_timer_stop(&j->position_timer);
    j->resume_identity_wait = false;
    printer_resync_next(j->printer);
}
