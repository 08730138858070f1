/* rawtext.h: the text of the config files, for what libconfig does not tell (rawtext.c). */
#ifndef PRINTBRIDGE_CONFIG_RAWTEXT_H
#define PRINTBRIDGE_CONFIG_RAWTEXT_H

#include <libconfig.h>
#include <stdbool.h>

#include "loader.h"

/* The text of the file libconfig calls `file`, read once per load; NULL if unreadable. */
const char *raw_text(struct loader *l, const char *file);

/* Where line number `line` (from 1) of text starts; NULL for a NULL text. */
const char *raw_line(const char *text, unsigned line);

/* For an integer setting: if the literal in the file does not fit in 32 bits, libconfig
 * stored it wrapped. Returns the literal's length (and start in *lit) in that case, else 0. */
int raw_wrapped_int(struct loader *l, const config_setting_t *s, const char **lit);

/* True if a string literal in the value of s holds "\x00", which libconfig drops silently. */
bool raw_has_nul(struct loader *l, const config_setting_t *s);

/* True if libconfig's error line is past the last non-blank line of text: it reports an
 * unterminated string or a missing brace at the end of the file. */
bool raw_error_at_eof(const char *text, int line);

/* Frees every text read during the load. */
void raw_release(struct loader *l);

#endif
