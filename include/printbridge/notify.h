/* notify.h: the systemd service notification protocol (sd_notify(3)), implemented without
 * libsystemd: one datagram per message to the Unix socket named by $NOTIFY_SOCKET (a path,
 * or an abstract name written with a leading '@'). READY=1 once start-up is done, STATUS=
 * with the printer's and the broker's state, WATCHDOG=1 every half $WATCHDOG_USEC from a
 * libuv timer, STOPPING=1 on shutdown. Without $NOTIFY_SOCKET every call does nothing. */
#ifndef PRINTBRIDGE_NOTIFY_H
#define PRINTBRIDGE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

struct notify;

/* Fills *sa and *len for the socket named NAME (an absolute path, or "@name" for an abstract socket).
 * 0, or -EINVAL (empty, not absolute nor '@', or too long for sun_path). */
int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len);

/* "STATUS=Printer: <printer>; broker: <broker>" into buf; the length, or -ENOSPC. */
int notify_format_status(char *buf, size_t size, const char *printer, const char *broker);

/* The watchdog ping interval in ms (half of WATCHDOG_USEC) for the environment values given
 * (either may be NULL), or 0 when there is no watchdog for process `pid`. */
uint64_t notify_watchdog_interval_ms(const char *watchdog_usec, const char *watchdog_pid, long pid);

/* Reads and unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (so child processes do not
 * inherit them), opens the socket and starts the watchdog timer. *out is NULL (and 0
 * returned) when not started by systemd; a negative errno when the socket is unusable. The
 * caller owns *out and releases it with notify_close. */
int notify_start(struct notify **out, uv_loop_t *loop);

/* Each sends one message; all accept NULL and ignore send errors (never blocking). */
void notify_ready(struct notify *n);
/* Sends STATUS= only when it differs from the last one sent. */
void notify_status(struct notify *n, const char *printer, const char *broker);
void notify_stopping(struct notify *n);
/* Stops the timer, closes the socket, frees n once libuv has closed the timer. */
void notify_close(struct notify *n);

#endif
