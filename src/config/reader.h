/* reader.h: the parsed file walked against the key table into struct config (reader.c). */
#ifndef PRINTBRIDGE_CONFIG_READER_H
#define PRINTBRIDGE_CONFIG_READER_H

#include <libconfig.h>

#include "loader.h"
#include "printbridge/config.h"

/* Reads every setting of lc into c (which holds the defaults), then checks what only the
 * whole file can tell (a password without a user name, ...) and fills the derived fields.
 * 0, or a negative errno (-EINVAL for a mistake in the file) with the FILE:LINE line in l. */
int reader_read(struct loader *l, const config_t *lc, struct config *c);

#endif
