/* outbox.h: the messages printbridge still owes the broker (private to the mqtt layer).
 *
 * Two lists: "waiting" (not handed to Paho yet, oldest first, bounded by limit) and
 * "in flight" (QoS 1/2 messages Paho took but the broker has not acknowledged yet, matched
 * by Paho's token). Pure bookkeeping and the queue file; no Paho and no loop here. */
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
};

void outbox_init(struct outbox *o, size_t limit);

/* Frees every message, waiting and in flight. */
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
 * limit applies); o's unreported drops become heir's. */
void outbox_bequeath(struct outbox *o, struct outbox *heir);

/* Messages dropped since the last call. */
unsigned long outbox_take_dropped(struct outbox *o);

/* ---- the queue file: "qos retain topiclen payloadlen\n" topic payload "\n" per message -- */

/* Writes every message (in flight ones first, then waiting) to path through a temporary file
 * and a rename; nothing when there are none. Logs the outcome. Returns 0 or a negative errno. */
int outbox_save(struct outbox *o, const char *path);

/* Puts the messages in path in front of the waiting ones and removes the file. A missing file
 * is no error; a damaged one gives the messages read before the damage. Logs the outcome.
 * Returns 0, -EBADMSG (damaged) or a negative errno. */
int outbox_load(struct outbox *o, const char *path);

#endif
