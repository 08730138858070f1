/* scan.h: text scanning shared by the protocol parsers (scan.c). Pure. */
#ifndef PRINTBRIDGE_PRINTER_SCAN_H
#define PRINTBRIDGE_PRINTER_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* ASCII character classes: what Python's \s, \w and \d match below 0x80 */
static inline bool scan_is_space(unsigned char c)
{
    /* Python's \s and str.strip() also treat the information separators 0x1c-0x1f as space */
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
static inline bool scan_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool scan_is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool scan_is_alpha(unsigned char c) { return scan_is_upper(c) || (c >= 'a' && c <= 'z'); }
static inline bool scan_is_word(unsigned char c) { return scan_is_alpha(c) || scan_is_digit(c) || c == '_'; }
static inline unsigned char scan_lower(unsigned char c) { return scan_is_upper(c) ? (unsigned char)(c + 32) : c; }

/* Inline: the parsers call these on every received line, mostly with constant prefixes. */
static inline bool scan_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline bool scan_starts_with_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (scan_lower((unsigned char)*s) != scan_lower((unsigned char)*prefix))
            return false;
    return true;
}

/* Case-insensitive substring search; needle is lower case. */
bool scan_contains_ci(const char *hay, const char *needle);
static inline const char *scan_skip_space(const char *s)
{
    while (scan_is_space((unsigned char)*s))
        s++;
    return s;
}
/* Trimmed view of s: returns the start, *len the length without trailing whitespace. */
const char *scan_trim(const char *s, size_t *len);
/* Copies n bytes and a NUL; false (out untouched but for out[0]) if they do not fit. */
bool scan_copy_n(char *out, size_t outsz, const char *s, size_t n);
/* Length of a FLOAT match ([-+]?[0-9]*\.?[0-9]+) at s, or 0. */
size_t scan_float_len(const char *s);
/* Value of a FLOAT match s[0..n), rounded as Python's float() does. */
double scan_float_value(const char *s, size_t n);
/* [0-9]+ at s into an unsigned long; returns the digit count (0: none), *overflow if it did
 * not fit. */
size_t scan_ulong(const char *s, unsigned long *value, bool *overflow);

#endif
