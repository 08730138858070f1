/* protocol.c: owns the meaning of received printer lines and of sent command parameters:
 * classification, temperatures, positions, firmware and capability lines, resends, errors,
 * action commands, SD-card lines and G-code parameters (serial-protocol.md 3, 4, 7-9, 12).
 *
 * Upstream describes these with Python regular expressions; POSIX regex has neither \d nor
 * lazy or named groups, so each pattern is a small hand-written scanner that reproduces what
 * re.search/re.finditer would match, including where a failed optional group backtracks.
 * Everything here is pure: no I/O, no allocation, no state outside the arguments. Output
 * buffers are bounded; data that does not fit is dropped or refused, never cut silently
 * (protocol_error_text, a void function, is the one documented exception). */
#include "protocol.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- character classes (ASCII; what Python's \s, \w and \d match below 0x80) ------------- */

static bool is_space(unsigned char c)
{
    /* Python's \s and str.strip() also treat the information separators 0x1c-0x1f as space */
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(unsigned char c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
static bool is_word(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
static unsigned char lower(unsigned char c) { return is_upper(c) ? (unsigned char)(c + 32) : c; }

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower((unsigned char)*s) != lower((unsigned char)*prefix))
            return false;
    return true;
}

/* Case-insensitive substring search; needle is lower case. */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && lower((unsigned char)hay[i]) == (unsigned char)needle[i])
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

static const char *skip_space(const char *s)
{
    while (is_space((unsigned char)*s))
        s++;
    return s;
}

/* Trimmed view of s: returns the start, *len the length without trailing whitespace. */
static const char *trim(const char *s, size_t *len)
{
    s = skip_space(s);
    size_t n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* Copies n bytes and a NUL; false (out untouched but for out[0]) if they do not fit. */
static bool copy_n(char *out, size_t outsz, const char *s, size_t n)
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
static size_t scan_float(const char *s)
{
    size_t i = 0, int_digits;
    if (s[i] == '+' || s[i] == '-')
        i++;
    int_digits = i;
    while (is_digit((unsigned char)s[i]))
        i++;
    int_digits = i - int_digits;
    if (s[i] == '.' && is_digit((unsigned char)s[i + 1])) {
        i++;
        while (is_digit((unsigned char)s[i]))
            i++;
        return i;
    }
    return int_digits > 0 ? i : 0;
}

/* Value of a FLOAT match s[0..n), rounded as Python's float() does. The text is rebuilt as
 * "<digits>e<exp>" so neither the locale's decimal point nor what strtod accepts beyond FLOAT
 * ("1e5", "0x1A") can change the result. Digits beyond the buffer only matter for exact
 * ties; a sticky trailing 1 keeps the rounding direction of what was cut. */
static double float_value(const char *s, size_t n)
{
    char buf[160];
    size_t i = 0, o = 0, kept = 0;
    long exp10 = 0;
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
    if (cut_nonzero) {
        buf[o++] = '1';
        exp10--;
    }
    snprintf(buf + o, sizeof buf - o, "e%ld", exp10);
    return strtod(buf, NULL);       /* overflow gives +-HUGE_VAL (inf), like float("1" * 400) */
}

/* [0-9]+ at s into an unsigned long; returns the digit count (0: none), *overflow if it did
 * not fit. */
static size_t scan_ulong(const char *s, unsigned long *value, bool *overflow)
{
    size_t i = 0;
    unsigned long v = 0;
    *overflow = false;
    while (is_digit((unsigned char)s[i])) {
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

/* ---- classification ---------------------------------------------------------------------- */

bool protocol_has_position(const char *line)
{
    return strstr(line, "X:") && strstr(line, "Y:") && strstr(line, "Z:");
}

bool protocol_has_temperatures(const char *line)
{
    if (protocol_has_position(line))
        return false;       /* upstream checks temperatures only in the position test's else */
    if (strstr(line, " T:") || starts_with(line, "T:") || strstr(line, " T0:") ||
        starts_with(line, "T0:"))
        return true;
    return (strstr(line, " B:") || starts_with(line, "B:")) && !strstr(line, "A:");
}

static bool is_error_line(const char *line)
{
    return starts_with_ci(line, "error:") || starts_with(line, "!!") || starts_with(line, "fatal:");
}

static bool is_busy_line(const char *line)
{
    return starts_with(line, "busy:") || starts_with(line, "echo:busy:");
}

static bool is_resend_line(const char *line)
{
    return starts_with_ci(line, "resend") || starts_with_ci(line, "rs");
}

/* For a "//" line: the start of the action text after "action:", or NULL. */
static const char *action_text(const char *line)
{
    if (!starts_with(line, "//"))
        return NULL;
    const char *p = skip_space(line + 2);
    return starts_with(p, "action:") ? p + 7 : NULL;
}

enum protocol_kind protocol_classify(const char *line)
{
    if (line[0] == '\0')
        return PROTOCOL_OTHER;
    /* upstream's order: busy and "//" lines are taken out first, then errors, then the ok /
     * resend branch, then position, temperature, capability and firmware in one if-chain */
    if (is_busy_line(line))
        return PROTOCOL_BUSY;
    if (starts_with(line, "//"))
        return action_text(line) ? PROTOCOL_ACTION : PROTOCOL_DEBUG;
    if (is_error_line(line))
        return PROTOCOL_ERROR;
    if (starts_with(line, "ok"))
        return PROTOCOL_OK;
    if (strcmp(line, "wait") == 0)
        return PROTOCOL_WAIT;
    if (is_resend_line(line))
        return PROTOCOL_RESEND;
    if (strcmp(line, "start") == 0)
        return PROTOCOL_START;
    if (starts_with(line, "echo:"))
        return PROTOCOL_ECHO;
    if (protocol_has_position(line))
        return PROTOCOL_POSITION;
    if (protocol_has_temperatures(line))
        return PROTOCOL_TEMPERATURE;
    if (starts_with_ci(line, "cap:"))
        return PROTOCOL_CAPABILITY;
    if (strstr(line, "NAME:") || starts_with(line, "NAME."))
        return PROTOCOL_FIRMWARE;
    return PROTOCOL_OTHER;
}

/* ---- temperatures ------------------------------------------------------------------------ */

/* One finditer match of
 *   (^|\s)(?P<sensor>B|C|T(?P<toolnum>\d*)|\w+):\s*(?P<actual>FLOAT)(\s*\/?\s*(?P<target>FLOAT))?
 * The sensor alternatives all need ':' right after them and ':' is no \w, so whichever one
 * matches, the sensor is the whole \w run before the ':'. */
struct raw_temp {
    const char *name;
    size_t len;
    double actual, target;
    bool has_target;
};

static bool match_temp_at(const char *line, size_t pos, struct raw_temp *m, size_t *end)
{
    const char *starts[2];
    int nstarts = 0;
    if (pos == 0)
        starts[nstarts++] = line;                       /* the ^ alternative */
    if (is_space((unsigned char)line[pos]))
        starts[nstarts++] = line + pos + 1;             /* the \s alternative */

    for (int k = 0; k < nstarts; k++) {
        const char *s = starts[k], *p = s;
        while (is_word((unsigned char)*p))
            p++;
        if (p == s || *p != ':')
            continue;
        const char *a = skip_space(p + 1);
        size_t alen = scan_float(a);
        if (alen == 0)
            continue;
        m->name = s;
        m->len = (size_t)(p - s);
        m->actual = float_value(a, alen);
        m->has_target = false;
        m->target = 0.0;
        const char *q = a + alen, *t = skip_space(q);
        if (*t == '/')
            t = skip_space(t + 1);
        size_t tlen = scan_float(t);
        if (tlen > 0) {
            m->has_target = true;
            m->target = float_value(t, tlen);
            q = t + tlen;
        }
        *end = (size_t)(q - line);
        return true;
    }
    return false;
}

/* Tool number of a sensor name "T<n>" in canonical decimal with n <= PROTOCOL_MAX_TOOL,
 * -1 for a plain "T", -2 for anything else that starts with T and digits (dropped), -3 for a
 * name that is no tool. */
static int tool_number(const char *name, size_t len)
{
    if (len == 0 || name[0] != 'T')
        return -3;
    if (len == 1)
        return -1;
    for (size_t i = 1; i < len; i++)
        if (!is_digit((unsigned char)name[i]))
            return -3;
    if ((name[1] == '0' && len > 2) || len > 4)
        return -2;
    int n = 0;
    for (size_t i = 1; i < len; i++)
        n = n * 10 + (name[i] - '0');
    return n <= PROTOCOL_MAX_TOOL ? n : -2;
}

#define RAW_MAX 64

static int find_raw(const struct raw_temp *raw, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (raw[i].len == len && memcmp(raw[i].name, name, len) == 0)
            return i;
    return -1;
}

static void put_temp(struct protocol_temps *out, const char *name, size_t len,
                     const struct raw_temp *v)
{
    struct protocol_temp *t = &out->t[out->count++];
    memcpy(t->sensor, name, len);
    t->sensor[len] = '\0';
    t->actual = v->actual;
    t->target = v->has_target ? v->target : 0.0;
    t->has_target = v->has_target;
}

int protocol_parse_temperatures(const char *line, int current_tool, struct protocol_temps *out)
{
    struct raw_temp raw[RAW_MAX] = { { 0 } };     /* zeroed only to quiet gcc's flow analysis */
    int nraw = 0, max_tool = 0;
    bool dropped_t_key = false;         /* a "T..." key that was parsed but not kept */
    size_t pos = 0, len = strlen(line);

    if (current_tool < 0)
        current_tool = 0;
    memset(out, 0, sizeof *out);

    while (pos < len && nraw < RAW_MAX) {
        struct raw_temp m;
        size_t end;
        if (!match_temp_at(line, pos, &m, &end)) {
            pos++;
            continue;
        }
        pos = end;
        if (find_raw(raw, nraw, m.name, m.len) >= 0)
            continue;                                   /* only the first occurrence counts */
        int tool = tool_number(m.name, m.len);
        if (tool == -2 || (tool < 0 && m.len >= PROTOCOL_SENSOR_NAME)) {
            dropped_t_key = dropped_t_key || m.name[0] == 'T';
            continue;
        }
        if (tool > max_tool)
            max_tool = tool;
        raw[nraw++] = m;
    }

    /* canonicalize_temperatures: upstream counts every key starting with "T" (even a custom
     * "TXYZ") as a reported extruder when deciding what a bare "T" means */
    int bare = find_raw(raw, nraw, "T", 1), t_keys = dropped_t_key ? 1 : 0;
    for (int i = 0; i < nraw; i++)
        if (raw[i].name[0] == 'T')
            t_keys++;
    int bare_as = -1;                                   /* tool number T is stored as */
    if (bare >= 0) {
        char cur[16];
        int curlen = snprintf(cur, sizeof cur, "T%d", current_tool);
        if (t_keys == 1)
            bare_as = current_tool;
        else if (find_raw(raw, nraw, "T0", 2) >= 0)
            bare_as = find_raw(raw, nraw, cur, (size_t)curlen) >= 0 ? -1 : current_tool;
        else
            bare_as = 0;                                /* Smoothieware: T is T0 */
    }

    /* tools in ascending order, then B, C and the custom sensors in order of appearance; the
     * caller's current tool may lie beyond PROTOCOL_MAX_TOOL and then sorts last */
    for (int n = 0; n <= PROTOCOL_MAX_TOOL; n++) {
        char name[16];
        int nlen = snprintf(name, sizeof name, "T%d", n);
        int i = find_raw(raw, nraw, name, (size_t)nlen);
        if (i >= 0)
            put_temp(out, name, (size_t)nlen, &raw[i]);
        else if (bare_as == n)
            put_temp(out, name, (size_t)nlen, &raw[bare]);
    }
    if (bare_as > PROTOCOL_MAX_TOOL) {
        char name[16];
        int nlen = snprintf(name, sizeof name, "T%d", bare_as);
        put_temp(out, name, (size_t)nlen, &raw[bare]);
    }
    int b = find_raw(raw, nraw, "B", 1), c = find_raw(raw, nraw, "C", 1);
    if (b >= 0)
        put_temp(out, "B", 1, &raw[b]);
    if (c >= 0)
        put_temp(out, "C", 1, &raw[c]);
    for (int i = 0; i < nraw && out->count < PROTOCOL_MAX_SENSORS; i++) {
        if (i == b || i == c || tool_number(raw[i].name, raw[i].len) >= -1)
            continue;
        put_temp(out, raw[i].name, raw[i].len, &raw[i]);
    }
    out->max_tool = max_tool > current_tool ? max_tool : current_tool;
    return out->count;
}

int protocol_sensor_key(const char *sensor, char *out, size_t outsz)
{
    int n;
    if (strcmp(sensor, "B") == 0)
        n = snprintf(out, outsz, "bed");
    else if (strcmp(sensor, "C") == 0)
        n = snprintf(out, outsz, "chamber");
    else if (sensor[0] == 'T' && is_digit((unsigned char)sensor[1]) &&
             strspn(sensor + 1, "0123456789") == strlen(sensor + 1))
        n = snprintf(out, outsz, "tool%s", sensor + 1);
    else
        n = snprintf(out, outsz, "%s", sensor);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return -1;
    }
    return n;
}

int protocol_parse_repetier_target(const char *line, char *sensor, size_t sensorsz, double *target)
{
    /* upstream uses re.match: both forms must start the line */
    const char *p;
    char name[16];
    int nlen;
    if (starts_with(line, "TargetExtr")) {
        unsigned long tool;
        bool overflow;
        size_t d = scan_ulong(line + 10, &tool, &overflow);
        if (d == 0 || overflow || tool > INT_MAX || line[10 + d] != ':')
            return -1;
        p = line + 10 + d + 1;
        nlen = snprintf(name, sizeof name, "T%lu", tool);
    } else if (starts_with(line, "TargetBed:")) {
        p = line + 10;
        nlen = snprintf(name, sizeof name, "B");
    } else {
        return -1;
    }
    size_t flen = scan_float(p);
    if (flen == 0 || !copy_n(sensor, sensorsz, name, (size_t)nlen))
        return -1;
    *target = float_value(p, flen);
    return 0;
}

/* ---- position ------------------------------------------------------------------------------ */

/* "<letter>:\s*FLOAT" at p; returns the end or NULL. */
static const char *axis_at(const char *p, char letter, double *value)
{
    if (p[0] != letter || p[1] != ':')
        return NULL;
    p = skip_space(p + 2);
    size_t n = scan_float(p);
    if (n == 0)
        return NULL;
    *value = float_value(p, n);
    return p + n;
}

/* E(?P<id>\d+):\s*FLOAT at p; returns the end or NULL. */
static const char *extruder_at(const char *p, unsigned long *id, bool *id_overflow, double *value)
{
    if (p[0] != 'E')
        return NULL;
    size_t d = scan_ulong(p + 1, id, id_overflow);
    if (d == 0 || p[1 + d] != ':')
        return NULL;
    p = skip_space(p + 1 + d + 1);
    size_t n = scan_float(p);
    if (n == 0)
        return NULL;
    *value = float_value(p, n);
    return p + n;
}

/* regex_position at one "X:" occurrence:
 *   X:\s*x\s*Y:\s*y\s*Z:\s*z\s*((E:\s*e)|(E\d+:\s*FLOAT\s*)+) */
static bool position_at(const char *p, struct protocol_position *out)
{
    struct protocol_position r;
    memset(&r, 0, sizeof r);
    if (!(p = axis_at(p, 'X', &r.x)) || !(p = axis_at(skip_space(p), 'Y', &r.y)) ||
        !(p = axis_at(skip_space(p), 'Z', &r.z)))
        return false;
    p = skip_space(p);
    if (axis_at(p, 'E', &r.e)) {
        r.has_e = true;
        *out = r;
        return true;
    }
    for (int i = 0; i < PROTOCOL_MAX_EXTRUDERS; i++)
        r.en[i] = NAN;
    bool any = false;
    for (;;) {
        unsigned long id;
        bool overflow;
        double v;
        const char *q = extruder_at(p, &id, &overflow, &v);
        if (!q)
            break;
        any = true;
        if (!overflow && id < PROTOCOL_MAX_EXTRUDERS) {
            r.en[id] = v;                       /* a repeated id overwrites, as a dict would */
            if ((int)id + 1 > r.extruders)
                r.extruders = (int)id + 1;
        }
        p = skip_space(q);
    }
    if (!any)
        return false;
    *out = r;
    return true;
}

bool protocol_parse_position(const char *line, struct protocol_position *out)
{
    /* re.search: the first "X:" from which the whole pattern matches */
    for (const char *p = strstr(line, "X:"); p; p = strstr(p + 1, "X:"))
        if (position_at(p, out))
            return true;
    return false;
}

/* ---- firmware and capabilities ------------------------------------------------------------- */

/* The firmware splitter (^|\s+)([A-Z][A-Z0-9_]*): at position i of the (trimmed) line, with
 * Malyan's "NAME." read as "NAME:". Returns true with the key span and the match end. */
static char fw_char(const char *s, size_t i, bool malyan)
{
    return (malyan && i == 4) ? ':' : s[i];
}

static bool fw_key_at(const char *s, size_t len, size_t i, bool malyan, size_t *key, size_t *keylen,
                      size_t *end)
{
    size_t k = i;
    if (i > 0 || !is_upper((unsigned char)fw_char(s, 0, malyan))) {
        if (!is_space((unsigned char)s[i]))
            return false;
        while (k < len && is_space((unsigned char)s[k]))
            k++;
    }
    if (k >= len || !is_upper((unsigned char)fw_char(s, k, malyan)))
        return false;
    size_t e = k + 1;
    while (e < len) {
        unsigned char c = (unsigned char)fw_char(s, e, malyan);
        if (!is_upper(c) && !is_digit(c) && c != '_')
            break;
        e++;
    }
    if (e >= len || fw_char(s, e, malyan) != ':')
        return false;
    *key = k;
    *keylen = e - k;
    *end = e + 1;
    return true;
}

static void fw_store(struct protocol_firmware *out, const char *key, size_t keylen,
                     const char *value, size_t valuelen)
{
    while (valuelen > 0 && is_space((unsigned char)*value)) {
        value++;
        valuelen--;
    }
    while (valuelen > 0 && is_space((unsigned char)value[valuelen - 1]))
        valuelen--;
    if (keylen >= sizeof out->f[0].key || valuelen >= sizeof out->f[0].value)
        return;
    struct protocol_field *f = NULL;
    for (int i = 0; i < out->count; i++)
        if (strlen(out->f[i].key) == keylen && memcmp(out->f[i].key, key, keylen) == 0)
            f = &out->f[i];
    if (!f) {
        if (out->count >= PROTOCOL_MAX_FIELDS)
            return;
        f = &out->f[out->count++];
        memcpy(f->key, key, keylen);
        f->key[keylen] = '\0';
    }
    memcpy(f->value, value, valuelen);
    f->value[valuelen] = '\0';
}

static const char *fw_get(const struct protocol_firmware *fw, const char *key)
{
    for (int i = 0; i < fw->count; i++)
        if (strcmp(fw->f[i].key, key) == 0)
            return fw->f[i].value;
    return NULL;
}

int protocol_parse_firmware(const char *line, struct protocol_firmware *out)
{
    bool malyan = starts_with(line, "NAME.");   /* upstream tests the untrimmed line */
    size_t len;
    const char *s = trim(line, &len);
    size_t key = 0, keylen = 0, vstart = 0, i = 0;
    bool have_key = false;

    memset(out, 0, sizeof *out);
    while (i < len) {
        size_t k, kl, end;
        if (!fw_key_at(s, len, i, malyan, &k, &kl, &end)) {
            /* every start inside one whitespace run reaches the same candidate key */
            if (is_space((unsigned char)s[i]))
                while (i < len && is_space((unsigned char)s[i]))
                    i++;
            else
                i++;
            continue;
        }
        if (have_key)
            fw_store(out, s + key, keylen, s + vstart, i - vstart);
        have_key = true;
        key = k;
        keylen = kl;
        vstart = end;
        i = end;
    }
    if (have_key)
        fw_store(out, s + key, keylen, s + vstart, len - vstart);

    /* Malyan's key is written "NAME" in the output even where the line had "NAME." */
    const char *name = fw_get(out, "FIRMWARE_NAME");
    if (name) {
        snprintf(out->name, sizeof out->name, "%s", name);
    } else {
        const char *n = fw_get(out, "NAME"), *ver = fw_get(out, "VER");
        size_t nl = n ? strlen(n) : 0, vl = ver ? strlen(ver) : 0;
        /* a name that would not fit stays empty rather than cut */
        if (n && vl > 0 && contains_ci(n, "malyan") && nl + 1 + vl < sizeof out->name) {
            memcpy(out->name, n, nl);
            out->name[nl] = ' ';
            memcpy(out->name + nl + 1, ver, vl + 1);
        }
    }
    return out->count;
}

int protocol_parse_capability(const char *line, char *name, size_t namesz, bool *enabled)
{
    size_t len;
    const char *s = trim(line, &len);
    if (len >= 4 && starts_with_ci(s, "cap:")) {
        s += 4;
        len -= 4;
    }
    const char *colon = memchr(s, ':', len);
    if (!colon || colon == s)
        return -1;
    size_t nlen = (size_t)(colon - s), flen = len - nlen - 1;
    if (flen != 1 || (colon[1] != '0' && colon[1] != '1'))
        return -1;                              /* also refuses a third field */
    if (!copy_n(name, namesz, s, nlen))
        return -1;
    for (size_t i = 0; i < nlen; i++)
        if (name[i] >= 'a' && name[i] <= 'z')
            name[i] = (char)(name[i] - 32);
    *enabled = colon[1] == '1';
    return 0;
}

/* ---- resend ------------------------------------------------------------------------------------ */

int protocol_parse_resend(const char *line, unsigned long *n)
{
    size_t len;
    const char *s = trim(line, &len);
    if (!is_resend_line(s))
        return -1;
    /* the first match of (N|N:)?(?P<n>\d+) is always the first digit run */
    for (size_t i = 0; i < len; i++) {
        if (is_digit((unsigned char)s[i])) {
            bool overflow;
            scan_ulong(s + i, n, &overflow);
            return overflow ? -1 : 0;
        }
    }
    return -1;
}

/* ---- errors -------------------------------------------------------------------------------------- */

static const char *const recoverable_errors[] = {
    "no line number with checksum", "missing linenumber",
};
static const char *const resend_errors[] = {
    "line number", "linenumber", "checksum", "format error", "expected line",
};
static const char *const sd_errors[] = {
    "volume.init", "openroot", "workdir", "error writing to file", "cannot open", "open failed",
    "cannot enter",
};
/* regex_marlinKillError, case-sensitive as upstream */
static const char *const kill_errors[] = {
    "Heating failed", "Thermal Runaway", "Thermal Malfunction", "MAXTEMP triggered",
    "MINTEMP triggered", "Invalid extruder number", "Watchdog barked", "KILL caused",
};

static bool contains_any_ci(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (contains_ci(s, list[i]))
            return true;
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum protocol_error_class protocol_classify_error(const char *line)
{
    const char *s = skip_space(line);
    if (!is_error_line(s))
        return PROTOCOL_ERROR_NONE;
    if (contains_any_ci(s, recoverable_errors, COUNT(recoverable_errors)))
        return PROTOCOL_ERROR_RECOVERABLE;
    if (contains_any_ci(s, resend_errors, COUNT(resend_errors)))
        return PROTOCOL_ERROR_RESEND;
    if (contains_any_ci(s, sd_errors, COUNT(sd_errors)))
        return PROTOCOL_ERROR_SD;
    if (contains_ci(s, "unknown command"))
        return PROTOCOL_ERROR_UNKNOWN_COMMAND;
    return PROTOCOL_ERROR_FATAL;
}

void protocol_error_text(const char *line, char *out, size_t outsz)
{
    size_t len;
    const char *s = trim(line, &len);
    if (outsz == 0)
        return;
    if (starts_with_ci(s, "error:")) {
        s += 6;
        len -= 6;
    } else if (starts_with(s, "!!")) {
        s += 2;
        len -= 2;
    }
    while (len > 0 && is_space((unsigned char)*s)) {
        s++;
        len--;
    }
    if (len >= outsz) {
        len = outsz - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;                              /* do not split a UTF-8 sequence */
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

bool protocol_error_needs_next_line(const char *line)
{
    const char *s = skip_space(line);
    if (!is_error_line(s))
        return false;
    for (size_t i = 0; i < COUNT(kill_errors); i++)
        if (strstr(s, kill_errors[i]))
            return true;
    return false;
}

bool protocol_error_is_split(const char *line)
{
    /* regex_minMaxError "Error:[0-9]\n" with re.match, on a line whose newline is gone */
    return starts_with(line, "Error:") && is_digit((unsigned char)line[6]) && line[7] == '\0';
}

int protocol_error_join(const char *first, const char *second, char *out, size_t outsz)
{
    size_t alen, blen;
    const char *a = trim(first, &alen), *b = trim(second, &blen);
    if (starts_with_ci(b, "error:")) {
        b += 6;
        blen -= 6;
        while (blen > 0 && is_space((unsigned char)*b)) {
            b++;
            blen--;
        }
    }
    if (outsz == 0 || alen + 3 + blen >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return -1;
    }
    memcpy(out, a, alen);
    memcpy(out + alen, " - ", 3);
    memcpy(out + alen + 3, b, blen);
    out[alen + 3 + blen] = '\0';
    return (int)(alen + 3 + blen);
}

const char *protocol_error_faq(const char *text)
{
    static const char *const probing[] = {
        "probing failed", "bed leveling", "reference point", "bltouch",
    };
    if (contains_ci(text, "mintemp"))
        return "firmware-mintemp";
    if (contains_ci(text, "maxtemp"))
        return "firmware-maxtemp";
    if (contains_ci(text, "runaway"))
        return "firmware-thermal-runaway";
    if (contains_ci(text, "heating failed"))
        return "firmware-heating-failed";
    if (contains_any_ci(text, probing, COUNT(probing)))
        return "firmware-probing-failed";
    return NULL;
}

/* ---- action commands ---------------------------------------------------------------------------- */

int protocol_parse_action(const char *line, char *name, size_t namesz, char *params, size_t paramsz)
{
    const char *a = action_text(line);
    if (!a)
        return -1;
    size_t len;
    a = trim(a, &len);
    const char *sp = memchr(a, ' ', len);
    size_t nlen = sp ? (size_t)(sp - a) : len;
    size_t plen;
    const char *p = sp ? trim(sp, &plen) : a + len;
    if (!sp)
        plen = 0;
    if (nlen == 0 || !copy_n(name, namesz, a, nlen) || !copy_n(params, paramsz, p, plen))
        return -1;
    return 0;
}

/* ---- SD card ------------------------------------------------------------------------------------- */

int protocol_parse_sd_progress(const char *line, unsigned long *current, unsigned long *total)
{
    /* regex_sdPrintingByte (?P<current>[0-9]+)/(?P<total>[0-9]+), searched */
    for (const char *p = line; *p; p++) {
        if (!is_digit((unsigned char)*p) || (p > line && is_digit((unsigned char)p[-1])))
            continue;
        bool o1, o2;
        size_t d1 = scan_ulong(p, current, &o1);
        if (p[d1] != '/' || !is_digit((unsigned char)p[d1 + 1]))
            continue;
        scan_ulong(p + d1 + 1, total, &o2);
        return (o1 || o2) ? -1 : 0;
    }
    return -1;
}

/* \s+Size:\s*\d+ at p; returns the start of the digits or NULL. */
static const char *size_tail_at(const char *p)
{
    if (!is_space((unsigned char)*p))
        return NULL;
    p = skip_space(p);
    if (!starts_with(p, "Size:"))
        return NULL;
    p = skip_space(p + 5);
    return is_digit((unsigned char)*p) ? p : NULL;
}

static int file_opened_result(const char *start, const char *end, const char *digits,
                              char *name, size_t namesz, unsigned long *size)
{
    bool overflow;
    scan_ulong(digits, size, &overflow);
    if (overflow || !copy_n(name, namesz, start, (size_t)(end - start)))
        return -1;
    return 0;
}

int protocol_parse_file_opened(const char *line, char *name, size_t namesz, unsigned long *size)
{
    /* regex_sdFileOpened File opened:\s*(?P<name>.*?)\s+Size:\s*(?P<size>\d+), searched.
     * Only the first "File opened:" needs trying: a later one could only find a tail at
     * positions already tested from the first. */
    const char *p = strstr(line, "File opened:");
    if (!p)
        return -1;
    const char *n = p + 12, *ns = skip_space(n), *digits;
    /* the lazy name ends at the first place the tail matches; every start inside one
     * whitespace run leads to the same tail, so each run is tested once */
    for (const char *e = ns; *e;) {
        if ((digits = size_tail_at(e)))
            return file_opened_result(ns, e, digits, name, namesz, size);
        if (is_space((unsigned char)*e))
            e = skip_space(e);
        else
            e++;
    }
    /* then \s* gives back one space: an empty name before "<spaces>Size:" */
    if (ns > n && (digits = size_tail_at(ns - 1)))
        return file_opened_result(ns - 1, ns - 1, digits, name, namesz, size);
    return -1;
}

/* "0x" + 1-8 hex digits: the M20 timestamp form. */
static bool parse_m20_timestamp(const char *s, size_t len, unsigned long *value)
{
    if (len < 3 || len > 10 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    unsigned long v = 0;
    for (size_t i = 2; i < len; i++) {
        unsigned char c = lower((unsigned char)s[i]);
        if (is_digit(c))
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
        while (i < len && is_space((unsigned char)s[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        if (n == max - 1) {
            size_t end = len;
            while (end > start && is_space((unsigned char)s[end - 1]))
                end--;
            f[n] = s + start;
            flen[n++] = end - start;
            break;
        }
        while (i < len && !is_space((unsigned char)s[i]))
            i++;
        f[n] = s + start;
        flen[n++] = i - start;
    }
    return n;
}

int protocol_parse_file_list_line(const char *line, struct protocol_sd_entry *out)
{
    size_t len;
    const char *s = trim(line, &len);
    const char *f[4];
    size_t fl[4];
    const char *longname = NULL;
    size_t longlen = 0;

    memset(out, 0, sizeof *out);
    int n = split_fields(s, len, 4, f, fl);
    if (n == 0)
        return -1;
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
    if (!copy_n(out->name, sizeof out->name, f[0], fl[0]))
        return -1;
    if (longname && !copy_n(out->longname, sizeof out->longname, longname, longlen))
        return -1;
    return 0;
}

long long protocol_m20_timestamp_to_unix(unsigned long timestamp)
{
    unsigned date = (unsigned)(timestamp >> 16) & 0xffff, tod = (unsigned)timestamp & 0xffff;
    long long y = 1980 + (date >> 9), m = (date >> 5) & 0x0f, d = date & 0x1f;
    long long hh = tod >> 11, mm = (tod >> 5) & 0x3f, ss = (tod & 0x1f) * 2;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || hh > 23 || mm > 59 || ss > 59)
        return -1;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
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
    for (size_t i = 0; i < COUNT(exts); i++) {
        size_t n = strlen(exts[i]);
        if (strlen(dot + 1) == n && starts_with_ci(dot + 1, exts[i]))
            return true;
    }
    return false;
}

/* ---- sent commands ------------------------------------------------------------------------------- */

/* ^\s*([GM]\d+(\.\d+)?|T\d+): start of the code, its length and the subcode digits. */
static bool gcode_span(const char *cmd, const char **code, size_t *len, const char **sub)
{
    const char *p = skip_space(cmd);
    *sub = NULL;
    if ((*p == 'G' || *p == 'M') && is_digit((unsigned char)p[1])) {
        size_t n = 1;
        while (is_digit((unsigned char)p[n]))
            n++;
        if (p[n] == '.' && is_digit((unsigned char)p[n + 1]))
            *sub = p + n + 1;
        *code = p;
        *len = n;
        return true;
    }
    if (*p == 'T' && is_digit((unsigned char)p[1])) {
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
    if (!gcode_span(cmd, &code, &len, &sub) || !copy_n(out, outsz, code, len))
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
    unsigned char l = lower((unsigned char)letter);
    for (size_t i = 0; cmd[i]; i++) {
        if (lower((unsigned char)cmd[i]) != l || (i > 0 && is_alpha((unsigned char)cmd[i - 1])))
            continue;
        if (value_len(cmd + i + 1) > 0)
            return cmd + i + 1;
    }
    return NULL;
}

static size_t digits_len(const char *s)
{
    size_t n = 0;
    while (is_digit((unsigned char)s[n]))
        n++;
    return n;
}

bool protocol_param_float(const char *cmd, char letter, double *value)
{
    if (!is_alpha((unsigned char)letter))
        return false;
    const char *v = find_param(cmd, letter, scan_float);
    if (!v)
        return false;
    *value = float_value(v, scan_float(v));
    return true;
}

bool protocol_param_int(const char *cmd, char letter, long *value)
{
    if (!is_alpha((unsigned char)letter))
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

/* ---- ADVANCED_OK ------------------------------------------------------------------------ */

int protocol_parse_advanced_ok(const char *line, bool *has_n, unsigned long *n, int *planner, int *buffer)
{
    bool got_p = false, got_b = false;
    *has_n = false;
    if (strncmp(line, "ok", 2) != 0 || (line[2] != ' ' && line[2] != '\t'))
        return -1;
    const char *s = line + 2;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        const char *tok = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        size_t len = (size_t)(s - tok);
        if (len < 2 || len > 10 || !strchr("NPB", tok[0]))
            continue;
        unsigned long v = 0;
        size_t i;
        for (i = 1; i < len && tok[i] >= '0' && tok[i] <= '9'; i++)
            v = v * 10 + (unsigned long)(tok[i] - '0');
        if (i != len)
            continue;
        if (tok[0] == 'N') {
            *has_n = true;
            *n = v;
        } else if (v <= 1000000) {
            if (tok[0] == 'P') {
                *planner = (int)v;
                got_p = true;
            } else {
                *buffer = (int)v;
                got_b = true;
            }
        }
    }
    return got_p && got_b ? 0 : -1;
}
