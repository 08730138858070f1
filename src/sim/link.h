/* link.h: the simulator's end of the serial line, a pseudo-terminal published at a path.
 *
 * The pty is raw (cfmakeraw, applied with TCSANOW so nothing queued is flushed), non-blocking
 * on the master, and the simulator keeps its own slave fd open so the master never reads EIO
 * while no host has the port open. Closing the link closes both ends, which the host sees as
 * a hang-up, and removes the symlink. */
#ifndef PRINTBRIDGE_SIM_LINK_H
#define PRINTBRIDGE_SIM_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct sim_link {
    int master;              /* -1 when closed */
    int slave;
    char pts[128];           /* ptsname of the slave */
    const char *path;        /* the symlink (not owned) */
    int published;           /* the symlink exists and is ours */
    int watch;               /* inotify fd seeing the host open and close the slave, -1: none */
};

/* Opens a raw pty for path (the symlink is not created yet). Returns 0 or a negative errno
 * with a message in err. */
int sim_link_open(struct sim_link *l, const char *path, char *err, size_t errsz);
/* Points path at the slave, atomically replacing a stale symlink; refuses to replace anything
 * that is not a symlink. Returns 0 or a negative errno with a message in err. */
int sim_link_publish(struct sim_link *l, char *err, size_t errsz);
/* Starts watching the slave for a host closing it (inotify on the pts node: the host's close
 * is invisible on the master while our own slave fd stays open). Returns 0 or a negative
 * errno with a message in err. */
int sim_link_watch_closes(struct sim_link *l, char *err, size_t errsz);
/* Reads the pending watch events: how many times a host closed the slave since the last
 * call; *hupcl says whether the port's termios still had HUPCL set (the host left DTR to
 * drop on close, which resets a board with an auto-reset circuit). */
int sim_link_host_closes(struct sim_link *l, bool *hupcl);
/* Removes the symlink (if still ours) and closes both ends. Safe to call twice. */
void sim_link_close(struct sim_link *l);

#endif
