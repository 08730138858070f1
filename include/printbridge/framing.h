/* framing.h: bytes <-> lines on the serial link. Pure functions, no I/O.
 *
 * Outbound: comment stripping and the "N<n> <cmd>*<checksum>" framing Marlin expects.
 * Inbound: a line assembler that turns arbitrary byte chunks into complete lines. */
#ifndef PRINTBRIDGE_FRAMING_H
#define PRINTBRIDGE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

/* Longest line accepted in either direction, without the newline. Longer received lines are
 * reported (overflow flag) and dropped, never truncated silently. */
#define FRAMING_MAX_LINE 1024

/* XOR of every byte of s[0..n). */
unsigned char framing_checksum(const char *s, size_t n);

/* Writes "N<n> <cmd>*<cs>\n" into out (NUL-terminated). Returns its length without the NUL,
 * or -1 if out is too small. Example: n=0, cmd="M110 N0" -> "N0 M110 N0*125\n". */
int framing_frame(char *out, size_t outsz, unsigned long n, const char *cmd);

/* Cuts a G-code line at the first ';' not escaped by a backslash and trims surrounding
 * whitespace, in place. Returns the new length (0: nothing left to send). Vectors in
 * serial-protocol.md section 4. */
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

#endif
