/* job_impl.h: the job's state, private to src/jobs/. struct job is owned by job.c and shared
 * with its other files, each with its own part:
 *   job.c           life cycle, selection, start/pause/resume/cancel, the end of a print,
 *                   what the printer asks of the print, scripts and events
 *   job_progress.c  progress: file position, percent, print time and time left, the
 *                   progress topic, PrintProgress steps, the state topic's view, the journal
 *   job_sd.c        the printer's SD card: its messages, SD prints' progress polls, and
 *                   copying a file to the card
 *   job_resume.c    a local print continued after printbridge itself restarted
 *   stream.c        a local file read line by line (the printer's line source)
 *   linemap.c       the line number -> file position ring that makes that possible
 *   journal.c       the crash journal file */
#ifndef PRINTBRIDGE_JOB_IMPL_H
#define PRINTBRIDGE_JOB_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "printbridge/jobs.h"

#include "journal.h"
#include "linemap.h"
#include "stream.h"

enum jstate { J_IDLE, J_STARTING, J_PRINTING, J_PAUSING, J_PAUSED, J_RESUMING, J_CANCELLING, J_FINISHING };

struct job_times {
    bool has_print_time, has_left;
    long long print_time, left;     /* s */
    const char *origin;             /* "linear", "analysis", "mixed-analysis" or NULL */
};

struct job {
    uv_loop_t *loop;
    struct events *ev;
    struct printer *printer;
    struct storage *storage;
    struct job_options opt;
    char *journal_path;
    char lines_path[4200];          /* the line map beside the journal */
    struct linemap lines;           /* of the local print running */
    uint64_t print_id;              /* names the line map in the journal */
    long long file_mtime;           /* ns, of the file printed, when it started */

    /* a print the previous process left in the printer (job_resume.c) */
    json_t *recovery;               /* its journal record while deciding, else NULL */
    bool resume_identity_wait;      /* the counter fits: waiting for FirmwareData */
    struct linemap_entry resume_at;
    unsigned long resume_last_line;

    /* selected file */
    bool selected, sd;
    char path[STORAGE_MAX_PATH];    /* as shown: relative, SD without the leading '/' */
    char abs[4096];                 /* local: the file's own path */
    long long size;                 /* -1 unknown */
    double analysis_total;          /* s, < 0 unknown */

    enum jstate st;
    uint64_t started_ms, paused_ms, pause_began;
    long long sd_pos;               /* SD: the printer's reported position */
    bool sd_start_pending;          /* SD: start once the printer confirms the selection */
    struct stream stream;           /* local: the file being printed or copied */
    bool tool_scripted;             /* beforeToolChange is queued for the T line read next */
    bool waiting_position;
    uv_timer_t tick, position_timer;
    uint64_t last_sd_report, last_journal;
    struct job_times times;
    /* after PrintDone, until the next selection or start, the state shows the finished print
     * (completion 100, no time left); lastPrintTime is the last successful print of the
     * selected file */
    bool done_shown;
    bool has_last_print_time;
    double last_print_time;         /* s */
    char last_print_path[STORAGE_MAX_PATH];
    bool last_print_sd;

    /* progress topic: the last published values */
    int last_progress;
    char last_path[STORAGE_MAX_PATH];
    bool published_any;
    struct progressnotify steps;

    bool stopping;                  /* daemon shutting down: ignore the printer */
    bool disconnecting;             /* beforePrinterDisconnected sent, waiting for its last ok */
    int closed;                     /* timers closed so far */

    /* copying a file to the SD card */
    bool transfer;
    bool transfer_m28_sent;
    char transfer_local[STORAGE_MAX_PATH], transfer_remote[256];
    uint64_t transfer_started;
};

/* ---- job.c ---------------------------------------------------------------------------- */

const char *job_origin_name(const struct job *j);
const char *job_base_name(const char *path);
json_t *job_base_payload(const struct job *j);
void job_chart(struct job *j, const char *type);
void job_deselect(struct job *j);
/* PrintDone, the done script, OPERATIONAL, the journal cleared, progress 100. */
void job_print_done(struct job *j);
/* The printer's line source for a print or a copy to the SD card. */
extern const struct printer_source job_source;

void job_changed(struct job *j);
void job_on_tick(uv_timer_t *t);

/* ---- job_progress.c --------------------------------------------------------------------- */

double job_print_time(const struct job *j);
long long job_file_pos(const struct job *j);
/* position / size, at most 1; -1 when the size is unknown */
double job_progress(const struct job *j);
/* The progress field of print job events and {__progress}: an integer percent, truncated as
 * OctoPrint truncates it; 0 while the size is unknown. */
int job_percent(const struct job *j);
/* progress/printing, when the percent or path changed (or force) */
void job_progress_publish(struct job *j, int pct, bool force);
/* everything that follows the file position: progress topic, times, PrintProgress, journal */
void job_progress_update(struct job *j);
/* a layer began at z: PrintProgress's layer count, and its layer steps */
void job_progress_layer(struct job *j, double z);
/* the times shown after a print: done (print time, 0 left) or none */
void job_progress_end(struct job *j, bool done, double print_time);
void job_journal_write(struct job *j, bool force);
void job_journal_clear(struct job *j);
void job_journal_recover(struct job *j);

/* ---- job_resume.c ------------------------------------------------------------------------- */

/* The line map of a local print: created at its start (and when it continues), a note per
 * numbered line, removed at its end. */
void job_lines_open(struct job *j);
void job_lines_note(struct job *j, unsigned long n);
void job_lines_close(struct job *j);
/* Adds what continuing the print needs to its journal record. */
void job_resume_record(const struct job *j, json_t *o);
/* A journal found at start-up: true when the print may continue (the printer is told to keep
 * the firmware's line counter); false when it cannot (job_resume_fail then). */
bool job_resume_recover(struct job *j, json_t *record);
/* PrintFailed for the journal's print, with why; the journal and line map are removed. */
void job_resume_fail(struct job *j, json_t *record, const char *why);
void job_resume_on_printer(struct job *j, enum printer_state s);
void job_resume_on_firmware(struct job *j, json_t *payload);
void job_resume_on_link_lost(struct job *j);

/* ---- job_sd.c ----------------------------------------------------------------------------- */

/* The transfer to the SD card ended: ok, or failed (the printer went away). */
void job_sd_transfer_end(struct job *j, bool ok);
/* SD progress polls (M27) unless the firmware autoreports; called every tick. */
void job_sd_poll(struct job *j);
/* The printer confirmed the selection of a start by path: start it now (job.c). */
void job_sd_start_selected(struct job *j);

#endif
