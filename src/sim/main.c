/* main.c: the printbridge-sim process. It owns every file descriptor: the pty link, the
 * control socket and its clients, and a self-pipe for SIGTERM/SIGINT; one poll loop moves
 * bytes between them and the firmware core (firmware.c), which decides everything else.
 * Nothing blocks: reads are large and non-blocking, replies are written as far as the pty
 * takes them and the rest waits for POLLOUT. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "firmware.h"
#include "link.h"

#define MAX_CLIENTS   8
#define CLIENT_IN_MAX 4096
#define CLIENT_OUT_MAX 16384
#define READ_CHUNK    65536

struct client {
    int fd;
    char in[CLIENT_IN_MAX];
    size_t in_len;
    char out[CLIENT_OUT_MAX];
    size_t out_len;
};

struct app {
    struct sim_options opt;
    struct sim_fw *fw;
    struct sim_link link;
    bool linked;
    int64_t relink_at;          /* 0: no relink pending */
    int64_t hangup_since;       /* 0: no hang-up draining */
    int listen_fd;
    bool control_bound;
    struct client clients[MAX_CLIENTS];
    bool quit;
};

static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    int saved = errno;
    got_signal = sig;
    if (signal_pipe[1] >= 0 && write(signal_pipe[1], "s", 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

static int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        return -errno;
    return 0;
}

static int setup_signals(void)
{
    if (pipe(signal_pipe) != 0)
        return -errno;
    int rc = set_nonblocking(signal_pipe[0]);
    if (rc == 0)
        rc = set_nonblocking(signal_pipe[1]);
    if (rc != 0)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -errno;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL) == 0 ? 0 : -errno;
}

/* ---- the link ---- */

/* Writes as much queued output as the pty takes. */
static void link_write(struct app *a)
{
    if (!a->linked)
        return;
    for (;;) {
        size_t len;
        const char *data = sim_fw_output(a->fw, &len);
        if (len == 0)
            return;
        ssize_t n = write(a->link.master, data, len);
        if (n > 0) {
            sim_fw_consume_output(a->fw, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return;     /* EAGAIN: the host is not reading; POLLOUT will tell */
    }
}

/* Opens the pty, boots the firmware and publishes the link path. Returns 0 or a negative
 * errno, already reported on stderr. */
static int link_up(struct app *a, int64_t now)
{
    char err[512];
    int rc = sim_link_open(&a->link, a->opt.link_path, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "printbridge-sim: %s\n", err);
        return rc;
    }
    a->linked = true;
    if (a->opt.reset_on_close != SIM_CLOSE_KEEPS && (rc = sim_link_watch_closes(&a->link, err, sizeof err)) != 0) {
        fprintf(stderr, "printbridge-sim: %s\n", err);
        sim_link_close(&a->link);
        a->linked = false;
        return rc;
    }
    /* Boot before publishing: the banner is already waiting when a host opens the path. */
    sim_fw_discard_output(a->fw);
    sim_fw_boot(a->fw, now);
    link_write(a);
    rc = sim_link_publish(&a->link, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "printbridge-sim: %s\n", err);
        sim_link_close(&a->link);
        a->linked = false;
        return rc;
    }
    printf("printbridge-sim: %s -> %s\n", a->link.pts, a->opt.link_path);
    fflush(stdout);
    return 0;
}

#define HANGUP_DRAIN_MS 1000
#define HANGUP_SETTLE_MS 50

/* The printer is unplugged: the host sees POLLHUP; with --relink it comes back later. Closing
 * the master discards what the host has not read yet, so the replies sent before the hang-up
 * are given up to a second to be read first (the slave's input queue is visible to us through
 * our own slave fd). Returns false while still draining. */
static bool link_hangup(struct app *a, int64_t now)
{
    link_write(a);
    if (a->hangup_since == 0)
        a->hangup_since = now;
    size_t pending;
    sim_fw_output(a->fw, &pending);
    int unread = 0;
    if (ioctl(a->link.slave, FIONREAD, &unread) != 0)
        unread = 0;
    /* The kernel moves written bytes into the slave's queue asynchronously, so an empty queue
     * only counts once the bytes had a moment to get there. */
    bool drained = pending == 0 && unread == 0 && now - a->hangup_since >= HANGUP_SETTLE_MS;
    if (!drained && now - a->hangup_since < HANGUP_DRAIN_MS)
        return false;
    a->hangup_since = 0;
    sim_link_close(&a->link);
    a->linked = false;
    sim_fw_discard_output(a->fw);
    a->relink_at = a->opt.relink ? now + a->opt.relink_delay_ms : 0;
    if (a->opt.verbose)
        fprintf(stderr, "printbridge-sim: hung up%s\n", a->opt.relink ? ", relinking soon" : "");
    return true;
}

/* A host closed the port: with --reset-on-close the board reboots, as one whose auto-reset
 * circuit sees DTR drop. The banner waits in the pty for the next host. */
static void link_closed_by_host(struct app *a, int64_t now)
{
    bool hupcl;
    if (sim_link_host_closes(&a->link, &hupcl) == 0)
        return;
    bool reset = a->opt.reset_on_close == SIM_CLOSE_ALWAYS || (a->opt.reset_on_close == SIM_CLOSE_HUPCL && hupcl);
    if (a->opt.verbose)
        fprintf(stderr, "printbridge-sim: the host closed the port%s\n", reset ? "; resetting" : "");
    if (reset && !sim_fw_hangup_requested(a->fw)) {
        sim_fw_discard_output(a->fw);
        sim_fw_boot(a->fw, now);
    }
}

static void link_read(struct app *a, int64_t now)
{
    static char buf[READ_CHUNK];
    for (int i = 0; i < 16 && a->linked && sim_fw_wants_input(a->fw); i++) {
        ssize_t n = read(a->link.master, buf, sizeof buf);
        if (n > 0) {
            sim_fw_feed(a->fw, buf, (size_t)n, now);
            if ((size_t)n < sizeof buf)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return;
    }
}

/* ---- the control socket ---- */

/* Binds the --control socket. Returns 0 or a negative errno, already reported on stderr. */
static int control_listen(struct app *a)
{
    const char *path = a->opt.control_path;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "printbridge-sim: --control %s: path too long\n", path);
        return -ENAMETOOLONG;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "printbridge-sim: --control %s exists and is not a socket\n", path);
            return -EEXIST;
        }
        unlink(path);    /* stale socket of a previous run */
    }
    a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->listen_fd < 0 || bind(a->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(a->listen_fd, 8) != 0) {
        int rc = -errno;
        fprintf(stderr, "printbridge-sim: --control %s: %s\n", path, strerror(-rc));
        return rc;
    }
    a->control_bound = true;
    return 0;
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->in_len = c->out_len = 0;
}

static void client_flush(struct client *c)
{
    while (c->out_len > 0) {
        ssize_t n = write(c->fd, c->out, c->out_len);
        if (n > 0) {
            memmove(c->out, c->out + n, c->out_len - (size_t)n);
            c->out_len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && errno != EAGAIN)
                client_close(c);
            return;
        }
    }
}

static void client_reply(struct client *c, const char *text)
{
    size_t len = strlen(text);
    if (c->out_len + len + 1 > sizeof c->out) {
        client_close(c);      /* a client that never reads its replies */
        return;
    }
    memcpy(c->out + c->out_len, text, len);
    c->out[c->out_len + len] = '\n';
    c->out_len += len + 1;
    client_flush(c);
}

static void client_execute(struct app *a, struct client *c, const char *line, int64_t now)
{
    char reply[4096];
    enum sim_control_effect effect = sim_control_execute(a->fw, line, now, reply, sizeof reply);
    if (a->opt.verbose)
        fprintf(stderr, "printbridge-sim: control: %s -> %s\n", line, reply);
    client_reply(c, reply);
    if (effect == SIM_CONTROL_HANGUP)
        sim_fw_request_hangup(a->fw);
    else if (effect == SIM_CONTROL_QUIT)
        a->quit = true;
}

static void client_read(struct app *a, struct client *c, int64_t now)
{
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        client_close(c);
        return;
    }
    if (n < 0)
        return;
    c->in_len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < c->in_len && c->fd >= 0; i++) {
        if (c->in[i] != '\n')
            continue;
        c->in[i] = '\0';
        if (i > start && c->in[i - 1] == '\r')
            c->in[i - 1] = '\0';
        client_execute(a, c, c->in + start, now);
        start = i + 1;
    }
    if (c->fd < 0)
        return;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len == sizeof c->in) {
        client_reply(c, "error: line too long");
        c->in_len = 0;
    }
}

static void control_accept(struct app *a)
{
    for (;;) {
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct client *slot = NULL;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (a->clients[i].fd < 0) {
                slot = &a->clients[i];
                break;
            }
        if (!slot) {
            static const char busy[] = "error: too many control clients\n";
            if (write(fd, busy, sizeof busy - 1) < 0) {
                /* nothing more to tell it */
            }
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->in_len = slot->out_len = 0;
    }
}

/* ---- the loop ---- */

/* The poll loop, until a signal or "quit". Returns 0, or a negative errno after reporting
 * on stderr why the simulator cannot go on. */
static int run(struct app *a)
{
    int rc = link_up(a, clock_ms());
    if (rc != 0)
        return rc;
    while (!got_signal && !a->quit) {
        int64_t now = clock_ms();
        sim_fw_run(a->fw, now);
        bool draining = a->linked && sim_fw_hangup_requested(a->fw) && !link_hangup(a, now);
        if (!a->linked && a->relink_at && now >= a->relink_at) {
            a->relink_at = 0;
            if ((rc = link_up(a, now)) != 0)
                return rc;
            continue;
        }
        link_write(a);
        sim_fw_flush_record(a->fw);

        struct pollfd pfd[4 + MAX_CLIENTS];
        int n = 0, link_i = -1, watch_i = -1, listen_i = -1, client_i[MAX_CLIENTS];
        pfd[n++] = (struct pollfd){.fd = signal_pipe[0], .events = POLLIN};
        if (a->linked) {
            size_t pending;
            sim_fw_output(a->fw, &pending);
            short ev = (short)((sim_fw_wants_input(a->fw) ? POLLIN : 0) | (pending ? POLLOUT : 0));
            link_i = n;
            pfd[n++] = (struct pollfd){.fd = a->link.master, .events = ev};
            if (a->link.watch >= 0) {
                watch_i = n;
                pfd[n++] = (struct pollfd){.fd = a->link.watch, .events = POLLIN};
            }
        }
        if (a->control_bound) {
            listen_i = n;
            pfd[n++] = (struct pollfd){.fd = a->listen_fd, .events = POLLIN};
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client_i[i] = -1;
            if (a->clients[i].fd < 0)
                continue;
            client_i[i] = n;
            pfd[n++] = (struct pollfd){.fd = a->clients[i].fd,
                                       .events = (short)(POLLIN | (a->clients[i].out_len ? POLLOUT : 0))};
        }
        int64_t deadline = a->linked ? sim_fw_next_deadline(a->fw, now) : SIM_NO_DEADLINE;
        if (a->relink_at && a->relink_at < deadline)
            deadline = a->relink_at;
        if (draining && now + 10 < deadline)
            deadline = now + 10;
        int timeout = -1;
        if (deadline != SIM_NO_DEADLINE) {
            int64_t wait = deadline - now;
            timeout = wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
        }
        if (poll(pfd, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            fprintf(stderr, "printbridge-sim: poll: %s\n", strerror(-rc));
            return rc;
        }
        now = clock_ms();
        if (pfd[0].revents & POLLIN) {
            char drain[16];
            while (read(signal_pipe[0], drain, sizeof drain) > 0) {
            }
        }
        if (link_i >= 0 && (pfd[link_i].revents & POLLIN))
            link_read(a, now);
        if (watch_i >= 0 && (pfd[watch_i].revents & POLLIN) && a->linked)
            link_closed_by_host(a, now);
        if (listen_i >= 0 && (pfd[listen_i].revents & POLLIN))
            control_accept(a);
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (client_i[i] < 0 || a->clients[i].fd < 0)
                continue;
            short re = pfd[client_i[i]].revents;
            if (re & POLLOUT)
                client_flush(&a->clients[i]);
            if (a->clients[i].fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
                client_read(a, &a->clients[i], now);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct app a;
    memset(&a, 0, sizeof a);
    a.listen_fd = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        a.clients[i].fd = -1;
    a.link.master = a.link.slave = a.link.watch = -1;
    sim_options_init(&a.opt);
    char err[512];
    bool done;
    if (sim_options_parse(&a.opt, argc, argv, stdout, &done, err, sizeof err) != 0) {
        fprintf(stderr, "printbridge-sim: %s\n", err);
        return 2;
    }
    if (done)
        return 0;
    int rc = setup_signals();
    if (rc != 0) {
        fprintf(stderr, "printbridge-sim: signals: %s\n", strerror(-rc));
        return 1;
    }
    int status;     /* exit status: 0 stopped on request, 1 runtime error, 2 bad options */
    if (sim_fw_create(&a.fw, &a.opt, err, sizeof err) != 0) {
        fprintf(stderr, "printbridge-sim: %s\n", err);
        status = 2;
        goto out;
    }
    if (a.opt.control_path && control_listen(&a) != 0) {
        status = 1;
        goto out;
    }
    status = run(&a) == 0 ? 0 : 1;
out:
    if (a.linked)
        sim_link_close(&a.link);
    for (int i = 0; i < MAX_CLIENTS; i++)
        client_close(&a.clients[i]);
    if (a.listen_fd >= 0)
        close(a.listen_fd);
    if (a.control_bound)
        unlink(a.opt.control_path);
    sim_fw_destroy(a.fw);
    if (signal_pipe[0] >= 0) {
        close(signal_pipe[0]);
        close(signal_pipe[1]);
    }
    return status;
}
