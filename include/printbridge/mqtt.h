/* printbridge/mqtt.h: the mqtt layer:
 * The broker connection: Paho's asynchronous client behind the loop, the offline
 * queue and inbound messages. */
#ifndef PRINTBRIDGE_MQTT_H
#define PRINTBRIDGE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* ---- mqtt: the broker connection. A thin shell around Paho's asynchronous client that keeps
 * Paho's threads away from printbridge's state: every Paho callback only copies what happened
 * into a queue and wakes the loop. Everything here is called on the loop thread only.
 *
 * Nothing is lost that was asked to be kept: a message published with keep (QoS 1 and 2
 * always count as keep) while the broker is unreachable waits in a bounded FIFO; a QoS 1/2
 * message handed to Paho stays "in flight" here until the broker acknowledged it, and goes
 * back to the front of the FIFO if the connection drops first. With queue_file set, what is
 * still waiting at shutdown is written there and sent after the next start.
 *
 * Inbound messages reach whoever subscribed a matching topic filter (mqtt_subscribe), on the
 * loop thread. */

struct mqtt;

struct mqtt_options {
    const char *host;
    int port;
    const char *client_id;
    const char *username;       /* NULL: anonymous */
    const char *password;
    int keepalive;              /* seconds */
    int version;                /* 4 (MQTT 3.1.1) or 5 */
    const char *status_topic;   /* <base>mqtt: will "disconnected", "connected" on every connect;
                                 * NULL: no status messages, no will */
    bool status_retain;
    size_t queue_limit;         /* messages kept while the broker is unreachable */
    const char *queue_file;     /* NULL: the offline buffer is memory only */
    bool tls;
    const char *tls_ca_file;    /* NULL: system CA store */
    const char *tls_cert_file;
    const char *tls_key_file;
    bool tls_insecure;          /* no host name check */
};

struct mqtt_callbacks {
    /* After every successful connect, once the offline buffer was handed to Paho. first is
     * true only for this client's first connect. */
    void (*connected)(void *ctx, bool first);
    /* The connection to the broker was lost (not called on mqtt_stop). */
    void (*lost)(void *ctx);
};

struct mqtt_counters {
    unsigned long published;    /* messages handed to the broker connection */
    unsigned long buffered;     /* waiting now (offline buffer + unacknowledged) */
    unsigned long dropped;      /* lost to a full buffer since start */
};

/* Creates the client without connecting (see mqtt_connect). Returns 0, -ENOMEM or -EINVAL
 * (Paho refused the options), with one line in err saying why. */
int mqtt_create(struct mqtt **out, uv_loop_t *loop, const struct mqtt_options *opt,
                const struct mqtt_callbacks *cb, void *ctx, char *err, size_t errsz);

/* Starts connecting; retries with backoff (1 s doubling up to 60 s) until mqtt_stop. The
 * messages in queue_file, if any, are loaded first. */
void mqtt_connect(struct mqtt *m);

/* How a message waits while the broker is unreachable (mqtt_publish's flags). */
#define MQTT_KEEP     1u    /* kept (QoS > 0 and everything before the first connect always are) */
#define MQTT_READING  2u    /* one of a series: dropped first when the buffer is full */
#define MQTT_SNAPSHOT 4u    /* the whole picture: replaces the waiting one of its topic */

/* Publishes now when connected. Otherwise, if flags has MQTT_KEEP or qos > 0 or the client
 * never was connected yet, keeps the message in the bounded FIFO sent in order after the
 * next connect (when full: readings go first, then snapshots, then the oldest QoS 0 message,
 * then the oldest of any kind; counted); a QoS 0 message without MQTT_KEEP is dropped (as
 * OctoPrint-MQTT does). Returns 0, or when nothing was sent or kept -ENOTCONN (not kept),
 * -ENOBUFS (queue_limit is 0), -ESHUTDOWN (stopping), -EIO (Paho refused it) or -ENOMEM. */
int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos,
                 bool retain, unsigned flags);

bool mqtt_connected(const struct mqtt *m);

/* Publishes "connected" on the status topic again (for brokers that do not hand retained
 * messages to every late subscriber). Returns 0 (also with no status topic), -ENOTCONN or
 * -EIO. */
int mqtt_republish_status(struct mqtt *m);

void mqtt_get_counters(const struct mqtt *m, struct mqtt_counters *out);

/* Messages dropped from the full buffer since the last call (for a report event). */
unsigned long mqtt_take_dropped(struct mqtt *m);

/* Clean shutdown: publishes "disconnected" on the status topic, sends a real DISCONNECT (so
 * the broker discards the will), destroys the client and calls done on the loop thread.
 * Messages still waiting go to heir's buffer (in front of its own) when heir is not NULL,
 * else to queue_file when set. */
void mqtt_stop(struct mqtt *m, struct mqtt *heir, void (*done)(void *ctx), void *ctx);

/* ---- inbound messages ------------------------------------------------------------------- */

#define MQTT_INBOUND_MAX_PAYLOAD 65536  /* bytes: the default of mqtt_set_inbound_limits */
#define MQTT_INBOUND_MAX_PENDING 1000   /* messages: ditto */

/* One received message, copied off Paho's thread; valid during the callback only. */
struct mqtt_message {
    char *topic;
    char *payload;              /* len bytes plus a NUL; NULL when len > max_text (see below) */
    size_t len;                 /* the payload's size as received */
    bool held;                  /* payload NULL, but the bytes are there for ..._take_payload */
    bool retained;
    int qos;
    char *response_topic;       /* MQTT 5 Response Topic, or NULL */
    char *correlation;          /* MQTT 5 Correlation Data, or NULL */
    size_t correlation_len;
};

typedef void (*mqtt_message_fn)(void *ctx, const struct mqtt_message *msg);

/* Takes the payload's bytes out of msg, inside a handler, for the one handler of a topic whose
 * payload may be large (an upload), so that they are not copied again: *owner must be handed
 * to release(owner) once they are not needed (from any thread). No NUL follows them. NULL
 * (and nothing to release) when msg has none; msg has none afterwards, for later handlers
 * too. */
char *mqtt_message_take_payload(const struct mqtt_message *msg, void (**release)(void *owner), void **owner);

/* Hands fn every message whose topic matches filter (MQTT wildcards + and # allowed), on the
 * loop thread. The filter is subscribed at QoS 1 now when connected and again after every
 * reconnect; the broker sees each filter once however many handlers share it. A handler (fn
 * and ctx) whose filters overlap gets a message once. Several handlers may register, each
 * with several filters, also from inside a handler (from the next message on). Returns 0,
 * -EINVAL (not a valid filter) or -ENOMEM. */
int mqtt_subscribe(struct mqtt *m, const char *filter, mqtt_message_fn fn, void *ctx);

/* Undoes one mqtt_subscribe of the same filter, fn and ctx; fn gets no more messages through
 * it, not even ones already waiting. The broker subscription goes when no handler holds the
 * filter any more. Subscribing the new filters before unsubscribing the old ones replaces a
 * set without a gap. Returns 0 or -ENOENT. */
int mqtt_unsubscribe(struct mqtt *m, const char *filter, mqtt_message_fn fn, void *ctx);

/* The client's inbound limits, for all handlers: a payload over max_payload bytes is not kept
 * (its message arrives with payload NULL); one over max_text bytes is kept as received, not
 * copied into a string (payload NULL, held true); beyond max_pending messages waiting for the
 * loop, new ones are dropped and counted in the log. Defaults: MQTT_INBOUND_MAX_PAYLOAD for
 * both sizes and MQTT_INBOUND_MAX_PENDING; 0 pending counts as 1. */
void mqtt_set_inbound_limits(struct mqtt *m, size_t max_payload, size_t max_text, size_t max_pending);

/* A command reply: QoS 1, not retained; with MQTT 5 correlation data when corr is given
 * (sent only while connected, since it answers a live request). Returns 0, -ENOTCONN, -ENOMEM
 * or -EIO (Paho refused it; the first of a burst is logged, the rest counted). */
int mqtt_publish_reply(struct mqtt *m, const char *topic, const char *payload, size_t len,
                       const void *corr, size_t corrlen);

#endif
