/* triggers.h: line triggers. Configured extended regular expressions (events.triggers) are
 * tried on every line received from the printer and/or every command sent to it; a match
 * fires SerialLineMatched {name, direction, line} and, when the trigger has a command, runs
 * it through the hook runner with {name}, {direction} and {line} as placeholders.
 *
 * The printer module calls triggers_on_line for each line (the hook point belongs to the
 * printer; see the merge notes of issue 7). */
#ifndef PRINTBRIDGE_TRIGGERS_H
#define PRINTBRIDGE_TRIGGERS_H

#include "printbridge/events.h"
#include "printbridge/hookconfig.h"

#define EVENT_SERIAL_LINE_MATCHED "SerialLineMatched"

struct triggers;
struct hooks;

/* Compiles hc's triggers. h may be NULL (then only the event fires). Returns 0, or -1 with
 * one line in err (a regex that does not compile: config validation already catches it). */
int triggers_create(struct triggers **out, const struct hookconfig *hc, struct events *ev, struct hooks *h,
                    char *err, size_t errsz);

/* A configuration reload (hc may be freed right after the old one is replaced). On error
 * (out of memory, or a pattern config validation let through) every trigger is off, since
 * the old ones belong to the configuration being freed; err says so. */
int triggers_set_config(struct triggers *t, const struct hookconfig *hc, char *err, size_t errsz);

/* direction: TRIGGER_RECEIVED or TRIGGER_SENT. line without its line break. */
void triggers_on_line(struct triggers *t, enum trigger_direction direction, const char *line);

void triggers_free(struct triggers *t);

#endif
