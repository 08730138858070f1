/* storage_impl.h: the storage folder's state, private to src/jobs/ (storage.c owns it;
 * storage_upload.c stores uploads into it). */
#ifndef PRINTBRIDGE_STORAGE_IMPL_H
#define PRINTBRIDGE_STORAGE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "printbridge/jobs.h"

#define CACHE_DIR ".printbridge"
#define MOVE_GRACE_MS 150
#define TICK_MS 100

struct entry {
    char *rel;
    bool dir;
    dev_t dev;
    ino_t ino;
    bool gone;                      /* vanished; waiting for a matching appearance */
    uint64_t gone_at;
    uint64_t changed_at;            /* last write seen; analysis waits for it to settle */
    bool need_analysis, analysing, analysed;
    struct analysis_result *result;
};

struct watch {
    uv_fs_event_t h;
    struct storage *s;
    char *rel;                      /* "" for the root */
    struct watch *next;
};

struct storage {
    uv_loop_t *loop;
    struct events *ev;
    struct storage_options opt;
    char *root;                     /* realpath of the folder */
    struct entry *entries;
    size_t n, cap;
    struct watch *watches;
    uv_timer_t tick;
    int pending_work;
    int open_handles;
    bool destroying;
    void (*done)(void *);
    void *done_ctx;
};

/* snprintf for paths and messages: truncation of over-long names is checked where it
 * matters (path lengths are limited to STORAGE_MAX_PATH up front), so it is not an error. */
int storage_printf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *storage_base_name(const char *rel);
/* name ends in .stl (any case): a model the slicer turns into G-code */
bool storage_is_model(const char *name);
/* storage_check_path without the extension rule */
int storage_check_components(const char *rel, char *err, size_t errsz);
/* An upload of rel was stored: announces, in order, what the watchers have not reported yet
 * (new folders from the outermost, the file), so the events never depend on their timing. */
void storage_upload_done(struct storage *s, const char *rel);
/* abs lies inside root (or is root). */
bool storage_confined(const char *root, const char *abs);
/* Creates the folders of path[0..upto) that are missing. 0 or -errno. */
int storage_mkdirs(const char *path, size_t upto);
/* Frees the storage once destroying and no work or handle is left. */
void storage_maybe_done(struct storage *s);

#endif
