/* notify.c: sd_notify's datagram protocol, spoken directly (see base.h). */
#include "printbridge/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define NOTIFY_MAX_STATUS 256

struct notify {
    uv_timer_t watchdog;
    int fd;
    struct sockaddr_un addr;
    socklen_t addr_len;
    char last_status[NOTIFY_MAX_STATUS];
};

int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 2 || (name[0] != '/' && name[0] != '@') || n >= sizeof sa->sun_path)
        return -EINVAL;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@') {
        sa->sun_path[0] = '\0';     /* abstract: no terminating NUL, the length says it all */
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int notify_format_status(char *buf, size_t size, const char *printer, const char *broker)
{
    int n = snprintf(buf, size, "STATUS=Printer: %s; broker: %s", printer ? printer : "unknown",
                     broker ? broker : "unknown");
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    for (char *p = buf; *p; p++)    /* one message is one line: a newline would start a new field */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return n;
}

uint64_t notify_watchdog_interval_ms(const char *watchdog_usec, const char *watchdog_pid, long pid)
{
    if (!watchdog_usec || !*watchdog_usec)
        return 0;
    if (watchdog_pid && *watchdog_pid) {
        char *end;
        errno = 0;
        long wp = strtol(watchdog_pid, &end, 10);
        if (errno || *end || wp != pid)
            return 0;
    }
    char *end;
    errno = 0;
    unsigned long long usec = strtoull(watchdog_usec, &end, 10);
    if (errno || *end || usec == 0 || watchdog_usec[0] == '-')
        return 0;
    uint64_t ms = usec / 2000;
    return ms ? ms : 1;
}

static void send_msg(struct notify *n, const char *msg)
{
    if (!n || n->fd < 0)
        return;
    ssize_t r = sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&n->addr, n->addr_len);
    if (r < 0)
        log_debug("notify: %s: %s", msg, strerror(errno));
}

static void on_watchdog(uv_timer_t *t)
{
    send_msg(t->data, "WATCHDOG=1");
}

int notify_start(struct notify **out, uv_loop_t *loop)
{
    *out = NULL;
    char *name = getenv("NOTIFY_SOCKET");
    uint64_t wd_ms = notify_watchdog_interval_ms(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), (long)getpid());
    int rc = 0;
    struct notify *n = NULL;
    if (!name || !*name)
        goto out;
    n = calloc(1, sizeof *n);
    if (!n) {
        rc = -ENOMEM;
        goto out;
    }
    n->fd = -1;
    if (notify_address(name, &n->addr, &n->addr_len) < 0) {
        log_warn("notify: NOTIFY_SOCKET '%s' is not a socket path nor an '@' abstract name; not notifying systemd", name);
        rc = -EINVAL;
        goto out;
    }
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        rc = -errno;
        log_warn("notify: cannot open a socket for %s: %s", name, strerror(errno));
        goto out;
    }
    uv_timer_init(loop, &n->watchdog);
    n->watchdog.data = n;
    if (wd_ms) {
        uv_timer_start(&n->watchdog, on_watchdog, wd_ms, wd_ms);
        log_info("notify: systemd watchdog every %llu ms", (unsigned long long)wd_ms);
    }
    *out = n;
    n = NULL;
out:
    if (n) {
        if (n->fd >= 0)
            close(n->fd);
        free(n);
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return rc;
}

void notify_ready(struct notify *n)
{
    send_msg(n, "READY=1");
}

void notify_status(struct notify *n, const char *printer, const char *broker)
{
    char buf[NOTIFY_MAX_STATUS];
    if (!n || notify_format_status(buf, sizeof buf, printer, broker) < 0)
        return;
    if (strcmp(buf, n->last_status) == 0)
        return;
    memcpy(n->last_status, buf, sizeof buf);
    send_msg(n, buf);
}

void notify_stopping(struct notify *n)
{
    send_msg(n, "STOPPING=1");
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void notify_close(struct notify *n)
{
    if (!n)
        return;
    uv_timer_stop(&n->watchdog);
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    uv_close((uv_handle_t *)&n->watchdog, on_closed);
}
