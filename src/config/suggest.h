/* suggest.h: "did you mean" for a mistyped key or group name (suggest.c), from the key table. */
#ifndef PRINTBRIDGE_CONFIG_SUGGEST_H
#define PRINTBRIDGE_CONFIG_SUGGEST_H

#include <stddef.h>

/* Writes "; did you mean 'mqtt.host'?" (or "'a' or 'b'", "'a', 'b' or 'c'") for an unknown key
 * `name` found in `group` (NULL: at the top level), or "" when nothing is close. Keys of the
 * same group within two typos come first; failing that, a key of another group with the same
 * name ("mqtt.baudrate" -> printer.baudrate). At the top level any key within two typos
 * qualifies, since settings there belong in some group. */
void suggest_key(char *out, size_t outsz, const char *group, const char *name);

/* For an unknown group: the close group names, or else the list of all groups. */
void suggest_group(char *out, size_t outsz, const char *name);

/* For an event name printbridge never publishes: the close event names, or a pointer to the
 * list in the docs. */
void suggest_event(char *out, size_t outsz, const char *name);

#endif
