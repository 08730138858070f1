/* linemap.h: which file position each line number of a local print came from (linemap.c).
 *
 * While a file is streamed, every numbered line is noted in a ring of the most recent
 * LINEMAP_SLOTS lines, kept in a memory-mapped file: a note is a 16-byte store, no system
 * call, and a crash of the process keeps what was stored (it is in the page cache). After a
 * restart the firmware's last accepted line number finds the position to continue from. */
#ifndef PRINTBRIDGE_JOBS_LINEMAP_H
#define PRINTBRIDGE_JOBS_LINEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* far more than can be in flight (the firmware's buffer, the serial buffers) at any time */
#define LINEMAP_SLOTS 8192
#define LINEMAP_EMPTY UINT32_MAX
/* The firmware can be behind the last line sent by at most what is in flight (the send window
 * is at most 64 lines); a counter further back was reset, even when its "start" was lost. */
#define LINEMAP_MAX_LAG 128

struct linemap_entry {
    uint64_t pos;       /* file position after the line */
    uint32_t index;     /* commands of the file up to and including it */
    uint32_t line;      /* its line number; written last, LINEMAP_EMPTY: none */
};

struct linemap {
    int fd;                             /* -1: closed */
    struct linemap_file *map;
    uint32_t next;                      /* slot of the next note */
    uint32_t last_line;                 /* of the last note */
    bool noted;
};

/* Creates (replacing) the map at path for the print id. Returns 0 or a negative errno. */
int linemap_open(struct linemap *m, const char *path, uint64_t id);
/* Line n came from the file up to pos, its index-th command. A number lower than the last
 * (the file renumbered with M110) starts the ring afresh. */
void linemap_note(struct linemap *m, unsigned long n, long long pos, unsigned long index);
/* Unmaps; removes path when remove is set. */
void linemap_close(struct linemap *m, const char *path, bool remove);

/* Reads the ring at path into slots (LINEMAP_SLOTS entries) when it belongs to print id.
 * Returns 0, -ENOENT (no map), -ESTALE (another print's) or a negative errno. */
int linemap_load(const char *path, uint64_t id, struct linemap_entry *slots);

/* Where to continue after the firmware accepted line last_line: the entry of the highest
 * noted line not above it. Returns 0 with *found, or, with the reason in why:
 * -ENODATA (nothing noted), -ERANGE (last_line is above every line sent: not this print's
 * counter), -ESRCH (below every line noted, or more than LINEMAP_MAX_LAG behind the last line sent: the
 * counter was reset, or went back). */
int linemap_find(const struct linemap_entry *slots, size_t n, unsigned long last_line,
                 struct linemap_entry *found, char *why, size_t whysz);

#endif
