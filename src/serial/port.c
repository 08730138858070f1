/* port.c: the serial port as a libuv poll handle. The same code drives /dev/ttyUSB0,
 * /dev/ttyACM0, /dev/serial/by-id links and the simulator's pseudo-terminal: libserialport
 * cannot open ptys, so I/O is plain termios. A hang-up (POLLHUP, a 0-byte
 * read, EIO) is reported once through the lost callback and the handle stops polling, so a
 * vanished device can never turn into a busy loop. */
#include "printbridge/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>


/* A printer reads a few hundred bytes per second; a megabyte of unsent output means the
 * device stopped reading and the caller must hear about it rather than grow without bound. */
#define PORT_MAX_PENDING (1024 * 1024)

struct port {
    uv_poll_t poll;
    int fd;
    bool closing;
    bool lost;
    int events;                 /* UV_READABLE, plus UV_WRITABLE while output is pending */
    struct port_callbacks cb;
    void *ctx;
    struct framing_reader reader;
    char *out;
    size_t out_len, out_cap;
};

static speed_t standard_speed(int baud)
{
    switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 500000: return B500000;
    case 921600: return B921600;
    case 1000000: return B1000000;
    default: return 0;
    }
}

static int configure_tty(int fd, int baud)
{
    struct termios t;
    if (tcgetattr(fd, &t) < 0)
        return -errno;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    /* HUPCL off: with it, closing the port (our own exit, a crash, a restart) drops DTR, and
     * on boards with an auto-reset circuit that reboots the controller in the middle of a
     * print; without it the firmware keeps its state and a restarted daemon can continue */
    t.c_cflag &= ~(tcflag_t)(CRTSCTS | CSTOPB | PARENB | HUPCL);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    speed_t sp = standard_speed(baud);
    if (sp)
        cfsetspeed(&t, sp);
    /* TCSANOW: TCSAFLUSH would throw away a "start" banner the firmware already sent */
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return -errno;
    int rc = sp ? 0 : port_set_custom_baud(fd, baud);
    return rc < 0 ? rc : 0;
}

static void report_lost(struct port *p, int err)
{
    if (p->lost || p->closing)
        return;
    p->lost = true;
    uv_poll_stop(&p->poll);
    if (p->cb.lost)
        p->cb.lost(p->ctx, err);
}

static void deliver_line(void *ctx, const char *line, size_t len)
{
    struct port *p = ctx;
    if (!p->lost && !p->closing && p->cb.line)
        p->cb.line(p->ctx, line, len);
}

static void on_poll(uv_poll_t *handle, int status, int events);

static void update_events(struct port *p)
{
    int want = UV_READABLE | UV_DISCONNECT | (p->out_len ? UV_WRITABLE : 0);
    if (want != p->events && !p->lost && !p->closing) {
        p->events = want;
        uv_poll_start(&p->poll, want, on_poll);
    }
}

static void flush_output(struct port *p)
{
    while (p->out_len > 0) {
        ssize_t n = write(p->fd, p->out, p->out_len);
        if (n > 0) {
            memmove(p->out, p->out + n, p->out_len - (size_t)n);
            p->out_len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        report_lost(p, n < 0 ? -errno : -EIO);
        return;
    }
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct port *p = handle->data;
    char buf[4096];

    if (status < 0) {
        report_lost(p, status);
        return;
    }
    if (events & UV_READABLE) {
        for (;;) {
            ssize_t n = read(p->fd, buf, sizeof buf);
            if (n > 0) {
                framing_reader_feed(&p->reader, buf, (size_t)n, deliver_line, p);
                if (p->lost || p->closing)
                    return;
                if ((size_t)n < sizeof buf)
                    break;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            /* 0 bytes after readable, or EIO: the other end hung up */
            report_lost(p, n < 0 ? -errno : -EPIPE);
            return;
        }
    }
    if (events & UV_DISCONNECT) {
        report_lost(p, -EPIPE);
        return;
    }
    if (events & UV_WRITABLE)
        flush_output(p);
    update_events(p);
}

void port_discard_input(struct port *p)
{
    (void)tcflush(p->fd, TCIOFLUSH);   /* not a tty (a test's FIFO): nothing to discard */
}

int port_open(struct port **out, uv_loop_t *loop, const char *path, int baud,
              const struct port_callbacks *cb, void *ctx)
{
    int err;
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Two hosts on one printer interleave commands: refuse like pyserial's exclusive=True */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        err = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return err;
    }
    err = configure_tty(fd, baud);
    if (err < 0) {
        close(fd);
        return err;
    }
    struct port *p = calloc(1, sizeof *p);
    if (!p) {
        close(fd);
        return -ENOMEM;
    }
    p->fd = fd;
    p->cb = *cb;
    p->ctx = ctx;
    framing_reader_init(&p->reader);
    err = uv_poll_init(loop, &p->poll, fd);
    if (err < 0) {
        close(fd);
        free(p);
        return err;
    }
    p->poll.data = p;
    p->events = UV_READABLE | UV_DISCONNECT;
    uv_poll_start(&p->poll, p->events, on_poll);
    *out = p;
    return 0;
}

int port_write(struct port *p, const char *data, size_t n)
{
    if (p->lost || p->closing)
        return -EPIPE;
    if (p->out_len + n > PORT_MAX_PENDING)
        return -ENOBUFS;
    if (p->out_len + n > p->out_cap) {
        size_t cap = p->out_cap ? p->out_cap : 1024;
        while (cap < p->out_len + n)
            cap *= 2;
        char *grown = realloc(p->out, cap);
        if (!grown)
            return -ENOMEM;
        p->out = grown;
        p->out_cap = cap;
    }
    memcpy(p->out + p->out_len, data, n);
    p->out_len += n;
    flush_output(p);
    update_events(p);
    return p->lost ? -EPIPE : 0;
}

int port_set_baud(struct port *p, int baud)
{
    return configure_tty(p->fd, baud);
}

size_t port_pending(const struct port *p)
{
    return p->out_len;
}

static void on_closed(uv_handle_t *handle)
{
    struct port *p = handle->data;
    close(p->fd);
    free(p->out);
    free(p);
}

void port_close(struct port *p)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_closed);
}

const char *port_error_hint(int err)
{
    switch (err) {
    case -ENOENT: return "check printer.port; is the printer plugged in and switched on? (printbridge --list-ports shows what is there)";
    case -EACCES: return "permission denied: add the service user to the 'dialout' group (sudo usermod -aG dialout USER) and log in again";
    case -EBUSY: return "the port is in use by another program (OctoPrint, a second printbridge, a terminal?); stop it first";
    case -ENOTTY: return "this is not a serial port; check printer.port";
    case -EINVAL: return "the port refused the baud rate; check printer.baudrate";
    default: return "will retry";
    }
}
