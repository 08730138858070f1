/* protocol_gcode.c: the words of a command about to be sent: its G-code ("G1", "M104",
 * "T"), subcode and parameters. Pure, like protocol.c. */
#include "protocol.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* ---- sent commands ------------------------------------------------------------------------------- */

/* ^\s*([GM]\d+(\.\d+)?|T\d+): start of the code, its length and the subcode digits. */
static bool gcode_span(const char *cmd, const char **code, size_t *len, const char **sub)
{
    const char *p = scan_skip_space(cmd);
    *sub = NULL;
    if ((*p == 'G' || *p == 'M') && scan_is_digit((unsigned char)p[1])) {
        size_t n = 1;
        while (scan_is_digit((unsigned char)p[n]))
            n++;
        if (p[n] == '.' && scan_is_digit((unsigned char)p[n + 1]))
            *sub = p + n + 1;
        *code = p;
        *len = n;
        return true;
    }
    if (*p == 'T' && scan_is_digit((unsigned char)p[1])) {
        *code = p;
        *len = 1;
        return true;
    }
    return false;
}

size_t protocol_gcode_of(const char *cmd, char *out, size_t outsz)
{
    const char *code, *sub;
    size_t len;
    if (!gcode_span(cmd, &code, &len, &sub) || !scan_copy_n(out, outsz, code, len))
        return 0;
    return len;
}

bool protocol_gcode_subcode(const char *cmd, unsigned long *subcode)
{
    const char *code, *sub;
    size_t len;
    bool overflow;
    if (!gcode_span(cmd, &code, &len, &sub) || !sub)
        return false;
    scan_ulong(sub, subcode, &overflow);
    return !overflow;
}

/* The first index where (^|[^A-Za-z])[Ll] is followed by what value_len accepts. */
static const char *find_param(const char *cmd, char letter, size_t (*value_len)(const char *))
{
    unsigned char l = scan_lower((unsigned char)letter);
    for (size_t i = 0; cmd[i]; i++) {
        if (scan_lower((unsigned char)cmd[i]) != l || (i > 0 && scan_is_alpha((unsigned char)cmd[i - 1])))
            continue;
        if (value_len(cmd + i + 1) > 0)
            return cmd + i + 1;
    }
    return NULL;
}

static size_t digits_len(const char *s)
{
    size_t n = 0;
    while (scan_is_digit((unsigned char)s[n]))
        n++;
    return n;
}

bool protocol_param_float(const char *cmd, char letter, double *value)
{
    if (!scan_is_alpha((unsigned char)letter))
        return false;
    const char *v = find_param(cmd, letter, scan_float_len);
    if (!v)
        return false;
    *value = scan_float_value(v, scan_float_len(v));
    return true;
}

bool protocol_param_int(const char *cmd, char letter, long *value)
{
    if (!scan_is_alpha((unsigned char)letter))
        return false;
    const char *v = find_param(cmd, letter, digits_len);
    if (!v)
        return false;
    unsigned long u;
    bool overflow;
    scan_ulong(v, &u, &overflow);
    if (overflow || u > LONG_MAX)
        return false;
    *value = (long)u;
    return true;
}
