/* test_sim_harness.c: starts, talks to and stops real printbridge-sim processes for the
 * integration tests (see test_sim_harness.h for the cleanup rules). Every wait is a poll()
 * with a deadline; nothing sleeps and hopes. */
#include "test_sim_harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "printbridge/serial.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIMH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIMH_SANITIZED 1
#endif
#endif
#ifndef SIMH_SANITIZED
#define SIMH_SANITIZED 0
#endif

static char base_dir[400];
#define MAX_LIVE 4
static struct simh *live[MAX_LIVE];

long long simh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int simh_ms(int ms)
{
    const char *s = getenv("PB_TIMEOUT_SCALE");
    int scale = s ? atoi(s) : 0;
    if (scale < 1)
        scale = SIMH_SANITIZED ? 3 : 1;
    return ms * scale;
}

const char *simh_binary(void)
{
    static char path[1024];
    if (!path[0]) {
        const char *b = getenv("PB_BUILD");
        snprintf(path, sizeof path, "%s/printbridge-sim", b && *b ? b : "build");
    }
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void simh_case_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base_dir, sizeof base_dir, "%s/pb-simtest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base_dir))
        base_dir[0] = '\0';
    /* Simulators orphaned by a failed test become our children, so the teardown can reap them
     * (and their pids cannot be reused before it does). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* A simulator whose test died before simh_stop: SIGTERM (it already got one from
 * PR_SET_PDEATHSIG), then SIGKILL after 5 s, and reap it. */
static int reap_orphan(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag != FTW_F || strcmp(path + ftw->base, "sim.pid") != 0)
        return 0;
    char *text = simh_read_file(path);
    pid_t pid = text ? (pid_t)atol(text) : 0;
    free(text);
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    long long deadline = simh_now_ms() + 5000;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (simh_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        poll(NULL, 0, 10);
    }
    return 0;
}

void simh_case_teardown(void)
{
    if (base_dir[0])
        nftw(base_dir, reap_orphan, 16, FTW_PHYS);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    remove_tree(base_dir);
    base_dir[0] = '\0';
}

void simh_prepare(struct simh *h)
{
    if (h->dir[0])
        return;
    if (!base_dir[0])
        simh_case_setup();
    ck_assert_msg(base_dir[0], "cannot create the base test folder");
    snprintf(h->dir, sizeof h->dir, "%s/t.XXXXXX", base_dir);
    ck_assert_msg(mkdtemp(h->dir) != NULL, "mkdtemp %s: %s", h->dir, strerror(errno));
    snprintf(h->link, sizeof h->link, "%s/tty", h->dir);
    snprintf(h->ctl, sizeof h->ctl, "%s/ctl", h->dir);
    snprintf(h->err_log, sizeof h->err_log, "%s/sim.err", h->dir);
    h->fd = h->out_fd = -1;
}

char *simh_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    size_t n;
    while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *grown = realloc(s, cap * 2);
            if (!grown) {
                free(s);
                s = NULL;
                break;
            }
            s = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (s)
        s[len] = '\0';
    return s;
}

static void show_err_log(const struct simh *h)
{
    char *log = simh_read_file(h->err_log);
    if (log && *log)
        fprintf(stderr, "--- printbridge-sim stderr (%s):\n%s\n", h->err_log, log);
    free(log);
}

const char *simh_write_file(struct simh *h, const char *name, const char *content)
{
    static char path[1200];
    simh_prepare(h);
    snprintf(path, sizeof path, "%s/%s", h->dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(content, f);
    fclose(f);
    return path;
}

int simh_open(struct simh *h)
{
    int fd = open(h->link, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct termios tio;
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    h->fd = fd;
    h->len = 0;
    h->hangup = false;
    return 0;
}

void simh_close_link(struct simh *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

static bool read_stdout_line(struct simh *h, char *out, size_t outsz, int timeout_ms)
{
    size_t len = 0;
    long long deadline = simh_now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - simh_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = h->out_fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char c;
        ssize_t n = read(h->out_fd, &c, 1);
        if (n == 0)
            return false;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return false;
        }
        if (c == '\n') {
            out[len] = '\0';
            return true;
        }
        if (len + 1 < outsz)
            out[len++] = c;
    }
}

static void start(struct simh *h, const char *const *args, bool with_ctl)
{
    simh_prepare(h);
    const char *argv[64];
    int n = 0;
    argv[n++] = simh_binary();
    argv[n++] = "--link";
    argv[n++] = h->link;
    if (with_ctl) {
        argv[n++] = "--control";
        argv[n++] = h->ctl;
    }
    for (int i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* If the test process dies (a failed assertion _exits it) the simulator follows, and
         * removes its link on the way out. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int err = open(h->err_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out[1], STDOUT_FILENO);
        if (err >= 0)
            dup2(err, STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    h->pid = pid;
    char pidfile[700];
    snprintf(pidfile, sizeof pidfile, "%s/sim.pid", h->dir);
    FILE *pf = fopen(pidfile, "w");
    if (pf) {
        fprintf(pf, "%ld\n", (long)pid);
        fclose(pf);
    }
    h->out_fd = out[0];
    fcntl(h->out_fd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < MAX_LIVE; i++)
        if (!live[i]) {
            live[i] = h;
            break;
        }
    if (!read_stdout_line(h, h->banner, sizeof h->banner, simh_ms(5000))) {
        show_err_log(h);
        ck_abort_msg("printbridge-sim printed no banner (see its stderr above)");
    }
    ck_assert_msg(simh_open(h) == 0, "cannot open %s: %s", h->link, strerror(errno));
}

void simh_start(struct simh *h, const char *const *args)
{
    start(h, args, false);
}

void simh_start_ctl(struct simh *h, const char *const *args)
{
    start(h, args, true);
}

int simh_stop(struct simh *h)
{
    int result = 0;
    simh_close_link(h);
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        long long deadline = simh_now_ms() + 10000;
        int status = 0;
        pid_t r;
        while ((r = waitpid(h->pid, &status, WNOHANG)) == 0 && simh_now_ms() < deadline) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (r == 0) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, &status, 0);
            result = -1;
        } else {
            result = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (result != 0)
            show_err_log(h);
        h->pid = 0;
        char pidfile[700];
        snprintf(pidfile, sizeof pidfile, "%s/sim.pid", h->dir);
        unlink(pidfile);
    }
    if (h->out_fd >= 0)
        close(h->out_fd);
    h->out_fd = -1;
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == h)
            live[i] = NULL;
    remove_tree(h->dir);
    h->dir[0] = '\0';
    return result;
}

void simh_forget(struct simh *h)
{
    char pidfile[700];
    snprintf(pidfile, sizeof pidfile, "%s/sim.pid", h->dir);
    unlink(pidfile);
    h->pid = 0;
}

void simh_teardown(void)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        struct simh *h = live[i];
        if (!h)
            continue;
        int rc = simh_stop(h);
        ck_assert_msg(rc == 0, "printbridge-sim exited with status %d after SIGTERM", rc);
    }
}

void simh_send(struct simh *h, const char *text)
{
    size_t len = strlen(text);
    char buf[FRAMING_MAX_LINE + 2];
    ck_assert(len + 1 < sizeof buf);
    memcpy(buf, text, len);
    buf[len++] = '\n';
    size_t off = 0;
    long long deadline = simh_now_ms() + simh_ms(5000);
    while (off < len) {
        ssize_t n = write(h->fd, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        ck_assert_msg(n < 0 && (errno == EAGAIN || errno == EINTR), "write to the link: %s", strerror(errno));
        ck_assert_msg(simh_now_ms() < deadline, "the link did not take our line within 5 s");
        struct pollfd p = {.fd = h->fd, .events = POLLOUT};
        poll(&p, 1, 50);
    }
}

void simh_send_numbered(struct simh *h, long n, const char *cmd)
{
    char line[FRAMING_MAX_LINE + 2];
    int len = framing_frame(line, sizeof line, (unsigned long)n, cmd);
    ck_assert_int_gt(len, 0);
    line[len - 1] = '\0';     /* simh_send adds the newline */
    simh_send(h, line);
}

bool simh_raw_line(struct simh *h, char *out, size_t outsz, size_t *len, int timeout_ms)
{
    long long deadline = simh_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(h->buf, '\n', h->len);
        if (nl) {
            size_t n = (size_t)(nl - h->buf);
            size_t keep = n;
            if (keep > 0 && h->buf[keep - 1] == '\r')
                keep--;
            if (keep >= outsz)
                keep = outsz - 1;
            memcpy(out, h->buf, keep);
            out[keep] = '\0';
            if (len)
                *len = keep;
            memmove(h->buf, nl + 1, h->len - n - 1);
            h->len -= n + 1;
            return true;
        }
        if (h->hangup || h->fd < 0)
            return false;
        long long left = deadline - simh_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r <= 0)
            continue;
        if (p.revents & POLLIN) {
            ssize_t n = read(h->fd, h->buf + h->len, sizeof h->buf - h->len);
            if (n > 0) {
                h->len += (size_t)n;
                ck_assert_msg(h->len < sizeof h->buf, "a line longer than the test buffer");
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                h->hangup = true;
            continue;
        }
        if (p.revents & (POLLHUP | POLLERR))
            h->hangup = true;
    }
}

bool simh_line(struct simh *h, char *out, size_t outsz, int timeout_ms)
{
    size_t len;
    return simh_raw_line(h, out, outsz, &len, timeout_ms);
}

void simh_expect(struct simh *h, const char *want, int timeout_ms)
{
    char got[SIMH_LINE_MAX];
    bool ok = simh_line(h, got, sizeof got, simh_ms(timeout_ms));
    ck_assert_msg(ok, "expected \"%s\" within %d ms, got nothing%s", want, timeout_ms, h->hangup ? " (hang-up)" : "");
    ck_assert_msg(strcmp(got, want) == 0, "expected \"%s\", got \"%s\"", want, got);
}

int simh_skip_until(struct simh *h, const char *want, int timeout_ms)
{
    long long deadline = simh_now_ms() + simh_ms(timeout_ms);
    char got[SIMH_LINE_MAX];
    int skipped = 0;
    for (;;) {
        long long left = deadline - simh_now_ms();
        if (left <= 0 || !simh_line(h, got, sizeof got, (int)left))
            return -1;
        if (strcmp(got, want) == 0)
            return skipped;
        skipped++;
    }
}

void simh_expect_silence(struct simh *h, int ms)
{
    char got[SIMH_LINE_MAX];
    bool any = simh_line(h, got, sizeof got, ms);
    ck_assert_msg(!any, "expected silence for %d ms, got \"%s\"", ms, got);
}

bool simh_wait_hangup(struct simh *h, int timeout_ms)
{
    char got[SIMH_LINE_MAX];
    long long deadline = simh_now_ms() + timeout_ms;
    while (!h->hangup) {
        long long left = deadline - simh_now_ms();
        if (left <= 0)
            return false;
        simh_line(h, got, sizeof got, (int)left);
    }
    return true;
}

void simh_control(struct simh *h, const char *cmd, char *reply, size_t replysz)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert_msg(strlen(h->ctl) < sizeof addr.sun_path, "control path too long: %s", h->ctl);
    memcpy(addr.sun_path, h->ctl, strlen(h->ctl) + 1);
    ck_assert_msg(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "connect %s: %s", h->ctl, strerror(errno));
    char line[2048];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    ck_assert_int_eq(write(fd, line, (size_t)n), n);
    size_t len = 0;
    long long deadline = simh_now_ms() + simh_ms(3000);
    reply[0] = '\0';
    for (;;) {
        long long left = deadline - simh_now_ms();
        ck_assert_msg(left > 0, "no control reply to \"%s\"", cmd);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char c;
        ssize_t r = read(fd, &c, 1);
        ck_assert_msg(r == 1, "control socket closed before replying to \"%s\"", cmd);
        if (c == '\n')
            break;
        if (len + 1 < replysz)
            reply[len++] = c;
        reply[len] = '\0';
    }
    close(fd);
}

int simh_run_capture(const char *const *argv, char *out, size_t outsz)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    char sink[4096];
    while ((n = read(p[0], len + 1 < outsz ? out + len : sink, len + 1 < outsz ? outsz - len - 1 : sizeof sink)) > 0)
        if (len + 1 < outsz)
            len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
