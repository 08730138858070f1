/* gcode.c: the simulated firmware's reading of one received line (see gcode.h): the
 * N/checksum frame, Marlin's verdict on it, comments, the command word and its parameters.
 * The checksum and the framing are the simulator's own, never the daemon's, so a mistake on
 * either side shows up as a rejected line instead of being mirrored. Numbers are parsed by
 * hand because strtod would also accept exponents ("X1E5"), hex and "inf", which a G-code
 * parameter never is. */
#include "gcode.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

size_t sim_gcode_number(const char *s, double *value)
{
    size_t i = 0;
    bool neg = false;
    if (s[i] == '-' || s[i] == '+')
        neg = s[i++] == '-';
    double v = 0;
    size_t digits = 0;
    while (isdigit((unsigned char)s[i])) {
        v = v * 10 + (s[i++] - '0');
        digits++;
    }
    if (s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
        i++;
        double scale = 0.1;
        while (isdigit((unsigned char)s[i])) {
            v += (s[i++] - '0') * scale;
            scale /= 10;
            digits++;
        }
    } else if (s[i] == '.' && digits > 0) {
        i++;    /* "10." is ten */
    }
    if (digits == 0)
        return 0;
    *value = neg ? -v : v;
    return i;
}

unsigned sim_gcode_checksum(const char *s, size_t n)
{
    unsigned x = 0;
    for (const unsigned char *p = (const unsigned char *)s; n > 0; n--)
        x ^= *p++;
    return x;
}

size_t sim_gcode_strip_comment(char *line)
{
    size_t end = 0;
    while (line[end] != '\0' && line[end] != ';')
        end += line[end] == '\\' && line[end + 1] != '\0' ? 2 : 1;
    while (end > 0 && isspace((unsigned char)line[end - 1]))
        end--;
    size_t start = 0;
    while (start < end && isspace((unsigned char)line[start]))
        start++;
    memmove(line, line + start, end - start);
    line[end - start] = '\0';
    return end - start;
}

static bool command_is_m110(const char *cmd, size_t len)
{
    if (len < 4 || (cmd[0] != 'M' && cmd[0] != 'm') || strncmp(cmd + 1, "110", 3) != 0)
        return false;
    return len == 4 || !isdigit((unsigned char)cmd[4]);
}

void sim_gcode_split(const char *line, size_t len, struct sim_gcode_line *l)
{
    memset(l, 0, sizeof *l);
    const char *end = line + len;
    const char *star = NULL;
    for (const char *p = line; p < end; p++)
        if (*p == '*')
            star = p;
    if (star) {
        l->has_checksum = true;
        l->computed = sim_gcode_checksum(line, (size_t)(star - line));
        unsigned long v = 0;
        for (const char *p = star + 1; p < end && isdigit((unsigned char)*p); p++)
            v = v * 10 + (unsigned long)(*p - '0');
        l->checksum = v;
        end = star;
    }
    const char *p = line;
    /* "N-1 M110" (printcore's reset) is accepted like Marlin: the next line is N0 */
    bool negative = p + 2 < end && *p == 'N' && p[1] == '-' && isdigit((unsigned char)p[2]);
    if (p < end && *p == 'N' && ((p + 1 < end && isdigit((unsigned char)p[1])) || negative)) {
        long n = 0;
        p += negative ? 2 : 1;
        while (p < end && isdigit((unsigned char)*p))
            n = n * 10 + (*p++ - '0');
        l->has_n = true;
        l->n = negative ? -n : n;
    }
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    l->cmd = p;
    l->cmd_len = (size_t)(end - p);
    l->is_m110 = command_is_m110(l->cmd, l->cmd_len);
    if (l->is_m110) {
        for (const char *q = l->cmd + 4; q < end; q++) {
            if ((*q == 'N' || *q == 'n') && q + 1 < end && isdigit((unsigned char)q[1])) {
                long n = 0;
                for (q++; q < end && isdigit((unsigned char)*q); q++)
                    n = n * 10 + (*q - '0');
                l->m110_has_n = true;
                l->m110_n = n;
                break;
            }
        }
    }
}

enum sim_line_verdict sim_gcode_check(const struct sim_gcode_line *l, long last_n)
{
    if (!l->has_n)
        return SIM_LINE_OK;
    if (!l->is_m110 && l->n != last_n + 1)
        return SIM_LINE_BAD_NUMBER;
    if (!l->has_checksum)
        return SIM_LINE_NO_CHECKSUM;
    if (l->checksum != l->computed)
        return SIM_LINE_BAD_CHECKSUM;
    return SIM_LINE_OK;
}

long sim_gcode_new_last_n(const struct sim_gcode_line *l, long last_n)
{
    if (l->is_m110 && l->m110_has_n)
        return l->m110_n;
    if (l->has_n)
        return l->n;
    return last_n;
}

bool sim_gcode_command(const char *text, struct sim_gcode_cmd *c)
{
    char letter = (char)toupper((unsigned char)text[0]);
    if (letter != 'G' && letter != 'M' && letter != 'T')
        return false;
    const char *p = text + 1;
    if (!isdigit((unsigned char)*p))
        return false;
    long code = 0;
    while (isdigit((unsigned char)*p)) {
        if (code < 100000)
            code = code * 10 + (*p - '0');
        p++;
    }
    int sub = -1;
    if (*p == '.' && isdigit((unsigned char)p[1]) && letter != 'T') {
        sub = 0;
        for (p++; isdigit((unsigned char)*p); p++)
            if (sub < 1000)
                sub = sub * 10 + (*p - '0');
    }
    c->letter = letter;
    c->code = code;
    c->sub = sub;
    c->args = p;
    return true;
}

bool sim_gcode_param(const char *args, char letter, double *value, bool *has_value)
{
    letter = (char)toupper((unsigned char)letter);
    for (const char *p = args; *p; p++) {
        if (toupper((unsigned char)*p) != letter)
            continue;
        if (p > args && isalpha((unsigned char)p[-1]))
            continue;
        double v = NAN;
        bool got = sim_gcode_number(p + 1, &v) > 0;
        if (value)
            *value = got ? v : NAN;
        if (has_value)
            *has_value = got;
        return true;
    }
    return false;
}

bool sim_gcode_value(const char *args, char letter, double *value)
{
    bool has = false;
    return sim_gcode_param(args, letter, value, &has) && has;
}

const char *sim_gcode_string_arg(const char *args)
{
    while (*args == ' ' || *args == '\t')
        args++;
    return args;
}
