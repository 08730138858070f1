/* outbox.h: the messages printbridge still owes the broker (private to the mqtt layer).
 *
 * Two lists: "waiting" (not handed to Paho yet, oldest first, bounded by limit) and
 * "in flight" (QoS 1/2 messages Paho took but the broker has not acknowledged yet, matched
 * by Paho's token). Pure bookkeeping and the queue file; no Paho and no loop here.
 *
 * Once outbox_persist() named the queue file, every change is appended to it as it happens
 * (a record per message kept, a line per message gone; a write, no fsync: a crash of the
 * process keeps what reached the page cache), so a kill -9 during a broker outage loses
 * nothing. Messages handed straight to a connected broker touch the file only if their
 * connection is lost before the broker acknowledged them. */
#ifndef PRINTBRIDGE_MQTT_OUTBOX_H
#define PRINTBRIDGE_MQTT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

/* What a waiting message is worth when the buffer is full (see outbox_keep). */
enum outbox_class {
    OUTBOX_NEWS,        /* an event, a reply, a discovery config: each one counts */
    OUTBOX_READING,     /* one of a series (temperatures): the oldest goes first */
    OUTBOX_SNAPSHOT,    /* the whole picture (state, progress): only the newest per topic counts */
};

struct outbox_msg {
    char *topic;
    char *payload;
    size_t len;
    int qos;
    bool retain;
    enum outbox_class cls;      /* not kept in the queue file: loaded messages are news */
    int token;                  /* Paho's, while in flight */
    unsigned long id;           /* its record in the queue file, 0: not written there */
    struct outbox_msg *next;
};

struct outbox_list {
    struct outbox_msg *head, *tail;
    size_t len;
};

struct outbox {
    struct outbox_list waiting;
    struct outbox_list inflight;
    size_t limit;                       /* waiting + in flight, at most */
    unsigned long dropped;              /* since start */
    unsigned long dropped_unreported;   /* since the last outbox_take_dropped */
    /* the queue file, while persisting (outbox_persist) */
    int fd;                             /* -1: not persisting */
    char *path;
    unsigned long next_id;
    size_t file_bytes;                  /* appended since the last rewrite */
    size_t live_bytes;                  /* of the messages it holds now */
    bool write_failed;                  /* logged once until a write works again */
};

void outbox_init(struct outbox *o, size_t limit);

/* Frees every message, waiting and in flight, and stops persisting (the file stays). */
void outbox_clear(struct outbox *o);

/* A copy of one message. Returns 0 or -ENOMEM. */
int outbox_msg_create(struct outbox_msg **out, const char *topic, const char *payload, size_t len, int qos,
                      bool retain);
void outbox_msg_free(struct outbox_msg *q);

/* Appends q to the waiting messages (the outbox owns it from here on, also on failure). A
 * snapshot replaces the waiting snapshot of the same topic (not counted as a drop: nothing a
 * subscriber could miss). When the buffer overflows the limit, the oldest reading is dropped,
 * else the oldest snapshot, else the oldest QoS 0 message, else the oldest of any kind
 * (counted, logged once per report): events survive an outage longer than readings. Returns
 * 0, or -ENOBUFS when the limit is 0 (q is dropped and counted). */
int outbox_keep(struct outbox *o, struct outbox_msg *q);

/* The oldest waiting message, removed from the list (NULL: none). */
struct outbox_msg *outbox_take(struct outbox *o);

/* Puts q back in front of the waiting messages (Paho could not take it). */
void outbox_put_back(struct outbox *o, struct outbox_msg *q);

/* A message taken that could not be sent and is given up: freed, and gone from the file. */
void outbox_discard(struct outbox *o, struct outbox_msg *q);

bool outbox_has_waiting(const struct outbox *o);

/* Waiting plus in flight. */
size_t outbox_count(const struct outbox *o);

/* Paho took q: a QoS 0 message is done (freed), a QoS 1/2 one waits in flight for token. */
void outbox_sent(struct outbox *o, struct outbox_msg *q, int token);

/* The broker's answer for token: acknowledged messages are done; a refused one waits again
 * at the end, for the next connect. An unknown token (already put back) is ignored. */
void outbox_settle(struct outbox *o, int token, bool acknowledged);

/* The connection is gone: every message in flight goes back in front of the waiting ones,
 * in order, and the limit applies again. */
void outbox_requeue(struct outbox *o);

/* Hands every message of o, in flight or waiting, to heir, in front of heir's own (heir's
 * limit applies); o's unreported drops become heir's. o's queue file is removed: the heir
 * writes the messages to its own when it starts persisting. */
void outbox_bequeath(struct outbox *o, struct outbox *heir);

/* Messages dropped since the last call. */
unsigned long outbox_take_dropped(struct outbox *o);

/* ---- the queue file -------------------------------------------------------------------
 * A log of records: "+ID qos retain topiclen payloadlen\n" topic payload "\n" for a message
 * kept, "-ID\n" for one gone (sent at QoS 0, acknowledged, dropped). The messages are the kept
 * ones not gone, in the order of the file. Older files of bare "qos retain topiclen
 * payloadlen\n" records (no ID) still load. */

/* Writes every message (in flight ones first, then waiting) to path through a temporary file,
 * an fsync and a rename; removes path when there are none. Stops persisting. Logs the
 * outcome. Returns 0 or a negative errno. */
int outbox_save(struct outbox *o, const char *path);

/* Puts the messages in path in front of the waiting ones and removes the file. A missing file
 * is no error; a damaged one (a crash in the middle of a record) gives the messages read
 * before the damage. Logs the outcome. Returns 0, -EBADMSG (damaged) or a negative errno. */
int outbox_load(struct outbox *o, const char *path);

/* Loads path (as outbox_load), then keeps it up to date with every change from now on,
 * starting with a record of every message held. Returns 0 or a negative errno (logged; the
 * outbox works on in memory). */
int outbox_persist(struct outbox *o, const char *path);

#endif
