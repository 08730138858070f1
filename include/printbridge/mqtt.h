/* mqtt.h: the broker connection. A thin shell around Paho's asynchronous client that keeps
 * Paho's threads away from printbridge's state: every Paho callback only copies what happened
 * into a queue and wakes the loop. Publishing is called on the loop thread only. */
#ifndef PRINTBRIDGE_MQTT_H
#define PRINTBRIDGE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct mqtt;

struct mqtt_options {
    const char *host;
    int port;
    const char *client_id;
    const char *username;       /* NULL: anonymous */
    const char *password;
    int keepalive;              /* seconds */
    const char *status_topic;   /* <base>mqtt: will "disconnected", "connected" on every connect */
    bool status_retain;
    size_t queue_limit;         /* messages kept while the broker is unreachable */
};

/* Runs on the loop thread after every successful connect, once the offline queue has been
 * flushed. first is true only for the first connect of this process. */
typedef void (*mqtt_connected_fn)(void *ctx, bool first);

int mqtt_start(struct mqtt **out, uv_loop_t *loop, const struct mqtt_options *opt,
               mqtt_connected_fn on_connected, void *ctx);

/* Publishes now when connected, otherwise keeps the message in a bounded FIFO (oldest dropped
 * and counted) that is sent in order after the next connect. Returns 0 or a negative code. */
int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos, bool retain);

bool mqtt_connected(const struct mqtt *m);

/* Messages dropped from the offline queue so far. */
unsigned long mqtt_dropped(const struct mqtt *m);

/* Clean shutdown: publishes "disconnected" on the status topic, sends a real DISCONNECT (so
 * the broker discards the will), destroys the client and calls done on the loop thread. */
void mqtt_stop(struct mqtt *m, void (*done)(void *ctx), void *ctx);

/* ---- inbound messages (issue 7) ------------------------------------------------------- */

/* One received message, copied off Paho's thread; valid during the callback only. */
struct mqtt_message {
    struct mqtt_message *next;  /* internal */
    char *topic;
    char *payload;              /* len bytes plus a NUL; NULL when len > max_payload (not copied) */
    size_t len;                 /* the payload's size as received */
    bool retained;
    int qos;
    char *response_topic;       /* MQTT 5 Response Topic, or NULL */
    char *correlation;          /* MQTT 5 Correlation Data, or NULL */
    size_t correlation_len;
};

typedef void (*mqtt_message_fn)(void *ctx, const struct mqtt_message *msg);

/* Subscribes filters (QoS 1) now if connected and again after every reconnect, and delivers
 * every message on the loop thread. Payloads over max_payload bytes are not copied; beyond
 * max_pending messages waiting for the loop, new ones are dropped and counted in the log.
 * Call once; filters are copied. Returns 0, -EALREADY or -ENOMEM. */
int mqtt_set_inbound(struct mqtt *m, char *const *filters, size_t nfilters, size_t max_payload,
                     size_t max_pending, mqtt_message_fn fn, void *ctx);

/* A command reply: QoS 1, not retained; with MQTT 5 correlation data when corr is given
 * (sent only while connected, since it answers a live request). */
int mqtt_publish_reply(struct mqtt *m, const char *topic, const char *payload, size_t len,
                       const void *corr, size_t corrlen);

#endif
