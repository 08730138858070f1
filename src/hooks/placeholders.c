/* placeholders.c: expansion of OctoPrint-style hook placeholders (see placeholders.h).
 *
 * Values are rendered the way Python's str() renders them, because OctoPrint users' hook
 * commands were written against that: True rather than true, 'single quotes' in dicts. */
#include "printbridge/base.h"
#include "printbridge/hooks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* Python's repr() of a str: single quotes unless the text has ' and no ". */
static int py_repr_string(struct strbuf *b, const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    if (strbuf_put(b, &q, 1) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        int rc;
        if (*p == '\\' || *p == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = (char)*p;
            rc = strbuf_put(b, esc, 2);
        } else if (*p == '\n') {
            rc = strbuf_put(b, "\\n", 2);
        } else if (*p == '\r') {
            rc = strbuf_put(b, "\\r", 2);
        } else if (*p == '\t') {
            rc = strbuf_put(b, "\\t", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            rc = strbuf_puts(b, esc);
        } else {
            rc = strbuf_put(b, (const char *)p, 1);
        }
        if (rc < 0)
            return -1;
    }
    return strbuf_put(b, &q, 1);
}

/* str() of a value: strings bare at the top level, repr() inside containers. */
static int py_str(struct strbuf *b, const json_t *v, bool top)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return top ? strbuf_put(b, json_string_value(v), json_string_length(v)) : py_repr_string(b, json_string_value(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return strbuf_puts(b, num);
    case JSON_REAL:
        if (pyjson_format_double(json_real_value(v), num, sizeof num) < 0)
            snprintf(num, sizeof num, "nan");
        return strbuf_puts(b, num);
    case JSON_TRUE:
        return strbuf_puts(b, "True");
    case JSON_FALSE:
        return strbuf_puts(b, "False");
    case JSON_NULL:
        return strbuf_puts(b, "None");
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        if (strbuf_puts(b, "[") < 0)
            return -1;
        json_array_foreach(v, i, e) {
            if ((i && strbuf_puts(b, ", ") < 0) || py_str(b, e, false) < 0)
                return -1;
        }
        return strbuf_puts(b, "]");
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        bool first = true;
        if (strbuf_puts(b, "{") < 0)
            return -1;
        json_object_foreach((json_t *)v, k, e) {
            if ((!first && strbuf_puts(b, ", ") < 0) || py_repr_string(b, k) < 0 || strbuf_puts(b, ": ") < 0 ||
                py_str(b, e, false) < 0)
                return -1;
            first = false;
        }
        return strbuf_puts(b, "}");
    }
    }
    return -1;
}

static char *render(const json_t *v)
{
    struct strbuf b = { .max = (size_t)-1 };
    if (py_str(&b, v, true) < 0) {
        free(b.s);
        return NULL;
    }
    return b.s ? b.s : strdup("");
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

static char *dup_double(double x)
{
    char num[64];
    if (pyjson_format_double(x, num, sizeof num) < 0)
        snprintf(num, sizeof num, "-1");
    return strdup(num);
}

static char *iso_now(long long sec, long usec)
{
    struct tm tm;
    time_t t = (time_t)sec;
    char out[64];
    if (!localtime_r(&t, &tm))
        return strdup("");
    size_t n = strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
    if (usec > 0)
        snprintf(out + n, sizeof out - n, ".%06ld", usec);
    return strdup(out);
}

static char *topic_level(const char *topic, const char *digits, size_t ndigits)
{
    char *end;
    char num[16];
    if (ndigits == 0 || ndigits >= sizeof num)
        return NULL;
    memcpy(num, digits, ndigits);
    num[ndigits] = '\0';
    unsigned long want = strtoul(num, &end, 10);
    if (*end)
        return NULL;
    const char *p = topic;
    for (unsigned long i = 0; i < want; i++) {
        p = strchr(p, '/');
        if (!p)
            return NULL;
        p++;
    }
    const char *e = strchr(p, '/');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* The text escaped for the inside of a JSON string: what {key!j} writes. */
static char *json_escape(char *v)
{
    struct strbuf b = { .max = (size_t)-1 };
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        int rc;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            rc = strbuf_put(&b, esc, 2);
        } else if (*p == '\n') {
            rc = strbuf_put(&b, "\\n", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            rc = strbuf_puts(&b, esc);
        } else {
            rc = strbuf_put(&b, (const char *)p, 1);
        }
        if (rc < 0) {
            free(b.s);
            free(v);
            return NULL;
        }
    }
    free(v);
    return b.s ? b.s : strdup("");
}

static char *value_of(const struct placeholders *ph, const char *name, size_t len);

char *placeholders_value(const struct placeholders *ph, const char *name, size_t len)
{
    if (!is_name(name, len))
        return NULL;
    if (has_json_suffix(name, len)) {
        char *v = value_of(ph, name, len - 2);
        return v ? json_escape(v) : NULL;
    }
    return value_of(ph, name, len);
}

static char *value_of(const struct placeholders *ph, const char *name, size_t len)
{
    if (len > 2 && name[0] == '_' && name[1] == '_') {
        if (name_is(name, len, "__eventname"))
            return ph->eventname ? strdup(ph->eventname) : NULL;
        if (name_is(name, len, "__currentZ"))
            return ph->has_z ? dup_double(ph->current_z) : strdup("-1");
        if (name_is(name, len, "__filename"))
            return strdup(ph->filename ? ph->filename : "NO FILE");
        if (name_is(name, len, "__filepath"))
            return strdup(ph->filepath ? ph->filepath : "NO FILE");
        if (name_is(name, len, "__fileorigin"))
            return strdup(ph->fileorigin ? ph->fileorigin : "NO FILE");
        if (name_is(name, len, "__progress")) {
            char num[32];
            snprintf(num, sizeof num, "%d", ph->progress > 0 ? (int)ph->progress : 0);
            return strdup(num);
        }
        if (name_is(name, len, "__data"))
            return ph->payload ? render(ph->payload) : strdup("None");
        if (name_is(name, len, "__json")) {
            if (!ph->payload)
                return strdup("null");
            return pyjson_dumps(ph->payload);
        }
        if (name_is(name, len, "__now"))
            return iso_now(ph->now_sec, ph->now_usec);
        if (name_is(name, len, "__payload"))
            return ph->raw_payload ? strdup(ph->raw_payload) : NULL;
        if (name_is(name, len, "__topic"))
            return ph->topic ? strdup(ph->topic) : NULL;
        if (len > 7 && memcmp(name, "__topic", 7) == 0 && ph->topic)
            return topic_level(ph->topic, name + 7, len - 7);
    }
    const json_t *v = ph->payload ? lookup_path(ph->payload, name, len) : NULL;
    return v ? render(v) : NULL;
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

char *placeholders_expand(const char *tmpl, const struct placeholders *ph, bool shell_quote,
                          size_t max_len, bool *toolong, placeholders_unknown_fn *unknown, void *ctx)
{
    struct strbuf b = { .max = max_len };
    const char *p = tmpl;

    if (toolong)
        *toolong = false;
    while (*p) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (strbuf_put(&b, p, 1) < 0)
                goto fail;
            p += 2;
            continue;
        }
        const char *end = p[0] == '{' ? strchr(p + 1, '}') : NULL;
        size_t len = end ? (size_t)(end - p - 1) : 0;
        if (!end || !is_name(p + 1, len)) {
            if (strbuf_put(&b, p, 1) < 0)
                goto fail;
            p++;
            continue;
        }
        char *v = placeholders_value(ph, p + 1, len);
        if (!v) {
            if (unknown)
                unknown(ctx, p + 1, len);
            if (strbuf_put(&b, p, len + 2) < 0)
                goto fail;
        } else {
            char *q = shell_quote ? words_shell_quote(v) : NULL;
            int rc = shell_quote ? (q ? strbuf_puts(&b, q) : -1) : strbuf_puts(&b, v);
            free(q);
            free(v);
            if (rc < 0)
                goto fail;
        }
        p = end + 1;
    }
    if (!b.s && strbuf_put(&b, "", 0) < 0)
        goto fail;
    return b.s;
fail:
    if (toolong)
        *toolong = b.toolong;
    free(b.s);
    return NULL;
}
