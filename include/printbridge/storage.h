/* storage.h: the local file storage. One folder (with subfolders) holds the printable files;
 * changes made by anyone are watched through the event loop and published as OctoPrint's
 * file events (FileAdded, FileRemoved, FileMoved, FolderAdded, FolderRemoved, FolderMoved,
 * UpdatedFiles). Uploads are stored atomically (temporary file, fsync, rename) off the loop.
 * Every added file is analysed in the background and the result cached beside it in
 * <folder>/.printbridge/<path>.json. Hidden names (leading '.') are never listed. */
#ifndef PRINTBRIDGE_STORAGE_H
#define PRINTBRIDGE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/analysis.h"
#include "printbridge/events.h"

#define STORAGE_MAX_PATH 1024

struct storage_options {
    const char *folder;             /* created if missing */
    long long max_upload_size;      /* bytes */
    struct analysis_options analysis;
    double settle_time;             /* s a changed file must stay still before analysis (0.5) */
    int inject_write_error;         /* tests: fail upload writes with this errno (0: off) */
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
 * err), then written off the loop to a hidden temporary file, fsync'd and renamed into place,
 * creating missing folders. On success fires Upload {name, path, target, select, print,
 * effective_select, effective_print} (effective_print only when select is also granted:
 * printing implies selecting) and then cb, which does the selecting and printing. On failure (disk full: -ENOSPC) nothing is left
 * behind and cb reports why. data is copied. */
int storage_upload(struct storage *s, const char *rel, const void *data, size_t len,
                   bool select, bool print, storage_upload_cb cb, void *ctx,
                   char *err, size_t errsz);

/* The cached analysis of rel, if it has finished: 0, or -ENOENT. */
int storage_analysis(const struct storage *s, const char *rel, struct analysis_result *r);

/* Whether rel is a known file of the storage (watched and listed). */
bool storage_has_file(const struct storage *s, const char *rel);

/* Number of files currently known. */
int storage_count(const struct storage *s);

#endif
