/* control.c: the simulator's control language, one text command per line on the --control
 * socket, so a test or a demo can make the printer misbehave at a chosen moment. This file
 * only interprets a line against the firmware; the socket itself lives in main.c. The
 * command list is in sim_options_usage (options.c) and in the "help" reply below. */
#include "control.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char control_help[] =
    "ok commands: action NAME [TEXT] | temp HEATER C|free | heat HEATER C | say TEXT | raw TEXT | "
    "continue | runaway [HEATER] | kill | reset | disconnect | status | quit";

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -EINVAL;
}

int sim_control_unescape(const char *src, char *out, size_t outsz)
{
    size_t n = 0;
    for (const char *p = src; *p; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'e': c = 0x1b; break;
            case '0': c = '\0'; break;
            case 'x': {
                int hi = hex_digit(p[1]), lo = hi >= 0 ? hex_digit(p[2]) : -EINVAL;
                if (lo < 0)
                    return -EINVAL;
                c = (char)(hi * 16 + lo);
                p += 2;
                break;
            }
            default:
                return -EINVAL;
            }
        }
        if (n >= outsz)
            return -ENOSPC;
        out[n++] = c;
    }
    return (int)n;
}

/* Splits "word rest" in place: returns the rest (leading spaces skipped), word is NUL-ended. */
static char *split_word(char *s)
{
    while (*s && !isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return s;
    *s++ = '\0';
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

static bool parse_celsius(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < -50 || v > 1000)
        return false;
    *out = v;
    return true;
}

static bool action_name_ok(const char *name)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

enum sim_control_effect sim_control_execute(struct sim_fw *fw, const char *line, int64_t now_ms,
                                            char *reply, size_t replysz)
{
    char buf[2048];
    size_t len = strlen(line);
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char)*line)) {
        line++;
        len--;
    }
    if (len >= sizeof buf) {
        snprintf(reply, replysz, "error: line too long");
        return SIM_CONTROL_NONE;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    char *cmd = buf;
    char *rest = split_word(cmd);
    snprintf(reply, replysz, "ok");

    if (strcmp(cmd, "help") == 0) {
        snprintf(reply, replysz, "%s", control_help);
    } else if (strcmp(cmd, "action") == 0) {
        char *text = split_word(rest);
        if (!action_name_ok(rest)) {
            snprintf(reply, replysz, "error: usage: action NAME [TEXT] (NAME in a-z, 0-9, _)");
            return SIM_CONTROL_NONE;
        }
        char out[2100];
        snprintf(out, sizeof out, "//action:%s%s%s", rest, *text ? " " : "", text);
        sim_fw_emit(fw, out);
    } else if (strcmp(cmd, "temp") == 0 || strcmp(cmd, "heat") == 0) {
        char *value = split_word(rest);
        int h = sim_fw_heater_lookup(fw, rest);
        double c = 0;
        if (h < 0) {
            snprintf(reply, replysz, "error: unknown heater '%s' (tool0..toolN, bed, chamber)", rest);
        } else if (strcmp(cmd, "temp") == 0 && strcmp(value, "free") == 0) {
            sim_fw_unpin_temperature(fw, h, now_ms);
        } else if (!parse_celsius(value, &c)) {
            snprintf(reply, replysz, "error: usage: %s HEATER CELSIUS%s", cmd, strcmp(cmd, "temp") == 0 ? "|free" : "");
        } else if (strcmp(cmd, "temp") == 0) {
            sim_fw_pin_temperature(fw, h, c, now_ms);
        } else {
            sim_fw_set_target(fw, h, c, now_ms);
        }
    } else if (strcmp(cmd, "say") == 0 || strcmp(cmd, "raw") == 0) {
        char bytes[2048];
        int n = sim_control_unescape(rest, bytes, sizeof bytes);
        if (n < 0) {
            snprintf(reply, replysz, "error: bad escape (use \\\\ \\n \\r \\t \\e \\0 \\xNN)");
        } else if (strcmp(cmd, "raw") == 0) {
            sim_fw_emit_raw(fw, bytes, (size_t)n);
        } else {
            sim_fw_emit_raw(fw, bytes, (size_t)n);
            sim_fw_emit_raw(fw, "\n", 1);
        }
    } else if (strcmp(cmd, "continue") == 0) {
        sim_fw_continue(fw);
    } else if (strcmp(cmd, "runaway") == 0) {
        int h = -1;
        if (*rest && (h = sim_fw_heater_lookup(fw, rest)) < 0) {
            snprintf(reply, replysz, "error: unknown heater '%s'", rest);
            return SIM_CONTROL_NONE;
        }
        sim_fw_runaway(fw, h, now_ms);
    } else if (strcmp(cmd, "kill") == 0) {
        sim_fw_kill(fw);
    } else if (strcmp(cmd, "reset") == 0) {
        if (sim_fw_hangup_requested(fw))
            snprintf(reply, replysz, "error: the link is down");
        else
            sim_fw_boot(fw, now_ms);
    } else if (strcmp(cmd, "disconnect") == 0) {
        if (sim_fw_hangup_requested(fw)) {
            snprintf(reply, replysz, "error: the link is already down");
            return SIM_CONTROL_NONE;
        }
        return SIM_CONTROL_HANGUP;
    } else if (strcmp(cmd, "status") == 0) {
        char text[3000];
        sim_fw_describe(fw, now_ms, text, sizeof text);
        snprintf(reply, replysz, "ok %s", text);
    } else if (strcmp(cmd, "quit") == 0) {
        return SIM_CONTROL_QUIT;
    } else if (*cmd == '\0') {
        snprintf(reply, replysz, "error: empty command (try help)");
    } else {
        snprintf(reply, replysz, "error: unknown command '%s' (try help)", cmd);
    }
    return SIM_CONTROL_NONE;
}
