/* client.h: struct mqtt, the broker connection's state, shared by the mqtt layer's modules
 * (private to the layer; client.c owns it). */
#ifndef PRINTBRIDGE_MQTT_CLIENT_H
#define PRINTBRIDGE_MQTT_CLIENT_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdbool.h>
#include <uv.h>

#include "inbound.h"
#include "outbox.h"
#include "pace.h"
#include "paho.h"
#include "printbridge/mqtt.h"

/* What a note tells the loop. The request kinds carry Paho's result for one of our calls:
 * code 0 when it succeeded, anything else when it failed. */
enum note_kind {
    NOTE_CONNECTED,         /* Paho's connected callback: after every connect */
    NOTE_LOST,              /* the connection dropped; text says why */
    NOTE_CONNECT,           /* request: connect (a failure's code: see client.c) */
    NOTE_PUBLISH,           /* request: a QoS 1/2 message; token is the message's */
    NOTE_FAREWELL,          /* request: the "disconnected" status message */
    NOTE_DISCONNECT,        /* request: DISCONNECT */
    NOTE_KINDS
};

/* Paho's context for the results of one kind of request. */
struct request {
    struct mqtt *m;
    enum note_kind kind;
};

struct mqtt {
    const struct paho *api;     /* the library the client was created with */
    MQTTAsync client;
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t stop_guard;
    uv_timer_t retry;
    char *uri;
    char *status_topic;     /* NULL: none */
    char *queue_file;       /* NULL: none */
    bool status_retain;
    int version;            /* MQTTVERSION_3_1_1 or MQTTVERSION_5 */
    bool tls;
    struct mqtt_callbacks cb;
    void *ctx;
    /* kept for reconnects */
    char *client_id, *username, *password, *ca, *cert, *key;
    bool insecure;
    int keepalive;
    struct request requests[NOTE_KINDS];

    pthread_mutex_t lock;       /* guards notes and ssl_error */
    struct note *notes, *notes_tail;
    char ssl_error[200];

    bool connected;             /* the loop's view */
    bool connecting;
    bool ever_connected;
    bool failure_logged;
    bool stopping;
    bool finished;              /* stopped: Paho's client destroyed, handles closing */
    bool renewing;              /* mqtt_renew: disconnecting the client to be replaced */
    bool renewed;               /* ... and connecting its replacement */
    bool loaded;
    enum pace_state pace;       /* what Paho's idle threads are told (pace.c) */
    unsigned retry_ms;
    int handles_open;
    void (*stop_done)(void *ctx);
    void *stop_ctx;
    struct mqtt *heir;

    struct outbox out;
    unsigned long published;
    struct inbound in;
};

#define MQTT_RENEW_AFTER (1 << 20)  /* bytes: a message this large renews the client */

/* Replaces Paho's client with a new one, to free what Paho holds after a large message
 * (client.c says why). Loop thread; nothing happens unless connected. */
void mqtt_renew(struct mqtt *m);

/* From mqtt_renew until the new client is connected: what is published meanwhile waits for
 * it, as before the first connect, since a renewal is no outage. */
static inline bool mqtt_renewal_pending(const struct mqtt *m)
{
    return m->renewing || m->renewed;
}

#endif
