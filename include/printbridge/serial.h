/* printbridge/serial.h: the serial layer:
 * The serial port: opening a tty at any baud rate, finding printers among the
 * system's ports, and the line framing (line numbers, checksums, comments, line reassembly). */
#ifndef PRINTBRIDGE_SERIAL_H
#define PRINTBRIDGE_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

/* ---- framing: bytes <-> lines on the serial link. Pure functions, no I/O.
 *
 * Outbound: comment stripping and the "N<n> <cmd>*<checksum>" framing Marlin expects.
 * Inbound: a line assembler that turns arbitrary byte chunks into complete lines. */

/* Longest line accepted in either direction, without the newline. Longer received lines are
 * reported (overflow flag) and dropped, never truncated silently. */
#define FRAMING_MAX_LINE 1024

/* XOR of every byte of s[0..n). */
unsigned char framing_checksum(const char *s, size_t n);

/* Writes "N<n> <cmd>*<cs>\n" into out (NUL-terminated). Returns its length without the NUL,
 * or -E2BIG if out is too small. Example: n=0, cmd="M110 N0" -> "N0 M110 N0*125\n". */
int framing_frame(char *out, size_t outsz, unsigned long n, const char *cmd);

/* Cuts a G-code line at the first ';' not escaped by a backslash and trims surrounding
 * whitespace, in place. Returns the new length (0: nothing left to send). Vectors in
 * docs/protocol.md 2.3. */
size_t framing_strip_comment(char *line);

/* Reassembles lines from received byte chunks. A line ends at '\n'; '\r' and surrounding
 * whitespace are stripped; NUL bytes are removed (and counted). Empty lines are skipped. */
struct framing_reader {
    char buf[FRAMING_MAX_LINE + 1];
    size_t len;
    bool discarding;          /* inside an over-long line: drop until the next '\n' */
    unsigned long overflows;  /* over-long lines dropped so far */
    unsigned long nul_bytes;  /* NUL bytes removed so far */
};

/* Called once per complete line; line is NUL-terminated, len excludes the NUL. */
typedef void (*framing_line_fn)(void *ctx, const char *line, size_t len);

void framing_reader_init(struct framing_reader *r);
void framing_reader_feed(struct framing_reader *r, const char *data, size_t n,
                         framing_line_fn fn, void *ctx);

/* ---- port: one open serial port (or pseudo-terminal) on the event loop. Raw termios,
 * non-blocking reads and writes, exclusive lock, hang-up detection. Bytes in, lines out;
 * what the lines mean is the printer module's business. */

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
/* Throws away what the printer said while nobody listened (answers to a previous
 * connection's last commands, a Klipper pty's queued output), which would otherwise be read
 * as answers to the handshake. Call it right after port_open, before the loop reads. */
void port_discard_input(struct port *p);

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
 * or a negative errno. Separate file because <asm/termbits.h> clashes with <termios.h>. */
int port_set_custom_baud(int fd, int baud);

/* ---- portscan: serial port discovery with libserialport (enumeration and USB identity only;
 * ports are opened with termios in port.c because libserialport cannot open ptys). */

struct portscan_entry {
    char device[256];           /* /dev/ttyACM0 */
    char description[256];
    bool usb;
    int vid, pid;               /* valid when usb */
    char serial[128];           /* USB serial number or "" */
    char by_id[4096];           /* the stable /dev/serial/by-id alias, or "" */
};

/* Lists the serial ports; *out is malloc'd (caller frees). Returns the count, or -EIO or
 * -ENOMEM with a one-line reason in err. */
int portscan_list(struct portscan_entry **out, char *err, size_t errsz);

/* Prints the list as --list-ports shows it. Returns 0, or a negative errno after printing
 * the reason. */
int portscan_print(FILE *f);

/* Parses "VID:PID" (hex); returns 0 or -EINVAL. */
int portscan_parse_usb_id(const char *s, int *vid, int *pid);

/* For printer.port = "auto": the single USB serial device, or the one matching usb_id
 * (may be NULL). Writes its stable by-id path when there is one, else the device path.
 * Returns 0, or with the reason in err: -ENOENT (none found), -EEXIST (several and no
 * usb_id), -EINVAL (a bad usb_id), or the error of listing the ports. */
int portscan_pick(const char *usb_id, char *out, size_t outsz, char *err, size_t errsz);

#endif
