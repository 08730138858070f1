/* client.c: the broker connection: Paho MQTT C (asynchronous) on printbridge's libuv loop.
 *
 * Owns the client's life cycle: create, connect, reconnect, the "connected"/"disconnected"
 * status message and its will, handing messages to Paho, and the clean stop with a real
 * DISCONNECT. What waits for the broker lives in outbox.c, what comes from it in inbound.c.
 *
 * Paho runs its own threads. Its callbacks never touch daemon state: each turns what happened
 * into a note on a mutex-protected list and wakes the loop with uv_async_send; handle_note
 * acts on it there. MQTT 3.1.1 and 5 differ only in the types of Paho's results, so four thin
 * adapters turn either into the same (token, code, text) note. The exceptions to "only a
 * note" are the "connected" status message and the subscriptions, sent straight from Paho's
 * connected callback so that they are the first thing every new session carries.
 *
 * Reconnecting is ours (Paho's automatic reconnect does not cover a failed first connect): a
 * timer with backoff from 1 s doubling to 60 s, one log line per outage. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
#define STOP_GUARD_MS 4000      /* the broker's answers to the farewell and DISCONNECT */

/* MQTT 3.1.1 CONNACK codes a user must act on; MQTT 5's reason codes for them map here */
#define CONNACK_BAD_CREDENTIALS 4
#define CONNACK_NOT_AUTHORISED 5

struct note {
    enum note_kind kind;
    int token;
    int code;
    char text[256];
    struct note *next;
};

/* ---- Paho's threads ------------------------------------------------------------------- */

static void post_note(struct mqtt *m, enum note_kind kind, int token, int code, const char *text)
{
    struct note *n = calloc(1, sizeof *n);
    if (!n)
        return;
    n->kind = kind;
    n->token = token;
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

static void post_result(void *context, int token, int code, const char *text)
{
    const struct request *rq = context;
    post_note(rq->m, rq->kind, token, code, text);
}

/* A failure never reads as success, whatever code Paho gives. */
static int failure_code(int code)
{
    return code != 0 ? code : MQTTASYNC_FAILURE;
}

static void on_success(void *context, MQTTAsync_successData *r)
{
    post_result(context, r ? r->token : 0, 0, NULL);
}

static void on_success5(void *context, MQTTAsync_successData5 *r)
{
    post_result(context, r ? r->token : 0, 0, NULL);
}

static void on_failure(void *context, MQTTAsync_failureData *r)
{
    post_result(context, r ? r->token : 0, r ? failure_code(r->code) : MQTTASYNC_FAILURE, r ? r->message : NULL);
}

static void on_failure5(void *context, MQTTAsync_failureData5 *r)
{
    int code = r ? failure_code(r->code) : MQTTASYNC_FAILURE;
    if (r && r->reasonCode == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD)
        code = CONNACK_BAD_CREDENTIALS;
    else if (r && r->reasonCode == MQTTREASONCODE_NOT_AUTHORIZED)
        code = CONNACK_NOT_AUTHORISED;
    post_result(context, r ? r->token : 0, code, r ? r->message : NULL);
}

/* Paho's response, connect and disconnect options all carry these fields; the protocol
 * version decides which pair of callbacks Paho accepts. */
#define ON_RESULT(opts, m, k)                       \
    do {                                            \
        (opts)->context = &(m)->requests[k];        \
        if ((m)->version == MQTTVERSION_5) {        \
            (opts)->onSuccess5 = on_success5;       \
            (opts)->onFailure5 = on_failure5;       \
        } else {                                    \
            (opts)->onSuccess = on_success;         \
            (opts)->onFailure = on_failure;         \
        }                                           \
    } while (0)

/* Publishes text on the status topic (QoS 1). Returns 0 or -EIO (logged). */
static int send_status(struct mqtt *m, const char *text, MQTTAsync_responseOptions *ro)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)text;
    msg.payloadlen = (int)strlen(text);
    msg.qos = 1;
    msg.retained = m->status_retain;
    int rc = m->api->sendMessage(m->client, m->status_topic, &msg, ro);
    if (rc == MQTTASYNC_SUCCESS)
        return 0;
    log_warn("mqtt: could not publish %s on %s: %s", text, m->status_topic, m->api->strerror(rc));
    return -EIO;
}

int mqtt_republish_status(struct mqtt *m)
{
    if (!m->status_topic)
        return 0;
    return m->connected ? send_status(m, "connected", NULL) : -ENOTCONN;
}

static void on_paho_connected(void *ctx, char *cause)
{
    struct mqtt *m = ctx;
    (void)cause; /* its wording depends on how the connect started; never branch on it */
    if (m->status_topic && !m->renewed)     /* a renewal left "connected" standing */
        send_status(m, "connected", NULL);
    inbound_on_connected(m);    /* clean session: subscribe on every connect */
    post_note(m, NOTE_CONNECTED, 0, 0, NULL);
}

static void on_paho_lost(void *ctx, char *cause)
{
    /* cause is NULL when the broker just closed the socket */
    post_note(ctx, NOTE_LOST, 0, 0, cause ? cause : "the broker closed the connection");
}

static int on_paho_message(void *ctx, char *topic, int topiclen, MQTTAsync_message *msg)
{
    struct mqtt *m = ctx;
    if (!inbound_arrived(m, topic, topiclen, msg))
        m->api->freeMessage(&msg);
    m->api->free(topic);
    return 1;
}

static int on_ssl_error(const char *str, size_t len, void *u)
{
    struct mqtt *m = u;
    pthread_mutex_lock(&m->lock);
    if (!m->ssl_error[0]) {
        while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
            len--;
        snprintf(m->ssl_error, sizeof m->ssl_error, "%.*s", (int)len, str);
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* ---- publishing (loop thread) ----------------------------------------------------------- */

/* Hands q to Paho; from there the outbox tracks it. Returns 0, -ENOTCONN (Paho found the
 * connection gone) or -EIO, with Paho's reason in why; on failure q is still the caller's. */
static int hand_over(struct mqtt *m, struct outbox_msg *q, const char **why)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = q->payload;
    msg.payloadlen = (int)q->len;
    msg.qos = q->qos;
    msg.retained = q->retain;
    if (q->qos > 0)
        ON_RESULT(&ro, m, NOTE_PUBLISH);
    int rc = m->api->sendMessage(m->client, q->topic, &msg, q->qos > 0 ? &ro : NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        *why = m->api->strerror(rc);
        return rc == MQTTASYNC_DISCONNECTED ? -ENOTCONN : -EIO;
    }
    m->published++;
    outbox_sent(&m->out, q, ro.token);
    return 0;
}

static void flush_outbox(struct mqtt *m)
{
    struct outbox_msg *q;
    while (m->connected && (q = outbox_take(&m->out))) {
        const char *why = NULL;
        int rc = hand_over(m, q, &why);
        if (rc == -ENOTCONN) {
            m->connected = false;   /* lost again already; keep the rest for next time */
            outbox_put_back(&m->out, q);
        } else if (rc < 0) {
            log_warn("mqtt: dropping buffered message for %s: %s", q->topic, why);
            outbox_discard(&m->out, q);
        }
    }
}

/* Sends at once. Returns 0, -ENOMEM, -EIO (logged) or -ENOTCONN (Paho found the connection
 * gone before our note arrived). */
static int publish_now(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos, bool retain)
{
    int rc;
    const char *why = NULL;
    if (qos > 0) {
        struct outbox_msg *q;
        if ((rc = outbox_msg_create(&q, topic, payload, len, qos, retain)) < 0)
            return rc;
        if ((rc = hand_over(m, q, &why)) < 0)
            outbox_msg_free(q);
    } else {
        MQTTAsync_message msg = MQTTAsync_message_initializer;
        msg.payload = (void *)payload;
        msg.payloadlen = (int)len;
        msg.retained = retain;
        int prc = m->api->sendMessage(m->client, topic, &msg, NULL);
        rc = prc == MQTTASYNC_SUCCESS ? 0 : prc == MQTTASYNC_DISCONNECTED ? -ENOTCONN : -EIO;
        why = m->api->strerror(prc);
        if (rc == 0)
            m->published++;
    }
    if (rc == -EIO)
        log_warn("mqtt: cannot publish on %s: %s", topic, why);
    return rc;
}

int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos, bool retain,
                 unsigned flags)
{
    if (m->stopping)
        return -ESHUTDOWN;
    /* QoS 1/2 is always kept; before the first connect and while the client is renewed
     * everything is (the start-up burst must not depend on how fast the broker answers, and
     * a renewal is no outage) */
    bool keep = (flags & MQTT_KEEP) || qos > 0 || !m->ever_connected || mqtt_renewal_pending(m);
    if (m->connected && !outbox_has_waiting(&m->out)) {
        int rc = publish_now(m, topic, payload, len, qos, retain);
        if (rc != -ENOTCONN)
            return rc;
        m->connected = false;
    }
    if (!keep)
        return -ENOTCONN;
    struct outbox_msg *q;
    int rc = outbox_msg_create(&q, topic, payload, len, qos, retain);
    if (rc == 0) {
        q->cls = (flags & MQTT_SNAPSHOT) ? OUTBOX_SNAPSHOT : (flags & MQTT_READING) ? OUTBOX_READING : OUTBOX_NEWS;
        rc = outbox_keep(&m->out, q);
    }
    if (rc == 0 && m->connected)
        flush_outbox(m);
    return rc;
}

bool mqtt_connected(const struct mqtt *m)
{
    return m->connected;
}

void mqtt_get_counters(const struct mqtt *m, struct mqtt_counters *out)
{
    out->published = m->published;
    out->buffered = outbox_count(&m->out);
    out->dropped = m->out.dropped;
}

unsigned long mqtt_take_dropped(struct mqtt *m)
{
    return outbox_take_dropped(&m->out);
}

/* ---- connecting (loop thread) ------------------------------------------------------------ */

static void start_connect(struct mqtt *m);

static void set_pace(struct mqtt *m, enum pace_state to)
{
    if (m->pace != to)
        pace_move(m->pace, to);
    m->pace = to;
}

static void on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

static void schedule_retry(struct mqtt *m)
{
    if (m->stopping)
        return;
    set_pace(m, PACE_PARKED);
    if (m->retry_ms == 0)
        m->retry_ms = RETRY_MIN_MS;
    uv_timer_start(&m->retry, on_retry, m->retry_ms, 0);
    m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
}

/* Once per outage; code is a CONNACK code or Paho's, text Paho's explanation if any. */
static void log_connect_failure(struct mqtt *m, int code, const char *text)
{
    char ssl[sizeof m->ssl_error];
    pthread_mutex_lock(&m->lock);
    snprintf(ssl, sizeof ssl, "%s", m->ssl_error);
    m->ssl_error[0] = '\0';
    pthread_mutex_unlock(&m->lock);
    if (m->failure_logged)
        return;
    m->failure_logged = true;
    const char *why = text && text[0] ? text : m->api->strerror(code);
    if (code == CONNACK_BAD_CREDENTIALS || code == CONNACK_NOT_AUTHORISED)
        log_error("mqtt: %s refused the connection: %s; check mqtt.username and mqtt.password "
                  "(retrying with backoff)", m->uri,
                  code == CONNACK_BAD_CREDENTIALS ? "bad user name or password" : "not authorised");
    else if (m->tls)
        log_error("mqtt: TLS connection to %s failed (%s); check mqtt.tls_ca_file, that mqtt.host "
                  "matches the broker's certificate, and mqtt.port (retrying with backoff)",
                  m->uri, ssl[0] ? ssl : why);
    else
        log_warn("mqtt: cannot connect to %s (%s); is the broker running? retrying in the background",
                 m->uri, why);
}

static void start_connect(struct mqtt *m)
{
    if (m->stopping || m->connected || m->connecting)
        return;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    will.topicName = m->status_topic;
    will.message = "disconnected";
    will.qos = 1;
    will.retained = m->status_retain;

    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    ssl.trustStore = m->ca;
    ssl.keyStore = m->cert;
    ssl.privateKey = m->key;
    ssl.enableServerCertAuth = 1;
    ssl.verify = !m->insecure;      /* the host name check */
    ssl.ssl_error_cb = on_ssl_error;
    ssl.ssl_error_context = m;

    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *o = m->version == MQTTVERSION_5 ? &co5 : &co;
    /* never MQTTVERSION_DEFAULT: it can silently fall back to 3.1 on a reconnect */
    o->MQTTVersion = m->version;
    o->keepAliveInterval = m->keepalive;
    if (m->version == MQTTVERSION_5)
        o->cleanstart = 1;
    else
        o->cleansession = 1;
    o->will = m->status_topic ? &will : NULL;
    o->username = m->username;
    o->password = m->password;
    o->ssl = m->tls ? &ssl : NULL;
    o->automaticReconnect = 0;      /* ours: see the top of this file */
    o->connectTimeout = 10;
    ON_RESULT(o, m, NOTE_CONNECT);
    set_pace(m, PACE_CONNECTING);
    int rc = m->api->connect(m->client, o);
    if (rc != MQTTASYNC_SUCCESS) {
        log_connect_failure(m, rc, m->api->strerror(rc));
        schedule_retry(m);
        return;
    }
    m->connecting = true;
}

void mqtt_connect(struct mqtt *m)
{
    if (!m->loaded) {
        m->loaded = true;
        if (m->queue_file)
            (void)outbox_persist(&m->out, m->queue_file);  /* logged; memory only if it fails */
    }
    start_connect(m);
}

/* ---- what the notes say (loop thread) ------------------------------------------------------ */

static void finish_stop(struct mqtt *m);
static void finish_renew(struct mqtt *m);
static void on_stop_guard(uv_timer_t *t);
static void send_disconnect(struct mqtt *m);

static void on_connected(struct mqtt *m)
{
    bool first = !m->ever_connected;
    bool renewed = m->renewed;
    m->connecting = false;
    m->renewed = false;
    if (m->stopping)
        return;
    set_pace(m, PACE_UP);
    if (renewed)
        log_debug("mqtt: connected to %s again, with a new client", m->uri);
    else
        log_info("mqtt: connected to %s", m->uri);
    m->connected = true;
    m->ever_connected = true;
    m->failure_logged = false;
    m->retry_ms = 0;
    flush_outbox(m);
    inbound_send_held(m);
    if (m->cb.connected && !renewed)    /* for the daemon nothing happened */
        m->cb.connected(m->ctx, first);
}

static void on_lost(struct mqtt *m, const char *why)
{
    if (m->stopping || m->renewing)
        return;
    if (m->connected)
        log_warn("mqtt: connection to %s lost (%s); reconnecting", m->uri, why);
    m->connected = false;
    outbox_requeue(&m->out);    /* unacknowledged messages go first next time, in their order */
    if (m->cb.lost)
        m->cb.lost(m->ctx);
    if (!m->connecting)
        schedule_retry(m);
}

static void on_connect_failed(struct mqtt *m, int code, const char *text)
{
    m->connecting = false;
    if (m->stopping)
        return;
    if (m->renewed) {           /* the renewal met an outage: from here on it is one */
        m->renewed = false;
        if (m->cb.lost)
            m->cb.lost(m->ctx);
    }
    log_connect_failure(m, code, text);
    schedule_retry(m);
}

static void handle_note(struct mqtt *m, const struct note *n)
{
    switch (n->kind) {
    case NOTE_CONNECTED:
        on_connected(m);
        break;
    case NOTE_LOST:
        on_lost(m, n->text);
        break;
    case NOTE_CONNECT:
        if (n->code != 0)   /* success is NOTE_CONNECTED's, which comes on reconnects too */
            on_connect_failed(m, n->code, n->text);
        break;
    case NOTE_PUBLISH:
        outbox_settle(&m->out, n->token, n->code == 0);
        break;
    case NOTE_FAREWELL:
        if (m->stopping)
            send_disconnect(m);
        break;
    case NOTE_DISCONNECT:
        if (m->stopping)
            finish_stop(m);
        else if (m->renewing)
            finish_renew(m);
        break;
    case NOTE_KINDS:
        break;
    }
}

static struct note *take_notes(struct mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    struct note *n = m->notes;
    m->notes = m->notes_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void on_wake(uv_async_t *handle)
{
    struct mqtt *m = handle->data;
    struct note *n = take_notes(m);
    while (n) {
        struct note *next = n->next;
        handle_note(m, n);
        free(n);
        n = next;
    }
    inbound_drain(m);
}

/* ---- creating ------------------------------------------------------------------------------ */

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static void free_strings(struct mqtt *m)
{
    free(m->uri);
    free(m->status_topic);
    free(m->queue_file);
    free(m->client_id);
    free(m->username);
    if (m->password) {
        explicit_bzero(m->password, strlen(m->password));
        free(m->password);
    }
    free(m->ca);
    free(m->cert);
    free(m->key);
}

static int copy_options(struct mqtt *m, const struct mqtt_options *opt)
{
    bool ok = true;
    size_t urilen = strlen(opt->host) + 32;
    m->uri = malloc(urilen);
    m->status_topic = dup_or_null(opt->status_topic, &ok);
    m->queue_file = dup_or_null(opt->queue_file, &ok);
    m->client_id = dup_or_null(opt->client_id, &ok);
    m->username = dup_or_null(opt->username, &ok);
    m->password = dup_or_null(opt->username ? opt->password : NULL, &ok);
    m->ca = dup_or_null(opt->tls_ca_file, &ok);
    m->cert = dup_or_null(opt->tls_cert_file, &ok);
    m->key = dup_or_null(opt->tls_key_file, &ok);
    if (!m->uri || !ok)
        return -ENOMEM;
    /* IPv6 literals need brackets in a URI */
    snprintf(m->uri, urilen, strchr(opt->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
             opt->tls ? "ssl" : "tcp", opt->host, opt->port);
    m->status_retain = opt->status_retain;
    m->version = opt->version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    m->tls = opt->tls;
    m->insecure = opt->tls_insecure;
    m->keepalive = opt->keepalive;
    return 0;
}

static void start_handles(struct mqtt *m)
{
    uv_async_init(m->loop, &m->wake, on_wake);
    m->wake.data = m;
    uv_timer_init(m->loop, &m->stop_guard);
    m->stop_guard.data = m;
    uv_timer_init(m->loop, &m->retry);
    m->retry.data = m;
    m->handles_open = 3;
}

/* Paho's client for m, with our callbacks. Returns 0 or -EINVAL with the reason in err. */
static int create_client(struct mqtt *m, char *err, size_t errsz)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = m->version;
    int prc = m->api->createWithOptions(&m->client, m->uri, m->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (prc != MQTTASYNC_SUCCESS) {
        m->client = NULL;
        snprintf(err, errsz, "cannot create a client for %s: %s", m->uri, m->api->strerror(prc));
        return -EINVAL;
    }
    m->api->setCallbacks(m->client, m, on_paho_lost, on_paho_message, NULL);
    m->api->setConnected(m->client, m, on_paho_connected);
    return 0;
}

int mqtt_create(struct mqtt **out, uv_loop_t *loop, const struct mqtt_options *opt, const struct mqtt_callbacks *cb,
                void *ctx, char *err, size_t errsz)
{
    struct mqtt *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errsz, "out of memory");
        return -ENOMEM;
    }
    int rc = copy_options(m, opt);
    if (rc < 0) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if ((rc = -pthread_mutex_init(&m->lock, NULL)) < 0) {
        snprintf(err, errsz, "cannot create a lock: %s", strerror(-rc));
        goto fail;
    }
    if ((rc = inbound_init(&m->in)) < 0) {
        snprintf(err, errsz, "cannot create a lock: %s", strerror(-rc));
        goto fail_lock;
    }
    if (!(m->api = paho_get(m->tls, err, errsz))) {
        rc = -ENOENT;
        goto fail_inbound;
    }
    if ((rc = create_client(m, err, errsz)) < 0)
        goto fail_inbound;
    for (int k = 0; k < NOTE_KINDS; k++)
        m->requests[k] = (struct request){ .m = m, .kind = (enum note_kind)k };
    m->loop = loop;
    if (cb)
        m->cb = *cb;
    m->ctx = ctx;
    outbox_init(&m->out, opt->queue_limit);
    start_handles(m);
    *out = m;
    return 0;

fail_inbound:
    inbound_destroy(&m->in);
fail_lock:
    pthread_mutex_destroy(&m->lock);
fail:
    free_strings(m);
    free(m);
    return rc;
}

/* ---- renewing ------------------------------------------------------------------------------- */

/* Asks Paho for a DISCONNECT, its result a NOTE_DISCONNECT. Returns Paho's code. */
static int request_disconnect(struct mqtt *m)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnectOptions *o = m->version == MQTTVERSION_5 ? &d5 : &d;
    o->timeout = 1000;          /* ms Paho may spend delivering what is still in flight */
    ON_RESULT(o, m, NOTE_DISCONNECT);
    return m->api->disconnect(m->client, o);
}

/* Paho reads every packet whole into one buffer, which grows to the largest packet it has
 * read and is freed only when the library's last client is destroyed: after a 25 MB upload,
 * 25 MB stayed resident for good. So after a message of MQTT_RENEW_AFTER bytes or more the
 * client is renewed, as a reconnect the daemon does not see: a DISCONNECT (the broker drops
 * the will, so subscribers see no "disconnected", and the "connected" left standing is not
 * sent again), Paho's client destroyed and created again, and a connect. What is published
 * meanwhile waits in the outbox (replies: inbound.c), unacknowledged messages go again
 * first, and the subscriptions are made before anything else is sent. A message that
 * reaches the broker in those milliseconds is lost, as in any reconnect with a clean
 * session; inbound.c renews before handling the large message, so nothing a client can
 * have seen of it precedes the new subscriptions. */
void mqtt_renew(struct mqtt *m)
{
    if (m->stopping || m->renewing || !m->connected)
        return;
    m->renewing = true;
    m->connected = false;       /* publishes wait in the outbox */
    uv_timer_start(&m->stop_guard, on_stop_guard, STOP_GUARD_MS, 0);
    if (request_disconnect(m) != MQTTASYNC_SUCCESS)
        finish_renew(m);
}

static void finish_renew(struct mqtt *m)
{
    char err[256];
    if (!m->renewing)
        return;
    uv_timer_stop(&m->stop_guard);
    m->renewing = false;
    outbox_requeue(&m->out);
    set_pace(m, PACE_UP);       /* Paho's own pace while its threads stop */
    m->api->destroy(&m->client);
    set_pace(m, PACE_NONE);
    if (create_client(m, err, sizeof err) < 0) {
        log_error("mqtt: %s; restart printbridge", err);
        return;
    }
    m->renewed = true;
    start_connect(m);
}

/* ---- stopping ------------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct mqtt *m = h->data;
    if (--m->handles_open > 0)
        return;
    void (*done)(void *) = m->stop_done;
    void *ctx = m->stop_ctx;
    struct note *n = take_notes(m);
    while (n) {
        struct note *next = n->next;
        free(n);
        n = next;
    }
    if (m->heir)
        outbox_bequeath(&m->out, &m->heir->out);
    else if (m->queue_file)
        (void)outbox_save(&m->out, m->queue_file);     /* logged either way */
    outbox_clear(&m->out);
    inbound_destroy(&m->in);
    pthread_mutex_destroy(&m->lock);
    free_strings(m);
    free(m);
    if (done)
        done(ctx);
}

static void finish_stop(struct mqtt *m)
{
    if (m->finished)
        return;     /* guard timer and Paho raced */
    m->finished = true;
    uv_timer_stop(&m->stop_guard);
    uv_timer_stop(&m->retry);
    if (m->client) {            /* NULL only if a renewal could not create one */
        set_pace(m, PACE_UP);   /* Paho's own pace while its threads stop */
        m->api->destroy(&m->client);
        set_pace(m, PACE_NONE);
        m->client = NULL;
    }
    uv_close((uv_handle_t *)&m->wake, on_handle_closed);
    uv_close((uv_handle_t *)&m->stop_guard, on_handle_closed);
    uv_close((uv_handle_t *)&m->retry, on_handle_closed);
}

static void on_stop_guard(uv_timer_t *t)
{
    struct mqtt *m = t->data;
    log_warn("mqtt: broker did not confirm the disconnect in time; closing anyway");
    if (m->renewing)
        finish_renew(m);
    else
        finish_stop(m);
}

/* The DISCONNECT goes out only once "disconnected" was acknowledged, so subscribers get it
 * exactly once: from us, and not also as the will. */
static void send_disconnect(struct mqtt *m)
{
    if (request_disconnect(m) != MQTTASYNC_SUCCESS)
        finish_stop(m);     /* not connected: nothing to tell the broker */
}

void mqtt_stop(struct mqtt *m, struct mqtt *heir, void (*done)(void *ctx), void *ctx)
{
    if (m->stopping)
        return;
    m->stopping = true;
    m->heir = heir;
    m->stop_done = done;
    m->stop_ctx = ctx;
    uv_timer_stop(&m->retry);
    set_pace(m, PACE_UP);
    uv_timer_start(&m->stop_guard, on_stop_guard, STOP_GUARD_MS, 0);
    if (m->connected && m->status_topic) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        ON_RESULT(&ro, m, NOTE_FAREWELL);
        if (send_status(m, "disconnected", &ro) == 0)
            return;
    }
    send_disconnect(m);
}
