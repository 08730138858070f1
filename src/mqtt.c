/* mqtt.c: Paho MQTT C (asynchronous) on printbridge's libuv loop.
 *
 * Paho runs its own threads. Its callbacks never touch daemon state: they append a note to
 * a mutex-protected list and wake the loop with uv_async_send. The only exception is the
 * "connected" status message, published straight from Paho's connected callback so that it
 * is the first thing every new session carries (wire-format.md 4.2).
 *
 * Offline messages are kept here, not in Paho's buffer: Paho's buffer counts messages sent
 * while connected too, and its evictions are silent (libraries.md 2.4). */
#include "printbridge/mqtt.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/log.h"

enum note_kind { NOTE_CONNECTED, NOTE_LOST, NOTE_CONNECT_FAILED, NOTE_FAREWELL_SENT, NOTE_DISCONNECTED };

struct note {
    enum note_kind kind;
    int code;
    char text[200];
    struct note *next;
};

struct queued {
    char *topic;
    char *payload;
    size_t len;
    int qos;
    bool retain;
    struct queued *next;
};

struct mqtt {
    MQTTAsync client;
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t stop_guard;
    char *uri;
    char *status_topic;
    bool status_retain;
    mqtt_connected_fn on_connected;
    void *ctx;

    pthread_mutex_t lock;       /* guards notes only */
    struct note *notes, *notes_tail;

    bool connected;             /* loop thread's view */
    bool ever_connected;
    bool failure_logged;
    bool stopping;
    int handles_open;
    void (*stop_done)(void *ctx);
    void *stop_ctx;

    struct queued *q_head, *q_tail;
    size_t q_len, q_limit;
    unsigned long dropped;

    struct mqtt_inbound *in;    /* issue 7: inbound filters and messages; NULL when unused */
};

static void inbound_subscribe(struct mqtt *m);
static void inbound_arrived(struct mqtt *m, const char *topic, int topiclen, const MQTTAsync_message *msg);
static void inbound_drain(struct mqtt *m);
static void inbound_free(struct mqtt *m);

/* ---- Paho threads ------------------------------------------------------------------ */

static void post_note(struct mqtt *m, enum note_kind kind, int code, const char *text)
{
    struct note *n = calloc(1, sizeof *n);
    if (!n)
        return;
    n->kind = kind;
    n->code = code;
    snprintf(n->text, sizeof n->text, "%s", text ? text : "");
    pthread_mutex_lock(&m->lock);
    if (m->notes_tail)
        m->notes_tail->next = n;
    else
        m->notes = n;
    m->notes_tail = n;
    pthread_mutex_unlock(&m->lock);
    uv_async_send(&m->wake);
}

static int send_status(struct mqtt *m, const char *text, MQTTAsync_responseOptions *ro)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)text;
    msg.payloadlen = (int)strlen(text);
    msg.qos = 1;
    msg.retained = m->status_retain;
    int rc = MQTTAsync_sendMessage(m->client, m->status_topic, &msg, ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_warn("mqtt: could not publish %s on %s: %s", text, m->status_topic, MQTTAsync_strerror(rc));
    return rc;
}

static void on_paho_farewell_done(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_FAREWELL_SENT, 0, NULL);
}

static void on_paho_farewell_failed(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_FAREWELL_SENT, -1, NULL);
}

static void on_paho_connected(void *ctx, char *cause)
{
    struct mqtt *m = ctx;
    (void)cause; /* its wording depends on how the connect started; never branch on it */
    send_status(m, "connected", NULL);
    inbound_subscribe(m);
    post_note(m, NOTE_CONNECTED, 0, NULL);
}

static void on_paho_lost(void *ctx, char *cause)
{
    struct mqtt *m = ctx;
    /* cause is NULL when the broker just closed the socket */
    post_note(m, NOTE_LOST, 0, cause ? cause : "the broker closed the connection");
}

static int on_paho_message(void *ctx, char *topic, int topiclen, MQTTAsync_message *msg)
{
    inbound_arrived(ctx, topic, topiclen, msg);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_paho_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    struct mqtt *m = ctx;
    post_note(m, NOTE_CONNECT_FAILED, resp ? resp->code : -1, resp && resp->message ? resp->message : NULL);
}

static void on_paho_disconnect_done(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_DISCONNECTED, 0, NULL);
}

static void on_paho_disconnect_failed(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_DISCONNECTED, -1, NULL);
}

/* ---- loop thread --------------------------------------------------------------------- */

static int send_now(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos, bool retain)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = retain;
    return MQTTAsync_sendMessage(m->client, topic, &msg, NULL);
}

static void free_queued(struct queued *q)
{
    free(q->topic);
    free(q->payload);
    free(q);
}

static int enqueue(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos, bool retain)
{
    if (m->q_limit == 0)
        return -ENOBUFS;
    struct queued *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->topic = strdup(topic);
    q->payload = malloc(len ? len : 1);
    if (!q->topic || !q->payload) {
        free_queued(q);
        return -ENOMEM;
    }
    memcpy(q->payload, payload, len);
    q->len = len;
    q->qos = qos;
    q->retain = retain;
    if (m->q_tail)
        m->q_tail->next = q;
    else
        m->q_head = q;
    m->q_tail = q;
    if (++m->q_len > m->q_limit) {
        struct queued *old = m->q_head;
        m->q_head = old->next;
        free_queued(old);
        m->q_len--;
        if (m->dropped++ == 0)
            log_warn("mqtt: offline queue full (%zu messages); dropping the oldest", m->q_limit);
    }
    return 0;
}

static void flush_queue(struct mqtt *m)
{
    while (m->q_head) {
        struct queued *q = m->q_head;
        int rc = send_now(m, q->topic, q->payload, q->len, q->qos, q->retain);
        if (rc == MQTTASYNC_DISCONNECTED) {
            m->connected = false;   /* lost again already; keep the rest for next time */
            return;
        }
        if (rc != MQTTASYNC_SUCCESS)
            log_warn("mqtt: dropping queued message for %s: %s", q->topic, MQTTAsync_strerror(rc));
        m->q_head = q->next;
        if (!m->q_head)
            m->q_tail = NULL;
        m->q_len--;
        free_queued(q);
    }
}

static void finish_stop(struct mqtt *m);
static void send_disconnect(struct mqtt *m);

static void handle_note(struct mqtt *m, struct note *n)
{
    switch (n->kind) {
    case NOTE_CONNECTED: {
        bool first = !m->ever_connected;
        log_info("mqtt: connected to %s", m->uri);
        m->connected = true;
        m->ever_connected = true;
        m->failure_logged = false;
        flush_queue(m);
        if (m->on_connected && !m->stopping)
            m->on_connected(m->ctx, first);
        break;
    }
    case NOTE_LOST:
        m->connected = false;
        if (!m->stopping)
            log_warn("mqtt: connection to %s lost (%s); reconnecting", m->uri, n->text);
        break;
    case NOTE_CONNECT_FAILED:
        /* Paho keeps retrying with backoff; say it once per outage, not per attempt */
        if (!m->failure_logged) {
            const char *why = n->text[0] ? n->text : MQTTAsync_strerror(n->code);
            if (n->code == 4 || n->code == 5)
                log_error("mqtt: %s refused the connection: %s; check mqtt.username and mqtt.password (retrying)",
                          m->uri, n->code == 4 ? "bad user name or password" : "not authorised");
            else
                log_warn("mqtt: cannot connect to %s (%s); is the broker running? retrying in the background",
                         m->uri, why);
            m->failure_logged = true;
        }
        break;
    case NOTE_FAREWELL_SENT:
        if (m->stopping)
            send_disconnect(m);
        break;
    case NOTE_DISCONNECTED:
        if (m->stopping)
            finish_stop(m);
        break;
    }
}

static void on_wake(uv_async_t *handle)
{
    struct mqtt *m = handle->data;
    pthread_mutex_lock(&m->lock);
    struct note *n = m->notes;
    m->notes = m->notes_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    while (n) {
        struct note *next = n->next;
        handle_note(m, n);
        free(n);
        n = next;
    }
    inbound_drain(m);
}

int mqtt_start(struct mqtt **out, uv_loop_t *loop, const struct mqtt_options *opt,
               mqtt_connected_fn on_connected, void *ctx)
{
    struct mqtt *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc;
    size_t urilen = strlen(opt->host) + 32;
    m->uri = malloc(urilen);
    m->status_topic = strdup(opt->status_topic);
    if (!m->uri || !m->status_topic) {
        rc = -ENOMEM;
        goto fail;
    }
    /* IPv6 literals need brackets in a URI */
    snprintf(m->uri, urilen, strchr(opt->host, ':') ? "tcp://[%s]:%d" : "tcp://%s:%d", opt->host, opt->port);
    m->loop = loop;
    m->status_retain = opt->status_retain;
    m->on_connected = on_connected;
    m->ctx = ctx;
    m->q_limit = opt->queue_limit;
    pthread_mutex_init(&m->lock, NULL);

    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    rc = MQTTAsync_createWithOptions(&m->client, m->uri, opt->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("mqtt: cannot create a client for %s: %s", m->uri, MQTTAsync_strerror(rc));
        rc = -EINVAL;
        goto fail_mutex;
    }
    uv_async_init(loop, &m->wake, on_wake);
    m->wake.data = m;
    uv_timer_init(loop, &m->stop_guard);
    m->stop_guard.data = m;
    m->handles_open = 2;
    MQTTAsync_setCallbacks(m->client, m, on_paho_lost, on_paho_message, NULL);
    MQTTAsync_setConnected(m->client, m, on_paho_connected);

    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    will.topicName = m->status_topic;
    will.message = "disconnected";
    will.qos = 1;
    will.retained = m->status_retain;

    MQTTAsync_connectOptions co2 = MQTTAsync_connectOptions_initializer;
    /* never MQTTVERSION_DEFAULT: it can silently fall back to 3.1 on a reconnect */
    co2.MQTTVersion = MQTTVERSION_3_1_1;
    co2.keepAliveInterval = opt->keepalive;
    co2.cleansession = 1;
    co2.will = &will;
    co2.username = opt->username;
    co2.password = opt->username ? opt->password : NULL;
    co2.automaticReconnect = 1;
    co2.minRetryInterval = 1;
    co2.maxRetryInterval = 60;
    co2.connectTimeout = 10;
    co2.onFailure = on_paho_connect_failure;
    co2.context = m;
    rc = MQTTAsync_connect(m->client, &co2);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("mqtt: cannot start connecting to %s: %s", m->uri, MQTTAsync_strerror(rc));
        /* keep the object: Paho retries are off, but publishing still queues; say so */
    }
    *out = m;
    return 0;

fail_mutex:
    pthread_mutex_destroy(&m->lock);
fail:
    free(m->uri);
    free(m->status_topic);
    free(m);
    return rc;
}

int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos, bool retain)
{
    if (m->stopping)
        return -ESHUTDOWN;
    if (m->connected) {
        int rc = send_now(m, topic, payload, len, qos, retain);
        if (rc == MQTTASYNC_SUCCESS)
            return 0;
        if (rc != MQTTASYNC_DISCONNECTED) {
            log_warn("mqtt: cannot publish on %s: %s", topic, MQTTAsync_strerror(rc));
            return -EIO;
        }
        m->connected = false;   /* Paho knew before our note arrived */
    }
    return enqueue(m, topic, payload, len, qos, retain);
}

bool mqtt_connected(const struct mqtt *m)
{
    return m->connected;
}

unsigned long mqtt_dropped(const struct mqtt *m)
{
    return m->dropped;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct mqtt *m = h->data;
    if (--m->handles_open > 0)
        return;
    void (*done)(void *) = m->stop_done;
    void *ctx = m->stop_ctx;
    pthread_mutex_lock(&m->lock);
    struct note *n = m->notes;
    m->notes = m->notes_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    while (n) {
        struct note *next = n->next;
        free(n);
        n = next;
    }
    while (m->q_head) {
        struct queued *q = m->q_head;
        m->q_head = q->next;
        free_queued(q);
    }
    inbound_free(m);
    pthread_mutex_destroy(&m->lock);
    free(m->uri);
    free(m->status_topic);
    free(m);
    if (done)
        done(ctx);
}

static void finish_stop(struct mqtt *m)
{
    if (!m->client)
        return;     /* already finished (guard timer and Paho raced) */
    uv_timer_stop(&m->stop_guard);
    MQTTAsync_destroy(&m->client);
    m->client = NULL;
    uv_close((uv_handle_t *)&m->wake, on_handle_closed);
    uv_close((uv_handle_t *)&m->stop_guard, on_handle_closed);
}

static void on_stop_guard(uv_timer_t *t)
{
    struct mqtt *m = t->data;
    log_warn("mqtt: broker did not confirm the disconnect in time; closing anyway");
    finish_stop(m);
}

/* The DISCONNECT goes out only once "disconnected" was acknowledged, so subscribers get it
 * exactly once: from us, and not also as the will. */
static void send_disconnect(struct mqtt *m)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 1000;   /* ms Paho may spend delivering what is still in flight */
    d.onSuccess = on_paho_disconnect_done;
    d.onFailure = on_paho_disconnect_failed;
    d.context = m;
    if (MQTTAsync_disconnect(m->client, &d) != MQTTASYNC_SUCCESS)
        finish_stop(m);     /* not connected: nothing to tell the broker */
}

void mqtt_stop(struct mqtt *m, void (*done)(void *ctx), void *ctx)
{
    if (m->stopping)
        return;
    m->stopping = true;
    m->stop_done = done;
    m->stop_ctx = ctx;
    uv_timer_start(&m->stop_guard, on_stop_guard, 4000, 0);
    if (m->connected) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        ro.onSuccess = on_paho_farewell_done;
        ro.onFailure = on_paho_farewell_failed;
        ro.context = m;
        if (send_status(m, "disconnected", &ro) == MQTTASYNC_SUCCESS)
            return;
    }
    send_disconnect(m);
}

/* ---- inbound messages (issue 7) ---------------------------------------------------------
 * Paho's message callback copies the message (topic, payload up to max_payload, retain flag,
 * MQTT 5 response topic and correlation data) onto a bounded list under m->lock and wakes the
 * loop; on_wake hands the list to the router. Filters are fixed once set, so Paho's connected
 * callback can read them under the same lock. */

struct mqtt_inbound {
    char **filters;
    int *qos;
    size_t n;
    size_t max_payload, max_pending;
    mqtt_message_fn fn;
    void *ctx;
    struct mqtt_message *head, *tail;   /* guarded by m->lock */
    size_t pending;                     /* guarded by m->lock */
    unsigned long dropped;              /* guarded by m->lock */
    unsigned long replies_dropped;      /* loop thread only */
};

static void free_message(struct mqtt_message *msg)
{
    free(msg->topic);
    free(msg->payload);
    free(msg->response_topic);
    free(msg->correlation);
    free(msg);
}

static void inbound_subscribe(struct mqtt *m)
{
    /* m->in never changes once set and outlives the client, so only its reading is locked;
     * Paho is not called under our lock (its threads take it in inbound_arrived) */
    pthread_mutex_lock(&m->lock);
    struct mqtt_inbound *in = m->in;
    pthread_mutex_unlock(&m->lock);
    int rc = in && in->n ? MQTTAsync_subscribeMany(m->client, (int)in->n, in->filters, in->qos, NULL) : MQTTASYNC_SUCCESS;
    if (rc != MQTTASYNC_SUCCESS)
        log_error("mqtt: cannot subscribe to the command topics: %s", MQTTAsync_strerror(rc));
}

static void inbound_arrived(struct mqtt *m, const char *topic, int topiclen, const MQTTAsync_message *msg)
{
    pthread_mutex_lock(&m->lock);
    struct mqtt_inbound *in = m->in;
    bool room = in && in->pending < in->max_pending;
    if (in && room)
        in->pending++;      /* reserve the slot; copy outside the lock */
    else if (in)
        in->dropped++;
    pthread_mutex_unlock(&m->lock);
    if (!room)
        return;
    struct mqtt_message *c = calloc(1, sizeof *c);
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    bool ok = c && (c->topic = topiclen > 0 ? strndup(topic, (size_t)topiclen) : strdup(topic));
    if (ok && len <= in->max_payload && (ok = (c->payload = malloc(len + 1)) != NULL)) {
        memcpy(c->payload, msg->payload, len);
        c->payload[len] = '\0';
    }
    if (ok) {
        c->len = len;
        c->retained = msg->retained != 0;
        c->qos = msg->qos;
        MQTTProperty *rt = MQTTProperties_getProperty((MQTTProperties *)&msg->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
        MQTTProperty *cd = MQTTProperties_getProperty((MQTTProperties *)&msg->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
        if (rt && rt->value.data.len > 0)
            ok = (c->response_topic = strndup(rt->value.data.data, (size_t)rt->value.data.len)) != NULL;
        if (ok && cd && cd->value.data.len > 0 && (ok = (c->correlation = malloc((size_t)cd->value.data.len)) != NULL)) {
            memcpy(c->correlation, cd->value.data.data, (size_t)cd->value.data.len);
            c->correlation_len = (size_t)cd->value.data.len;
        }
    }
    pthread_mutex_lock(&m->lock);
    if (ok) {
        if (in->tail)
            in->tail->next = c;
        else
            in->head = c;
        in->tail = c;
    } else {
        in->pending--;
        in->dropped++;
    }
    pthread_mutex_unlock(&m->lock);
    if (!ok && c)
        free_message(c);
    uv_async_send(&m->wake);
}

static void inbound_drain(struct mqtt *m)
{
    struct mqtt_inbound *in = m->in;
    if (!in)
        return;
    pthread_mutex_lock(&m->lock);
    struct mqtt_message *msg = in->head;
    in->head = in->tail = NULL;
    unsigned long dropped = in->dropped;
    in->dropped = 0;
    pthread_mutex_unlock(&m->lock);
    if (dropped)
        log_warn("mqtt: dropped %lu inbound message%s: more than %zu were waiting to be handled", dropped,
                 dropped == 1 ? "" : "s", in->max_pending);
    while (msg) {
        struct mqtt_message *next = msg->next;
        if (!m->stopping)
            in->fn(in->ctx, msg);
        free_message(msg);
        pthread_mutex_lock(&m->lock);
        in->pending--;
        pthread_mutex_unlock(&m->lock);
        msg = next;
    }
    if (in->replies_dropped > 1)
        log_warn("mqtt: %lu more command replies could not be sent (too many at once)", in->replies_dropped - 1);
    in->replies_dropped = 0;
}

static void inbound_free(struct mqtt *m)
{
    struct mqtt_inbound *in = m->in;
    if (!in)
        return;
    while (in->head) {
        struct mqtt_message *next = in->head->next;
        free_message(in->head);
        in->head = next;
    }
    for (size_t i = 0; i < in->n; i++)
        free(in->filters[i]);
    free(in->filters);
    free(in->qos);
    free(in);
    m->in = NULL;
}

int mqtt_set_inbound(struct mqtt *m, char *const *filters, size_t nfilters, size_t max_payload, size_t max_pending,
                     mqtt_message_fn fn, void *ctx)
{
    if (m->in)
        return -EALREADY;
    struct mqtt_inbound *in = calloc(1, sizeof *in);
    if (!in || !(in->filters = calloc(nfilters + 1, sizeof *in->filters)) || !(in->qos = calloc(nfilters + 1, sizeof *in->qos))) {
        if (in)
            free(in->filters);
        free(in);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nfilters; i++) {
        in->qos[i] = 1;
        if (!(in->filters[i] = strdup(filters[i]))) {
            for (size_t k = 0; k < i; k++)
                free(in->filters[k]);
            free(in->filters);
            free(in->qos);
            free(in);
            return -ENOMEM;
        }
    }
    in->n = nfilters;
    in->max_payload = max_payload;
    in->max_pending = max_pending ? max_pending : 1;
    in->fn = fn;
    in->ctx = ctx;
    pthread_mutex_lock(&m->lock);
    m->in = in;
    pthread_mutex_unlock(&m->lock);
    if (m->connected && nfilters)
        inbound_subscribe(m);
    return 0;
}

int mqtt_publish_reply(struct mqtt *m, const char *topic, const char *payload, size_t len, const void *corr,
                       size_t corrlen)
{
    /* A reply answers a live request: never queued for later, and a burst that overflows
     * Paho's buffer is counted and reported once per drain instead of once per reply. */
    if (m->stopping || !m->connected)
        return -ENOTCONN;
    MQTTProperties props = MQTTProperties_initializer;
    if (corr && corrlen > 0) {
        MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_CORRELATION_DATA };
        p.value.data.data = (char *)corr;
        p.value.data.len = (int)corrlen;
        if (MQTTProperties_add(&props, &p) != 0)
            return -ENOMEM;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = 1;
    msg.retained = 0;
    msg.properties = props;
    int rc = MQTTAsync_sendMessage(m->client, topic, &msg, NULL);
    MQTTProperties_free(&props);
    if (rc == MQTTASYNC_SUCCESS)
        return 0;
    if (m->in && m->in->replies_dropped++ == 0)
        log_warn("mqtt: cannot send a command reply on %s: %s", topic, MQTTAsync_strerror(rc));
    return -EIO;
}
