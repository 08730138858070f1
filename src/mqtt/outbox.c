/* outbox.c: the bounded offline FIFO, the messages in flight and the queue file (see
 * outbox.h). Loop thread only.
 *
 * The offline buffer is ours rather than Paho's: Paho's counts messages sent while connected
 * too, evicts silently, and a clean session throws away what was in flight. Tokens identify
 * messages in flight; Paho reuses them, but never for two messages in flight at once. */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "printbridge/base.h"

#define FILE_MAX_TOPIC 65535
#define FILE_MAX_PAYLOAD (256 * 1024 * 1024)
/* the log is rewritten once it holds this much more than its live records */
#define FILE_SLACK (1024 * 1024)

/* ---- lists ---------------------------------------------------------------------------- */

static void list_append(struct outbox_list *l, struct outbox_msg *q)
{
    q->next = NULL;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->len++;
}

static void list_push_front(struct outbox_list *l, struct outbox_msg *q)
{
    q->next = l->head;
    l->head = q;
    if (!l->tail)
        l->tail = q;
    l->len++;
}

/* Unlinks q, whose predecessor is prev (NULL: q is the head). */
static void list_unlink(struct outbox_list *l, struct outbox_msg *prev, struct outbox_msg *q)
{
    if (prev)
        prev->next = q->next;
    else
        l->head = q->next;
    if (l->tail == q)
        l->tail = prev;
    l->len--;
    q->next = NULL;
}

static struct outbox_msg *list_pop(struct outbox_list *l)
{
    struct outbox_msg *q = l->head;
    if (q)
        list_unlink(l, NULL, q);
    return q;
}

/* Moves all of src in front of dst, keeping both orders. */
static void list_prepend_all(struct outbox_list *dst, struct outbox_list *src)
{
    if (!src->head)
        return;
    src->tail->next = dst->head;
    if (!dst->head)
        dst->tail = src->tail;
    dst->head = src->head;
    dst->len += src->len;
    src->head = src->tail = NULL;
    src->len = 0;
}

static void list_clear(struct outbox_list *l)
{
    struct outbox_msg *q;
    while ((q = list_pop(l)))
        outbox_msg_free(q);
}

/* ---- messages ----------------------------------------------------------------------------- */

void outbox_msg_free(struct outbox_msg *q)
{
    if (!q)
        return;
    free(q->topic);
    free(q->payload);
    free(q);
}

int outbox_msg_create(struct outbox_msg **out, const char *topic, const char *payload, size_t len, int qos,
                      bool retain)
{
    struct outbox_msg *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->topic = strdup(topic);
    q->payload = malloc(len ? len : 1);
    if (!q->topic || !q->payload) {
        outbox_msg_free(q);
        return -ENOMEM;
    }
    memcpy(q->payload, payload, len);
    q->len = len;
    q->qos = qos;
    q->retain = retain;
    *out = q;
    return 0;
}

/* ---- the queue file, record by record ------------------------------------------------- */

static size_t record_bytes(const struct outbox_msg *q)
{
    return strlen(q->topic) + q->len + 48;
}

static void write_failed(struct outbox *o, int err)
{
    if (!o->write_failed)
        log_error("mqtt: cannot append to the offline buffer file %s: %s; a crash now would lose its messages",
                  o->path, strerror(err));
    o->write_failed = true;
}

/* Writes all of the iov to the log (O_APPEND: one write call lands as one piece). */
static void log_append(struct outbox *o, struct iovec *iov, int n, size_t total)
{
    ssize_t w = writev(o->fd, iov, n);
    if (w < 0 || (size_t)w != total) {
        write_failed(o, w < 0 ? errno : ENOSPC);
        return;
    }
    o->write_failed = false;
    o->file_bytes += total;
}

/* q joins the file (at its end). */
static void record_kept(struct outbox *o, struct outbox_msg *q)
{
    if (o->fd < 0 || q->id)
        return;
    char hdr[96];
    size_t tl = strlen(q->topic);
    q->id = ++o->next_id;
    int hl = snprintf(hdr, sizeof hdr, "+%lu %d %d %zu %zu\n", q->id, q->qos, q->retain ? 1 : 0, tl, q->len);
    struct iovec iov[4] = {
        { hdr, (size_t)hl }, { q->topic, tl }, { q->payload, q->len }, { (void *)"\n", 1 },
    };
    log_append(o, iov, 4, (size_t)hl + tl + q->len + 1);
    o->live_bytes += record_bytes(q);
}

/* q leaves the file. */
static void record_gone(struct outbox *o, struct outbox_msg *q)
{
    if (o->fd < 0 || !q->id)
        return;
    char line[32];
    int n = snprintf(line, sizeof line, "-%lu\n", q->id);
    struct iovec iov = { line, (size_t)n };
    log_append(o, &iov, 1, (size_t)n);
    o->live_bytes -= record_bytes(q) < o->live_bytes ? record_bytes(q) : o->live_bytes;
    q->id = 0;
}

static void forget(struct outbox *o, struct outbox_msg *q)
{
    record_gone(o, q);
    outbox_msg_free(q);
}

static int rewrite(struct outbox *o, const char *path, bool sync);

/* Keeps the log short: empty once nothing is owed, rewritten when mostly dead records. */
static void tidy(struct outbox *o)
{
    if (o->fd < 0)
        return;
    if (o->waiting.len + o->inflight.len == 0) {
        if (o->file_bytes > 0 && ftruncate(o->fd, 0) == 0)
            o->file_bytes = o->live_bytes = 0;
    } else if (o->file_bytes > 2 * o->live_bytes + FILE_SLACK) {
        (void)rewrite(o, o->path, false);
    }
}

static void stop_persisting(struct outbox *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    free(o->path);
    o->path = NULL;
    for (struct outbox_msg *q = o->inflight.head; q; q = q->next)
        q->id = 0;
    for (struct outbox_msg *q = o->waiting.head; q; q = q->next)
        q->id = 0;
}

/* ---- the outbox ------------------------------------------------------------------------- */

void outbox_init(struct outbox *o, size_t limit)
{
    memset(o, 0, sizeof *o);
    o->limit = limit;
    o->fd = -1;
}

void outbox_clear(struct outbox *o)
{
    stop_persisting(o);
    list_clear(&o->inflight);
    list_clear(&o->waiting);
}

/* The oldest waiting message that is a reading, a snapshot, of QoS 0, or anything (pass 0..3),
 * unlinked; NULL when the buffer is empty. */
static struct outbox_msg *unlink_victim(struct outbox *o)
{
    for (int pass = 0; pass < 4; pass++) {
        struct outbox_msg *prev = NULL;
        for (struct outbox_msg *q = o->waiting.head; q; prev = q, q = q->next) {
            bool fits = pass == 0 ? q->cls == OUTBOX_READING : pass == 1 ? q->cls == OUTBOX_SNAPSHOT
                      : pass == 2 ? q->qos == 0 : true;
            if (fits) {
                list_unlink(&o->waiting, prev, q);
                return q;
            }
        }
    }
    return NULL;
}

static void drop_one(struct outbox *o)
{
    struct outbox_msg *q = unlink_victim(o);
    if (!q)
        return;
    if (o->dropped++ == 0 || o->dropped_unreported == 0)
        log_warn("mqtt: offline buffer full (%zu messages); dropping the oldest (%s)", o->limit, q->topic);
    o->dropped_unreported++;
    forget(o, q);
}

static void trim(struct outbox *o)
{
    while (o->waiting.len + o->inflight.len > o->limit && o->waiting.len > 0)
        drop_one(o);
}

int outbox_keep(struct outbox *o, struct outbox_msg *q)
{
    if (o->limit == 0) {
        o->dropped++;
        o->dropped_unreported++;
        outbox_msg_free(q);
        return -ENOBUFS;
    }
    if (q->cls == OUTBOX_SNAPSHOT) {
        struct outbox_msg *prev = NULL;
        for (struct outbox_msg *w = o->waiting.head; w; prev = w, w = w->next)
            if (w->cls == OUTBOX_SNAPSHOT && strcmp(w->topic, q->topic) == 0) {
                list_unlink(&o->waiting, prev, w);
                forget(o, w);
                break;
            }
    }
    list_append(&o->waiting, q);
    record_kept(o, q);
    trim(o);
    tidy(o);
    return 0;
}

struct outbox_msg *outbox_take(struct outbox *o)
{
    return list_pop(&o->waiting);
}

void outbox_put_back(struct outbox *o, struct outbox_msg *q)
{
    list_push_front(&o->waiting, q);
}

void outbox_discard(struct outbox *o, struct outbox_msg *q)
{
    forget(o, q);
    tidy(o);
}

bool outbox_has_waiting(const struct outbox *o)
{
    return o->waiting.head != NULL;
}

size_t outbox_count(const struct outbox *o)
{
    return o->waiting.len + o->inflight.len;
}

void outbox_sent(struct outbox *o, struct outbox_msg *q, int token)
{
    if (q->qos == 0) {
        forget(o, q);
        tidy(o);
        return;
    }
    q->token = token;
    list_append(&o->inflight, q);
    record_kept(o, q);      /* until the broker acknowledges it, a crash must not lose it */
}

void outbox_settle(struct outbox *o, int token, bool acknowledged)
{
    struct outbox_msg *prev = NULL, *q;
    for (q = o->inflight.head; q && q->token != token; prev = q, q = q->next)
        ;
    if (!q)
        return;     /* already put back after a lost connection */
    list_unlink(&o->inflight, prev, q);
    if (acknowledged) {
        forget(o, q);
    } else {
        /* refused while the session lasts: again after the next connect, last in the file too */
        record_gone(o, q);
        list_append(&o->waiting, q);
        record_kept(o, q);
    }
    tidy(o);
}

void outbox_requeue(struct outbox *o)
{
    bool unrecorded = false;
    for (struct outbox_msg *q = o->inflight.head; q; q = q->next)
        unrecorded = unrecorded || q->id == 0;
    bool waiting_recorded = o->waiting.head != NULL;
    list_prepend_all(&o->waiting, &o->inflight);
    if (o->fd >= 0 && unrecorded) {
        /* messages the broker never acknowledged join the file, in front of the waiting ones */
        if (waiting_recorded)
            (void)rewrite(o, o->path, false);
        else
            for (struct outbox_msg *q = o->waiting.head; q; q = q->next)
                record_kept(o, q);
    }
    trim(o);
    tidy(o);
}

void outbox_bequeath(struct outbox *o, struct outbox *heir)
{
    if (o->path)
        unlink(o->path);
    stop_persisting(o);
    list_prepend_all(&o->waiting, &o->inflight);
    list_prepend_all(&heir->waiting, &o->waiting);
    heir->dropped_unreported += o->dropped_unreported;
    o->dropped_unreported = 0;
    if (heir->fd >= 0)
        (void)rewrite(heir, heir->path, false);
    trim(heir);
}

unsigned long outbox_take_dropped(struct outbox *o)
{
    unsigned long n = o->dropped_unreported;
    o->dropped_unreported = 0;
    return n;
}

/* ---- the queue file, whole ------------------------------------------------------------------ */

static int write_all(FILE *f, struct outbox *o, const struct outbox_list *l, bool sync)
{
    for (struct outbox_msg *q = l->head; q; q = q->next) {
        size_t tl = strlen(q->topic);
        q->id = ++o->next_id;
        fprintf(f, "+%lu %d %d %zu %zu\n", q->id, q->qos, q->retain ? 1 : 0, tl, q->len);
        fwrite(q->topic, 1, tl, f);
        fwrite(q->payload, 1, q->len, f);
        fputc('\n', f);
        o->live_bytes += record_bytes(q);
    }
    if (fflush(f) != 0 || ferror(f) || (sync && fsync(fileno(f)) != 0))
        return -(errno ? errno : EIO);
    return 0;
}

/* Writes every message (in flight first) to path through path.tmp and a rename, and (when
 * persisting) appends to the new file from then on. */
static int rewrite(struct outbox *o, const char *path, bool sync)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    o->live_bytes = 0;
    FILE *f = fopen(tmp, "w");
    int rc = f ? 0 : -errno;
    if (f) {
        rc = write_all(f, o, &o->inflight, sync);
        if (rc == 0)
            rc = write_all(f, o, &o->waiting, sync);
        if (fclose(f) != 0 && rc == 0)
            rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0) {
        log_error("mqtt: cannot write the offline buffer to %s: %s; %zu messages not saved", tmp, strerror(-rc),
                  outbox_count(o));
        unlink(tmp);
        return rc;
    }
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (o->fd < 0)
            write_failed(o, errno);
        o->file_bytes = o->live_bytes;
    }
    return 0;
}

int outbox_save(struct outbox *o, const char *path)
{
    list_prepend_all(&o->waiting, &o->inflight);
    size_t n = o->waiting.len;
    int rc = 0;
    if (n == 0)
        unlink(path);
    else if ((rc = rewrite(o, path, true)) == 0)
        log_info("mqtt: %zu unsent messages kept in %s for the next start", n, path);
    stop_persisting(o);
    return rc;
}

/* One message after its header line. Returns 0, -EBADMSG or -ENOMEM. */
static int read_one(FILE *f, int qos, int retain, size_t tl, size_t pl, struct outbox_msg **out)
{
    if (fgetc(f) != '\n' || qos < 0 || qos > 2 || tl == 0 || tl > FILE_MAX_TOPIC || pl > FILE_MAX_PAYLOAD)
        return -EBADMSG;
    char *topic = malloc(tl + 1), *payload = malloc(pl ? pl : 1);
    int rc = topic && payload ? 0 : -ENOMEM;
    if (rc == 0 && (fread(topic, 1, tl, f) != tl || fread(payload, 1, pl, f) != pl || fgetc(f) != '\n'))
        rc = -EBADMSG;
    if (rc == 0) {
        topic[tl] = '\0';
        rc = outbox_msg_create(out, topic, payload, pl, qos, retain != 0);
    }
    free(topic);
    free(payload);
    return rc;
}

/* A "-ID" record: the message with that id is gone. */
static int read_gone(FILE *f, struct outbox_list *loaded)
{
    unsigned long id;
    if (fscanf(f, "%lu", &id) != 1 || fgetc(f) != '\n')
        return -EBADMSG;
    struct outbox_msg *prev = NULL;
    for (struct outbox_msg *q = loaded->head; q; prev = q, q = q->next)
        if (q->id == id) {
            list_unlink(loaded, prev, q);
            outbox_msg_free(q);
            break;
        }
    return 0;
}

/* Every record of f into loaded. Returns 0 or -EBADMSG/-ENOMEM at the first damage. */
static int read_records(FILE *f, struct outbox_list *loaded)
{
    int qos, retain, c, rc = 0;
    size_t tl, pl;
    while (rc == 0 && (c = fgetc(f)) != EOF) {
        unsigned long id = 0;
        if (c == '-') {
            rc = read_gone(f, loaded);
            continue;
        }
        if (c == '+' ? fscanf(f, "%lu %d %d %zu %zu", &id, &qos, &retain, &tl, &pl) != 5
                     : ungetc(c, f) == EOF || fscanf(f, "%d %d %zu %zu", &qos, &retain, &tl, &pl) != 4) {
            rc = -EBADMSG;
            break;
        }
        struct outbox_msg *q;
        if ((rc = read_one(f, qos, retain, tl, pl, &q)) == 0) {
            q->id = id;
            list_append(loaded, q);
        }
    }
    return rc;
}

int outbox_load(struct outbox *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int rc = -errno;
        if (rc == -ENOENT)
            return 0;
        log_warn("mqtt: cannot read the offline buffer %s: %s", path, strerror(-rc));
        return rc;
    }
    struct outbox_list loaded = { 0 };
    int rc = read_records(f, &loaded);
    fclose(f);
    for (struct outbox_msg *q = loaded.head; q; q = q->next)
        q->id = 0;
    if (rc < 0)
        log_warn("mqtt: %s is damaged; sending the %zu messages read before the damage", path, loaded.len);
    else if (loaded.len)
        log_info("mqtt: %zu messages from %s will be sent once connected", loaded.len, path);
    list_prepend_all(&o->waiting, &loaded);
    trim(o);
    if (unlink(path) != 0)
        log_warn("mqtt: cannot remove %s: %s", path, strerror(errno));
    return rc;
}

int outbox_persist(struct outbox *o, const char *path)
{
    (void)outbox_load(o, path);     /* logged; what was read is kept */
    o->path = strdup(path);
    if (!o->path)
        return -ENOMEM;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = -errno;
        log_error("mqtt: cannot create the offline buffer file %s: %s; buffered messages live in memory only",
                  path, strerror(-rc));
        free(o->path);
        o->path = NULL;
        return rc;
    }
    o->fd = fd;
    o->file_bytes = o->live_bytes = 0;
    if (outbox_count(o) > 0)
        return rewrite(o, path, false);
    return 0;
}
