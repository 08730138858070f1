/* cap.h: the capabilities M115 reports as Cap:NAME:0|1 (cap.c): their names and their values
 * when --cap does not set them. */
#ifndef PRINTBRIDGE_SIM_CAP_H
#define PRINTBRIDGE_SIM_CAP_H

#include <stdbool.h>

#include "options.h"

const char *sim_cap_name(enum sim_cap cap);
/* Returns the capability called name (case-insensitive), or -ENOENT. */
int sim_cap_lookup(const char *name);
/* The capability's value when --cap does not set it. */
bool sim_cap_default(enum sim_cap cap, const struct sim_options *o);

#endif
