/* port.h: one open serial port (or pseudo-terminal) on the event loop. Raw termios,
 * non-blocking reads and writes, exclusive lock, hang-up detection. Bytes in, lines out;
 * what the lines mean is the printer module's business. */
#ifndef PRINTBRIDGE_PORT_H
#define PRINTBRIDGE_PORT_H

#include <stddef.h>
#include <uv.h>

struct port;

struct port_callbacks {
    /* A complete received line (see framing_reader). */
    void (*line)(void *ctx, const char *line, size_t len);
    /* The port is gone (hang-up, EIO, ...). err is a negative errno. The port must be closed
     * with port_close(); no more callbacks arrive. */
    void (*lost)(void *ctx, int err);
};

/* Opens path in raw mode at baud (any rate; non-standard ones through termios2) and starts
 * reading. Returns 0 and *out, or a negative errno: -ENOENT, -EACCES, -EBUSY (in use by
 * another process), -ENOTTY (not a terminal), -EINVAL (rate refused). */
int port_open(struct port **out, uv_loop_t *loop, const char *path, int baud,
              const struct port_callbacks *cb, void *ctx);

/* Queues bytes for writing; never blocks. Returns 0, or a negative errno when the port is
 * gone or the output buffer limit is exceeded. */
int port_write(struct port *p, const char *data, size_t n);

/* Switches the baud rate of an open port (rate detection). Returns 0 or a negative errno. */
int port_set_baud(struct port *p, int baud);

/* Bytes still waiting to be written. */
size_t port_pending(const struct port *p);

/* Stops I/O, closes the fd and frees the port once libuv has released the handle. */
void port_close(struct port *p);

/* One line for a user: what to do about an open error (e.g. the dialout group on EACCES). */
const char *port_error_hint(int err);

/* Sets an arbitrary baud rate through Linux termios2; returns the rate the driver accepted
 * or -1. Separate file because <asm/termbits.h> clashes with <termios.h>. */
int port_set_custom_baud(int fd, int baud);

#endif
