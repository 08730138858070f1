/* reader.c: the parsed file walked against the key table into struct config (reader.h), and
 * the checks only the whole file can answer.
 *
 * Every setting is looked up in the table: an unknown key or group is an error with a "did
 * you mean" (config_lookup would just miss it), a value of the wrong type is an error (no auto
 * conversion; an integer is accepted where a number is expected), and so is a value out of
 * its range, including integers libconfig stored wrapped and strings it cut at "\x00"
 * (rawtext.c finds both in the file's text). The events and inbound groups hold lists of
 * groups and are handed whole to hookconfig.c. */
#include "reader.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "keys.h"
#include "rawtext.h"
#include "suggest.h"
#include "printbridge/base.h"
#include "printbridge/serial.h"

#define FIELD(f) offsetof(struct config, f)

struct reader {
    struct loader *l;
    const config_setting_t **seen; /* per key of the table: the setting that set it, or NULL */
};

/* ---- one value ----------------------------------------------------------------------- */

static int fail_type(struct loader *l, const config_setting_t *s, const struct key *k)
{
    return loader_fail(l, s, "%s.%s must be %s, e.g. %s", k->group, k->name,
                       keys_kind_wants(k->kind), k->example);
}

static int fail_nul(struct loader *l, const config_setting_t *s, const struct key *k)
{
    return loader_fail(l, s, "%s.%s must not contain a NUL character (\\x00)", k->group, k->name);
}

/* Reads an INT/INT64/FLOAT setting as a number, refusing what libconfig wrapped. */
static int read_number(struct loader *l, const config_setting_t *s, const struct key *k,
                       double *out)
{
    const char *lit;
    int litlen;
    double v;

    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        if ((litlen = raw_wrapped_int(l, s, &lit)) > 0)
            return loader_fail(l, s, "%s.%s must be between %.15g and %.15g, not %.*s (too big "
                                     "for libconfig's 32-bit integers: it was read as %d)",
                               k->group, k->name, k->min, k->max, litlen, lit,
                               config_setting_get_int(s));
        v = config_setting_get_int(s);
        break;
    case CONFIG_TYPE_INT64:
        v = (double)config_setting_get_int64(s);
        if (k->kind != KIND_FLOAT && (v < k->min || v > k->max))
            return loader_fail(l, s, "%s.%s must be between %.15g and %.15g, not %lld", k->group,
                               k->name, k->min, k->max, config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        if (k->kind != KIND_FLOAT)
            return fail_type(l, s, k);
        v = config_setting_get_float(s);
        break;
    default:
        return fail_type(l, s, k);
    }
    if (!(v >= k->min && v <= k->max)) /* also catches NaN */
        return loader_fail(l, s, "%s.%s must be between %.15g and %.15g, not %.15g", k->group,
                           k->name, k->min, k->max, v);
    *out = v;
    return 0;
}

static int add_script_line(struct loader *l, const config_setting_t *s, const struct key *k,
                           char **lines, int *n, const char *text, size_t len)
{
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0)
        return 0;
    if (*n >= CONFIG_MAX_SCRIPT_LINES)
        return loader_fail(l, s, "%s.%s has more than %d G-code lines", k->group, k->name,
                           CONFIG_MAX_SCRIPT_LINES);
    if (len > FRAMING_MAX_LINE)
        return loader_fail(l, s, "%s.%s has a line of %zu characters; at most %d are allowed",
                           k->group, k->name, len, FRAMING_MAX_LINE);
    if (!(lines[*n] = strndup(text, len)))
        return loader_fail_oom(l);
    (*n)++;
    return 0;
}

/* A script given as one string: one line per '\n'. */
static int read_script_string(struct loader *l, const config_setting_t *s, const struct key *k,
                              char **lines)
{
    const char *p = config_setting_get_string(s);
    int n = 0, rc;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if ((rc = add_script_line(l, s, k, lines, &n, p, len)) < 0)
            return rc;
        if (!nl)
            return 0;
        p = nl + 1;
    }
}

static int read_script(struct loader *l, const config_setting_t *s, const struct key *k,
                       char **lines)
{
    int n = 0, rc;

    for (int i = 0; i <= CONFIG_MAX_SCRIPT_LINES; i++) {
        free(lines[i]);
        lines[i] = NULL;
    }
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return read_script_string(l, s, k, lines);
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return fail_type(l, s, k);
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v, *end;
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return loader_fail(l, e, "%s.%s element %d must be a string, e.g. %s", k->group,
                               k->name, i + 1, k->example);
        v = config_setting_get_string(e);
        end = v + strlen(v);
        while (end > v && isspace((unsigned char)end[-1]))
            end--;
        if (memchr(v, '\n', (size_t)(end - v)))
            return loader_fail(l, e, "%s.%s element %d contains a newline; give each G-code "
                                     "line as its own string", k->group, k->name, i + 1);
        if ((rc = add_script_line(l, s, k, lines, &n, v, (size_t)(end - v))) < 0)
            return rc;
    }
    return 0;
}

static int read_string(struct loader *l, const config_setting_t *s, const struct key *k,
                       void *f)
{
    char why[512];
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail_type(l, s, k);
    const char *v = config_setting_get_string(s);
    if (raw_has_nul(l, s))
        return fail_nul(l, s, k);
    if (k->kind == KIND_LEVEL) {
        int level = log_level_parse(v);
        if (level < 0)
            return loader_fail(l, s, "%s.%s must be %s, not \"%s\"", k->group, k->name,
                               keys_kind_wants(k->kind), v);
        *(int *)f = level;
        return 0;
    }
    if (k->check && k->check(v, why, sizeof why) < 0)
        return loader_fail(l, s, "%s.%s %s", k->group, k->name, why);
    char *copy = strdup(v);
    if (!copy)
        return loader_fail_oom(l);
    free(*(char **)f);
    *(char **)f = copy;
    return 0;
}

static int read_int(struct loader *l, const config_setting_t *s, const struct key *k, void *f)
{
    double num;
    int rc = read_number(l, s, k, &num);
    if (rc == 0)
        *(int *)f = (int)num;
    return rc;
}

static int read_key(struct loader *l, const config_setting_t *s, const struct key *k,
                    struct config *c)
{
    void *f = key_field(k, c);
    double num;
    int rc;

    switch (k->kind) {
    case KIND_STRING:
    case KIND_LEVEL:
        return read_string(l, s, k, f);
    case KIND_BAUD:
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return read_int(l, s, k, f);
        if (strcmp(config_setting_get_string(s), "auto") != 0)
            return fail_type(l, s, k);
        *(int *)f = 0;
        return 0;
    case KIND_INT:
        return read_int(l, s, k, f);
    case KIND_FLOAT:
        if ((rc = read_number(l, s, k, &num)) < 0)
            return rc;
        *(double *)f = num;
        return 0;
    case KIND_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return fail_type(l, s, k);
        *(bool *)f = config_setting_get_bool(s) != 0;
        return 0;
    case KIND_SCRIPT:
    case KIND_NAMES:
        if (raw_has_nul(l, s))
            return fail_nul(l, s, k);
        return read_script(l, s, k, (char **)f);
    }
    return loader_fail(l, s, "%s.%s has no reader (a bug in reader.c)", k->group, k->name);
}

/* ---- the walk ------------------------------------------------------------------------ */

static int read_group(struct reader *r, const config_setting_t *g, const struct key_group *grp,
                      struct config *c)
{
    char hint[256];
    int rc;
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct key *k = keys_find(grp->name, name);
        if (!k) {
            suggest_key(hint, sizeof hint, grp->name, name);
            return loader_fail(r->l, s, "unknown setting '%s.%s'%s", grp->name, name, hint);
        }
        r->seen[k - keys_table] = s;
        if ((rc = read_key(r->l, s, k, c)) < 0)
            return rc;
    }
    return 0;
}

/* events and inbound hold lists of groups: hookconfig.c reads them */
static int read_hook_group(struct reader *r, const config_setting_t *s, struct config *c)
{
    const config_setting_t *where = s;
    char why[768];
    int rc = hookconfig_read(&c->hooks, s, &where, why, sizeof why);
    if (rc == -ENOMEM)
        return loader_fail_oom(r->l);
    return rc < 0 ? loader_fail(r->l, where, "%s", why) : 0;
}

static int read_all(struct reader *r, const config_t *lc, struct config *c)
{
    const config_setting_t *root = config_root_setting(lc);
    char hint[256];
    int rc;

    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (hookconfig_owns(name)) {
            if ((rc = read_hook_group(r, s, c)) < 0)
                return rc;
            continue;
        }
        const struct key_group *grp = keys_find_group(name);
        if (!grp && config_setting_is_group(s)) {
            suggest_group(hint, sizeof hint, name);
            return loader_fail(r->l, s, "unknown group '%s'%s", name, hint);
        }
        if (!grp) {
            suggest_key(hint, sizeof hint, NULL, name);
            return loader_fail(r->l, s, "unknown setting '%s'%s", name, hint);
        }
        if (!config_setting_is_group(s))
            return loader_fail(r->l, s, "%s must be a group, e.g. %s", name, grp->example);
        if ((rc = read_group(r, s, grp, c)) < 0)
            return rc;
    }
    return 0;
}

/* ---- what only the whole file can tell -------------------------------------------------- */

/* The setting that set the field at off, or NULL if it kept its default. */
static const config_setting_t *seen_at(const struct reader *r, size_t off)
{
    for (size_t k = 0; k < keys_count; k++)
        if (keys_table[k].off == off)
            return r->seen[k];
    return NULL;
}

static int check_reconnect_delays(struct reader *r, const struct config *c)
{
    const config_setting_t *s;
    if (c->printer_reconnect_max_delay >= c->printer_reconnect_delay)
        return 0;
    /* blame the line that was written: max_delay, or a delay above the default cap */
    if ((s = seen_at(r, FIELD(printer_reconnect_max_delay))))
        return loader_fail(r->l, s, "printer.reconnect_max_delay (%.15g) must not be less than "
                                    "printer.reconnect_delay (%.15g)",
                           c->printer_reconnect_max_delay, c->printer_reconnect_delay);
    return loader_fail(r->l, seen_at(r, FIELD(printer_reconnect_delay)),
                       "printer.reconnect_delay (%.15g) is more than printer.reconnect_max_delay "
                       "(default %.15g); set reconnect_max_delay too",
                       c->printer_reconnect_delay, c->printer_reconnect_max_delay);
}

/* mqtt.password_file: its first line becomes mqtt.password. */
static int read_password_file(struct reader *r, struct config *c)
{
    const config_setting_t *s = seen_at(r, FIELD(mqtt_password_file));
    char line[1024];
    FILE *f;

    if (c->mqtt_password)
        return loader_fail(r->l, s, "mqtt.password_file and mqtt.password are both set; keep one");
    if (!c->mqtt_username)
        return loader_fail(r->l, s, "mqtt.password_file is set but mqtt.username is not; add "
                                    "username = \"...\";");
    if (!(f = fopen(c->mqtt_password_file, "r"))) {
        int e = errno;
        loader_fail(r->l, s, "mqtt.password_file: cannot read %s: %s", c->mqtt_password_file,
                    strerror(e));
        return -e;
    }
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0])
        return loader_fail(r->l, s, "mqtt.password_file: %s is empty; put the password on its "
                                    "first line", c->mqtt_password_file);
    c->mqtt_password = strdup(line);
    explicit_bzero(line, sizeof line);
    return c->mqtt_password ? 0 : loader_fail_oom(r->l);
}

static int check_credentials(struct reader *r, struct config *c)
{
    if (c->mqtt_password && !c->mqtt_username)
        return loader_fail(r->l, seen_at(r, FIELD(mqtt_password)),
                           "mqtt.password is set but mqtt.username is not; add username = "
                           "\"...\"; or remove the password");
    if (c->mqtt_password_file)
        return read_password_file(r, c);
    return 0;
}

static int check_tls_pair(struct reader *r, const struct config *c)
{
    if ((c->mqtt_tls_cert_file != NULL) == (c->mqtt_tls_key_file != NULL))
        return 0;
    return loader_fail(r->l, seen_at(r, c->mqtt_tls_cert_file ? FIELD(mqtt_tls_cert_file)
                                                             : FIELD(mqtt_tls_key_file)),
                       "mqtt.tls_cert_file and mqtt.tls_key_file go together; set both or "
                       "neither");
}

static int check_filters(struct reader *r, const struct config *c)
{
    for (int i = 0; c->filter_classes_off[i]; i++)
        if (!check_is_event_class(c->filter_classes_off[i]))
            return loader_fail(r->l, seen_at(r, FIELD(filter_classes_off)),
                               "filter.classes_off: unknown event class \"%s\"; the classes are "
                               "server, comm, files, printjob, gcode, position, timelapse, "
                               "slicing, settings and unclassified", c->filter_classes_off[i]);
    for (int w = 0; w < 2; w++) {
        char *const *names = w ? c->filter_events_on : c->filter_events_off;
        for (int i = 0; names[i]; i++) {
            char hint[256];
            if (!check_is_event_name(names[i]))
                return loader_fail(r->l, seen_at(r, w ? FIELD(filter_events_on)
                                                      : FIELD(filter_events_off)),
                                   "filter.%s: \"%s\" is not an event name such as \"ZChange\"",
                                   w ? "events_on" : "events_off", names[i]);
            if (events_is_known(names[i]))
                continue;
            suggest_event(hint, sizeof hint, names[i]);
            return loader_fail(r->l, seen_at(r, w ? FIELD(filter_events_on) : FIELD(filter_events_off)),
                               "filter.%s: printbridge publishes no event \"%s\"%s",
                               w ? "events_on" : "events_off", names[i], hint);
        }
    }
    return 0;
}

/* The fields derived from others: the USB id parsed, the client id from the base topic. */
static int derive(struct reader *r, struct config *c)
{
    if (c->printer_usb_id) {
        for (char *p = c->printer_usb_id; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        check_usb_id_parse(c->printer_usb_id, &c->printer_usb_vid, &c->printer_usb_pid);
    }
    if (!seen_at(r, FIELD(mqtt_client_id))) {
        free(c->mqtt_client_id);
        if (!(c->mqtt_client_id = keys_default_client_id(c->mqtt_base_topic)))
            return loader_fail_oom(r->l);
    }
    return 0;
}

int reader_read(struct loader *l, const config_t *lc, struct config *c)
{
    struct reader r = { .l = l, .seen = calloc(keys_count, sizeof *r.seen) };
    int rc;

    if (!r.seen)
        return loader_fail_oom(l);
    if ((rc = read_all(&r, lc, c)) == 0 && (rc = check_reconnect_delays(&r, c)) == 0 &&
        (rc = check_credentials(&r, c)) == 0 && (rc = check_tls_pair(&r, c)) == 0 &&
        (rc = check_filters(&r, c)) == 0)
        rc = derive(&r, c);
    free(r.seen);
    return rc;
}
