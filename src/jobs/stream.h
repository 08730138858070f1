/* stream.h: a local G-code file read line by line, in constant memory (stream.c). */
#ifndef PRINTBRIDGE_JOBS_STREAM_H
#define PRINTBRIDGE_JOBS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct stream {
    FILE *f;
    long long size;                 /* bytes, -1 when unknown */
    long long pos;                  /* bytes read and handed on (kept after close) */
    unsigned long lines;            /* commands taken from the file */
    int percent;                    /* pos * 100 / size when last reported */
    char error[160];                /* why the stream stopped early, "" when it did not */
};

/* Opens path for reading. Returns 0 or a negative errno. */
int stream_open(struct stream *s, const char *path);
/* The next command, its comment stripped, into out: 1 (a command), 0 (nothing: a comment
 * or an empty line), -1 (end of file, or an error: then s->error says why; a line longer
 * than a printer accepts is an error, never cut). *percent_changed tells whether the whole
 * percent of the file read changed. */
int stream_next(struct stream *s, char *out, size_t outsz, bool *percent_changed);
/* Goes back to mark, a copy of s taken earlier: the lines read since are read again. Returns 0
 * or a negative errno (then s is unchanged). */
int stream_rewind(struct stream *s, const struct stream *mark);
void stream_close(struct stream *s);

#endif
