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

/* v in decimal at out (no NUL); returns the digit count. */
static size_t put_decimal(char *out, unsigned long v)
{
    char rev[24];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

/* Written by hand rather than with snprintf: it runs for every line of a print. */
int framing_frame(char *out, size_t outsz, unsigned long n, const char *cmd)
{
    char num[24], sum[4];
    size_t nlen = put_decimal(num, n), clen = strlen(cmd);
    size_t len = 1 + nlen + 1 + clen;                   /* "N<n> <cmd>" */
    if (len >= outsz)
        return -E2BIG;
    out[0] = 'N';
    memcpy(out + 1, num, nlen);
    out[1 + nlen] = ' ';
    memcpy(out + 2 + nlen, cmd, clen);
    size_t slen = put_decimal(sum, framing_checksum(out, len));
    if (len + 1 + slen + 1 >= outsz)                    /* "*<sum>\n" and the NUL */
        return -E2BIG;
    out[len] = '*';
    memcpy(out + len + 1, sum, slen);
    out[len + 1 + slen] = '\n';
    out[len + 2 + slen] = '\0';
    return (int)(len + 2 + slen);
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
