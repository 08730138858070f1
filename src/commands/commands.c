/* commands.c: the pure half of inbound commands: decoding a message into a struct command,
 * the state rule, the G-code allow/deny lists and the duplicate-id memory (commands.h).
 *
 * Decoding refuses rather than guesses: a payload that looks like JSON ('[', '{' or '"'
 * first) must be valid JSON; press-style topics accept exactly PRESS/True (HA buttons send
 * PRESS, the pause switch True/False: docs/wire-format.md 11.11); anything else is an
 * error reply, never a partial action. */
#include "printbridge/commands.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "printbridge/serial.h"

static int failf(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void commands_command_free(struct command *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nlines; i++)
        free(c->lines[i]);
    free(c->lines);
    free(c->name);
    free(c->path);
    free(c->port);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}

/* ---- payload helpers ----------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

static bool looks_like_json(const char *payload, size_t len)
{
    const char *p = skip_ws(payload, payload + len);
    return p < payload + len && (*p == '{' || *p == '[' || *p == '"');
}

/* payload with surrounding blanks removed equals word */
static bool payload_is(const char *payload, size_t len, const char *word)
{
    const char *p = skip_ws(payload, payload + len), *e = payload + len;
    while (e > p && isspace((unsigned char)e[-1]))
        e--;
    return (size_t)(e - p) == strlen(word) && memcmp(p, word, (size_t)(e - p)) == 0;
}

static int parse_json(const char *payload, size_t len, json_t **out, char *err, size_t errsz)
{
    json_error_t je;
    *out = json_loadb(payload, len, JSON_DECODE_ANY, &je);
    if (!*out)
        return failf(err, errsz, "invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    return 0;
}

/* Takes "id" out of an object payload; only strings and numbers are ids. */
static int take_id(struct command *c, char *err, size_t errsz)
{
    if (!json_is_object(c->doc))
        return 0;
    json_t *id = json_object_get(c->doc, "id");
    if (!id)
        return 0;
    if (!json_is_string(id) && !json_is_number(id))
        return failf(err, errsz, "\"id\" must be a string or a number");
    c->id = id;
    return 0;
}

static int add_line(struct command *c, const char *text, size_t len, char *err, size_t errsz)
{
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7f)
            return failf(err, errsz, "G-code line %zu contains a control character", c->nlines + 1);
    if (len > FRAMING_MAX_LINE)
        return failf(err, errsz, "G-code line %zu is %zu characters long; at most %d are allowed",
                     c->nlines + 1, len, FRAMING_MAX_LINE);
    if (c->nlines >= COMMANDS_MAX_LINES)
        return failf(err, errsz, "more than %d G-code lines in one command", COMMANDS_MAX_LINES);
    char **v = realloc(c->lines, (c->nlines + 1) * sizeof *v);
    if (!v)
        return failf(err, errsz, "out of memory");
    c->lines = v;
    if (!(c->lines[c->nlines] = strndup(text, len)))
        return failf(err, errsz, "out of memory");
    c->nlines++;
    return 0;
}

static int add_text_lines(struct command *c, const char *text, size_t len, char *err, size_t errsz)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (add_line(c, p, n, err, errsz) < 0)
            return -EINVAL;
        p += n + 1;
    }
    return 0;
}

/* A JSON string or list of strings as G-code lines. */
static int add_json_lines(struct command *c, const json_t *v, char *err, size_t errsz)
{
    if (json_is_string(v))
        return add_text_lines(c, json_string_value(v), json_string_length(v), err, errsz);
    if (!json_is_array(v))
        return failf(err, errsz, "expected G-code as a string or a list of strings");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return failf(err, errsz, "G-code list element %zu is not a string", i + 1);
        if (memchr(json_string_value(e), '\n', json_string_length(e)))
            return failf(err, errsz, "G-code list element %zu contains a newline; give one line per element", i + 1);
        if (add_line(c, json_string_value(e), json_string_length(e), err, errsz) < 0)
            return -EINVAL;
    }
    return 0;
}

static int need_lines(struct command *c, char *err, size_t errsz)
{
    return c->nlines ? 0 : failf(err, errsz, "no G-code to send");
}

/* Number for G-code: no exponent, no trailing zeros ("0.1", "-5", "1200"). */
static void gnum(char *out, size_t outsz, double v)
{
    snprintf(out, outsz, "%.4f", v);
    char *dot = strchr(out, '.');
    if (dot) {
        char *e = out + strlen(out);
        while (e > dot && (e[-1] == '0'))
            *--e = '\0';
        if (e[-1] == '.')
            e[-1] = '\0';
    }
    if (strcmp(out, "-0") == 0)
        snprintf(out, outsz, "0");
}

/* ---- per topic ----------------------------------------------------------------------- */

static int decode_gcode(struct command *c, const char *payload, size_t len, char *err, size_t errsz)
{
    c->kind = COMMAND_GCODE;
    c->needs = NEEDS_CONNECTED;
    if (!looks_like_json(payload, len))
        return add_text_lines(c, payload, len, err, errsz) < 0 ? -EINVAL : need_lines(c, err, errsz);
    if (parse_json(payload, len, &c->doc, err, errsz) < 0 || take_id(c, err, errsz) < 0)
        return -EINVAL;
    const json_t *src = c->doc;
    if (json_is_object(c->doc)) {
        src = json_object_get(c->doc, "commands");
        if (!src)
            src = json_object_get(c->doc, "command");
        if (!src)
            return failf(err, errsz, "expected \"commands\": [..] or \"command\": \"..\" in the object");
    }
    if (add_json_lines(c, src, err, errsz) < 0)
        return -EINVAL;
    return need_lines(c, err, errsz);
}

/* Object payload with "command": "<word>", or just the word as plain text. */
/* The verb of a command/connection or command/job payload: plain text ("start") or
 * {"command": "start", ...}, copied into verb (versz bytes). */
static int decode_verb(struct command *c, const char *payload, size_t len, char *verb, size_t versz, char *err,
                       size_t errsz)
{
    if (!looks_like_json(payload, len)) {
        const char *p = skip_ws(payload, payload + len), *e = payload + len;
        while (e > p && isspace((unsigned char)e[-1]))
            e--;
        if ((size_t)(e - p) >= versz || e == p)
            return failf(err, errsz, "expected {\"command\": \"...\"}");
        memcpy(verb, p, (size_t)(e - p));
        verb[e - p] = '\0';
        return 0;
    }
    if (parse_json(payload, len, &c->doc, err, errsz) < 0 || take_id(c, err, errsz) < 0)
        return -EINVAL;
    if (!json_is_object(c->doc))
        return failf(err, errsz, "expected a JSON object such as {\"command\": \"...\"}");
    const json_t *v = json_object_get(c->doc, "command");
    if (!json_is_string(v))
        return failf(err, errsz, "\"command\" must be given as a string");
    if (json_string_length(v) >= versz || strlen(json_string_value(v)) != json_string_length(v))
        return failf(err, errsz, "unknown command \"%.40s\"", json_string_value(v));
    snprintf(verb, versz, "%s", json_string_value(v));
    return 0;
}

static int decode_connection(struct command *c, const char *payload, size_t len, char *err, size_t errsz)
{
    char verb[32];
    if (decode_verb(c, payload, len, verb, sizeof verb, err, errsz) < 0)
        return -EINVAL;
    if (strcmp(verb, "disconnect") == 0) {
        c->kind = COMMAND_DISCONNECT;
        c->needs = NEEDS_LINK;
        return 0;
    }
    if (strcmp(verb, "firmware_restart") == 0) {
        c->kind = COMMAND_FIRMWARE_RESTART;
        c->needs = NEEDS_NOTHING;   /* it is for a printer that halted */
        return 0;
    }
    if (strcmp(verb, "connect") != 0)
        return failf(err, errsz,
                     "unknown connection command \"%.40s\"; use \"connect\", \"disconnect\" or \"firmware_restart\"",
                     verb);
    c->kind = COMMAND_CONNECT;
    c->needs = NEEDS_OFFLINE;
    const json_t *port = c->doc ? json_object_get(c->doc, "port") : NULL;
    const json_t *baud = c->doc ? json_object_get(c->doc, "baudrate") : NULL;
    if (port && !json_is_null(port)) {
        if (!json_is_string(port) || json_string_length(port) == 0 || json_string_length(port) > 256 ||
            strlen(json_string_value(port)) != json_string_length(port))
            return failf(err, errsz, "\"port\" must be a device path such as \"/dev/ttyUSB0\" or \"auto\"");
        if (!(c->port = strdup(json_string_value(port))))
            return failf(err, errsz, "out of memory");
    }
    if (baud && !json_is_null(baud)) {
        if (!json_is_integer(baud) || json_integer_value(baud) < 0 || json_integer_value(baud) > 4000000)
            return failf(err, errsz, "\"baudrate\" must be an integer such as 115200 (0 for auto)");
        c->baudrate = (long)json_integer_value(baud);
    }
    return 0;
}

static const char *const job_verbs[] = {
    [COMMAND_JOB_SELECT] = "select", [COMMAND_JOB_START] = "start", [COMMAND_JOB_PAUSE] = "pause",
    [COMMAND_JOB_RESUME] = "resume", [COMMAND_JOB_TOGGLE] = "toggle", [COMMAND_JOB_CANCEL] = "cancel",
};

/* "path" and "origin" of a job command, when given */
static int decode_job_file(struct command *c, char *err, size_t errsz)
{
    const json_t *path = c->doc ? json_object_get(c->doc, "path") : NULL;
    const json_t *origin = c->doc ? json_object_get(c->doc, "origin") : NULL;
    c->origin = JOB_LOCAL;
    if (origin && !json_is_null(origin)) {
        const char *o = json_string_value(origin);
        if (!o || (strcmp(o, "local") != 0 && strcmp(o, "sdcard") != 0))
            return failf(err, errsz, "origin must be \"local\" or \"sdcard\"");
        c->origin = strcmp(o, "sdcard") == 0 ? JOB_SDCARD : JOB_LOCAL;
    }
    if (!path || json_is_null(path))
        return 0;
    if (!json_is_string(path) || strlen(json_string_value(path)) != json_string_length(path))
        return failf(err, errsz, "\"path\" must be a file name such as \"cube.gcode\"");
    if (!(c->path = strdup(json_string_value(path))))
        return failf(err, errsz, "out of memory");
    return 0;
}

static int decode_job(struct command *c, const char *payload, size_t len, char *err, size_t errsz)
{
    char verb[32];
    if (decode_verb(c, payload, len, verb, sizeof verb, err, errsz) < 0)
        return -EINVAL;
    c->kind = COMMAND_JOB;
    c->needs = NEEDS_NOTHING;   /* the job decides per action */
    size_t i = 0;
    while (i < sizeof job_verbs / sizeof job_verbs[0] && strcmp(job_verbs[i], verb) != 0)
        i++;
    if (i == sizeof job_verbs / sizeof job_verbs[0])
        return failf(err, errsz, "unknown job command \"%.32s\"; known: select, start, pause, resume, toggle, cancel",
                     verb);
    c->job = (enum command_job)i;
    if (c->job == COMMAND_JOB_SELECT || c->job == COMMAND_JOB_START)
        return decode_job_file(c, err, errsz);
    return 0;
}

static int decode_hook(struct command *c, const char *name, const char *payload, size_t len, char *err,
                       size_t errsz)
{
    c->kind = COMMAND_HOOK;
    c->needs = NEEDS_NOTHING;
    if (!*name || strchr(name, '/'))
        return failf(err, errsz, "unknown command: a hook topic is command/hook/<name>");
    if (!(c->name = strdup(name)))
        return failf(err, errsz, "out of memory");
    if (looks_like_json(payload, len) && (parse_json(payload, len, &c->doc, err, errsz) < 0 || take_id(c, err, errsz) < 0))
        return -EINVAL;
    return 0;
}

static int decode_status(struct command *c, const char *payload, size_t len, char *err, size_t errsz)
{
    c->kind = strcmp(c->what, "snapshot") == 0 ? COMMAND_SNAPSHOT : COMMAND_STATUS;
    c->needs = NEEDS_NOTHING;
    if (looks_like_json(payload, len) && (parse_json(payload, len, &c->doc, err, errsz) < 0 || take_id(c, err, errsz) < 0))
        return -EINVAL;
    return 0;
}

/* True for PRESS or True, false for False; -1 for anything else. */
static int press_or_bool(const char *payload, size_t len)
{
    if (payload_is(payload, len, "PRESS") || payload_is(payload, len, "True") || payload_is(payload, len, "true"))
        return 1;
    if (payload_is(payload, len, "False") || payload_is(payload, len, "false"))
        return 0;
    return -EINVAL;
}

static int unknown_payload(char *err, size_t errsz, const char *topic, const char *payload, size_t len, const char *want)
{
    int n = len > 40 ? 40 : (int)len;
    for (int i = 0; i < n; i++)
        if ((unsigned char)payload[i] < 0x20)
            n = i;
    return failf(err, errsz, "unknown payload \"%.*s\"%s on %s; expected %s", n, payload, (size_t)n < len ? "..." : "",
                 topic, want);
}

static int decode_hass(struct command *c, const char *control, const char *payload, size_t len, char *err,
                       size_t errsz)
{
    int b = press_or_bool(payload, len);
    if (strcmp(control, "connect") == 0) {
        if (b < 0 || payload_is(payload, len, "PRESS"))
            return unknown_payload(err, errsz, "hassControl/connect", payload, len, "True or False");
        c->kind = b ? COMMAND_CONNECT : COMMAND_DISCONNECT;
        c->needs = b ? NEEDS_OFFLINE : NEEDS_LINK;
        return 0;
    }
    if (strcmp(control, "stop") == 0) {
        if (b != 1)
            return unknown_payload(err, errsz, "hassControl/stop", payload, len, "PRESS");
        c->kind = COMMAND_GCODE;
        c->needs = NEEDS_CONNECTED;
        return add_line(c, "M112", 4, err, errsz);
    }
    if (strcmp(control, "cancel") == 0 || strcmp(control, "pause") == 0) {
        bool pause = control[0] == 'p';
        if (b < 0 || (!pause && b == 0) || (pause && payload_is(payload, len, "PRESS")))
            return unknown_payload(err, errsz, pause ? "hassControl/pause" : "hassControl/cancel", payload, len,
                                   pause ? "True or False" : "PRESS");
        c->kind = COMMAND_JOB;
        c->needs = NEEDS_NOTHING;
        c->job = !pause ? COMMAND_JOB_CANCEL : b ? COMMAND_JOB_PAUSE : COMMAND_JOB_RESUME;
        return 0;
    }
    if (strcmp(control, "home") == 0) {
        static const char axes[] = "xyze";
        bool want[4] = { false };
        char order[4];
        size_t n = 0, i;
        json_t *e;
        if (parse_json(payload, len, &c->doc, err, errsz) < 0)
            return -EINVAL;
        if (!json_is_array(c->doc))
            return failf(err, errsz, "hassControl/home expects a JSON list of axes such as [\"x\", \"y\", \"z\"]");
        json_array_foreach(c->doc, i, e) {
            const char *a = json_string_value(e);
            const char *hit = a && strlen(a) == 1 ? strchr(axes, tolower((unsigned char)a[0])) : NULL;
            if (hit && *hit && !want[hit - axes]) {
                want[hit - axes] = true;
                order[n++] = (char)toupper((unsigned char)*hit);
            }
        }
        if (n == 0)
            return failf(err, errsz, "hassControl/home: no axis among x, y, z and e in the list");
        char line[32] = "G28";
        for (i = 0; i < n; i++)
            snprintf(line + strlen(line), sizeof line - strlen(line), " %c0", order[i]);
        c->kind = COMMAND_GCODE;
        c->needs = NEEDS_IDLE;
        return add_line(c, "G91", 3, err, errsz) < 0 || add_line(c, line, strlen(line), err, errsz) < 0 ||
                       add_line(c, "G90", 3, err, errsz) < 0 ? -EINVAL : 0;
    }
    if (strcmp(control, "jog") == 0) {
        char line[160] = "G1", num[48];
        bool any = false;
        if (parse_json(payload, len, &c->doc, err, errsz) < 0)
            return -EINVAL;
        if (!json_is_object(c->doc))
            return failf(err, errsz, "hassControl/jog expects a JSON object such as {\"x\": 0.1, \"speed\": 1.0}");
        for (const char *a = "xyz"; *a; a++) {
            char key[2] = { *a, 0 };
            const json_t *v = json_object_get(c->doc, key);
            if (!v)
                continue;
            if (!json_is_number(v) || !isfinite(json_number_value(v)) || fabs(json_number_value(v)) > 10000)
                return failf(err, errsz, "hassControl/jog: \"%s\" must be a distance in mm", key);
            gnum(num, sizeof num, json_number_value(v));
            snprintf(line + strlen(line), sizeof line - strlen(line), " %c%s", toupper((unsigned char)*a), num);
            any = true;
        }
        if (!any)
            return failf(err, errsz, "hassControl/jog: no axis among x, y and z in the object");
        const json_t *speed = json_object_get(c->doc, "speed");
        if (speed && !json_is_null(speed)) {
            if (!json_is_number(speed) || !(json_number_value(speed) > 0) || json_number_value(speed) > 1e6)
                return failf(err, errsz, "hassControl/jog: \"speed\" must be a positive number");
            gnum(num, sizeof num, json_number_value(speed));
            snprintf(line + strlen(line), sizeof line - strlen(line), " F%s", num);
        }
        c->kind = COMMAND_GCODE;
        c->needs = NEEDS_IDLE;
        return add_line(c, "G91", 3, err, errsz) < 0 || add_line(c, line, strlen(line), err, errsz) < 0 ||
                       add_line(c, "G90", 3, err, errsz) < 0 ? -EINVAL : 0;
    }
    if (strcmp(control, "commands") == 0) {
        json_error_t je;
        c->kind = COMMAND_GCODE;
        c->needs = NEEDS_CONNECTED;
        /* upstream: a JSON list of strings, or plain G-code whenever it is not valid JSON */
        c->doc = json_loadb(payload, len, JSON_DECODE_ANY, &je);
        if (!c->doc)
            return add_text_lines(c, payload, len, err, errsz) < 0 ? -EINVAL : need_lines(c, err, errsz);
        if (add_json_lines(c, c->doc, err, errsz) < 0)
            return -EINVAL;
        return need_lines(c, err, errsz);
    }
    return failf(err, errsz, "unknown command hassControl/%.60s; known: connect, stop, cancel, pause, home, jog, commands",
                 control);
}

int commands_decode(const char *rel_topic, const char *payload, size_t len, struct command *out, char *err,
                    size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (err && errsz)
        err[0] = '\0';
    if (strncmp(rel_topic, "hassControl/", 12) == 0) {
        out->what = rel_topic;
        return decode_hass(out, rel_topic + 12, payload, len, err, errsz);
    }
    if (strncmp(rel_topic, "command/", 8) == 0) {
        const char *cmd = rel_topic + 8;
        out->what = cmd;
        if (strcmp(cmd, "gcode") == 0)
            return decode_gcode(out, payload, len, err, errsz);
        if (strcmp(cmd, "connection") == 0)
            return decode_connection(out, payload, len, err, errsz);
        if (strcmp(cmd, "job") == 0)
            return decode_job(out, payload, len, err, errsz);
        if (strcmp(cmd, "status") == 0 || strcmp(cmd, "snapshot") == 0)  /* same payload rules */
            return decode_status(out, payload, len, err, errsz);
        if (strncmp(cmd, "hook/", 5) == 0)
            return decode_hook(out, cmd + 5, payload, len, err, errsz);
        /* still pick up the id, so the error reply can be correlated */
        if (looks_like_json(payload, len)) {
            out->doc = json_loadb(payload, len, JSON_DECODE_ANY, NULL);
            take_id(out, err, errsz);
        }
        return failf(err, errsz, "unknown command \"%.60s\"; known: gcode, connection, job, upload/<path>, hook/<name>, status, snapshot", cmd);
    }
    return failf(err, errsz, "unknown command topic %.80s", rel_topic);
}

/* ---- rules --------------------------------------------------------------------------- */

int commands_check_state(const struct command *c, enum printer_state s, char *err, size_t errsz)
{
    bool operational = printer_state_is_operational(s);
    bool busy = printer_state_is_printing(s) || s == PRINTER_PAUSED || s == PRINTER_PAUSING ||
                s == PRINTER_RESUMING || s == PRINTER_CANCELLING || s == PRINTER_FINISHING || s == PRINTER_STARTING;
    bool offline = s == PRINTER_OFFLINE || s == PRINTER_NONE || s == PRINTER_CLOSED || s == PRINTER_ERROR ||
                   s == PRINTER_CLOSED_WITH_ERROR;
    const char *state = printer_state_string(s);
    switch (c->needs) {
    case NEEDS_NOTHING:
        return 0;
    case NEEDS_CONNECTED:
        if (operational)
            return 0;
        failf(err, errsz, "not allowed while the printer is %s: connect it first", state);
        return -EPERM;
    case NEEDS_IDLE:
        if (operational && !busy)
            return 0;
        failf(err, errsz, "not allowed while the printer is %s%s", state,
              operational ? ": wait until the job is over" : ": connect it first");
        return -EPERM;
    case NEEDS_OFFLINE:
        if (offline)
            return 0;
        failf(err, errsz, "not allowed while the printer is %s: it is already connected or connecting", state);
        return -EPERM;
    case NEEDS_LINK:
        if (!offline || s == PRINTER_ERROR)
            return 0;
        failf(err, errsz, "not allowed while the printer is %s: nothing to disconnect", state);
        return -EPERM;
    }
    return -EPERM;
}

/* The command word of a G-code line, upper-cased ("M112"), skipping a line number. */
static void gcode_word(const char *line, char *out, size_t outsz)
{
    const char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (toupper((unsigned char)*p) == 'N' && isdigit((unsigned char)p[1])) {
        while (*p && !isspace((unsigned char)*p))
            p++;
        while (isspace((unsigned char)*p))
            p++;
    }
    size_t n = 0;
    while (p[n] && !isspace((unsigned char)p[n]) && p[n] != ';' && p[n] != '*' && n + 1 < outsz) {
        out[n] = (char)toupper((unsigned char)p[n]);
        n++;
    }
    out[n] = '\0';
}

static bool listed(const char *word, char *const *list)
{
    for (; list && *list; list++) {
        size_t n = strlen(*list);
        if (n && (*list)[n - 1] == '*' ? strncasecmp(word, *list, n - 1) == 0 : strcasecmp(word, *list) == 0)
            return true;
    }
    return false;
}

int commands_check_gcode(const char *line, char *const *allow, char *const *deny, char *err, size_t errsz)
{
    char word[64];
    gcode_word(line, word, sizeof word);
    if (!word[0])
        return 0;       /* a comment: nothing reaches the printer */
    if (listed(word, deny)) {
        failf(err, errsz, "G-code %s is denied by inbound.gcode_deny", word);
        return -EACCES;
    }
    if (allow && allow[0] && !listed(word, allow)) {
        failf(err, errsz, "G-code %s is not in inbound.gcode_allow", word);
        return -EACCES;
    }
    return 0;
}

/* ---- job commands --------------------------------------------------------------------- */

int commands_run_job(struct job *j, const struct command *c, char *err, size_t errsz)
{
    switch (c->job) {
    case COMMAND_JOB_SELECT: return job_select(j, c->path, c->origin, err, errsz);
    case COMMAND_JOB_START: return job_start(j, c->path, c->origin, err, errsz);
    case COMMAND_JOB_PAUSE: return job_pause(j, err, errsz);
    case COMMAND_JOB_RESUME: return job_resume(j, err, errsz);
    case COMMAND_JOB_TOGGLE: return job_toggle(j, err, errsz);
    case COMMAND_JOB_CANCEL: return job_cancel(j, err, errsz);
    }
    snprintf(err, errsz, "unknown job command");
    return -EINVAL;
}

/* ---- duplicate ids ------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

bool commands_dedupe_seen(struct commands_dedupe *d, const char *key, double now)
{
    uint64_t h = fnv1a(key);
    /* forget what is out of the window, oldest first */
    while (d->n > 0) {
        size_t oldest = (d->head + COMMANDS_DEDUPE_CAPACITY - d->n) % COMMANDS_DEDUPE_CAPACITY;
        if (now - d->ring[oldest].t < COMMANDS_DEDUPE_WINDOW)
            break;
        free(d->ring[oldest].key);
        d->ring[oldest].key = NULL;
        d->n--;
    }
    for (size_t i = 0; i < d->n; i++) {
        size_t at = (d->head + COMMANDS_DEDUPE_CAPACITY - 1 - i) % COMMANDS_DEDUPE_CAPACITY;
        if (d->ring[at].hash == h && strcmp(d->ring[at].key, key) == 0)
            return true;
    }
    char *copy = strdup(key);
    if (!copy)
        return false;
    if (d->n == COMMANDS_DEDUPE_CAPACITY) {
        free(d->ring[d->head].key);     /* the oldest slot is the one head points at */
        d->n--;
    }
    d->ring[d->head].hash = h;
    d->ring[d->head].key = copy;
    d->ring[d->head].t = now;
    d->head = (d->head + 1) % COMMANDS_DEDUPE_CAPACITY;
    d->n++;
    return false;
}

void commands_dedupe_clear(struct commands_dedupe *d)
{
    for (size_t i = 0; i < COMMANDS_DEDUPE_CAPACITY; i++) {
        free(d->ring[i].key);
        d->ring[i].key = NULL;
    }
    d->head = d->n = 0;
}
