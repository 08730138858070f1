/* pyjson.h: serialise a jansson tree exactly as Python's json.dumps() does with default
 * arguments (wire-format.md section 2): ", " and ": " separators, insertion order, lowercase
 * \uXXXX for everything outside printable ASCII, Python repr() for floats. Pure. */
#ifndef PRINTBRIDGE_PYJSON_H
#define PRINTBRIDGE_PYJSON_H

#include <jansson.h>
#include <stddef.h>

/* Returns a malloc'd NUL-terminated string the caller frees, or NULL if the tree holds a
 * non-finite real or memory ran out. */
char *pyjson_dumps(const json_t *value);

/* Python repr() of a double ("0.3", "210.0", "1e+16", "-0.0"). Returns the length written,
 * or -1 for NaN/infinity or a too-small buffer. 32 bytes are always enough. */
int pyjson_format_double(double x, char *out, size_t outsz);

/* A JSON real for x, or JSON null when x is not finite (jansson refuses NaN). New reference. */
json_t *pyjson_real_or_null(double x);

/* A JSON string from bytes that may not be valid UTF-8: decoded as UTF-8, falling back to
 * latin-1 for the whole string if that fails, as OctoPrint does with printer text. */
json_t *pyjson_string_lossy(const char *s, size_t n);

#endif
