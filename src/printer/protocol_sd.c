/* protocol_sd.c: the printer's SD card lines: the card coming and going, print progress,
 * "File opened", and the M20 file list with its long names and timestamps. Pure, like
 * protocol.c. */
#include "protocol.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* ---- SD card ------------------------------------------------------------------------------------- */

int protocol_sd_card_state(const char *line)
{
    static const char *const ready[] = { "SD card ok", "Card successfully initialized", "Begin file list" };
    static const char *const gone[] = { "SD init fail", "volume.init failed", "openRoot failed",
                                        "SD card released", "No SD card", "No media" };
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (strstr(line, gone[i]))
            return 0;
    for (size_t i = 0; i < sizeof ready / sizeof ready[0]; i++)
        if (strstr(line, ready[i]))
            return 1;
    return -1;
}

int protocol_parse_sd_progress(const char *line, unsigned long *current, unsigned long *total)
{
    /* regex_sdPrintingByte (?P<current>[0-9]+)/(?P<total>[0-9]+), searched */
    for (const char *p = line; *p; p++) {
        if (!scan_is_digit((unsigned char)*p) || (p > line && scan_is_digit((unsigned char)p[-1])))
            continue;
        bool o1, o2;
        size_t d1 = scan_ulong(p, current, &o1);
        if (p[d1] != '/' || !scan_is_digit((unsigned char)p[d1 + 1]))
            continue;
        scan_ulong(p + d1 + 1, total, &o2);
        return (o1 || o2) ? -ERANGE : 0;
    }
    return -EINVAL;
}

/* \s+Size:\s*\d+ at p; returns the start of the digits or NULL. */
static const char *size_tail_at(const char *p)
{
    if (!scan_is_space((unsigned char)*p))
        return NULL;
    p = scan_skip_space(p);
    if (!scan_starts_with(p, "Size:"))
        return NULL;
    p = scan_skip_space(p + 5);
    return scan_is_digit((unsigned char)*p) ? p : NULL;
}

static int file_opened_result(const char *start, const char *end, const char *digits,
                              char *name, size_t namesz, unsigned long *size)
{
    bool overflow;
    scan_ulong(digits, size, &overflow);
    if (overflow || !scan_copy_n(name, namesz, start, (size_t)(end - start)))
        return -EINVAL;
    return 0;
}

int protocol_parse_file_opened(const char *line, char *name, size_t namesz, unsigned long *size)
{
    /* regex_sdFileOpened File opened:\s*(?P<name>.*?)\s+Size:\s*(?P<size>\d+), searched.
     * Only the first "File opened:" needs trying: a later one could only find a tail at
     * positions already tested from the first. */
    const char *p = strstr(line, "File opened:");
    if (!p)
        return -EINVAL;
    const char *n = p + 12, *ns = scan_skip_space(n), *digits;
    /* the lazy name ends at the first place the tail matches; every start inside one
     * whitespace run leads to the same tail, so each run is tested once */
    for (const char *e = ns; *e;) {
        if ((digits = size_tail_at(e)))
            return file_opened_result(ns, e, digits, name, namesz, size);
        if (scan_is_space((unsigned char)*e))
            e = scan_skip_space(e);
        else
            e++;
    }
    /* then \s* gives back one space: an empty name before "<spaces>Size:" */
    if (ns > n && (digits = size_tail_at(ns - 1)))
        return file_opened_result(ns - 1, ns - 1, digits, name, namesz, size);
    return -EINVAL;
}

/* "0x" + 1-8 hex digits: the M20 timestamp form. */
static bool parse_m20_timestamp(const char *s, size_t len, unsigned long *value)
{
    if (len < 3 || len > 10 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    unsigned long v = 0;
    for (size_t i = 2; i < len; i++) {
        unsigned char c = scan_lower((unsigned char)s[i]);
        if (scan_is_digit(c))
            v = v * 16 + (c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (c - 'a' + 10);
        else
            return false;
    }
    *value = v;
    return true;
}

/* Python's str.split(None, maxsplit): up to max fields; the last one keeps inner spaces. */
static int split_fields(const char *s, size_t len, int max, const char **f, size_t *flen)
{
    int n = 0;
    size_t i = 0;
    while (n < max) {
        while (i < len && scan_is_space((unsigned char)s[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        if (n == max - 1) {
            size_t end = len;
            while (end > start && scan_is_space((unsigned char)s[end - 1]))
                end--;
            f[n] = s + start;
            flen[n++] = end - start;
            break;
        }
        while (i < len && !scan_is_space((unsigned char)s[i]))
            i++;
        f[n] = s + start;
        flen[n++] = i - start;
    }
    return n;
}

int protocol_parse_file_list_line(const char *line, struct protocol_sd_entry *out)
{
    size_t len;
    const char *s = scan_trim(line, &len);
    const char *f[4];
    size_t fl[4];
    const char *longname = NULL;
    size_t longlen = 0;

    memset(out, 0, sizeof *out);
    int n = split_fields(s, len, 4, f, fl);
    if (n == 0)
        return -EINVAL;
    if (n >= 2) {
        bool overflow;
        size_t d = scan_ulong(f[1], &out->size, &overflow);
        if (d == fl[1] && !overflow) {
            out->has_size = true;
        } else {
            n = 1;                              /* no integer size: the whole line is the name */
            f[0] = s;
            fl[0] = len;
        }
    }
    if (n == 4) {
        if (parse_m20_timestamp(f[2], fl[2], &out->timestamp)) {
            out->has_timestamp = true;
            longname = f[3];
            longlen = fl[3];
        } else {
            n = split_fields(s, len, 3, f, fl);
            longname = f[2];
            longlen = fl[2];
        }
    } else if (n == 3) {
        if (parse_m20_timestamp(f[2], fl[2], &out->timestamp)) {
            out->has_timestamp = true;
        } else {
            longname = f[2];
            longlen = fl[2];
        }
    }
    if (longname && longlen >= 1 && longname[0] == '"' && longname[longlen - 1] == '"') {
        longname++;
        longlen = longlen >= 2 ? longlen - 2 : 0;
    }
    if (!scan_copy_n(out->name, sizeof out->name, f[0], fl[0]))
        return -EINVAL;
    if (longname && !scan_copy_n(out->longname, sizeof out->longname, longname, longlen))
        return -EINVAL;
    return 0;
}

long long protocol_m20_timestamp_to_unix(unsigned long timestamp)
{
    unsigned date = (unsigned)(timestamp >> 16) & 0xffff, tod = (unsigned)timestamp & 0xffff;
    long long y = 1980 + (date >> 9), m = (date >> 5) & 0x0f, d = date & 0x1f;
    long long hh = tod >> 11, mm = (tod >> 5) & 0x3f, ss = (tod & 0x1f) * 2;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || hh > 23 || mm > 59 || ss > 59)
        return -EINVAL;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -EINVAL;
    /* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm) */
    long long yy = m <= 2 ? y - 1 : y;
    long long era = yy / 400, yoe = yy - era * 400;
    long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = era * 146097 + doe - 719468;
    return days * 86400 + hh * 3600 + mm * 60 + ss;
}

bool protocol_sd_name_is_gcode(const char *name)
{
    static const char *const exts[] = { "gcode", "gco", "g", "gc~" };
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p >= 0x80)
            return false;
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t n = strlen(exts[i]);
        if (strlen(dot + 1) == n && scan_starts_with_ci(dot + 1, exts[i]))
            return true;
    }
    return false;
}
