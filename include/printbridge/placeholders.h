/* placeholders.h: OctoPrint's event-hook placeholders ({__eventname}, {name}, {position.z},
 * ...) expanded into hook commands. Pure: every input comes in struct placeholders.
 *
 * Syntax follows Python's str.format as OctoPrint uses it: "{name}" is replaced, "{{" and
 * "}}" are literal braces. A "{...}" that is not a placeholder name (JSON such as
 * {"content": 1}) or names nothing known is left exactly as written, so hand-written JSON
 * bodies mostly survive; double the braces when one would otherwise be taken for a name.
 * "{name!j}" writes the value escaped for the inside of a JSON string (" \ and control
 * characters), so a webhook body stays valid JSON whatever a file is called. */
#ifndef PRINTBRIDGE_PLACEHOLDERS_H
#define PRINTBRIDGE_PLACEHOLDERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct placeholders {
    const char *eventname;      /* {__eventname}; NULL: not an event */
    const json_t *payload;      /* event payload or inbound JSON object; keys are placeholders */
    bool has_z;                 /* {__currentZ}: current_z, or -1 when unknown */
    double current_z;
    const char *filename;       /* {__filename}, {__filepath}, {__fileorigin}: NULL -> "NO FILE" */
    const char *filepath;
    const char *fileorigin;
    double progress;            /* {__progress}: percent, 0 when not printing */
    long long now_sec;          /* {__now}: local time, ISO 8601 like Python's isoformat() */
    long now_usec;
    const char *raw_payload;    /* {__payload}: the inbound payload text (NUL-free), or NULL */
    const char *topic;          /* {__topic}, {__topic0}, {__topic1}, ...: inbound topic, or NULL */
};

/* Called once per unknown placeholder occurrence; the name is not NUL-terminated. */
typedef void placeholders_unknown_fn(void *ctx, const char *name, size_t len);

/* The text of one placeholder (name of len bytes), malloc'd; NULL when unknown (or out of
 * memory). Strings are substituted as they are, integers in decimal, reals as Python's
 * repr, true/false/null as Python's True/False/None, objects and lists as Python's str(). */
char *placeholders_value(const struct placeholders *ph, const char *name, size_t len);

/* Expands tmpl. With shell_quote every substituted value is quoted with words_shell_quote.
 * Returns a malloc'd string, or NULL with *toolong set when the result would exceed max_len
 * bytes (NULL without *toolong: out of memory). unknown may be NULL. */
char *placeholders_expand(const char *tmpl, const struct placeholders *ph, bool shell_quote,
                          size_t max_len, bool *toolong, placeholders_unknown_fn *unknown, void *ctx);

/* True if tmpl contains at least one "{name}" that placeholders_expand would look up. */
bool placeholders_present(const char *tmpl);

#endif
