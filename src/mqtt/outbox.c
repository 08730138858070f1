/* outbox.c: the bounded offline FIFO, the messages in flight and the queue file (see
 * outbox.h). Loop thread only.
 *
 * The offline buffer is ours rather than Paho's: Paho's counts messages sent while connected
 * too, evicts silently, and a clean session throws away what was in flight. Tokens identify
 * messages in flight; Paho reuses them, but never for two messages in flight at once. */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "printbridge/base.h"

#define FILE_MAX_TOPIC 65535
#define FILE_MAX_PAYLOAD (256 * 1024 * 1024)

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

/* ---- the outbox ------------------------------------------------------------------------- */

void outbox_init(struct outbox *o, size_t limit)
{
    memset(o, 0, sizeof *o);
    o->limit = limit;
}

void outbox_clear(struct outbox *o)
{
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
    outbox_msg_free(q);
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
                outbox_msg_free(w);
                break;
            }
    }
    list_append(&o->waiting, q);
    trim(o);
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
        outbox_msg_free(q);
        return;
    }
    q->token = token;
    list_append(&o->inflight, q);
}

void outbox_settle(struct outbox *o, int token, bool acknowledged)
{
    struct outbox_msg *prev = NULL, *q;
    for (q = o->inflight.head; q && q->token != token; prev = q, q = q->next)
        ;
    if (!q)
        return;     /* already put back after a lost connection */
    list_unlink(&o->inflight, prev, q);
    if (acknowledged)
        outbox_msg_free(q);
    else
        list_append(&o->waiting, q);    /* refused while the session lasts: again after the next connect */
}

void outbox_requeue(struct outbox *o)
{
    list_prepend_all(&o->waiting, &o->inflight);
    trim(o);
}

void outbox_bequeath(struct outbox *o, struct outbox *heir)
{
    list_prepend_all(&o->waiting, &o->inflight);
    list_prepend_all(&heir->waiting, &o->waiting);
    heir->dropped_unreported += o->dropped_unreported;
    o->dropped_unreported = 0;
    trim(heir);
}

unsigned long outbox_take_dropped(struct outbox *o)
{
    unsigned long n = o->dropped_unreported;
    o->dropped_unreported = 0;
    return n;
}

/* ---- the queue file --------------------------------------------------------------------- */

static int write_all(FILE *f, const struct outbox_list *l)
{
    for (const struct outbox_msg *q = l->head; q; q = q->next) {
        size_t tl = strlen(q->topic);
        fprintf(f, "%d %d %zu %zu\n", q->qos, q->retain ? 1 : 0, tl, q->len);
        fwrite(q->topic, 1, tl, f);
        fwrite(q->payload, 1, q->len, f);
        fputc('\n', f);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        return -errno;
    return 0;
}

int outbox_save(struct outbox *o, const char *path)
{
    list_prepend_all(&o->waiting, &o->inflight);
    if (o->waiting.len == 0)
        return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int rc = -errno;
        log_error("mqtt: cannot write the offline buffer to %s: %s; %zu messages lost", tmp, strerror(-rc),
                  o->waiting.len);
        return rc;
    }
    int rc = write_all(f, &o->waiting);
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        log_error("mqtt: cannot write the offline buffer to %s: %s; %zu messages lost", tmp, strerror(-rc),
                  o->waiting.len);
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        log_error("mqtt: cannot rename %s to %s: %s", tmp, path, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    log_info("mqtt: %zu unsent messages kept in %s for the next start", o->waiting.len, path);
    return 0;
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
    int qos, retain, rc = 0;
    size_t tl, pl;
    while (rc == 0 && fscanf(f, "%d %d %zu %zu", &qos, &retain, &tl, &pl) == 4) {
        struct outbox_msg *q;
        if ((rc = read_one(f, qos, retain, tl, pl, &q)) == 0)
            list_append(&loaded, q);
    }
    if (rc == 0 && !feof(f) && fgetc(f) != EOF)
        rc = -EBADMSG;
    fclose(f);
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
