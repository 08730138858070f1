/* printbridge/app.h: the app layer:
 * The running daemon: every module wired together on one loop, reload on SIGHUP, an
 * orderly stop on SIGTERM/SIGINT. */
#ifndef PRINTBRIDGE_APP_H
#define PRINTBRIDGE_APP_H

#include "printbridge/config.h"

/* Runs the daemon with cfg (loaded and valid) until SIGTERM or SIGINT; streams print_file
 * once the printer is operational when not NULL. cfg is taken over and handed back: after a
 * reload it holds the configuration in force, which the caller frees. Returns the exit
 * status. */
int daemon_run(struct config *cfg, const char *print_file);

#endif
