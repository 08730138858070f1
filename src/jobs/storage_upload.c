/* storage_upload.c: uploads into the storage folder. Validated on the loop, written by a
 * worker of the libuv thread pool: a hidden temporary file in the target folder, write,
 * fsync, rename, fsync of the folder; any failure unlinks the temporary file, so a partial
 * file is never visible under its final name. Back on the loop, what the upload created is
 * announced before Upload (storage.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"

#include "storage_impl.h"

struct upload_work {
    uv_work_t req;
    struct storage *s;
    char rel[STORAGE_MAX_PATH];
    char root[PATH_MAX];
    struct storage_bytes b;     /* data NULL once released */
    bool select, print;
    int inject;
    storage_upload_cb cb;
    void *ctx;
    int rc;
    char err[256];
};

static void release(struct storage_bytes *b)
{
    if (b->data && b->release)
        b->release(b->owner);
    b->data = NULL;
}

static int write_all(int fd, const char *p, size_t len, int inject)
{
    while (len > 0) {
        size_t chunk = len > (1 << 20) ? (1 << 20) : len;
        ssize_t n = inject ? (errno = inject, -1) : write(fd, p, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void upload_worker(uv_work_t *req)
{
    struct upload_work *w = req->data;
    char abs[PATH_MAX], dir[PATH_MAX], real[PATH_MAX], tmp[PATH_MAX];
    int fd = -1;
    storage_printf(abs, sizeof abs, "%s/%s", w->root, w->rel);
    const char *slash = strrchr(abs, '/');
    storage_printf(dir, sizeof dir, "%.*s", (int)(slash - abs), abs);
    /* create missing folders, then check that the folder is still inside the storage:
     * a symlinked folder may point anywhere */
    if ((w->rc = storage_mkdirs(dir, strlen(dir))) < 0) {
        storage_printf(w->err, sizeof w->err, "cannot create the folder for %s: %s", w->rel, strerror(-w->rc));
        return;
    }
    if (!realpath(dir, real) || !storage_confined(w->root, real)) {
        w->rc = -EPERM;
        storage_printf(w->err, sizeof w->err, "%s leads outside the storage folder", w->rel);
        return;
    }
    struct stat st;
    if (lstat(abs, &st) == 0 && S_ISLNK(st.st_mode)) {
        w->rc = -EPERM;
        storage_printf(w->err, sizeof w->err, "%s is a symbolic link; refusing to replace it", w->rel);
        return;
    }
    storage_printf(tmp, sizeof tmp, "%s/.upload-XXXXXX", real);
    fd = mkstemp(tmp);
    if (fd < 0) {
        w->rc = -errno;
        storage_printf(w->err, sizeof w->err, "cannot store %s: %s", w->rel, strerror(errno));
        return;
    }
    fchmod(fd, 0644);
    w->rc = write_all(fd, w->b.data, w->b.len, w->inject);
    release(&w->b);     /* written (or not): the bytes are not needed any more */
    if (w->rc == 0 && fsync(fd) < 0)
        w->rc = -errno;
    if (close(fd) < 0 && w->rc == 0)
        w->rc = -errno;
    if (w->rc == 0) {
        char final[PATH_MAX];
        storage_printf(final, sizeof final, "%s/%s", real, storage_base_name(w->rel));
        if (rename(tmp, final) < 0)
            w->rc = -errno;
    }
    if (w->rc < 0) {
        unlink(tmp);
        if (w->rc == -ENOSPC || w->rc == -EDQUOT)
            storage_printf(w->err, sizeof w->err, "disk full: %s was not stored", w->rel);
        else
            storage_printf(w->err, sizeof w->err, "cannot store %s: %s", w->rel, strerror(-w->rc));
        return;
    }
    int dfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

static void upload_after(uv_work_t *req, int status)
{
    struct upload_work *w = req->data;
    struct storage *s = w->s;
    s->pending_work--;
    if (status < 0 && w->rc == 0) {
        w->rc = status;
        storage_printf(w->err, sizeof w->err, "upload of %s cancelled", w->rel);
    }
    if (w->rc == 0 && !s->destroying) {
        log_info("storage: stored %s (%zu bytes)", w->rel, w->b.len);
        storage_upload_done(s, w->rel);
        events_fire(s->ev, "Upload",
                    json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b}", "name", storage_base_name(w->rel), "path", w->rel,
                              "target", "local", "select", w->select, "print", w->print,
                              "effective_select", w->select || w->print, "effective_print", w->print));
    } else if (w->rc != 0) {
        log_warn("storage: %s", w->err);
    }
    if (w->cb)
        w->cb(w->ctx, w->rc, w->rel, w->err);
    release(&w->b);     /* still here when the worker stopped early */
    free(w);
    memory_trim();       /* the written upload's pages go back to the system now */
    storage_maybe_done(s);
}

int storage_upload_take(struct storage *s, const char *rel, struct storage_bytes b,
                        bool select, bool print, storage_upload_cb cb, void *ctx,
                        char *err, size_t errsz)
{
    size_t len = b.len;
    int rc;
    if (!storage_is_model(rel)) {
        rc = storage_check_path(rel, err, errsz);
    } else if (!s->opt.model) {
        storage_printf(err, errsz, "%s is an STL model: models are accepted only with slicing.enabled = true", rel);
        rc = -EINVAL;
    } else {
        rc = storage_check_components(rel, err, errsz);
    }
    if (rc < 0)
        goto fail;
    if ((long long)len > s->opt.max_upload_size) {
        storage_printf(err, errsz, "%s is %zu bytes, over the upload limit of %lld bytes", rel, len,
                 s->opt.max_upload_size);
        rc = -EFBIG;
        goto fail;
    }
    struct upload_work *w = calloc(1, sizeof *w);
    if (!w) {
        storage_printf(err, errsz, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    w->b = b;
    w->req.data = w;
    w->s = s;
    w->select = select;
    w->print = print;
    w->inject = s->opt.inject_write_error;
    w->cb = cb;
    w->ctx = ctx;
    storage_printf(w->rel, sizeof w->rel, "%s", rel);
    storage_printf(w->root, sizeof w->root, "%s", s->root);
    rc = uv_queue_work(s->loop, &w->req, upload_worker, upload_after);
    if (rc < 0) {
        free(w);
        storage_printf(err, errsz, "cannot queue the upload: %s", uv_strerror(rc));
        goto fail;
    }
    s->pending_work++;
    return 0;

fail:
    release(&b);
    return rc;
}

int storage_upload(struct storage *s, const char *rel, const void *data, size_t len,
                   bool select, bool print, storage_upload_cb cb, void *ctx,
                   char *err, size_t errsz)
{
    void *copy = malloc(len ? len : 1);
    if (!copy) {
        storage_printf(err, errsz, "out of memory");
        return -ENOMEM;
    }
    memcpy(copy, data, len);
    struct storage_bytes b = { .data = copy, .len = len, .release = free, .owner = copy };
    return storage_upload_take(s, rel, b, select, print, cb, ctx, err, errsz);
}
