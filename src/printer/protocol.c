/* protocol.c: owns the meaning of received printer lines and of sent command parameters:
 * classification, temperatures, positions, firmware and capability lines, resends, errors,
 * action commands (docs/protocol.md 5-10). SD-card lines and the words of sent commands are
 * protocol_sd.c's and protocol_gcode.c's.
 *
 * Upstream describes these with Python regular expressions; POSIX regex has neither \d nor
 * lazy or named groups, so each pattern is a small hand-written scanner that reproduces what
 * re.search/re.finditer would match, including where a failed optional group backtracks.
 * Everything here is pure: no I/O, no allocation, no state outside the arguments. Output
 * buffers are bounded; data that does not fit is dropped or refused, never cut silently
 * (protocol_error_text, a void function, is the one documented exception). */
#include "protocol.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* ---- classification ---------------------------------------------------------------------- */

bool protocol_has_position(const char *line)
{
    return strstr(line, "X:") && strstr(line, "Y:") && strstr(line, "Z:");
}

bool protocol_has_temperatures(const char *line)
{
    if (protocol_has_position(line))
        return false;       /* upstream checks temperatures only in the position test's else */
    if (strstr(line, " T:") || scan_starts_with(line, "T:") || strstr(line, " T0:") ||
        scan_starts_with(line, "T0:"))
        return true;
    return (strstr(line, " B:") || scan_starts_with(line, "B:")) && !strstr(line, "A:");
}

static bool is_error_line(const char *line)
{
    return scan_starts_with_ci(line, "error:") || scan_starts_with(line, "!!") || scan_starts_with(line, "fatal:");
}

static bool is_busy_line(const char *line)
{
    return scan_starts_with(line, "busy:") || scan_starts_with(line, "echo:busy:");
}

static bool is_resend_line(const char *line)
{
    return scan_starts_with_ci(line, "resend") || scan_starts_with_ci(line, "rs");
}

/* For a "//" line: the start of the action text after "action:", or NULL. */
static const char *action_text(const char *line)
{
    if (!scan_starts_with(line, "//"))
        return NULL;
    const char *p = scan_skip_space(line + 2);
    return scan_starts_with(p, "action:") ? p + 7 : NULL;
}

enum protocol_kind protocol_classify(const char *line)
{
    if (line[0] == '\0')
        return PROTOCOL_OTHER;
    /* upstream's order: busy and "//" lines are taken out first, then errors, then the ok /
     * resend branch, then position, temperature, capability and firmware in one if-chain */
    if (is_busy_line(line))
        return PROTOCOL_BUSY;
    if (scan_starts_with(line, "//"))
        return action_text(line) ? PROTOCOL_ACTION : PROTOCOL_DEBUG;
    if (is_error_line(line))
        return PROTOCOL_ERROR;
    if (scan_starts_with(line, "ok"))
        return PROTOCOL_OK;
    if (strcmp(line, "wait") == 0)
        return PROTOCOL_WAIT;
    if (is_resend_line(line))
        return PROTOCOL_RESEND;
    if (strcmp(line, "start") == 0)
        return PROTOCOL_START;
    if (scan_starts_with(line, "echo:"))
        return PROTOCOL_ECHO;
    if (protocol_has_position(line))
        return PROTOCOL_POSITION;
    if (protocol_has_temperatures(line))
        return PROTOCOL_TEMPERATURE;
    if (scan_starts_with_ci(line, "cap:"))
        return PROTOCOL_CAPABILITY;
    if (strstr(line, "NAME:") || scan_starts_with(line, "NAME."))
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
    if (scan_is_space((unsigned char)line[pos]))
        starts[nstarts++] = line + pos + 1;             /* the \s alternative */

    for (int k = 0; k < nstarts; k++) {
        const char *s = starts[k], *p = s;
        while (scan_is_word((unsigned char)*p))
            p++;
        if (p == s || *p != ':')
            continue;
        const char *a = scan_skip_space(p + 1);
        size_t alen = scan_float_len(a);
        if (alen == 0)
            continue;
        m->name = s;
        m->len = (size_t)(p - s);
        m->actual = scan_float_value(a, alen);
        m->has_target = false;
        m->target = 0.0;
        const char *q = a + alen, *t = scan_skip_space(q);
        if (*t == '/')
            t = scan_skip_space(t + 1);
        size_t tlen = scan_float_len(t);
        if (tlen > 0) {
            m->has_target = true;
            m->target = scan_float_value(t, tlen);
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
        if (!scan_is_digit((unsigned char)name[i]))
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
    else if (sensor[0] == 'T' && scan_is_digit((unsigned char)sensor[1]) &&
             strspn(sensor + 1, "0123456789") == strlen(sensor + 1))
        n = snprintf(out, outsz, "tool%s", sensor + 1);
    else
        n = snprintf(out, outsz, "%s", sensor);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return -E2BIG;
    }
    return n;
}

int protocol_parse_repetier_target(const char *line, char *sensor, size_t sensorsz, double *target)
{
    /* upstream uses re.match: both forms must start the line */
    const char *p;
    char name[16];
    int nlen;
    if (scan_starts_with(line, "TargetExtr")) {
        unsigned long tool;
        bool overflow;
        size_t d = scan_ulong(line + 10, &tool, &overflow);
        if (d == 0 || overflow || tool > INT_MAX || line[10 + d] != ':')
            return -EINVAL;
        p = line + 10 + d + 1;
        nlen = snprintf(name, sizeof name, "T%lu", tool);
    } else if (scan_starts_with(line, "TargetBed:")) {
        p = line + 10;
        nlen = snprintf(name, sizeof name, "B");
    } else {
        return -EINVAL;
    }
    size_t flen = scan_float_len(p);
    if (flen == 0 || !scan_copy_n(sensor, sensorsz, name, (size_t)nlen))
        return -EINVAL;
    *target = scan_float_value(p, flen);
    return 0;
}

/* ---- position ------------------------------------------------------------------------------ */

/* "<letter>:\s*FLOAT" at p; returns the end or NULL. */
static const char *axis_at(const char *p, char letter, double *value)
{
    if (p[0] != letter || p[1] != ':')
        return NULL;
    p = scan_skip_space(p + 2);
    size_t n = scan_float_len(p);
    if (n == 0)
        return NULL;
    *value = scan_float_value(p, n);
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
    p = scan_skip_space(p + 1 + d + 1);
    size_t n = scan_float_len(p);
    if (n == 0)
        return NULL;
    *value = scan_float_value(p, n);
    return p + n;
}

/* regex_position at one "X:" occurrence:
 *   X:\s*x\s*Y:\s*y\s*Z:\s*z\s*((E:\s*e)|(E\d+:\s*FLOAT\s*)+) */
static bool position_at(const char *p, struct protocol_position *out)
{
    struct protocol_position r;
    memset(&r, 0, sizeof r);
    if (!(p = axis_at(p, 'X', &r.x)) || !(p = axis_at(scan_skip_space(p), 'Y', &r.y)) ||
        !(p = axis_at(scan_skip_space(p), 'Z', &r.z)))
        return false;
    p = scan_skip_space(p);
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
        p = scan_skip_space(q);
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
    if (i > 0 || !scan_is_upper((unsigned char)fw_char(s, 0, malyan))) {
        if (!scan_is_space((unsigned char)s[i]))
            return false;
        while (k < len && scan_is_space((unsigned char)s[k]))
            k++;
    }
    if (k >= len || !scan_is_upper((unsigned char)fw_char(s, k, malyan)))
        return false;
    size_t e = k + 1;
    while (e < len) {
        unsigned char c = (unsigned char)fw_char(s, e, malyan);
        if (!scan_is_upper(c) && !scan_is_digit(c) && c != '_')
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
    while (valuelen > 0 && scan_is_space((unsigned char)*value)) {
        value++;
        valuelen--;
    }
    while (valuelen > 0 && scan_is_space((unsigned char)value[valuelen - 1]))
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
    bool malyan = scan_starts_with(line, "NAME.");   /* upstream tests the untrimmed line */
    size_t len;
    const char *s = scan_trim(line, &len);
    size_t key = 0, keylen = 0, vstart = 0, i = 0;
    bool have_key = false;

    memset(out, 0, sizeof *out);
    while (i < len) {
        size_t k, kl, end;
        if (!fw_key_at(s, len, i, malyan, &k, &kl, &end)) {
            /* every start inside one whitespace run reaches the same candidate key */
            if (scan_is_space((unsigned char)s[i]))
                while (i < len && scan_is_space((unsigned char)s[i]))
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
        if (n && vl > 0 && scan_contains_ci(n, "malyan") && nl + 1 + vl < sizeof out->name) {
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
    const char *s = scan_trim(line, &len);
    if (len >= 4 && scan_starts_with_ci(s, "cap:")) {
        s += 4;
        len -= 4;
    }
    const char *colon = memchr(s, ':', len);
    if (!colon || colon == s)
        return -EINVAL;
    size_t nlen = (size_t)(colon - s), flen = len - nlen - 1;
    if (flen != 1 || (colon[1] != '0' && colon[1] != '1'))
        return -EINVAL;                              /* also refuses a third field */
    if (!scan_copy_n(name, namesz, s, nlen))
        return -EINVAL;
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
    const char *s = scan_trim(line, &len);
    if (!is_resend_line(s))
        return -EINVAL;
    /* the first match of (N|N:)?(?P<n>\d+) is always the first digit run */
    for (size_t i = 0; i < len; i++) {
        if (scan_is_digit((unsigned char)s[i])) {
            bool overflow;
            scan_ulong(s + i, n, &overflow);
            return overflow ? -ERANGE : 0;
        }
    }
    return -EINVAL;
}

int protocol_parse_last_line(const char *line, unsigned long *n)
{
    static const char prefix[] = "Error:Line Number is not Last Line Number+1, Last Line:";
    size_t len;
    const char *s = scan_trim(line, &len);
    if (len <= sizeof prefix - 1 || strncmp(s, prefix, sizeof prefix - 1) != 0)
        return -EINVAL;
    size_t i = sizeof prefix - 1;
    while (i < len && s[i] == ' ')
        i++;
    if (i >= len || !scan_is_digit((unsigned char)s[i]))
        return -EINVAL;
    bool overflow;
    size_t used = scan_ulong(s + i, n, &overflow);
    if (overflow)
        return -ERANGE;
    return i + used == len ? 0 : -EINVAL;
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
        if (scan_contains_ci(s, list[i]))
            return true;
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum protocol_error_class protocol_classify_error(const char *line)
{
    const char *s = scan_skip_space(line);
    if (!is_error_line(s))
        return PROTOCOL_ERROR_NONE;
    if (contains_any_ci(s, recoverable_errors, COUNT(recoverable_errors)))
        return PROTOCOL_ERROR_RECOVERABLE;
    if (contains_any_ci(s, resend_errors, COUNT(resend_errors)))
        return PROTOCOL_ERROR_RESEND;
    if (contains_any_ci(s, sd_errors, COUNT(sd_errors)))
        return PROTOCOL_ERROR_SD;
    if (scan_contains_ci(s, "unknown command"))
        return PROTOCOL_ERROR_UNKNOWN_COMMAND;
    return PROTOCOL_ERROR_FATAL;
}

bool protocol_unknown_command(const char *line, char *cmd, size_t cmdsz, char *text, size_t textsz)
{
    const char *s = scan_skip_space(line);
    if (scan_starts_with_ci(s, "echo:"))
        s += 5;
    else if (scan_starts_with_ci(s, "error:"))
        s += 6;
    else
        return false;
    s = scan_skip_space(s);
    if (!scan_starts_with_ci(s, "unknown command"))
        return false;
    size_t len;
    s = scan_trim(s, &len);
    snprintf(text, textsz, "%.*s", (int)len, s);
    const char *open = memchr(s, '"', len), *close = open ? memchr(open + 1, '"', len - (size_t)(open + 1 - s)) : NULL;
    if (close)
        snprintf(cmd, cmdsz, "%.*s", (int)(close - open - 1), open + 1);
    else if (cmdsz > 0)
        cmd[0] = '\0';
    return true;
}

/* ---- Klipper ------------------------------------------------------------------------------------ */

#define KLIPPER_STATE "// Klipper state: "

bool protocol_klipper_state_line(const char *line)
{
    return scan_starts_with(scan_skip_space(line), KLIPPER_STATE);
}

/* Klipper words every shutdown message with "shutdown" ("Shutdown due to ...", "Printer is
 * shutdown", "MCU 'mcu' shutdown: ...") except a lost MCU link, which also shuts it down. */
static bool klipper_says_shutdown(const char *text)
{
    return scan_contains_ci(text, "shutdown") || scan_contains_ci(text, "lost communication with mcu");
}

enum protocol_klipper protocol_klipper_line(const char *line)
{
    const char *s = scan_skip_space(line);
    if (scan_starts_with(s, KLIPPER_STATE)) {
        s += strlen(KLIPPER_STATE);
        if (scan_starts_with_ci(s, "ready"))
            return PROTOCOL_KLIPPER_READY;
        return scan_starts_with_ci(s, "shutdown") ? PROTOCOL_KLIPPER_SHUTDOWN : PROTOCOL_KLIPPER_NOT_READY;
    }
    if (scan_starts_with(s, "!!"))
        return klipper_says_shutdown(s) ? PROTOCOL_KLIPPER_SHUTDOWN : PROTOCOL_KLIPPER_COMMAND_ERROR;
    if (scan_starts_with(s, "// Unknown command:"))
        return PROTOCOL_KLIPPER_COMMAND_ERROR;
    return PROTOCOL_KLIPPER_OTHER;
}

void protocol_error_text(const char *line, char *out, size_t outsz)
{
    size_t len;
    const char *s = scan_trim(line, &len);
    if (outsz == 0)
        return;
    if (scan_starts_with_ci(s, "error:")) {
        s += 6;
        len -= 6;
    } else if (scan_starts_with(s, "!!")) {
        s += 2;
        len -= 2;
    }
    while (len > 0 && scan_is_space((unsigned char)*s)) {
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
    const char *s = scan_skip_space(line);
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
    return scan_starts_with(line, "Error:") && scan_is_digit((unsigned char)line[6]) && line[7] == '\0';
}

int protocol_error_join(const char *first, const char *second, char *out, size_t outsz)
{
    size_t alen, blen;
    const char *a = scan_trim(first, &alen), *b = scan_trim(second, &blen);
    if (scan_starts_with_ci(b, "error:")) {
        b += 6;
        blen -= 6;
        while (blen > 0 && scan_is_space((unsigned char)*b)) {
            b++;
            blen--;
        }
    }
    if (outsz == 0 || alen + 3 + blen >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return -E2BIG;
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
    if (scan_contains_ci(text, "mintemp"))
        return "firmware-mintemp";
    if (scan_contains_ci(text, "maxtemp"))
        return "firmware-maxtemp";
    if (scan_contains_ci(text, "runaway"))
        return "firmware-thermal-runaway";
    if (scan_contains_ci(text, "heating failed"))
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
        return -EINVAL;
    size_t len;
    a = scan_trim(a, &len);
    const char *sp = memchr(a, ' ', len);
    size_t nlen = sp ? (size_t)(sp - a) : len;
    size_t plen;
    const char *p = sp ? scan_trim(sp, &plen) : a + len;
    if (!sp)
        plen = 0;
    if (nlen == 0 || !scan_copy_n(name, namesz, a, nlen) || !scan_copy_n(params, paramsz, p, plen))
        return -EINVAL;
    return 0;
}

/* ---- ADVANCED_OK ------------------------------------------------------------------------ */

int protocol_parse_advanced_ok(const char *line, bool *has_n, unsigned long *n, int *planner, int *buffer)
{
    bool got_p = false, got_b = false;
    *has_n = false;
    if (strncmp(line, "ok", 2) != 0 || (line[2] != ' ' && line[2] != '\t'))
        return -EINVAL;
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
