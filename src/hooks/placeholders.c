/* placeholders.c: expansion of OctoPrint-style hook placeholders (see hooks.h).
 *
 * Values are rendered the way Python's str() renders them, because OctoPrint users' hook
 * commands were written against that: True rather than true, 'single quotes' in dicts. */
#include "printbridge/base.h"
#include "printbridge/hooks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Python's repr() of a str: single quotes unless the text has ' and no ". Appends; the
 * buffer's sticky error is checked by the caller. */
static void py_repr_string(struct strbuf *b, const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    strbuf_putc(b, q);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p == (unsigned char)q) {
            strbuf_putc(b, '\\');
            strbuf_putc(b, (char)*p);
        } else if (*p == '\n') {
            strbuf_puts(b, "\\n");
        } else if (*p == '\r') {
            strbuf_puts(b, "\\r");
        } else if (*p == '\t') {
            strbuf_puts(b, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            strbuf_printf(b, "\\x%02x", *p);
        } else {
            strbuf_putc(b, (char)*p);
        }
    }
    strbuf_putc(b, q);
}

/* str() of a value: strings bare at the top level, repr() inside containers. */
static void py_str(struct strbuf *b, const json_t *v, bool top)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (top)
            strbuf_put(b, json_string_value(v), json_string_length(v));
        else
            py_repr_string(b, json_string_value(v));
        return;
    case JSON_INTEGER:
        strbuf_printf(b, "%lld", (long long)json_integer_value(v));
        return;
    case JSON_REAL:
        if (pyjson_format_double(json_real_value(v), num, sizeof num) < 0)
            snprintf(num, sizeof num, "nan");
        strbuf_puts(b, num);
        return;
    case JSON_TRUE:
        strbuf_puts(b, "True");
        return;
    case JSON_FALSE:
        strbuf_puts(b, "False");
        return;
    case JSON_NULL:
        strbuf_puts(b, "None");
        return;
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        strbuf_putc(b, '[');
        json_array_foreach(v, i, e) {
            if (i)
                strbuf_puts(b, ", ");
            py_str(b, e, false);
        }
        strbuf_putc(b, ']');
        return;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        bool first = true;
        strbuf_putc(b, '{');
        json_object_foreach((json_t *)v, k, e) {
            if (!first)
                strbuf_puts(b, ", ");
            py_repr_string(b, k);
            strbuf_puts(b, ": ");
            py_str(b, e, false);
            first = false;
        }
        strbuf_putc(b, '}');
        return;
    }
    }
}

/* Hands over a finished buffer: 0, or -ENOMEM. */
static int take(char **out, struct strbuf *b)
{
    *out = strbuf_take(b);
    return *out ? 0 : -ENOMEM;
}

static int render(char **out, const json_t *v)
{
    struct strbuf b = { .max = SIZE_MAX };
    py_str(&b, v, true);
    return take(out, &b);
}

static int dup_out(char **out, const char *s)
{
    *out = strdup(s);
    return *out ? 0 : -ENOMEM;
}

/* payload["a"]["b"] for "a.b"; a key that itself contains the dot wins. */
static const json_t *lookup_path(const json_t *obj, const char *name, size_t len)
{
    char key[256];
    if (!json_is_object(obj) || len >= sizeof key)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    const json_t *v = json_object_get(obj, key);
    if (v)
        return v;
    for (size_t i = len; i-- > 0;) {
        if (name[i] != '.')
            continue;
        key[i] = '\0';
        const json_t *parent = json_object_get(obj, key);
        if (parent) {
            const json_t *r = lookup_path(parent, name + i + 1, len - i - 1);
            if (r)
                return r;
        }
        key[i] = '.';
    }
    return NULL;
}

static bool has_json_suffix(const char *name, size_t len)
{
    return len > 2 && name[len - 2] == '!' && name[len - 1] == 'j';
}

static bool is_name(const char *name, size_t len)
{
    if (has_json_suffix(name, len))
        len -= 2;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
            return false;
    return name[0] != '.' && name[len - 1] != '.';
}

static bool name_is(const char *name, size_t len, const char *what)
{
    return strlen(what) == len && memcmp(name, what, len) == 0;
}

static int dup_double(char **out, double x)
{
    char num[64];
    if (pyjson_format_double(x, num, sizeof num) < 0)
        snprintf(num, sizeof num, "-1");
    return dup_out(out, num);
}

static int iso_now(char **out, long long sec, long usec)
{
    struct tm tm;
    time_t t = (time_t)sec;
    char text[64];
    if (!localtime_r(&t, &tm))
        return dup_out(out, "");
    size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (usec > 0)
        snprintf(text + n, sizeof text - n, ".%06ld", usec);
    return dup_out(out, text);
}

/* {__topicN}: level N of the topic; -ENOENT when there is no such level. */
static int topic_level(char **out, const char *topic, const char *digits, size_t ndigits)
{
    char *end;
    char num[16];
    if (ndigits == 0 || ndigits >= sizeof num)
        return -ENOENT;
    memcpy(num, digits, ndigits);
    num[ndigits] = '\0';
    unsigned long want = strtoul(num, &end, 10);
    if (*end)
        return -ENOENT;
    const char *p = topic;
    for (unsigned long i = 0; i < want; i++) {
        p = strchr(p, '/');
        if (!p)
            return -ENOENT;
        p++;
    }
    const char *e = strchr(p, '/');
    *out = strndup(p, e ? (size_t)(e - p) : strlen(p));
    return *out ? 0 : -ENOMEM;
}

/* The text escaped for the inside of a JSON string: what {key!j} writes. */
static int json_escape(char **out, const char *v)
{
    struct strbuf b = { .max = SIZE_MAX };
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            strbuf_putc(&b, '\\');
            strbuf_putc(&b, (char)*p);
        } else if (*p == '\n') {
            strbuf_puts(&b, "\\n");
        } else if (*p < 0x20 || *p == 0x7f) {
            strbuf_printf(&b, "\\u%04x", *p);
        } else {
            strbuf_putc(&b, (char)*p);
        }
    }
    return take(out, &b);
}

/* {__json}: the payload as OctoPrint's json.dumps writes it. A payload pyjson refuses
 * (nested too deep) names nothing and is left as written. */
static int json_text(char **out, const json_t *payload)
{
    if (!payload)
        return dup_out(out, "null");
    struct strbuf b = { .max = SIZE_MAX };
    int rc = pyjson_append(&b, payload);
    if (rc < 0) {
        strbuf_free(&b);
        return rc == -ENOMEM ? rc : -ENOENT;
    }
    return take(out, &b);
}

static int value_of(char **out, const struct placeholders *ph, const char *name, size_t len);

int placeholders_value(char **out, const struct placeholders *ph, const char *name, size_t len)
{
    *out = NULL;
    if (!is_name(name, len))
        return -ENOENT;
    if (!has_json_suffix(name, len))
        return value_of(out, ph, name, len);
    char *v;
    int rc = value_of(&v, ph, name, len - 2);
    if (rc < 0)
        return rc;
    rc = json_escape(out, v);
    free(v);
    return rc;
}

/* The built-in names ({__...}); -ENOENT for any other name. */
static int builtin_value(char **out, const struct placeholders *ph, const char *name, size_t len)
{
    if (name_is(name, len, "__eventname"))
        return ph->eventname ? dup_out(out, ph->eventname) : -ENOENT;
    if (name_is(name, len, "__currentZ"))
        return ph->has_z ? dup_double(out, ph->current_z) : dup_out(out, "-1");
    if (name_is(name, len, "__filename"))
        return dup_out(out, ph->filename ? ph->filename : "NO FILE");
    if (name_is(name, len, "__filepath"))
        return dup_out(out, ph->filepath ? ph->filepath : "NO FILE");
    if (name_is(name, len, "__fileorigin"))
        return dup_out(out, ph->fileorigin ? ph->fileorigin : "NO FILE");
    if (name_is(name, len, "__progress")) {
        char num[32];
        snprintf(num, sizeof num, "%d", ph->progress > 0 ? (int)ph->progress : 0);
        return dup_out(out, num);
    }
    if (name_is(name, len, "__data"))
        return ph->payload ? render(out, ph->payload) : dup_out(out, "None");
    if (name_is(name, len, "__json"))
        return json_text(out, ph->payload);
    if (name_is(name, len, "__now"))
        return iso_now(out, ph->now_sec, ph->now_usec);
    if (name_is(name, len, "__payload"))
        return ph->raw_payload ? dup_out(out, ph->raw_payload) : -ENOENT;
    if (name_is(name, len, "__topic"))
        return ph->topic ? dup_out(out, ph->topic) : -ENOENT;
    if (len > 7 && memcmp(name, "__topic", 7) == 0 && ph->topic)
        return topic_level(out, ph->topic, name + 7, len - 7);
    return -ENOENT;
}

static int value_of(char **out, const struct placeholders *ph, const char *name, size_t len)
{
    *out = NULL;
    if (len > 2 && name[0] == '_' && name[1] == '_') {
        int rc = builtin_value(out, ph, name, len);
        if (rc != -ENOENT)
            return rc;
    }
    const json_t *v = ph->payload ? lookup_path(ph->payload, name, len) : NULL;
    return v ? render(out, v) : -ENOENT;
}

bool placeholders_present(const char *tmpl)
{
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '{' && p[1] == '{') {
            p++;
            continue;
        }
        if (*p != '{')
            continue;
        const char *end = strchr(p + 1, '}');
        if (end && is_name(p + 1, (size_t)(end - p - 1)))
            return true;
    }
    return false;
}

/* One "{name}" of len bytes at p into b: its value, or the text as written when it names
 * nothing. */
static int expand_one(struct strbuf *b, const char *p, size_t len, const struct placeholders *ph, bool shell_quote,
                      placeholders_unknown_fn *unknown, void *ctx)
{
    char *v;
    int rc = placeholders_value(&v, ph, p + 1, len);
    if (rc == -ENOENT) {
        if (unknown)
            unknown(ctx, p + 1, len);
        return strbuf_put(b, p, len + 2);
    }
    if (rc < 0)
        return rc;
    if (shell_quote) {
        char *q = words_shell_quote(v);
        rc = q ? strbuf_puts(b, q) : -ENOMEM;
        free(q);
    } else {
        rc = strbuf_puts(b, v);
    }
    free(v);
    return rc;
}

int placeholders_expand(char **out, const char *tmpl, const struct placeholders *ph, bool shell_quote,
                        size_t max_len, placeholders_unknown_fn *unknown, void *ctx)
{
    struct strbuf b = { .max = max_len };
    const char *p = tmpl;
    int rc = 0;

    *out = NULL;
    while (*p && rc == 0) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            rc = strbuf_putc(&b, *p);
            p += 2;
            continue;
        }
        const char *end = p[0] == '{' ? strchr(p + 1, '}') : NULL;
        size_t len = end ? (size_t)(end - p - 1) : 0;
        if (!end || !is_name(p + 1, len)) {
            rc = strbuf_putc(&b, *p);
            p++;
            continue;
        }
        rc = expand_one(&b, p, len, ph, shell_quote, unknown, ctx);
        p = end + 1;
    }
    if (rc < 0) {
        strbuf_free(&b);
        return rc;
    }
    return take(out, &b);
}
