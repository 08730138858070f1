/* job_sd.c: the printer's SD card as the job sees it: the card's messages (progress, done,
 * file opened with its size, file selected (starting a print asked for by path) or not
 * found, the end of a file list, a card inserted), progress polls for SD prints on firmware
 * that does not autoreport, and copying a local file to the card (M28 name, the file's
 * lines, M29) with TransferStarted / TransferDone / TransferFailed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "job_impl.h"

#define SD_POLL_MS 1000

int job_sd_upload(struct job *j, const char *rel, const char *remote, char *err, size_t errsz)
{
    if (j->st != J_IDLE || j->transfer) {
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
    if ((rc = stream_open(&j->stream, abs)) < 0) {
        snprintf(err, errsz, "cannot send %s: %s", rel, strerror(-rc));
        return rc;
    }
    snprintf(j->transfer_local, sizeof j->transfer_local, "%s", rel);
    snprintf(j->transfer_remote, sizeof j->transfer_remote, "%s", remote);
    j->transfer = true;
    j->transfer_m28_sent = false;
    j->transfer_started = uv_now(j->loop);
    printer_set_activity(j->printer, PRINTER_TRANSFERING_FILE);
    events_fire(j->ev, "TransferStarted", json_pack("{s:s, s:s}", "local", rel, "remote", remote));
    /* the source's first line is M28 <remote>, after the M110 that attaching sends */
    if ((rc = printer_source_attach(j->printer, &job_source, j)) < 0) {
        job_sd_transfer_end(j, false);
        snprintf(err, errsz, "cannot send %s: %s", rel, strerror(-rc));
        return rc;
    }
    return 0;
}

void job_sd_transfer_end(struct job *j, bool ok)
{
    j->transfer = false;
    stream_close(&j->stream);
    printer_source_detach(j->printer);
    printer_set_activity(j->printer, PRINTER_OPERATIONAL);
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

void job_sd_poll(struct job *j)
{
    /* SD progress: poll unless the firmware autoreports */
    if (j->sd && j->st == J_PRINTING && uv_now(j->loop) - j->last_sd_report > SD_POLL_MS * 2)
        printer_poll(j->printer, "M27");    /* one at a time: a heating wait holds back oks */
}

static void on_sd_progress(struct job *j, const char *s)
{
    long long cur, total;
    if (sscanf(s, "SD printing byte %lld/%lld", &cur, &total) == 2 && j->sd && j->st != J_IDLE) {
        j->last_sd_report = uv_now(j->loop);
        j->sd_pos = cur;
        if (total > 0)
            j->size = total;
        job_progress_update(j);
    }
}

void job_on_line(struct job *j, const char *line)
{
    /* acknowledgements are most of what a printer says, and never an SD card message */
    if (!j || j->stopping || (line[0] == 'o' && line[1] == 'k'))
        return;
    const char *s;
    if ((s = strstr(line, "SD printing byte")) != NULL) {
        on_sd_progress(j, s);
    } else if (strstr(line, "Done printing file")) {
        if (j->sd && j->st != J_IDLE && j->st != J_CANCELLING)
            job_print_done(j);
    } else if ((s = strstr(line, "File opened:")) != NULL) {
        long long size;
        const char *sz = strstr(s, "Size:");
        if (sz && sscanf(sz, "Size: %lld", &size) == 1 && j->sd)
            j->size = size;
    } else if (strstr(line, "File selected")) {
        if (j->sd && j->selected && j->st == J_IDLE) {
            events_fire(j->ev, "FileSelected", job_base_payload(j));
            if (j->sd_start_pending)
                job_sd_start_selected(j);
        }
    } else if (strstr(line, "open failed")) {
        if (j->sd && j->selected && j->st == J_IDLE) {
            log_warn("job: the printer could not open %s on its SD card%s", j->path,
                     j->sd_start_pending ? "; the print was not started" : "");
            j->sd_start_pending = false;
            job_deselect(j);
        }
    } else if (strstr(line, "End file list")) {
        events_fire(j->ev, "UpdatedFiles", json_pack("{s:s}", "type", "printables"));
    } else if (strstr(line, "SD card ok") || strstr(line, "Card successfully initialized")) {
        printer_send(j->printer, "M20");
    }
}
