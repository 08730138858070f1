/* journal.h: the crash journal, a tiny file saying which print is running (journal.c). */
#ifndef PRINTBRIDGE_JOBS_JOURNAL_H
#define PRINTBRIDGE_JOBS_JOURNAL_H

#include <jansson.h>

/* Replaces the journal at path with record (a JSON object) atomically (write, rename); no
 * fsync: a crash of the process keeps what reached the page cache. Returns 0 or -errno. */
int journal_write(const char *path, const json_t *record);
/* The record at path (new reference), or NULL when there is none or it is unreadable. */
json_t *journal_read(const char *path);
void journal_clear(const char *path);
/* Creates the folder the journal lives in, when missing. */
void journal_prepare(const char *path);

#endif
