/* log.c: the daemon's logger. One line per message on stderr. Under systemd (JOURNAL_STREAM
 * set) each line starts with the sd-daemon "<N>" priority prefix so journald keeps the level;
 * on a terminal it starts with a time stamp and the level name instead. Embedded newlines are
 * replaced so a message can never span lines. */
#include "printbridge/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static int journal = -1;

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }

int log_level_parse(const char *name)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -EINVAL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *labels[] = { "error", "warn", "info", "debug" };
    static const int syslog_prio[] = { 3, 4, 6, 7 };
    char line[2048];
    va_list ap;

    if (level > current_level)
        return;
    if (journal < 0)
        journal = getenv("JOURNAL_STREAM") != NULL;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (journal) {
        fprintf(stderr, "<%d>%s\n", syslog_prio[level], line);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000L, labels[level], line);
    }
}
