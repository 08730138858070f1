/* rx.c: received bytes to lines (see rx.h). State survives between chunks, so a line split
 * over any number of reads arrives once and whole. */
#include "rx.h"

#include <ctype.h>

void sim_rx_reset(struct sim_rx *rx)
{
    rx->len = 0;
    rx->dropping = false;
}

/* Hands the line collected so far to fn without its surrounding blanks; the receiver is
 * empty again before fn runs. */
static void rx_deliver(struct sim_rx *rx, sim_rx_line_fn fn, void *ctx)
{
    size_t start = 0, end = rx->len;
    rx->len = 0;
    while (end > 0 && isspace((unsigned char)rx->line[end - 1]))
        end--;
    while (start < end && isspace((unsigned char)rx->line[start]))
        start++;
    if (start == end)
        return;
    rx->line[end] = '\0';
    fn(ctx, rx->line + start, end - start);
}

void sim_rx_feed(struct sim_rx *rx, const char *data, size_t n, sim_rx_line_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (c == '\n') {
            if (!rx->dropping)
                rx_deliver(rx, fn, ctx);
            rx->dropping = false;
        } else if (rx->dropping || c == '\0') {
            continue;
        } else if (rx->len == SIM_RX_LINE_MAX) {
            rx->len = 0;
            rx->dropping = true;
        } else {
            rx->line[rx->len++] = c;
        }
    }
}
