/* linemap.c: the line number -> file position ring of a local print (see linemap.h). The
 * ring lives in a shared mapping of a small file: stores reach the page cache directly, so
 * the cost per line is a few instructions and a killed process leaves every note behind. A
 * slot is made empty, filled, then given its line number, with compiler fences between, so a
 * process killed in the middle of a note leaves an empty slot, never a wrong one. */
#include "linemap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LINEMAP_MAGIC "PBLINES1"

struct linemap_file {
    char magic[8];
    uint64_t id;
    struct linemap_entry slot[LINEMAP_SLOTS];
};

static void clear_slots(struct linemap_file *f)
{
    for (size_t i = 0; i < LINEMAP_SLOTS; i++)
        f->slot[i].line = LINEMAP_EMPTY;
}

int linemap_open(struct linemap *m, const char *path, uint64_t id)
{
    memset(m, 0, sizeof *m);
    m->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (m->fd < 0)
        return -errno;
    int rc = 0;
    if (ftruncate(m->fd, sizeof *m->map) != 0) {
        rc = -errno;
        goto fail;
    }
    m->map = mmap(NULL, sizeof *m->map, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (m->map == MAP_FAILED) {
        rc = -errno;
        m->map = NULL;
        goto fail;
    }
    clear_slots(m->map);
    m->map->id = id;
    memcpy(m->map->magic, LINEMAP_MAGIC, sizeof m->map->magic);
    return 0;
fail:
    close(m->fd);
    m->fd = -1;
    return rc;
}

void linemap_note(struct linemap *m, unsigned long n, long long pos, unsigned long index)
{
    if (!m->map)
        return;
    if (m->noted && n <= m->last_line) {
        clear_slots(m->map);
        m->next = 0;
    }
    struct linemap_entry *e = &m->map->slot[m->next];
    __atomic_store_n(&e->line, LINEMAP_EMPTY, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    e->pos = (uint64_t)pos;
    e->index = (uint32_t)index;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&e->line, (uint32_t)n, __ATOMIC_RELAXED);
    m->next = (m->next + 1) % LINEMAP_SLOTS;
    m->last_line = (uint32_t)n;
    m->noted = true;
}

void linemap_close(struct linemap *m, const char *path, bool remove)
{
    if (m->map)
        munmap(m->map, sizeof *m->map);
    if (m->fd >= 0)
        close(m->fd);
    if (remove && path)
        unlink(path);
    m->map = NULL;
    m->fd = -1;
}

int linemap_load(const char *path, uint64_t id, struct linemap_entry *slots)
{
    struct linemap_file f;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, &f, sizeof f);
    int rc = n < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return rc;
    if ((size_t)n != sizeof f || memcmp(f.magic, LINEMAP_MAGIC, sizeof f.magic) != 0 || f.id != id)
        return -ESTALE;
    memcpy(slots, f.slot, sizeof f.slot);
    return 0;
}

int linemap_find(const struct linemap_entry *slots, size_t n, unsigned long last_line,
                 struct linemap_entry *found, char *why, size_t whysz)
{
    const struct linemap_entry *best = NULL;
    unsigned long lowest = ULONG_MAX, highest = 0;
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        const struct linemap_entry *e = &slots[i];
        if (e->line == LINEMAP_EMPTY)
            continue;
        valid++;
        lowest = e->line < lowest ? e->line : lowest;
        highest = e->line > highest ? e->line : highest;
        if (e->line <= last_line && (!best || e->line > best->line))
            best = e;
    }
    if (valid == 0) {
        snprintf(why, whysz, "no line of the file had been sent to the printer");
        return -ENODATA;
    }
    if (last_line > highest) {
        snprintf(why, whysz, "the firmware's last line %lu is beyond the last line sent (%lu): not this print's counter",
                 last_line, highest);
        return -ERANGE;
    }
    if (!best || last_line < lowest) {
        snprintf(why, whysz, "the firmware's last line %lu is before the print's lines (%lu-%lu): its counter was reset",
                 last_line, lowest, highest);
        return -ESRCH;
    }
    if (highest - last_line > LINEMAP_MAX_LAG) {
        snprintf(why, whysz, "the firmware's last line %lu is %lu lines behind the last line sent (%lu), more than can "
                 "be in flight: its counter was reset", last_line, highest - last_line, highest);
        return -ESRCH;
    }
    *found = *best;
    return 0;
}
