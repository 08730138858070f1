/* link.c: the pseudo-terminal the simulated printer talks through (see link.h). */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

int sim_link_open(struct sim_link *l, const char *path, char *err, size_t errsz)
{
    memset(l, 0, sizeof *l);
    l->master = l->slave = l->watch = -1;
    l->path = path;
    int rc = 0;
    const char *step = "posix_openpt";
    l->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (l->master < 0)
        goto fail;
    step = "grantpt";
    if (grantpt(l->master) != 0)
        goto fail;
    step = "unlockpt";
    if (unlockpt(l->master) != 0)
        goto fail;
    step = "ptsname";
    if (ptsname_r(l->master, l->pts, sizeof l->pts) != 0)
        goto fail;
    step = "open slave";
    l->slave = open(l->pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (l->slave < 0)
        goto fail;
    struct termios tio;
    step = "tcgetattr";
    if (tcgetattr(l->slave, &tio) != 0)
        goto fail;
    cfmakeraw(&tio);
    /* a USB serial port starts with HUPCL set (DTR drops on close); a pty does not */
    tio.c_cflag |= HUPCL;
    step = "tcsetattr";
    if (tcsetattr(l->slave, TCSANOW, &tio) != 0)
        goto fail;
    step = "fcntl";
    int flags = fcntl(l->master, F_GETFL);
    if (flags < 0 || fcntl(l->master, F_SETFL, flags | O_NONBLOCK) != 0 ||
        fcntl(l->master, F_SETFD, FD_CLOEXEC) != 0)
        goto fail;
    return 0;
fail:
    rc = -errno;
    snprintf(err, errsz, "pty: %s: %s", step, strerror(errno));
    sim_link_close(l);
    return rc;
}

int sim_link_publish(struct sim_link *l, char *err, size_t errsz)
{
    struct stat st;
    if (lstat(l->path, &st) == 0 && !S_ISLNK(st.st_mode)) {
        snprintf(err, errsz, "%s exists and is not a symlink; not replacing it", l->path);
        return -EEXIST;
    }
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", l->path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errsz, "%s: path too long", l->path);
        return -ENAMETOOLONG;
    }
    unlink(tmp);
    if (symlink(l->pts, tmp) != 0 || rename(tmp, l->path) != 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errsz, "%s: %s", l->path, strerror(e));
        return -e;
    }
    l->published = 1;
    return 0;
}

int sim_link_watch_closes(struct sim_link *l, char *err, size_t errsz)
{
    l->watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (l->watch < 0 || inotify_add_watch(l->watch, l->pts, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0) {
        int e = errno;
        snprintf(err, errsz, "pty: watching %s for closes: %s", l->pts, strerror(e));
        if (l->watch >= 0)
            close(l->watch);
        l->watch = -1;
        return -e;
    }
    return 0;
}

int sim_link_host_closes(struct sim_link *l, bool *hupcl)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int closes = 0;
    ssize_t n;
    while (l->watch >= 0 && (n = read(l->watch, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if (e->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))
                closes++;
            p += sizeof *e + e->len;
        }
    }
    struct termios tio;
    *hupcl = tcgetattr(l->slave, &tio) == 0 && (tio.c_cflag & HUPCL);
    return closes;
}

void sim_link_close(struct sim_link *l)
{
    if (l->published) {
        /* Only remove the link if it still points at our pty: a new simulator may own it. */
        char target[sizeof l->pts];
        ssize_t n = readlink(l->path, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            if (strcmp(target, l->pts) == 0)
                unlink(l->path);
        }
        l->published = 0;
    }
    if (l->master >= 0)
        close(l->master);
    if (l->slave >= 0)
        close(l->slave);
    if (l->watch >= 0)
        close(l->watch);
    l->master = l->slave = l->watch = -1;
}
