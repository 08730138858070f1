/* timelapse.c: frames by a snapshot command, movies by ffmpeg (see tools.h). */
#include "printbridge/tools.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "printbridge/base.h"

#define PATH_MAX_TL 1024
#define LAYER_EPS 0.0005
#define SNAPSHOT_MAX (16u << 20)

struct timelapse {
    uv_loop_t *loop;
    struct events *ev;
    struct timelapse_options opt;     /* strings and lists below are this module's copies */
    char **own_snapshot, **own_ffmpeg_args;
    char *own_str[5];
    uv_timer_t timer;               /* timed frames and the post-roll */
    uv_timer_t post_roll_end;
    bool printing;                  /* collecting frames (print or post-roll) */
    bool post_roll;
    bool render_due;                /* the print ended; render when the capture finishes */
    struct timelapse_layers layers;
    char gcode[256];                /* the print's file name */
    char folder[PATH_MAX_TL];       /* this print's frames */
    unsigned seq;
    int frames;
    struct proc *capture;
    bool checking;                  /* the captured frame is being looked at */
    char capture_file[PATH_MAX_TL + 64];
    struct proc *render;
    char movie[PATH_MAX_TL];
    char render_folder[PATH_MAX_TL];    /* the frames being rendered (a new print may start) */
    char render_gcode[256];
    struct proc *snap;
    char snap_file[PATH_MAX_TL + 64];
    timelapse_snapshot_fn snap_cb;
    void *snap_ctx;
    int busy;                       /* tools, stats and work requests in flight */
    bool destroying;
    int open_timers;
};

/* ---- pure helpers ------------------------------------------------------------------------ */

void timelapse_layers_reset(struct timelapse_layers *l)
{
    memset(l, 0, sizeof *l);
}

bool timelapse_layers_feed(struct timelapse_layers *l, double z, double *layer_z)
{
    bool due = false;
    if (l->has_pending && z > l->pending + LAYER_EPS) {
        if (!l->has_taken || l->pending > l->taken + LAYER_EPS) {
            due = true;
            *layer_z = l->pending;
            l->taken = l->pending;
            l->has_taken = true;
        }
    }
    l->pending = z;
    l->has_pending = true;
    return due;
}

bool timelapse_layers_flush(struct timelapse_layers *l, double *layer_z)
{
    bool due = l->has_pending && (!l->has_taken || l->pending > l->taken + LAYER_EPS);
    if (due) {
        *layer_z = l->pending;
        l->taken = l->pending;
        l->has_taken = true;
    }
    l->has_pending = false;
    return due;
}

int timelapse_frame_path(char *out, size_t outsz, const char *folder, const char *ext, int n)
{
    int w = n >= 0 ? snprintf(out, outsz, "%s/frame-%05d.%s", folder, n, ext)
                   : snprintf(out, outsz, "%s/frame-%%05d.%s", folder, ext);
    return w < 0 || (size_t)w >= outsz ? -ENAMETOOLONG : w;
}

int timelapse_movie_path(char *out, size_t outsz, const char *output_folder, const char *gcode,
                         const char *ext, long long t)
{
    const char *base = strrchr(gcode, '/');
    base = base ? base + 1 : gcode;
    const char *dot = strrchr(base, '.');
    int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    time_t tt = (time_t)t;
    struct tm tm;
    char stamp[32];
    if (!localtime_r(&tt, &tm) || strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm) == 0)
        return -EINVAL;
    int w = snprintf(out, outsz, "%s/%.*s_%s.%s", output_folder, stem, base, stamp, ext);
    return w < 0 || (size_t)w >= outsz ? -ENAMETOOLONG : w;
}

char **timelapse_ffmpeg_argv(const char *ffmpeg, int fps, const char *pattern, char *const *args,
                             const char *movie)
{
    char fpsbuf[16];
    snprintf(fpsbuf, sizeof fpsbuf, "%d", fps);
    char *tmpl[PROC_MAX_ARGS + 1];
    int n = 0;
    const char *head[] = { ffmpeg, "-y", "-loglevel", "error", "-framerate", "{fps}", "-i", "{frames}" };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        tmpl[n++] = (char *)head[i];
    for (int i = 0; args && args[i]; i++) {
        if (n >= PROC_MAX_ARGS - 1)
            return NULL;
        tmpl[n++] = args[i];
    }
    tmpl[n++] = "{movie}";
    tmpl[n] = NULL;
    const char *names[] = { "fps", "frames", "movie" };
    const char *values[] = { fpsbuf, pattern, movie };
    return proc_fill(tmpl, names, values, 3);
}

/* ---- files off the loop ------------------------------------------------------------------ */

struct fs_work {
    uv_work_t req;
    struct timelapse *tl;
    char path[PATH_MAX_TL];
    int mode;                       /* 0: remove a frames folder, 1: read and unlink a snapshot */
    char *data;
    size_t len;
    char err[128];
};

static void remove_tree_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char p[PATH_MAX_TL + 256];
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void fs_work_run(uv_work_t *req)
{
    struct fs_work *w = req->data;
    if (w->mode == 0) {
        remove_tree_files(w->path);
        return;
    }
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 || (size_t)st.st_size > SNAPSHOT_MAX) {
        snprintf(w->err, sizeof w->err, "%s", fd < 0 ? "the snapshot command wrote no file"
                                                     : "the snapshot is empty or too big");
        goto out;
    }
    w->data = malloc((size_t)st.st_size);
    size_t got = 0;
    while (w->data && got < (size_t)st.st_size) {
        ssize_t n = read(fd, w->data + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (!w->data || got != (size_t)st.st_size) {
        free(w->data);
        w->data = NULL;
        snprintf(w->err, sizeof w->err, "cannot read the snapshot");
        goto out;
    }
    w->len = got;
out:
    if (fd >= 0)
        close(fd);
    unlink(w->path);
}

static void maybe_free(struct timelapse *tl);
static void snap_deliver(struct timelapse *tl, const void *data, size_t len, const char *err);

static void fs_work_done(uv_work_t *req, int status)
{
    (void)status;
    struct fs_work *w = req->data;
    struct timelapse *tl = w->tl;
    tl->busy--;
    if (w->mode == 1)
        snap_deliver(tl, w->data, w->len, w->data ? NULL : w->err);
    free(w->data);
    free(w);
    maybe_free(tl);
}

static void fs_work_queue(struct timelapse *tl, const char *path, int mode)
{
    struct fs_work *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->req.data = w;
    w->tl = tl;
    w->mode = mode;
    snprintf(w->path, sizeof w->path, "%s", path);
    if (uv_queue_work(tl->loop, &w->req, fs_work_run, fs_work_done) == 0)
        tl->busy++;
    else
        free(w);
}

/* ---- capture ----------------------------------------------------------------------------- */

static void try_render(struct timelapse *tl);

static void capture_failed(struct timelapse *tl, const char *why)
{
    log_warn("timelapse: frame %s not captured: %s", tl->capture_file, why);
    events_fire(tl->ev, "CaptureFailed", json_pack("{s:s, s:s}", "file", tl->capture_file, "error", why));
    unlink(tl->capture_file);   /* a partial frame would break the movie; tiny and local */
}

static void on_frame_stat(uv_fs_t *req)
{
    struct timelapse *tl = req->data;
    tl->busy--;
    tl->checking = false;
    if (tl->destroying) {
        /* shutting down: no more events */
    } else if (req->result == 0 && req->statbuf.st_size > 0) {
        tl->frames++;
        events_fire(tl->ev, "CaptureDone", json_pack("{s:s}", "file", tl->capture_file));
    } else {
        capture_failed(tl, "the snapshot command wrote no image");
    }
    uv_fs_req_cleanup(req);
    free(req);
    try_render(tl);
    maybe_free(tl);
}

static void on_capture_done(void *ctx, const struct proc_result *r)
{
    struct timelapse *tl = ctx;
    tl->capture = NULL;
    tl->busy--;
    if (tl->destroying) {
        maybe_free(tl);
        return;
    }
    if (!proc_ok(r)) {
        char why[PROC_MAX_LINE + 64];
        if (r->spawn_error || r->killed)
            snprintf(why, sizeof why, "%s", r->last_err[0] ? r->last_err : "killed");
        else if (r->timed_out)
            snprintf(why, sizeof why, "timed out after %g s", tl->opt.snapshot_timeout);
        else if (r->term_signal)
            snprintf(why, sizeof why, "killed by signal %d", r->term_signal);
        else
            snprintf(why, sizeof why, "exit status %lld%s%s", r->exit_status, r->last_err[0] ? ": " : "",
                     r->last_err);
        capture_failed(tl, why);
        try_render(tl);
        return;
    }
    uv_fs_t *req = calloc(1, sizeof *req);
    if (!req || uv_fs_stat(tl->loop, req, tl->capture_file, on_frame_stat) < 0) {
        free(req);
        capture_failed(tl, "cannot check the frame");
        try_render(tl);
        return;
    }
    req->data = tl;
    tl->busy++;
    tl->checking = true;
}

static void capture(struct timelapse *tl)
{
    if (tl->capture || tl->checking) {
        log_debug("timelapse: previous frame still running; skipping one");
        return;
    }
    if (timelapse_frame_path(tl->capture_file, sizeof tl->capture_file, tl->folder,
                             tl->opt.frame_extension, tl->frames) < 0)
        return;
    events_fire(tl->ev, "CaptureStart", json_pack("{s:s}", "file", tl->capture_file));
    const char *names[] = { "file" };
    const char *values[] = { tl->capture_file };
    char **argv = proc_fill(tl->opt.snapshot_command, names, values, 1);
    if (!argv) {
        capture_failed(tl, "bad snapshot command");
        return;
    }
    struct proc_options to = { .timeout = tl->opt.snapshot_timeout, .on_done = on_capture_done, .ctx = tl };
    int rc = proc_start(&tl->capture, tl->loop, argv, &to);
    proc_argv_free(argv);
    if (rc == 0)
        tl->busy++;
    else
        capture_failed(tl, "out of memory");
}

/* ---- render ------------------------------------------------------------------------------ */

static json_t *movie_payload(const struct timelapse *tl)
{
    const char *base = strrchr(tl->movie, '/');
    return json_pack("{s:s, s:s, s:s}", "gcode", tl->render_gcode, "movie", tl->movie, "movie_basename",
                     base ? base + 1 : tl->movie);
}

static void movie_failed(struct timelapse *tl, long long rc, const char *reason)
{
    json_t *p = movie_payload(tl);
    json_object_set_new(p, "returncode", json_integer(rc));
    json_object_set_new(p, "reason", json_string(reason));
    events_fire(tl->ev, "MovieFailed", p);
}

static void on_render_done(void *ctx, const struct proc_result *r)
{
    struct timelapse *tl = ctx;
    tl->render = NULL;
    tl->busy--;
    if (!tl->destroying) {
        if (proc_ok(r)) {
            log_info("timelapse: %s rendered from %d frames", tl->movie, tl->frames);
            events_fire(tl->ev, "MovieDone", movie_payload(tl));
        } else if (!r->spawn_error && !r->timed_out && !r->killed && !r->term_signal) {
            log_warn("timelapse: ffmpeg failed with status %lld: %s", r->exit_status, r->last_err);
            movie_failed(tl, r->exit_status, "returncode");
        } else {
            log_warn("timelapse: rendering %s failed: %s", tl->movie,
                     r->timed_out ? "timed out" : r->last_err[0] ? r->last_err : "killed");
            movie_failed(tl, r->term_signal ? -r->term_signal : -1, "unknown");
        }
    }
    fs_work_queue(tl, tl->render_folder, 0);
    try_render(tl);     /* the next print's frames, if they were waiting */
    maybe_free(tl);
}

static void try_render(struct timelapse *tl)
{
    if (!tl->render_due || tl->capture || tl->checking || tl->printing || tl->destroying || tl->render)
        return;
    tl->render_due = false;
    memcpy(tl->render_gcode, tl->gcode, sizeof tl->render_gcode);
    memcpy(tl->render_folder, tl->folder, sizeof tl->render_folder);
    if (timelapse_movie_path(tl->movie, sizeof tl->movie, tl->opt.output_folder, tl->gcode,
                             tl->opt.movie_extension, (long long)time(NULL)) < 0) {
        movie_failed(tl, -1, "unknown");
        return;
    }
    if (tl->frames == 0) {
        log_info("timelapse: no frames for %s", tl->gcode);
        movie_failed(tl, 0, "no_frames");
        fs_work_queue(tl, tl->folder, 0);
        return;
    }
    char pattern[PATH_MAX_TL + 64];
    timelapse_frame_path(pattern, sizeof pattern, tl->folder, tl->opt.frame_extension, -1);
    events_fire(tl->ev, "MovieRendering", movie_payload(tl));
    mkdir(tl->opt.output_folder, 0755);
    static char *const default_args[] = { "-c:v", "mpeg4", "-q:v", "5", NULL };
    char *const *args = tl->opt.ffmpeg_args && tl->opt.ffmpeg_args[0] ? tl->opt.ffmpeg_args : default_args;
    char **argv = timelapse_ffmpeg_argv(tl->opt.ffmpeg, tl->opt.fps, pattern, args, tl->movie);
    struct proc_options to = { .timeout = tl->opt.render_timeout, .on_done = on_render_done, .ctx = tl };
    int rc = argv ? proc_start(&tl->render, tl->loop, argv, &to) : -ENOMEM;
    if (argv) {
        char desc[512];
        proc_describe(desc, sizeof desc, argv);
        log_info("timelapse: rendering: %s", desc);
    }
    proc_argv_free(argv);
    if (rc == 0) {
        tl->busy++;
    } else {
        movie_failed(tl, -1, "unknown");
        fs_work_queue(tl, tl->folder, 0);
    }
}

/* ---- the print --------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    capture(t->data);
}

static void on_post_roll_end(uv_timer_t *t)
{
    struct timelapse *tl = t->data;
    uv_timer_stop(&tl->timer);
    tl->printing = false;
    tl->post_roll = false;
    try_render(tl);
}

static void print_started(struct timelapse *tl, json_t *payload)
{
    if (tl->printing) {
        uv_timer_stop(&tl->timer);
        uv_timer_stop(&tl->post_roll_end);
        tl->printing = false;
    }
    if (tl->render_due) {
        log_warn("timelapse: a new print started before the last frame was in; no movie for %s", tl->gcode);
        tl->render_due = false;
        fs_work_queue(tl, tl->folder, 0);
    }
    const char *name = json_string_value(json_object_get(payload, "name"));
    snprintf(tl->gcode, sizeof tl->gcode, "%s", name ? name : "unknown");
    mkdir(tl->opt.frames_folder, 0755);
    snprintf(tl->folder, sizeof tl->folder, "%s/print-%ld-%u", tl->opt.frames_folder, (long)getpid(), ++tl->seq);
    if (mkdir(tl->folder, 0755) < 0 && errno != EEXIST) {
        log_warn("timelapse: cannot create %s: %s; no timelapse for this print", tl->folder, strerror(errno));
        return;
    }
    tl->frames = 0;
    tl->printing = true;
    timelapse_layers_reset(&tl->layers);
    if (tl->opt.mode == TIMELAPSE_TIMED) {
        uint64_t ms = (uint64_t)(tl->opt.interval * 1000.0);
        uv_timer_start(&tl->timer, on_tick, 0, ms);
    }
}

static void print_ended(struct timelapse *tl)
{
    if (!tl->printing || tl->post_roll)
        return;
    double z;
    if (tl->opt.mode == TIMELAPSE_ZCHANGE && timelapse_layers_flush(&tl->layers, &z))
        capture(tl);
    tl->render_due = true;
    if (tl->opt.post_roll > 0) {
        tl->post_roll = true;
        uint64_t ms = (uint64_t)(tl->opt.interval * 1000.0);
        uv_timer_start(&tl->timer, on_tick, ms, ms);
        uv_timer_start(&tl->post_roll_end, on_post_roll_end, (uint64_t)(tl->opt.post_roll * 1000.0), 0);
        return;
    }
    uv_timer_stop(&tl->timer);
    tl->printing = false;
    try_render(tl);
}

void timelapse_on_event(void *ctx, const char *name, json_t *payload, long long timestamp)
{
    (void)timestamp;
    struct timelapse *tl = ctx;
    if (tl->destroying || tl->opt.mode == TIMELAPSE_OFF || !tl->opt.snapshot_command ||
        !tl->opt.snapshot_command[0])
        return;
    if (strcmp(name, "PrintStarted") == 0) {
        print_started(tl, payload);
    } else if (strcmp(name, "PrintDone") == 0 || strcmp(name, "PrintFailed") == 0 ||
               strcmp(name, "PrintCancelled") == 0) {
        print_ended(tl);
    } else if (strcmp(name, "ZChange") == 0 && tl->opt.mode == TIMELAPSE_ZCHANGE && tl->printing &&
               !tl->post_roll) {
        json_t *nz = json_object_get(payload, "new");
        double z;
        if (json_is_number(nz) && timelapse_layers_feed(&tl->layers, json_number_value(nz), &z))
            capture(tl);
    }
}

/* ---- snapshots on demand ----------------------------------------------------------------- */

static void snap_deliver(struct timelapse *tl, const void *data, size_t len, const char *err)
{
    timelapse_snapshot_fn cb = tl->snap_cb;
    tl->snap_cb = NULL;
    if (cb && !tl->destroying)
        cb(tl->snap_ctx, data, len, err);
}

static void on_snap_done(void *ctx, const struct proc_result *r)
{
    struct timelapse *tl = ctx;
    tl->snap = NULL;
    tl->busy--;
    if (!proc_ok(r)) {
        char why[PROC_MAX_LINE + 64];
        if (r->timed_out)
            snprintf(why, sizeof why, "timed out after %g s", tl->opt.snapshot_timeout);
        else
            snprintf(why, sizeof why, "snapshot command failed (%lld): %s", r->exit_status, r->last_err);
        unlink(tl->snap_file);
        snap_deliver(tl, NULL, 0, why);
        maybe_free(tl);
        return;
    }
    fs_work_queue(tl, tl->snap_file, 1);
    maybe_free(tl);
}

int timelapse_snapshot_now(struct timelapse *tl, timelapse_snapshot_fn cb, void *ctx)
{
    if (!tl->opt.snapshot_command || !tl->opt.snapshot_command[0])
        return -ENOENT;
    if (tl->snap_cb)
        return -EBUSY;
    mkdir(tl->opt.frames_folder, 0755);
    snprintf(tl->snap_file, sizeof tl->snap_file, "%s/snapshot-%ld.%s", tl->opt.frames_folder,
             (long)getpid(), tl->opt.frame_extension);
    const char *names[] = { "file" };
    const char *values[] = { tl->snap_file };
    char **argv = proc_fill(tl->opt.snapshot_command, names, values, 1);
    struct proc_options to = { .timeout = tl->opt.snapshot_timeout, .on_done = on_snap_done, .ctx = tl };
    int rc = argv ? proc_start(&tl->snap, tl->loop, argv, &to) : -ENOMEM;
    proc_argv_free(argv);
    if (rc < 0)
        return rc;
    tl->busy++;
    tl->snap_cb = cb;
    tl->snap_ctx = ctx;
    return 0;
}

/* ---- life -------------------------------------------------------------------------------- */

static void free_options(struct timelapse *tl)
{
    proc_argv_free(tl->own_snapshot);
    proc_argv_free(tl->own_ffmpeg_args);
    for (int i = 0; i < 5; i++)
        free(tl->own_str[i]);
}

int timelapse_create(struct timelapse **out, uv_loop_t *loop, struct events *ev,
                     const struct timelapse_options *opt)
{
    struct timelapse *tl = calloc(1, sizeof *tl);
    if (!tl)
        return -ENOMEM;
    tl->loop = loop;
    tl->ev = ev;
    tl->opt = *opt;
    /* copies: a configuration reload frees the strings the caller lent */
    tl->own_snapshot = proc_argv_dup(opt->snapshot_command);
    tl->own_ffmpeg_args = proc_argv_dup(opt->ffmpeg_args);
    const char **strs[5] = { &tl->opt.frame_extension, &tl->opt.frames_folder, &tl->opt.output_folder,
                             &tl->opt.ffmpeg, &tl->opt.movie_extension };
    bool oom = !tl->own_snapshot || !tl->own_ffmpeg_args;
    for (int i = 0; i < 5; i++) {
        tl->own_str[i] = strdup(*strs[i] ? *strs[i] : "");
        oom = oom || !tl->own_str[i];
        *strs[i] = tl->own_str[i];
    }
    if (oom) {
        free_options(tl);
        free(tl);
        return -ENOMEM;
    }
    tl->opt.snapshot_command = tl->own_snapshot;
    tl->opt.ffmpeg_args = tl->own_ffmpeg_args;
    if (tl->opt.interval <= 0)
        tl->opt.interval = 10;
    uv_timer_init(loop, &tl->timer);
    uv_timer_init(loop, &tl->post_roll_end);
    tl->timer.data = tl->post_roll_end.data = tl;
    tl->open_timers = 2;
    *out = tl;
    return 0;
}

static void maybe_free(struct timelapse *tl)
{
    if (tl->destroying && tl->busy == 0 && tl->open_timers == 0) {
        free_options(tl);
        free(tl);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct timelapse *tl = h->data;
    tl->open_timers--;
    maybe_free(tl);
}

void timelapse_destroy(struct timelapse *tl)
{
    if (!tl)
        return;
    tl->destroying = true;
    tl->snap_cb = NULL;
    proc_kill(tl->capture);
    proc_kill(tl->render);
    proc_kill(tl->snap);
    uv_close((uv_handle_t *)&tl->timer, on_timer_closed);
    uv_close((uv_handle_t *)&tl->post_roll_end, on_timer_closed);
}
