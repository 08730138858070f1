/* framing.c: line framing of the serial link, both directions (see framing.h). The reader is
 * a small state machine so partial reads, CRLF endings, NUL noise and over-long garbage all
 * end up as clean lines or counted drops. */
#include "printbridge/serial.h"

#include <errno.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

unsigned char framing_checksum(const char *s, size_t n)
{
    unsigned char cs = 0;
    for (size_t i = 0; i < n; i++)
        cs ^= (unsigned char)s[i];
    return cs;
}

int framing_frame(char *out, size_t outsz, unsigned long n, const char *cmd)
{
    int len = snprintf(out, outsz, "N%lu %s", n, cmd);
    if (len < 0 || (size_t)len >= outsz)
        return -E2BIG;
    unsigned cs = framing_checksum(out, (size_t)len);
    int tail = snprintf(out + len, outsz - (size_t)len, "*%u\n", cs);
    if (tail < 0 || (size_t)tail >= outsz - (size_t)len)
        return -E2BIG;
    return len + tail;
}

size_t framing_strip_comment(char *line)
{
    size_t len = 0;
    bool escaped = false;
    for (; line[len]; len++) {
        if (escaped) {
            escaped = false;
            continue;
        }
        if (line[len] == '\\')
            escaped = true;
        else if (line[len] == ';')
            break;
    }
    line[len] = '\0';
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        line[--len] = '\0';
    size_t start = 0;
    while (start < len && isspace((unsigned char)line[start]))
        start++;
    if (start > 0) {
        memmove(line, line + start, len - start + 1);
        len -= start;
    }
    return len;
}

void framing_reader_init(struct framing_reader *r)
{
    memset(r, 0, sizeof *r);
}

static void emit_line(struct framing_reader *r, framing_line_fn fn, void *ctx)
{
    size_t start = 0, end = r->len;
    while (start < end && isspace((unsigned char)r->buf[start]))
        start++;
    while (end > start && isspace((unsigned char)r->buf[end - 1]))
        end--;
    r->len = 0;
    if (end == start)
        return;
    r->buf[end] = '\0';
    fn(ctx, r->buf + start, end - start);
}

void framing_reader_feed(struct framing_reader *r, const char *data, size_t n,
                         framing_line_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (c == '\n') {
            if (r->discarding)
                r->discarding = false;
            else
                emit_line(r, fn, ctx);
            continue;
        }
        if (r->discarding)
            continue;
        if (c == '\0') {
            r->nul_bytes++;
            continue;
        }
        if (r->len >= FRAMING_MAX_LINE) {
            r->overflows++;
            r->discarding = true;
            r->len = 0;
            continue;
        }
        r->buf[r->len++] = c;
    }
}
