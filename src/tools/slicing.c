/* slicing.c: STLs in, G-code out, with OctoPrint's slicing events (see tools.h). The
 * storage module watches the folder and reports the models; this module waits for each to
 * settle, runs the slicer and watches the profiles folder. */
#include "printbridge/tools.h"

#include <ctype.h>
#include <math.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "printbridge/base.h"

#define SLICING_MAX_JOBS 8
#define SLICING_MAX_PENDING 16
#define SLICING_MAX_PROFILES 64
#define NAME_MAX_SL 1024               /* a path relative to the folder */
#define PATH_MAX_SL 1024

struct slicing;

struct sl_job {
    struct slicing *s;
    bool busy;                      /* slot in use (slicing or renaming) */
    struct proc *run;            /* while the slicer runs */
    char stl[NAME_MAX_SL], gcode[NAME_MAX_SL];
    char tmp[PATH_MAX_SL + NAME_MAX_SL + 32], out[PATH_MAX_SL + NAME_MAX_SL + 2];
    double started;                 /* loop time, s */
    int progress;
    bool progress_seen, cancelled;
    uv_fs_t rename_req;
};

struct sl_pending {
    struct slicing *s;
    uv_timer_t timer;
    char name[NAME_MAX_SL];
    bool used;
};

struct sl_profile {
    char name[NAME_MAX_SL];
    long long mtime_ns, size;
    bool used;
};

struct sl_stat {
    uv_fs_t req;
    struct slicing *s;
    char name[NAME_MAX_SL];
    bool profile;
};

struct slicing {
    uv_loop_t *loop;
    struct events *ev;
    struct slicing_options opt;       /* strings and the command are this module's copies */
    char **own_command;
    char *own_str[4];
    uv_fs_event_t pwatch;
    bool pwatch_on;
    struct sl_job jobs[SLICING_MAX_JOBS];
    struct sl_pending pending[SLICING_MAX_PENDING];
    struct sl_profile profiles[SLICING_MAX_PROFILES];
    int open;                       /* handles and requests in flight */
    bool destroying;
};

/* ---- pure ------------------------------------------------------------------------------- */

int slicing_parse_progress(const char *line)
{
    const char *p = strstr(line, "Progress:");
    if (p) {
        char *end;
        double v = strtod(p + 9, &end);
        if (end != p + 9 && v >= 0 && v <= 1.0)
            return (int)(v * 100.0 + 0.5);
    }
    /* PrusaSlicer and Slic3r: "70 => Infilling layers" */
    const char *b0 = line;
    while (*b0 == ' ')
        b0++;
    if (isdigit((unsigned char)*b0)) {
        char *end;
        long v = strtol(b0, &end, 10);
        if (strncmp(end, " => ", 4) == 0 && v >= 0 && v <= 100)
            return (int)v;
    }
    for (const char *q = strchr(line, '%'); q; q = strchr(q + 1, '%')) {
        const char *b = q;
        while (b > line && isdigit((unsigned char)b[-1]))
            b--;
        if (b == q || q - b > 3)
            continue;
        int v = atoi(b);
        if (v <= 100)
            return v;
    }
    return -ENOENT;
}

int slicing_gcode_name(char *out, size_t outsz, const char *stl)
{
    size_t n = strlen(stl);
    if (n < 5 || strcasecmp(stl + n - 4, ".stl") != 0)
        return -EINVAL;
    for (const char *c = stl; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
        if (*c == '.' || *c == '/' || *c == '\0')
            return -EINVAL;
    int w = snprintf(out, outsz, "%.*s.gcode", (int)(n - 4), stl);
    return w < 0 || (size_t)w >= outsz ? -ENAMETOOLONG : w;
}

/* ---- jobs -------------------------------------------------------------------------------- */

static json_t *job_payload(const struct sl_job *j)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "slicer", j->s->opt.slicer, "stl", j->stl, "stl_location",
                     "local", "gcode", j->gcode, "gcode_location", "local");
}

static void publish_progress(struct sl_job *j, int progress)
{
    struct slicing *s = j->s;
    if (s->opt.publish_progress && !s->destroying)
        s->opt.publish_progress(s->opt.publish_ctx, s->opt.slicer, j->stl, j->gcode, progress);
}

static void free_options(struct slicing *s)
{
    proc_argv_free(s->own_command);
    for (int i = 0; i < 4; i++)
        free(s->own_str[i]);
}

static void maybe_free(struct slicing *s)
{
    if (s->destroying && s->open == 0) {
        free_options(s);
        free(s);
    }
}

static void on_job_line(void *ctx, const char *line, bool is_stderr)
{
    (void)is_stderr;
    struct sl_job *j = ctx;
    int p = slicing_parse_progress(line);
    if (p < 0 || p <= j->progress || p >= 100)
        return;
    j->progress = p;
    j->progress_seen = true;
    publish_progress(j, p);
}

static void on_renamed(uv_fs_t *req)
{
    struct sl_job *j = req->data;
    struct slicing *s = j->s;
    s->open--;
    if (!s->destroying) {
        if (req->result < 0) {
            json_t *p = job_payload(j);
            json_object_set_new(p, "reason", json_string(uv_strerror((int)req->result)));
            events_fire(s->ev, "SlicingFailed", p);
        } else {
            publish_progress(j, 100);
            json_t *p = job_payload(j);
            double took = (double)(uv_hrtime() / 1000000) / 1000.0 - j->started;
            json_object_set_new(p, "time", json_real(round(took * 1000.0) / 1000.0));   /* ms */
            events_fire(s->ev, "SlicingDone", p);
            log_info("slicing: %s -> %s", j->stl, j->gcode);
        }
    }
    uv_fs_req_cleanup(req);
    j->busy = false;
    maybe_free(s);
}

static void on_job_done(void *ctx, const struct proc_result *r)
{
    struct sl_job *j = ctx;
    struct slicing *s = j->s;
    s->open--;
    j->run = NULL;
    if (s->destroying || j->cancelled || !proc_ok(r)) {
        if (!s->destroying && !j->cancelled) {
            char why[PROC_MAX_LINE + 64];
            if (r->timed_out)
                snprintf(why, sizeof why, "timed out after %g s", s->opt.timeout);
            else if (r->spawn_error)
                snprintf(why, sizeof why, "%s", r->last_err);
            else if (r->term_signal)
                snprintf(why, sizeof why, "killed by signal %d", r->term_signal);
            else
                snprintf(why, sizeof why, "exit status %lld%s%s", r->exit_status, r->last_err[0] ? ": " : "",
                         r->last_err);
            log_warn("slicing: %s failed: %s", j->stl, why);
            json_t *p = job_payload(j);
            json_object_set_new(p, "reason", json_string(why));
            events_fire(s->ev, "SlicingFailed", p);
        }
        unlink(j->tmp);         /* hidden, small and local */
        j->busy = false;
        maybe_free(s);
        return;
    }
    j->rename_req.data = j;
    if (uv_fs_rename(s->loop, &j->rename_req, j->tmp, j->out, on_renamed) == 0) {
        s->open++;
        return;
    }
    j->busy = false;
}

int slicing_start(struct slicing *s, const char *rel)
{
    char gcode[NAME_MAX_SL];
    if (s->destroying || slicing_gcode_name(gcode, sizeof gcode, rel) < 0)
        return -EINVAL;
    struct sl_job *slot = NULL;
    for (int i = 0; i < SLICING_MAX_JOBS; i++) {
        struct sl_job *j = &s->jobs[i];
        if (j->run && !j->cancelled && strcmp(j->gcode, gcode) == 0) {
            /* a newer job for the same output wins (OctoPrint's SlicingCancelled) */
            j->cancelled = true;
            proc_kill(j->run);
            events_fire(s->ev, "SlicingCancelled", job_payload(j));
        }
        if (!j->busy && !slot)
            slot = j;
    }
    if (!slot) {
        log_warn("slicing: %d jobs already running; %s not sliced", SLICING_MAX_JOBS, rel);
        return -EBUSY;
    }
    struct sl_job *j = slot;
    memset(j, 0, sizeof *j);
    j->s = s;
    snprintf(j->stl, sizeof j->stl, "%s", rel);
    snprintf(j->gcode, sizeof j->gcode, "%s", gcode);
    static unsigned seq;
    const char *base = strrchr(gcode, '/') ? strrchr(gcode, '/') + 1 : gcode;
    /* hidden, beside the output: the rename is atomic and the storage never lists it */
    snprintf(j->tmp, sizeof j->tmp, "%s/%.*s.slicing-%u-%s", s->opt.folder, (int)(base - gcode), gcode, ++seq, base);
    snprintf(j->out, sizeof j->out, "%s/%s", s->opt.folder, gcode);
    char input[PATH_MAX_SL + NAME_MAX_SL + 2], profile[2 * PATH_MAX_SL];
    snprintf(input, sizeof input, "%s/%s", s->opt.folder, rel);
    snprintf(profile, sizeof profile, "%s/%s", s->opt.profiles_folder ? s->opt.profiles_folder : ".",
             s->opt.profile ? s->opt.profile : "");
    const char *names[] = { "input", "output", "profile" };
    const char *values[] = { input, j->tmp, profile };
    char **argv = proc_fill(s->opt.command, names, values, 3);
    if (!argv)
        return -ENOMEM;
    json_t *p = job_payload(j);
    json_object_set_new(p, "progressAvailable", json_true());
    events_fire(s->ev, "SlicingStarted", p);
    j->started = (double)(uv_hrtime() / 1000000) / 1000.0;
    publish_progress(j, 0);
    struct proc_options to = { .timeout = s->opt.timeout, .on_line = on_job_line, .on_done = on_job_done,
                                  .ctx = j };
    char desc[512];
    proc_describe(desc, sizeof desc, argv);
    log_info("slicing: %s", desc);
    int rc = proc_start(&j->run, s->loop, argv, &to);
    proc_argv_free(argv);
    if (rc < 0)
        return rc;
    j->busy = true;
    s->open++;
    return 0;
}

/* ---- watching ---------------------------------------------------------------------------- */

static struct sl_profile *find_profile(struct slicing *s, const char *name, bool create)
{
    struct sl_profile *free_slot = NULL;
    for (int i = 0; i < SLICING_MAX_PROFILES; i++) {
        if (s->profiles[i].used && strcmp(s->profiles[i].name, name) == 0)
            return &s->profiles[i];
        if (!s->profiles[i].used && !free_slot)
            free_slot = &s->profiles[i];
    }
    if (create && free_slot) {
        memset(free_slot, 0, sizeof *free_slot);
        snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
        free_slot->used = true;
        return free_slot;
    }
    return NULL;
}

static void profile_event(struct slicing *s, const char *event, const char *name)
{
    events_fire(s->ev, event, json_pack("{s:s, s:s}", "slicer", s->opt.slicer, "profile", name));
}

static void on_stat(uv_fs_t *req)
{
    struct sl_stat *st = req->data;
    struct slicing *s = st->s;
    s->open--;
    bool exists = req->result == 0 && S_ISREG(req->statbuf.st_mode);
    if (!s->destroying && st->profile) {
        struct sl_profile *p = find_profile(s, st->name, false);
        long long mt = (long long)req->statbuf.st_mtim.tv_sec * 1000000000LL + req->statbuf.st_mtim.tv_nsec;
        long long size = (long long)req->statbuf.st_size;
        if (exists && !p) {
            p = find_profile(s, st->name, true);
            if (p) {
                p->mtime_ns = mt;
                p->size = size;
                profile_event(s, "SlicingProfileAdded", st->name);
            }
        } else if (exists && (p->mtime_ns != mt || p->size != size)) {
            p->mtime_ns = mt;
            p->size = size;
            profile_event(s, "SlicingProfileModified", st->name);
        } else if (!exists && p) {
            p->used = false;
            profile_event(s, "SlicingProfileDeleted", st->name);
        }
    } else if (!s->destroying && exists && req->statbuf.st_size > 0) {
        slicing_start(s, st->name);
    }
    uv_fs_req_cleanup(req);
    free(st);
    maybe_free(s);
}

static void stat_async(struct slicing *s, const char *folder, const char *name, bool profile)
{
    struct sl_stat *st = calloc(1, sizeof *st);
    char path[PATH_MAX_SL + NAME_MAX_SL + 2];
    if (!st)
        return;
    st->s = s;
    st->profile = profile;
    snprintf(st->name, sizeof st->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s", folder, name);
    st->req.data = st;
    if (uv_fs_stat(s->loop, &st->req, path, on_stat) == 0)
        s->open++;
    else
        free(st);
}

static void on_settled(uv_timer_t *t)
{
    struct sl_pending *p = t->data;
    p->used = false;
    stat_async(p->s, p->s->opt.folder, p->name, false);
}

int slicing_notice(struct slicing *s, const char *rel)
{
    char gcode[NAME_MAX_SL];
    if (s->destroying || slicing_gcode_name(gcode, sizeof gcode, rel) < 0)
        return -EINVAL;
    struct sl_pending *slot = NULL;
    for (int i = 0; i < SLICING_MAX_PENDING; i++) {
        if (s->pending[i].used && strcmp(s->pending[i].name, rel) == 0) {
            slot = &s->pending[i];
            break;
        }
        if (!s->pending[i].used && !slot)
            slot = &s->pending[i];
    }
    if (!slot) {
        log_warn("slicing: %d models already waiting; %s not sliced", SLICING_MAX_PENDING, rel);
        return -EBUSY;
    }
    slot->used = true;
    snprintf(slot->name, sizeof slot->name, "%s", rel);
    uv_timer_start(&slot->timer, on_settled, (uint64_t)(s->opt.settle_time * 1000.0), 0);
    return 0;
}

static void on_profiles_change(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    struct slicing *s = h->data;
    if (status < 0 || !filename || filename[0] == '.' || s->destroying)
        return;
    stat_async(s, s->opt.profiles_folder, filename, true);
}

static void scan_profiles(struct slicing *s)
{
    /* start-up only: what is there already is known, not announced */
    DIR *d = opendir(s->opt.profiles_folder);
    if (!d)
        return;
    struct dirent *de;
    char path[PATH_MAX_SL + NAME_MAX_SL + 2];
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", s->opt.profiles_folder, de->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        struct sl_profile *p = find_profile(s, de->d_name, true);
        if (p) {
            p->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            p->size = (long long)st.st_size;
        }
    }
    closedir(d);
}

int slicing_create(struct slicing **out, uv_loop_t *loop, struct events *ev, const struct slicing_options *opt)
{
    struct slicing *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->ev = ev;
    s->opt = *opt;
    /* copies: a configuration reload frees the strings the caller lent */
    s->own_command = proc_argv_dup(opt->command);
    const char **strs[4] = { &s->opt.slicer, &s->opt.folder, &s->opt.profiles_folder, &s->opt.profile };
    bool oom = !s->own_command;
    for (int i = 0; i < 4; i++) {
        if (!*strs[i])
            continue;
        s->own_str[i] = strdup(*strs[i]);
        oom = oom || !s->own_str[i];
        *strs[i] = s->own_str[i];
    }
    if (oom) {
        free_options(s);
        free(s);
        return -ENOMEM;
    }
    s->opt.command = s->own_command;
    opt = &s->opt;
    if (s->opt.settle_time <= 0)
        s->opt.settle_time = 0.5;
    for (int i = 0; i < SLICING_MAX_PENDING; i++) {
        s->pending[i].s = s;
        uv_timer_init(loop, &s->pending[i].timer);
        s->pending[i].timer.data = &s->pending[i];
        s->open++;
    }
    if (opt->profiles_folder) {
        mkdir(opt->profiles_folder, 0755);
        scan_profiles(s);
        uv_fs_event_init(loop, &s->pwatch);
        s->pwatch.data = s;
        s->pwatch_on = true;
        s->open++;
        int rc = uv_fs_event_start(&s->pwatch, on_profiles_change, opt->profiles_folder, 0);
        if (rc < 0)
            log_error("slicing: cannot watch %s: %s", opt->profiles_folder, uv_strerror(rc));
    }
    *out = s;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct slicing *s = h->data;
    if (h->type == UV_TIMER)
        s = ((struct sl_pending *)h->data)->s;
    s->open--;
    maybe_free(s);
}

void slicing_destroy(struct slicing *s)
{
    if (!s)
        return;
    s->destroying = true;
    for (int i = 0; i < SLICING_MAX_JOBS; i++)
        if (s->jobs[i].run)
            proc_kill(s->jobs[i].run);
    for (int i = 0; i < SLICING_MAX_PENDING; i++)
        uv_close((uv_handle_t *)&s->pending[i].timer, on_closed);
    if (s->pwatch_on)
        uv_close((uv_handle_t *)&s->pwatch, on_closed);
}
