/* scan.c: the text scanning the protocol parsers share: Python's character classes below
 * 0x80, prefix and substring tests, trimming, bounded copies, and numbers matched and
 * converted exactly as the Python patterns and float() of OctoPrint do. Pure. */
#include "scan.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- character classes (ASCII; what Python's \s, \w and \d match below 0x80) ------------- */



/* Case-insensitive substring search; needle is lower case. */
bool scan_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && scan_lower((unsigned char)hay[i]) == (unsigned char)needle[i])
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* Trimmed view of s: returns the start, *len the length without trailing whitespace. */
const char *scan_trim(const char *s, size_t *len)
{
    s = scan_skip_space(s);
    size_t n = strlen(s);
    while (n > 0 && scan_is_space((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* Copies n bytes and a NUL; false (out untouched but for out[0]) if they do not fit. */
bool scan_copy_n(char *out, size_t outsz, const char *s, size_t n)
{
    if (outsz == 0)
        return false;
    if (n >= outsz) {
        out[0] = '\0';
        return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Length of a FLOAT match ([-+]?[0-9]*\.?[0-9]+) at s, or 0. Backtracking makes "21." match
 * "21" and "1.2.3" match "1.2". */
size_t scan_float_len(const char *s)
{
    size_t i = 0, int_digits;
    if (s[i] == '+' || s[i] == '-')
        i++;
    int_digits = i;
    while (scan_is_digit((unsigned char)s[i]))
        i++;
    int_digits = i - int_digits;
    if (s[i] == '.' && scan_is_digit((unsigned char)s[i + 1])) {
        i++;
        while (scan_is_digit((unsigned char)s[i]))
            i++;
        return i;
    }
    return int_digits > 0 ? i : 0;
}

/* Value of a FLOAT match s[0..n), rounded as Python's float() does. Up to 15 significant
 * digits and a power of ten up to 22 (every coordinate, temperature and feed rate a slicer
 * writes) are exact doubles, so one multiplication or division rounds correctly: the per-line
 * cost of streaming stays low. Anything else is rebuilt as "<digits>e<exp>" for strtod, so
 * neither the locale's decimal point nor what strtod accepts beyond FLOAT ("1e5", "0x1A") can
 * change the result; digits beyond the buffer only matter for exact ties, and a sticky
 * trailing 1 keeps the rounding direction of what was cut. */
double scan_float_value(const char *s, size_t n)
{
    static const double exact_pow10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                          1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    char buf[160];
    size_t i = 0, o = 0, kept = 0;
    long exp10 = 0;
    uint64_t mantissa = 0;
    bool neg = false, seen_nonzero = false, cut_nonzero = false, frac = false;

    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    if (neg)
        buf[o++] = '-';
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            frac = true;
            continue;
        }
        if (!seen_nonzero && c == '0') {
            if (frac)
                exp10--;            /* leading zero after the point only scales */
            continue;
        }
        seen_nonzero = true;
        if (kept < 120) {
            buf[o++] = c;
            kept++;
            if (kept <= 15)
                mantissa = mantissa * 10 + (uint64_t)(c - '0');
            if (frac)
                exp10--;
        } else {
            if (!frac)
                exp10++;            /* integer digit that no longer fits */
            if (c != '0')
                cut_nonzero = true;
        }
    }
    if (kept == 0)
        return neg ? -0.0 : 0.0;
    if (kept <= 15 && exp10 >= -22 && exp10 <= 22) {
        double m = (double)mantissa;
        double v = exp10 < 0 ? m / exact_pow10[-exp10] : m * exact_pow10[exp10];
        return neg ? -v : v;
    }
    if (cut_nonzero) {
        buf[o++] = '1';
        exp10--;
    }
    snprintf(buf + o, sizeof buf - o, "e%ld", exp10);
    return strtod(buf, NULL);       /* overflow gives +-HUGE_VAL (inf), like float("1" * 400) */
}

/* [0-9]+ at s into an unsigned long; returns the digit count (0: none), *overflow if it did
 * not fit. */
size_t scan_ulong(const char *s, unsigned long *value, bool *overflow)
{
    size_t i = 0;
    unsigned long v = 0;
    *overflow = false;
    while (scan_is_digit((unsigned char)s[i])) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULONG_MAX - d) / 10)
            *overflow = true;
        else
            v = v * 10 + d;
        i++;
    }
    *value = v;
    return i;
}
