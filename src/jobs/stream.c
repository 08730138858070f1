/* stream.c: a local G-code file read line by line for the printer's send path. Big reads
 * keep the loop from taking a syscall per line; comments and empty lines never reach the
 * printer; a line longer than the printer accepts stops the stream rather than being cut,
 * since a cut command could move the machine somewhere the file never meant. */
#include "stream.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "printbridge/serial.h"

int stream_open(struct stream *s, const char *path)
{
    struct stat st;
    memset(s, 0, sizeof *s);
    s->f = fopen(path, "r");
    if (!s->f)
        return -errno;
    setvbuf(s->f, NULL, _IOFBF, 1 << 16);
    s->size = fstat(fileno(s->f), &st) == 0 ? (long long)st.st_size : -1;
    s->percent = -1;
    return 0;
}

int stream_next(struct stream *s, char *out, size_t outsz, bool *percent_changed)
{
    *percent_changed = false;
    if (!s->f)
        return -1;
    if (!fgets(out, (int)outsz, s->f)) {
        if (ferror(s->f))
            snprintf(s->error, sizeof s->error, "reading the file failed: %s", strerror(errno));
        return -1;
    }
    size_t len = strlen(out);
    s->pos += (long long)len;
    if (len == outsz - 1 && out[len - 1] != '\n' && !feof(s->f)) {
        snprintf(s->error, sizeof s->error, "line %lu is longer than %d bytes", s->lines + 1, FRAMING_MAX_LINE);
        return -1;
    }
    if (memchr(out, '\0', len) != NULL || framing_strip_comment(out) == 0)
        return 0;
    s->lines++;
    if (s->size > 0) {
        int pct = (int)(s->pos * 100 / s->size);
        *percent_changed = pct != s->percent;
        s->percent = pct;
    }
    return 1;
}

int stream_rewind(struct stream *s, const struct stream *mark)
{
    if (!s->f || mark->f != s->f)
        return -EINVAL;
    if (fseeko(s->f, (off_t)mark->pos, SEEK_SET) != 0)
        return -errno;
    *s = *mark;
    return 0;
}

void stream_close(struct stream *s)
{
    if (s->f)
        fclose(s->f);
    s->f = NULL;
}
