/* storage.c: the local storage folder, its watchers and analysis queue.
 *
 * Watching. libuv's fs events are not recursive on Linux, so every folder gets its own
 * uv_fs_event_t. libuv reports only "rename" (something appeared or vanished) and "change"
 * for a name, without inotify's move cookies, so the module keeps a table of what it knows
 * (path, file or folder, inode) and works out what happened by comparing it with lstat:
 * a name that vanished is held for a short grace period; if an entry with the same inode
 * appears meanwhile it was a move (FileRemoved + FileAdded + FileMoved, as OctoPrint fires
 * them), otherwise a removal. A new folder is scanned at once, because files can be created
 * in it before its watcher exists.
 *
 * Analysis. A file is analysed once it stopped changing for settle_time, on the libuv thread
 * pool (uv_queue_work); the worker touches nothing but its own work item. The result is
 * written by the worker to <folder>/.printbridge/<path>.json and reused while it is newer
 * than the file.
 *
 * Models. STL files are not listed; the model callback (slicing) hears of every one that
 * appears or changes, in any folder.
 *
 * Uploads are written by storage_upload.c; what an upload created is announced by
 * storage_upload_done before its Upload event, whether or not the watchers got there first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"
#include "printbridge/jobs.h"

#include "storage_impl.h"

__attribute__((format(printf, 3, 4)))
int storage_printf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- paths ------------------------------------------------------------------------------ */

static bool has_machinecode_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    return strcasecmp(dot, ".gcode") == 0 || strcasecmp(dot, ".gco") == 0 || strcasecmp(dot, ".g") == 0;
}

bool storage_is_model(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".stl") == 0;
}

const char *storage_base_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return slash ? slash + 1 : rel;
}

/* Every rule of storage_check_path but the extension. */
int storage_check_components(const char *rel, char *err, size_t errsz)
{
    size_t len = rel ? strlen(rel) : 0;
    if (len == 0) {
        storage_printf(err, errsz, "empty path");
        return -EINVAL;
    }
    if (len >= STORAGE_MAX_PATH - 64) {
        storage_printf(err, errsz, "path too long");
        return -EINVAL;
    }
    if (rel[0] == '/') {
        storage_printf(err, errsz, "absolute paths are not allowed: %s", rel);
        return -EINVAL;
    }
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0) {
            storage_printf(err, errsz, "empty path component in %s", rel);
            return -EINVAL;
        }
        if (p[0] == '.') {
            storage_printf(err, errsz, "'..' and hidden names are not allowed: %s", rel);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\') {
                storage_printf(err, errsz, "control characters and backslashes are not allowed in paths");
                return -EINVAL;
            }
        if (!slash)
            break;
        p = slash + 1;
        if (!*p) {
            storage_printf(err, errsz, "path ends with '/': %s", rel);
            return -EINVAL;
        }
    }
    return 0;
}

int storage_check_path(const char *rel, char *err, size_t errsz)
{
    int rc = storage_check_components(rel, err, errsz);
    if (rc < 0)
        return rc;
    if (!has_machinecode_ext(rel)) {
        storage_printf(err, errsz, "not a G-code file (.gcode, .gco, .g): %s", rel);
        return -EINVAL;
    }
    return 0;
}

bool storage_confined(const char *root, const char *abs)
{
    size_t n = strlen(root);
    return strncmp(abs, root, n) == 0 && (abs[n] == '/' || abs[n] == '\0');
}

int storage_resolve(const struct storage *s, const char *rel, char *out, size_t outsz,
                    char *err, size_t errsz)
{
    int rc = storage_check_path(rel, err, errsz);
    if (rc < 0)
        return rc;
    char joined[PATH_MAX];
    char real[PATH_MAX];
    storage_printf(joined, sizeof joined, "%s/%s", s->root, rel);
    if (!realpath(joined, real)) {
        rc = -errno;
        storage_printf(err, errsz, "%s: %s", rel, strerror(errno));
        return rc;
    }
    if (!storage_confined(s->root, real)) {
        storage_printf(err, errsz, "%s leads outside the storage folder", rel);
        return -EPERM;
    }
    if ((size_t)storage_printf(out, outsz, "%s", real) >= outsz) {
        storage_printf(err, errsz, "path too long");
        return -EINVAL;
    }
    return 0;
}

/* ---- the table of known entries ----------------------------------------------------------- */

static struct entry *find(const struct storage *s, const char *rel)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->entries[i].rel, rel) == 0)
            return &s->entries[i];
    return NULL;
}

static struct entry *add_entry(struct storage *s, const char *rel, bool dir, const struct stat *st)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct entry *e = realloc(s->entries, cap * sizeof *e);
        if (!e)
            return NULL;
        s->entries = e;
        s->cap = cap;
    }
    struct entry *e = &s->entries[s->n];
    memset(e, 0, sizeof *e);
    e->rel = strdup(rel);
    if (!e->rel)
        return NULL;
    e->dir = dir;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    s->n++;
    return e;
}

static void drop_entry(struct storage *s, struct entry *e)
{
    free(e->rel);
    free(e->result);
    size_t i = (size_t)(e - s->entries);
    s->entries[i] = s->entries[s->n - 1];
    s->n--;
}

bool storage_has_file(const struct storage *s, const char *rel)
{
    const struct entry *e = find(s, rel);
    return e && !e->dir && !e->gone;
}

int storage_count(const struct storage *s)
{
    int n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += !s->entries[i].dir && !s->entries[i].gone;
    return n;
}

int storage_analysis(const struct storage *s, const char *rel, struct analysis_result *r)
{
    const struct entry *e = find(s, rel);
    if (!e || !e->result)
        return -ENOENT;
    *r = *e->result;
    return 0;
}

/* ---- events --------------------------------------------------------------------------------- */

static json_t *file_type(void)
{
    return json_pack("[s, s]", "machinecode", "gcode");
}

static void fire_file(struct storage *s, const char *event, const char *rel, const char *op)
{
    events_fire(s->ev, event, json_pack("{s:s, s:s, s:s, s:o, s:s}", "storage", "local", "path", rel,
                                        "name", storage_base_name(rel), "type", file_type(), "operation", op));
}

static void fire_folder(struct storage *s, const char *event, const char *rel)
{
    events_fire(s->ev, event, json_pack("{s:s, s:s, s:s}", "storage", "local", "path", rel,
                                        "name", storage_base_name(rel)));
}

static void fire_updated(struct storage *s)
{
    events_fire(s->ev, "UpdatedFiles", json_pack("{s:s}", "type", "printables"));
}

/* ---- watching -------------------------------------------------------------------------------- */

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status);

static void storage_free(struct storage *s)
{
    while (s->n)
        drop_entry(s, &s->entries[0]);
    free(s->entries);
    free(s->root);
    free(s);
}

/* Once destroying and nothing is open or in flight: free everything, then tell the owner. */
void storage_maybe_done(struct storage *s)
{
    if (!s->destroying || s->open_handles > 0 || s->pending_work > 0)
        return;
    void (*done)(void *) = s->done;
    void *ctx = s->done_ctx;
    storage_free(s);
    if (done)
        done(ctx);
}

static void on_watch_closed(uv_handle_t *h)
{
    struct watch *w = h->data;
    struct storage *s = w->s;
    free(w->rel);
    free(w);
    s->open_handles--;
    storage_maybe_done(s);
}

static void watch_dir(struct storage *s, const char *rel)
{
    struct watch *w = calloc(1, sizeof *w);
    char abs[PATH_MAX];
    if (!w)
        return;
    w->s = s;
    w->rel = strdup(rel);
    storage_printf(abs, sizeof abs, "%s%s%s", s->root, *rel ? "/" : "", rel);
    if (!w->rel || uv_fs_event_init(s->loop, &w->h) < 0) {
        free(w->rel);
        free(w);
        return;
    }
    w->h.data = w;
    s->open_handles++;
    int rc = uv_fs_event_start(&w->h, on_fs_event, abs, 0);
    if (rc < 0) {
        log_warn("storage: cannot watch %s: %s", abs, uv_strerror(rc));
        uv_close((uv_handle_t *)&w->h, on_watch_closed);
        return;
    }
    w->next = s->watches;
    s->watches = w;
}

/* Stops the watchers of rel and everything below it. */
static void unwatch_tree(struct storage *s, const char *rel)
{
    size_t n = strlen(rel);
    struct watch **pp = &s->watches;
    while (*pp) {
        struct watch *w = *pp;
        if (n == 0 || (strncmp(w->rel, rel, n) == 0 && (w->rel[n] == '\0' || w->rel[n] == '/'))) {
            *pp = w->next;
            uv_fs_event_stop(&w->h);
            uv_close((uv_handle_t *)&w->h, on_watch_closed);
            continue;
        }
        pp = &w->next;
    }
}

/* Drops the entries below rel (not rel itself) without events. */
static void forget_below(struct storage *s, const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < s->n;) {
        struct entry *e = &s->entries[i];
        if (strncmp(e->rel, rel, n) == 0 && e->rel[n] == '/')
            drop_entry(s, e);
        else
            i++;
    }
}

static void note_new_file(struct storage *s, struct entry *e)
{
    e->need_analysis = true;
    e->changed_at = uv_now(s->loop);
}

/* Models are not in the table: whoever slices them settles and checks them. */
static void note_model(struct storage *s, const char *rel)
{
    if (s->opt.model && storage_is_model(rel))
        s->opt.model(s->opt.model_ctx, rel);
}

/* Adds rel (and, for a folder, what is inside) to the table; announce fires the add events. */
static void scan(struct storage *s, const char *rel, bool announce)
{
    char abs[PATH_MAX];
    storage_printf(abs, sizeof abs, "%s%s%s", s->root, *rel ? "/" : "", rel);
    DIR *d = opendir(abs);
    if (!d)
        return;
    watch_dir(s, rel);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char child[PATH_MAX];
        struct stat st;
        if ((size_t)storage_printf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= STORAGE_MAX_PATH)
            continue;
        char cabs[PATH_MAX];
        storage_printf(cabs, sizeof cabs, "%s/%s", s->root, child);
        if (lstat(cabs, &st) < 0 || find(s, child))
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (!add_entry(s, child, true, &st))
                continue;
            if (announce)
                fire_folder(s, "FolderAdded", child);
            scan(s, child, announce);
        } else if (S_ISREG(st.st_mode) && has_machinecode_ext(de->d_name)) {
            struct entry *e = add_entry(s, child, false, &st);
            if (!e)
                continue;
            if (announce)
                fire_file(s, "FileAdded", child, "add");
            note_new_file(s, e);
        } else if (announce && S_ISREG(st.st_mode)) {
            note_model(s, child);
        }
    }
    closedir(d);
}

static struct entry *find_gone_inode(struct storage *s, const struct stat *st, bool dir)
{
    for (size_t i = 0; i < s->n; i++) {
        struct entry *e = &s->entries[i];
        if (e->gone && e->dir == dir && e->ino == st->st_ino && e->dev == st->st_dev)
            return e;
    }
    return NULL;
}

static void appeared(struct storage *s, const char *rel, const struct stat *st)
{
    bool dir = S_ISDIR(st->st_mode);
    if (!dir && !(S_ISREG(st->st_mode) && has_machinecode_ext(rel)))
        return;
    struct entry *src = find_gone_inode(s, st, dir);
    if (src) {
        char *from = strdup(src->rel);
        if (!from)
            return;
        if (dir) {
            fire_folder(s, "FolderRemoved", from);
            unwatch_tree(s, from);
            forget_below(s, from);
            drop_entry(s, find(s, from));
            struct entry *e = add_entry(s, rel, true, st);
            fire_folder(s, "FolderAdded", rel);
            if (e)
                scan(s, rel, false);
            events_fire(s->ev, "FolderMoved",
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "storage", "local", "source_path", from,
                                  "source_name", storage_base_name(from), "destination_path", rel,
                                  "destination_name", storage_base_name(rel)));
        } else {
            fire_file(s, "FileRemoved", from, "move");
            /* the analysis moves with the file */
            struct analysis_result *res = src->result;
            bool analysed = src->analysed;
            src->result = NULL;
            drop_entry(s, src);
            struct entry *e = add_entry(s, rel, false, st);
            fire_file(s, "FileAdded", rel, "move");
            if (e) {
                e->result = res;
                e->analysed = analysed;
                if (!analysed)
                    note_new_file(s, e);
            } else {
                free(res);
            }
            events_fire(s->ev, "FileMoved",
                        json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o}", "storage", "local",
                                  "source_path", from, "source_name", storage_base_name(from),
                                  "source_type", file_type(), "destination_path", rel,
                                  "destination_name", storage_base_name(rel), "destination_type", file_type()));
        }
        free(from);
        fire_updated(s);
        return;
    }
    struct entry *e = add_entry(s, rel, dir, st);
    if (!e)
        return;
    if (dir) {
        fire_folder(s, "FolderAdded", rel);
        scan(s, rel, true);
    } else {
        fire_file(s, "FileAdded", rel, "add");
        note_new_file(s, e);
    }
    fire_updated(s);
}

static void vanished_for_good(struct storage *s, struct entry *e)
{
    char *rel = e->rel;
    bool dir = e->dir;
    e->rel = NULL;
    drop_entry(s, e);
    if (dir) {
        /* a folder goes with its contents: one FolderRemoved, as OctoPrint reports it */
        unwatch_tree(s, rel);
        forget_below(s, rel);
        fire_folder(s, "FolderRemoved", rel);
    } else {
        fire_file(s, "FileRemoved", rel, "remove");
    }
    free(rel);
    fire_updated(s);
}

void storage_upload_done(struct storage *s, const char *rel)
{
    /* the outermost part the table does not know yet, announced as if its watcher had
     * reported it: a folder is scanned with everything below it, in order */
    char part[STORAGE_MAX_PATH], abs[PATH_MAX];
    struct stat st;
    for (const char *p = rel;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        storage_printf(part, sizeof part, "%.*s", (int)(p - rel), rel);
        const struct entry *e = find(s, part);
        if (!e || e->gone) {
            storage_printf(abs, sizeof abs, "%s/%s", s->root, part);
            if (lstat(abs, &st) < 0)
                return;
            if (S_ISREG(st.st_mode) && storage_is_model(part))
                note_model(s, part);
            else
                appeared(s, part, &st);
            return;
        }
        if (*p == '\0')
            return;
    }
}

static void on_tick(uv_timer_t *t);

/* The tick runs only while something is pending (a vanished name to settle, a file to
 * analyse): an idle storage folder costs no wake-ups at all. */
static void kick(struct storage *s)
{
    if (!s->destroying && !uv_is_active((uv_handle_t *)&s->tick))
        uv_timer_start(&s->tick, on_tick, TICK_MS, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct watch *w = h->data;
    struct storage *s = w->s;
    if (status < 0 || !filename || filename[0] == '.' || s->destroying)
        return;
    char rel[PATH_MAX], abs[PATH_MAX];
    if ((size_t)storage_printf(rel, sizeof rel, "%s%s%s", w->rel, *w->rel ? "/" : "", filename) >= STORAGE_MAX_PATH)
        return;
    storage_printf(abs, sizeof abs, "%s/%s", s->root, rel);
    struct stat st;
    bool exists = lstat(abs, &st) == 0;
    struct entry *e = find(s, rel);
    if (e && e->gone)
        e = NULL;
    if (exists && S_ISREG(st.st_mode))
        note_model(s, rel);
    if (exists) {
        if (e && (e->ino != st.st_ino || e->dev != st.st_dev)) {
            /* replaced by another file under the same name (an upload's rename): a change */
            e->ino = st.st_ino;
            e->dev = st.st_dev;
        }
        if (!e)
            appeared(s, rel, &st);
        else if (!e->dir) {
            e->changed_at = uv_now(s->loop);
            e->need_analysis = true;
            e->analysed = false;
        }
    } else if (e) {
        e->gone = true;
        e->gone_at = uv_now(s->loop);
    }
    kick(s);
    (void)events;
}

/* ---- analysis ------------------------------------------------------------------------------- */

struct analysis_work {
    uv_work_t req;
    struct storage *s;
    char rel[STORAGE_MAX_PATH];
    char abs[PATH_MAX];
    char cache[PATH_MAX];
    struct analysis_options opt;
    struct analysis_result result;
    bool from_cache;
    int rc;
};

int storage_mkdirs(const char *path, size_t upto)
{
    char buf[PATH_MAX];
    storage_printf(buf, sizeof buf, "%.*s", (int)upto, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int read_cache(const char *cache, const struct stat *src, struct analysis_result *r)
{
    struct stat cs;
    if (stat(cache, &cs) < 0 || cs.st_mtim.tv_sec < src->st_mtim.tv_sec ||
        (cs.st_mtim.tv_sec == src->st_mtim.tv_sec && cs.st_mtim.tv_nsec < src->st_mtim.tv_nsec))
        return -ENOENT;
    json_error_t jerr;
    json_t *o = json_load_file(cache, 0, &jerr);
    if (!o)
        return -EINVAL;
    const json_t *size = json_object_get(o, "size");
    int rc = json_is_integer(size) && json_integer_value(size) == (json_int_t)src->st_size
             ? analysis_from_json(json_object_get(o, "result"), r) : -ESTALE;
    json_decref(o);
    return rc;
}

static void write_cache(const char *cache, const struct stat *src, const struct analysis_result *r)
{
    const char *slash = strrchr(cache, '/');
    if (!slash || storage_mkdirs(cache, (size_t)(slash - cache)) < 0)
        return;
    json_t *o = json_pack("{s:I, s:o}", "size", (json_int_t)src->st_size, "result", analysis_to_json(r));
    char tmp[PATH_MAX];
    storage_printf(tmp, sizeof tmp, "%s.tmp", cache);
    if (o && json_dump_file(o, tmp, JSON_COMPACT) == 0)
        rename(tmp, cache);
    else
        unlink(tmp);
    json_decref(o);
}

static void analysis_worker(uv_work_t *req)
{
    struct analysis_work *w = req->data;
    struct stat st;
    if (stat(w->abs, &st) < 0) {
        w->rc = -errno;
        return;
    }
    if (read_cache(w->cache, &st, &w->result) == 0) {
        w->from_cache = true;
        return;
    }
    w->rc = analysis_file(w->abs, &w->opt, &w->result);
    if (w->rc == 0)
        write_cache(w->cache, &st, &w->result);
}

static void analysis_after(uv_work_t *req, int status)
{
    struct analysis_work *w = req->data;
    struct storage *s = w->s;
    s->pending_work--;
    struct entry *e = s->destroying ? NULL : find(s, w->rel);
    if (e) {
        e->analysing = false;
        if (status == 0 && w->rc == 0) {
            if (!e->result)
                e->result = malloc(sizeof *e->result);
            if (e->result) {
                *e->result = w->result;
                e->analysed = !e->need_analysis;
            }
            if (!w->from_cache)
                events_fire(s->ev, "MetadataAnalysisFinished",
                            json_pack("{s:s, s:s, s:s, s:o}", "name", storage_base_name(w->rel), "path", w->rel,
                                      "origin", "local", "result", analysis_to_json(&w->result)));
        } else if (w->rc != 0) {
            log_warn("storage: analysing %s failed: %s", w->rel, strerror(-w->rc));
        }
    }
    free(w);
    storage_maybe_done(s);
}

static void start_analysis(struct storage *s, struct entry *e)
{
    struct analysis_work *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->req.data = w;
    w->s = s;
    w->opt = s->opt.analysis;
    storage_printf(w->rel, sizeof w->rel, "%s", e->rel);
    storage_printf(w->abs, sizeof w->abs, "%s/%s", s->root, e->rel);
    storage_printf(w->cache, sizeof w->cache, "%s/" CACHE_DIR "/%s.json", s->root, e->rel);
    /* the cache is checked here too, so a restart does not re-announce analysed files */
    struct stat st;
    struct analysis_result cached;
    bool fresh = stat(w->abs, &st) == 0 && read_cache(w->cache, &st, &cached) == 0;
    if (uv_queue_work(s->loop, &w->req, analysis_worker, analysis_after) < 0) {
        free(w);
        return;
    }
    e->need_analysis = false;
    e->analysing = true;
    s->pending_work++;
    if (!fresh)
        events_fire(s->ev, "MetadataAnalysisStarted",
                    json_pack("{s:s, s:s, s:s}", "name", storage_base_name(e->rel), "path", e->rel, "origin", "local"));
}

static void on_tick(uv_timer_t *t)
{
    struct storage *s = t->data;
    uint64_t now = uv_now(s->loop);
    /* settle vanished names: gone past the grace period means removed */
    for (size_t i = 0; i < s->n; i++) {
        struct entry *e = &s->entries[i];
        if (e->gone && now - e->gone_at >= MOVE_GRACE_MS) {
            vanished_for_good(s, e);
            i = (size_t)-1;   /* the table changed; start over */
        }
    }
    uint64_t settle = (uint64_t)(s->opt.settle_time * 1000);
    for (size_t i = 0; i < s->n; i++) {
        struct entry *e = &s->entries[i];
        if (!e->dir && !e->gone && e->need_analysis && !e->analysing && now - e->changed_at >= settle)
            start_analysis(s, e);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->entries[i].gone || s->entries[i].need_analysis || s->entries[i].analysing) {
            kick(s);
            break;
        }
}

/* ---- life cycle --------------------------------------------------------------------------------- */

int storage_create(struct storage **out, uv_loop_t *loop, struct events *ev,
                   const struct storage_options *opt)
{
    *out = NULL;
    if (storage_mkdirs(opt->folder, strlen(opt->folder)) < 0) {
        int rc = -errno;
        log_error("storage: cannot create %s: %s", opt->folder, strerror(errno));
        return rc ? rc : -EIO;
    }
    char real[PATH_MAX];
    if (!realpath(opt->folder, real)) {
        int rc = -errno;
        log_error("storage: %s: %s", opt->folder, strerror(errno));
        return rc;
    }
    struct storage *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(real))) {
        free(s);
        return -ENOMEM;
    }
    s->loop = loop;
    s->ev = ev;
    s->opt = *opt;
    s->opt.folder = NULL;
    if (s->opt.settle_time <= 0)
        s->opt.settle_time = 0.5;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    s->open_handles++;
    scan(s, "", false);
    kick(s);
    log_info("storage: %s: %d files", s->root, storage_count(s));
    *out = s;
    return 0;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct storage *s = h->data;
    s->open_handles--;
    storage_maybe_done(s);
}

void storage_destroy(struct storage *s, void (*done)(void *ctx), void *ctx)
{
    s->destroying = true;
    s->done = done;
    s->done_ctx = ctx;
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, on_tick_closed);
    unwatch_tree(s, "");
}

