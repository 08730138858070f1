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
 * into a queue and wakes the loop. Publishing is called on the loop thread only.
 *
 * Nothing is lost that was asked to be kept: a message published with keep (QoS 1 and 2
 * always count as keep) while the broker is unreachable waits in a bounded FIFO; a QoS 1/2
 * message handed to Paho stays "in flight" here until the broker acknowledged it, and goes
 * back to the front of the FIFO if the connection drops first. With queue_file set, what is
 * still waiting at shutdown is written there and sent after the next start. */

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
    /* One exact topic (no wildcards) subscribed at QoS 1 on every connect, for Home
     * Assistant's birth message; NULL: none. The smallest inbound path until a general one
     * exists: payloads of 256 bytes or more arrive as "". */
    const char *watch_topic;
};

struct mqtt_callbacks {
    /* After every successful connect, once the offline buffer was handed to Paho. first is
     * true only for this client's first connect. */
    void (*connected)(void *ctx, bool first);
    /* The connection to the broker was lost (not called on mqtt_stop). */
    void (*lost)(void *ctx);
    /* A message arrived on watch_topic (payload NUL-terminated, loop thread). */
    void (*watched)(void *ctx, const char *payload, bool retained);
};

struct mqtt_counters {
    unsigned long published;    /* messages handed to the broker connection */
    unsigned long buffered;     /* waiting now (offline buffer + unacknowledged) */
    unsigned long dropped;      /* lost to a full buffer since start */
};

/* Creates the client without connecting (see mqtt_connect). Logs why on failure. */
int mqtt_create(struct mqtt **out, uv_loop_t *loop, const struct mqtt_options *opt,
                const struct mqtt_callbacks *cb, void *ctx);

/* Starts connecting; retries with backoff (1 s doubling up to 60 s) until mqtt_stop. The
 * messages in queue_file, if any, are loaded first. */
void mqtt_connect(struct mqtt *m);

/* Publishes now when connected. Otherwise, if keep or qos > 0 or the client never was
 * connected yet, keeps the message in the
 * bounded FIFO (when full the oldest QoS 0 message goes first, then the oldest of any kind;
 * counted) sent in order after the next connect; a QoS 0 message without keep is dropped
 * (as OctoPrint-MQTT does). Returns 0, or a negative code when nothing was kept. */
int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos,
                 bool retain, bool keep);

bool mqtt_connected(const struct mqtt *m);

void mqtt_get_counters(const struct mqtt *m, struct mqtt_counters *out);

/* Messages dropped from the full buffer since the last call (for a report event). */
unsigned long mqtt_take_dropped(struct mqtt *m);

/* Clean shutdown: publishes "disconnected" on the status topic, sends a real DISCONNECT (so
 * the broker discards the will), destroys the client and calls done on the loop thread.
 * Messages still waiting go to heir's buffer (in front of its own) when heir is not NULL,
 * else to queue_file when set. */
void mqtt_stop(struct mqtt *m, struct mqtt *heir, void (*done)(void *ctx), void *ctx);

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
/* Changes the largest inbound payload kept (a bigger one arrives with payload NULL). */
void mqtt_set_inbound_limit(struct mqtt *m, size_t max_payload);

int mqtt_set_inbound(struct mqtt *m, char *const *filters, size_t nfilters, size_t max_payload,
                     size_t max_pending, mqtt_message_fn fn, void *ctx);

/* A command reply: QoS 1, not retained; with MQTT 5 correlation data when corr is given
 * (sent only while connected, since it answers a live request). */
int mqtt_publish_reply(struct mqtt *m, const char *topic, const char *payload, size_t len,
                       const void *corr, size_t corrlen);

#endif
