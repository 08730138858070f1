/* rx.h: the receive side of the simulated printer's serial port: received bytes, in
 * whatever chunks the pty delivers them, become complete lines.
 *
 * A line ends at '\n'. Blanks around it ('\r' included) are dropped, NUL bytes are dropped,
 * blank lines are not lines. A line longer than SIM_RX_LINE_MAX bytes is dropped whole, up to
 * and including its '\n', rather than cut: a cut line could still pass as a command. */
#ifndef PRINTBRIDGE_SIM_RX_H
#define PRINTBRIDGE_SIM_RX_H

#include <stdbool.h>
#include <stddef.h>

#define SIM_RX_LINE_MAX 1024    /* longest line accepted, without its '\n' */

struct sim_rx {
    char line[SIM_RX_LINE_MAX + 1];
    size_t len;
    bool dropping;              /* inside an over-long line: skip up to its '\n' */
};

/* Called once per line: NUL-terminated, len without the NUL. The callback may call
 * sim_rx_reset on the same receiver; the rest of the chunk then starts a fresh line. */
typedef void (*sim_rx_line_fn)(void *ctx, const char *line, size_t len);

/* Forgets any partial line. */
void sim_rx_reset(struct sim_rx *rx);
void sim_rx_feed(struct sim_rx *rx, const char *data, size_t n, sim_rx_line_fn fn, void *ctx);

#endif
