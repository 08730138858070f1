/* inbound.h: subscriptions and the messages they bring (private to the mqtt layer).
 *
 * Handlers register topic filters on the loop thread; the broker sees each filter once,
 * however many handlers share it, subscribed again on every connect (the session is clean).
 * Paho's message callback copies each message onto a bounded list and wakes the loop, which
 * hands it to every handler whose filters match. */
#ifndef PRINTBRIDGE_MQTT_INBOUND_H
#define PRINTBRIDGE_MQTT_INBOUND_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "printbridge/mqtt.h"

struct inbound_sub {
    char *filter;
    mqtt_message_fn fn;
    void *ctx;
    bool gone;                  /* unsubscribed while a message was being handed out */
    bool due;                   /* gets the message being handed out */
    struct inbound_sub *next;
};

struct inbound_msg;
struct held_reply;

/* Paho's threads and the loop share what lock guards; the rest is the loop's. */
struct inbound {
    pthread_mutex_t lock;
    struct inbound_sub *subs;           /* changed by the loop under lock; Paho reads under lock */
    struct inbound_msg *head, *tail;    /* lock */
    size_t pending;                     /* lock: copied or being copied, not handled yet */
    unsigned long dropped;              /* lock: not copied since the last drain */
    size_t max_payload, max_text, max_pending;  /* lock */
    bool delivering;                    /* inside a handler: unsubscribed entries stay until after */
    unsigned long replies_dropped;      /* since the last drain */
    struct held_reply *held, **held_tail;   /* replies due while the client is renewed */
    size_t nheld;
};

struct mqtt;

/* Returns 0 or a negative errno (the lock could not be made). */
int inbound_init(struct inbound *in);

/* Frees the subscriptions and every message not handled yet. */
void inbound_destroy(struct inbound *in);

/* Paho's thread, on every connect: subscribes every filter held. */
void inbound_on_connected(struct mqtt *m);

/* Paho's thread: copies one message for the loop (within the limits) and wakes it. True when
 * msg itself was kept (a payload over max_text): it is ours then, not Paho's to free. */
bool inbound_arrived(struct mqtt *m, const char *topic, int topiclen, MQTTAsync_message *msg);

/* The loop: hands every waiting message to its handlers (none while stopping). */
void inbound_drain(struct mqtt *m);

/* The loop, once a renewed client is connected: sends the replies held meanwhile. */
void inbound_send_held(struct mqtt *m);

#endif
