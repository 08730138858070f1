/* control.h: the simulator's control language (control.c): one text command per line on
 * the --control socket, acting on the firmware core. */
#ifndef PRINTBRIDGE_SIM_CONTROL_H
#define PRINTBRIDGE_SIM_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "firmware.h"

enum sim_control_effect {
    SIM_CONTROL_NONE = 0,
    SIM_CONTROL_HANGUP,   /* close the link now (comes back with --relink) */
    SIM_CONTROL_QUIT,     /* exit the simulator */
};

/* Executes one control line against fw; writes "ok[ ...]" or "error: ..." (no newline) into
 * reply and returns what the I/O layer must do besides. */
enum sim_control_effect sim_control_execute(struct sim_fw *fw, const char *line, int64_t now_ms,
                                            char *reply, size_t replysz);
/* Decodes \\, \n, \r, \t, \e, \0 and \xNN in src into out; returns the length (out is not
 * NUL-terminated), -EINVAL for a malformed escape or -ENOSPC if out is too small. */
int sim_control_unescape(const char *src, char *out, size_t outsz);

#endif
