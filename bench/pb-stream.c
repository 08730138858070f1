/* pb-stream: the minimal host, the floor a pseudo-terminal allows.
 *
 *   pb-stream [--window N] TTY GCODE
 *
 * Opens TTY raw, sends "N0 M110 N0*125" and waits for its ok, then sends every command of
 * GCODE (comments and blank lines dropped) framed as "N<n> <cmd>*<cs>" (docs/protocol.md
 * 3.1), keeping at most N lines unacknowledged (default 1: write a line, wait for ok, repeat;
 * a large N is the flood mode that measures how fast the printer answers). Prints one line:
 *   lines=L seconds=S lines_per_s=R cpu_us_per_line=C
 * Exit 1 on any error, including a Resend or Error line from the printer. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static int frame(char *out, size_t outsz, unsigned long n, const char *cmd, size_t cmdlen)
{
    int len = snprintf(out, outsz, "N%lu %.*s", n, (int)cmdlen, cmd);
    if (len < 0 || (size_t)len >= outsz)
        return -1;
    unsigned char cs = 0;
    for (int i = 0; i < len; i++)
        cs ^= (unsigned char)out[i];
    int tail = snprintf(out + len, outsz - (size_t)len, "*%u\n", cs);
    return tail < 0 || (size_t)tail >= outsz - (size_t)len ? -1 : len + tail;
}

/* next command of the file: its start and length, comments and surrounding blanks removed */
static int next_cmd(const char **pos, const char *end, const char **cmd, size_t *len)
{
    while (*pos < end) {
        const char *s = *pos, *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        *pos = nl ? nl + 1 : end;
        const char *c = memchr(s, ';', (size_t)(e - s));
        if (c)
            e = c;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e > s) {
            *cmd = s;
            *len = (size_t)(e - s);
            return 1;
        }
    }
    return 0;
}

static char rbuf[65536];
static size_t rlen;

/* read what is there; returns the number of ok lines, -1 on error or a refused line */
static long read_oks(int fd)
{
    ssize_t r = read(fd, rbuf + rlen, sizeof rbuf - rlen);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (r == 0)
        return -1;
    rlen += (size_t)r;
    long oks = 0;
    char *s = rbuf, *nl;
    while ((nl = memchr(s, '\n', rlen - (size_t)(s - rbuf)))) {
        if (strncmp(s, "ok", 2) == 0)
            oks++;
        else if (strncmp(s, "Resend", 6) == 0 || strncmp(s, "Error", 5) == 0) {
            fprintf(stderr, "pb-stream: printer refused a line: %.*s\n", (int)(nl - s), s);
            return -1;
        }
        s = nl + 1;
    }
    rlen -= (size_t)(s - rbuf);
    memmove(rbuf, s, rlen);
    if (rlen == sizeof rbuf)
        rlen = 0;   /* an absurdly long line: drop it */
    return oks;
}

int main(int argc, char **argv)
{
    long window = 1;
    int a = 1;
    if (argc > 2 && strcmp(argv[1], "--window") == 0) {
        window = strtol(argv[2], NULL, 10);
        a = 3;
    }
    if (argc - a != 2 || window < 1) {
        fprintf(stderr, "usage: pb-stream [--window N] TTY GCODE\n");
        return 2;
    }
    FILE *f = fopen(argv[a + 1], "rb");
    if (!f) {
        perror(argv[a + 1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "pb-stream: cannot read %s\n", argv[a + 1]);
        return 1;
    }
    fclose(f);
    int fd = open(argv[a], O_RDWR | O_NOCTTY | O_NONBLOCK);
    struct termios tio;
    if (fd < 0 || tcgetattr(fd, &tio) < 0) {
        perror(argv[a]);
        return 1;
    }
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
    /* what the printer said before the port was opened (its boot banner and an ok) is no
     * answer to anything sent here: counted, it would let two lines go in flight */
    tcflush(fd, TCIFLUSH);

    char line[8192];    /* lines waiting to be written */
    const char *pos = data, *end = data + size, *cmd = "M110 N0";
    size_t cmdlen = 7;
    unsigned long n = 0, sent = 0, acked = 0;
    int wlen = frame(line, sizeof line, n, cmd, cmdlen), woff = 0;
    long inflight = 1;
    double t0 = 0, c0 = 0;
    int more = 1;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN | (wlen > woff ? POLLOUT : 0) };
        if (poll(&p, 1, 10000) <= 0) {
            fprintf(stderr, "pb-stream: no answer for 10 s (%lu sent, %lu acknowledged)\n", sent, acked);
            return 1;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            long oks = read_oks(fd);
            if (oks < 0) {
                fprintf(stderr, "pb-stream: printer went away or refused a line\n");
                return 1;
            }
            if (oks > 0 && n == 0 && t0 == 0) {    /* the M110's ok: the stream starts now */
                t0 = now();
                c0 = cpu();
                oks--;
                inflight = 0;
            }
            acked += (unsigned long)oks;
            inflight -= oks;
            if (t0 > 0 && !more && inflight <= 0)
                break;
        }
        if (wlen == woff)
            wlen = woff = 0;
        while (t0 > 0 && more && inflight < window && wlen + 512 <= (int)sizeof line) {
            more = next_cmd(&pos, end, &cmd, &cmdlen);
            if (!more)
                break;
            int l = frame(line + wlen, 512, ++n, cmd, cmdlen);
            if (l < 0) {
                fprintf(stderr, "pb-stream: line %lu too long\n", n);
                return 1;
            }
            wlen += l;
            sent++;
            inflight++;
        }
        if (t0 > 0 && !more && inflight <= 0)
            break;
        if (wlen > woff) {
            ssize_t w = write(fd, line + woff, (size_t)(wlen - woff));
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                perror("pb-stream: write");
                return 1;
            }
            woff += w > 0 ? (int)w : 0;
        }
    }
    double secs = now() - t0, cpus = cpu() - c0;
    printf("lines=%lu seconds=%.4f lines_per_s=%.0f cpu_us_per_line=%.3f\n", sent, secs,
           (double)sent / secs, sent ? cpus * 1e6 / (double)sent : 0.0);
    free(data);
    close(fd);
    return 0;
}
