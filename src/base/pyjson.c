/* pyjson.c: owns the byte-exact serialisation of outgoing JSON. jansson builds and parses the
 * trees, but its dumps differs from Python's json.dumps() in float digits, exponent form,
 * upper-case \u escapes and DEL, and subscribers compare bytes. Floats are written as
 * Python's repr() does (the shortest digits that read back as the same double), strings with
 * ensure_ascii and strict UTF-8 decoding. */
#include "printbridge/base.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- floats: Python repr() --------------------------------------------------------------- */

/* The decimal digits of |x| rounded to prec significant digits, and the decimal exponent. */
static int mantissa_digits(double x, int prec, char *digits, int *exp10)
{
    char buf[40];
    const char *p = buf;
    int nd = 0;
    snprintf(buf, sizeof buf, "%.*e", prec - 1, fabs(x));
    /* skip the decimal point whatever the locale writes for it */
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    digits[nd] = '\0';
    *exp10 = atoi(p + 1);
    return nd;
}

/* Whether digits x 10^(exp10 - nd + 1) reads back as x. Written without a decimal point so
 * that strtod cannot trip over a locale's comma. */
static bool roundtrips(double x, const char *digits, int exp10)
{
    char buf[48];
    int nd = (int)strlen(digits);
    snprintf(buf, sizeof buf, "%s%se%d", x < 0 ? "-" : "", digits, exp10 - (nd - 1));
    return strtod(buf, NULL) == x;
}

/* Adds one unit in the last place of the digit string (999 -> 100 with exp10 + 1). */
static void bump(char *digits, int nd, int *exp10)
{
    int i = nd - 1;
    while (i >= 0 && digits[i] == '9')
        digits[i--] = '0';
    if (i >= 0) {
        digits[i]++;
        return;
    }
    digits[0] = '1';                /* all nines: the rest are zeros now, same digit count */
    (*exp10)++;
}

int pyjson_format_double(double x, char *out, size_t outsz)
{
    char digits[24], text[40];
    int nd = 0, exp10 = 0, decpt, m2, n = 0;

    if (!isfinite(x))
        return -EDOM;               /* Python would write NaN / Infinity: not JSON */
    for (int prec = 1; prec <= 17; prec++) {
        nd = mantissa_digits(x, prec, digits, &exp10);
        if (roundtrips(x, digits, exp10))
            break;
        /* 2^k has an asymmetric rounding interval: the next decimal up may read back */
        if (fabs(frexp(x, &m2)) == 0.5) {
            char up[24];
            int e2 = exp10;
            memcpy(up, digits, sizeof up);
            bump(up, nd, &e2);
            if (roundtrips(x, up, e2)) {
                memcpy(digits, up, sizeof up);
                exp10 = e2;
                break;
            }
        }
    }
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    decpt = exp10 + 1;
    if (signbit(x))
        text[n++] = '-';
    /* repr switches to exponent form outside 1e-4 <= |x| < 1e16 */
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0)
            n += snprintf(text + n, sizeof text - (size_t)n, "0.%.*s%s", -decpt, "000", digits);
        else if (decpt >= nd)
            n += snprintf(text + n, sizeof text - (size_t)n, "%s%.*s.0", digits, decpt - nd,
                          "0000000000000000");
        else
            n += snprintf(text + n, sizeof text - (size_t)n, "%.*s.%s", decpt, digits,
                          digits + decpt);
    } else {
        n += snprintf(text + n, sizeof text - (size_t)n, "%c%s%se%c%02d", digits[0],
                      nd > 1 ? "." : "", digits + 1, exp10 < 0 ? '-' : '+', abs(exp10));
    }
    if ((size_t)n >= outsz)
        return -ENOSPC;
    memcpy(out, text, (size_t)n + 1);
    return n;
}

/* ---- strings: ensure_ascii=True ------------------------------------------------------------ */

/* Decodes one UTF-8 sequence at s[0..n) strictly (no overlongs, surrogates or values above
 * U+10FFFF), as Python's decoder does. Returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Appends s as a JSON string; -EINVAL if s is not valid UTF-8 (possible only for strings made
 * with *_nocheck). */
static int py_string(struct strbuf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s, *e = u + len;

    strbuf_putc(b, '"');
    while (u < e) {
        /* copy the longest run that needs no escaping in one go */
        const unsigned char *run = u;
        while (u < e && *u >= 0x20 && *u < 0x7f && *u != '"' && *u != '\\')
            u++;
        if (u > run)
            strbuf_put(b, (const char *)run, (size_t)(u - run));
        if (u >= e)
            break;
        uint32_t cp;
        size_t n;
        switch (*u) {
        case '"':  strbuf_puts(b, "\\\""); u++; continue;
        case '\\': strbuf_puts(b, "\\\\"); u++; continue;
        case '\n': strbuf_puts(b, "\\n");  u++; continue;
        case '\r': strbuf_puts(b, "\\r");  u++; continue;
        case '\t': strbuf_puts(b, "\\t");  u++; continue;
        case '\b': strbuf_puts(b, "\\b");  u++; continue;
        case '\f': strbuf_puts(b, "\\f");  u++; continue;
        default:   break;
        }
        n = utf8_decode(u, (size_t)(e - u), &cp);
        if (n == 0)
            return -EINVAL;
        u += n;
        if (cp >= 0x10000) {            /* surrogate pair, lower-case hex like Python */
            cp -= 0x10000;
            strbuf_printf(b, "\\u%04x\\u%04x", (unsigned)(0xd800 + (cp >> 10)), (unsigned)(0xdc00 + (cp & 0x3ff)));
        } else {
            strbuf_printf(b, "\\u%04x", (unsigned)cp);
        }
    }
    strbuf_putc(b, '"');
    return 0;
}

/* ---- the tree ----------------------------------------------------------------------------- */

/* Deep enough for any payload; a cycle (jansson does not forbid all of them) ends here
 * instead of in a stack overflow. */
#define MAX_DEPTH 512

/* Appends j; -EINVAL for what JSON cannot hold (a non-finite real, invalid UTF-8, nesting
 * deeper than MAX_DEPTH). Allocation failures stick in b and are checked once, at the end. */
static int py_dump(struct strbuf *b, const json_t *j, int depth)
{
    char num[40];
    int rc = 0;

    if (!j || depth > MAX_DEPTH)
        return -EINVAL;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        void *it = json_object_iter((json_t *)j);     /* insertion order since jansson 2.8 */
        strbuf_putc(b, '{');
        for (bool first = true; it && rc == 0; it = json_object_iter_next((json_t *)j, it), first = false) {
            if (!first)
                strbuf_puts(b, ", ");
            /* the length form keeps keys with an embedded NUL whole */
            rc = py_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            strbuf_puts(b, ": ");
            if (rc == 0)
                rc = py_dump(b, json_object_iter_value(it), depth + 1);
        }
        strbuf_putc(b, '}');
        return rc;
    }
    case JSON_ARRAY:
        strbuf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(j) && rc == 0; i++) {
            if (i)
                strbuf_puts(b, ", ");
            rc = py_dump(b, json_array_get(j, i), depth + 1);
        }
        strbuf_putc(b, ']');
        return rc;
    case JSON_STRING:
        return py_string(b, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        strbuf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return 0;
    case JSON_REAL:
        rc = pyjson_format_double(json_real_value(j), num, sizeof num);
        if (rc < 0)
            return -EINVAL;
        strbuf_puts(b, num);
        return 0;
    case JSON_TRUE:
        strbuf_puts(b, "true");
        return 0;
    case JSON_FALSE:
        strbuf_puts(b, "false");
        return 0;
    case JSON_NULL:
        strbuf_puts(b, "null");
        return 0;
    }
    return -EINVAL;
}

int pyjson_append(struct strbuf *b, const json_t *value)
{
    int rc = py_dump(b, value, 0);
    return rc < 0 ? rc : strbuf_error(b);
}

char *pyjson_dumps(const json_t *value)
{
    struct strbuf b = { .max = SIZE_MAX };
    if (pyjson_append(&b, value) < 0) {
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b);
}

json_t *pyjson_real_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *pyjson_string_lossy(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        size_t len = utf8_decode(u + i, n - i, &cp);
        if (len == 0)
            break;
        i += len;
    }
    if (i == n)
        return json_stringn(s, n);

    /* latin-1: every byte is the code point of the same value */
    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    char *buf = malloc(2 * n + 1);
    if (!buf)
        return NULL;
    size_t o = 0;
    for (i = 0; i < n; i++) {
        if (u[i] < 0x80) {
            buf[o++] = (char)u[i];
        } else {
            buf[o++] = (char)(0xc0 | (u[i] >> 6));
            buf[o++] = (char)(0x80 | (u[i] & 0x3f));
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}
