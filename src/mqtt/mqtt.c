/* mqtt.c: Paho MQTT C (asynchronous) on printbridge's libuv loop.
 *
 * Paho runs its own threads. Its callbacks never touch daemon state: they append a note to
 * a mutex-protected list and wake the loop with uv_async_send. The only exception is the
 * "connected" status message, published straight from Paho's connected callback so that it
 * is the first thing every new session carries (wire-format.md 4.2).
 *
 * Offline messages are kept here, not in Paho's buffer: Paho's buffer counts messages sent
 * while connected too, its evictions are silent, and a clean session throws away what was in
 * flight (libraries.md 2.3, 2.4). So a QoS 1/2 message stays in our in-flight list until
 * Paho reports the broker's acknowledgement (matched by token; tokens are reused, but never
 * while two messages are in flight), and a lost connection puts every unacknowledged message
 * back at the front of the offline FIFO, in order.
 *
 * Reconnecting is ours too (Paho's automatic reconnect does not cover a failed first
 * connect): a timer with backoff from 1 s doubling to 60 s, one log line per outage. */
#include "printbridge/mqtt.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "printbridge/base.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000

enum note_kind {
    NOTE_CONNECTED, NOTE_LOST, NOTE_CONNECT_FAILED, NOTE_FAREWELL_SENT, NOTE_DISCONNECTED,
    NOTE_ACK, NOTE_NACK,
    NOTE_WATCHED,           /* a message on watch_topic: text = payload, code = retained */
};

struct note {
    enum note_kind kind;
    int code;
    char text[256];
    struct note *next;
};

struct msg {
    char *topic;
    char *payload;
    size_t len;
    int qos;
    bool retain;
    int token;              /* while in flight */
    struct msg *next;
};

struct msglist {
    struct msg *head, *tail;
    size_t len;
};

struct mqtt {
    MQTTAsync client;
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t stop_guard;
    uv_timer_t retry;
    char *uri;
    char *status_topic;     /* NULL: none */
    char *watch_topic;      /* NULL: none; see mqtt_options */
    char *queue_file;
    bool status_retain;
    int version;
    bool tls;
    struct mqtt_callbacks cb;
    void *ctx;
    /* kept for reconnects */
    char *client_id, *username, *password, *ca, *cert, *key;
    bool insecure;
    int keepalive;

    pthread_mutex_t lock;       /* guards notes and ssl_error */
    struct note *notes, *notes_tail;
    char ssl_error[200];

    bool connected;             /* loop thread's view */
    bool connecting;
    bool ever_connected;
    bool failure_logged;
    bool stopping;
    bool loaded;
    unsigned retry_ms;
    int handles_open;
    void (*stop_done)(void *ctx);
    void *stop_ctx;
    struct mqtt *heir;

    struct msglist queue, inflight;
    size_t q_limit;
    unsigned long published, dropped, dropped_unreported;

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

static void on_ack(void *ctx, MQTTAsync_successData *resp)
{
    post_note(ctx, NOTE_ACK, resp ? resp->token : 0, NULL);
}

static void on_nack(void *ctx, MQTTAsync_failureData *resp)
{
    post_note(ctx, NOTE_NACK, resp ? resp->token : 0, NULL);
}

static void on_ack5(void *ctx, MQTTAsync_successData5 *resp)
{
    post_note(ctx, NOTE_ACK, resp ? resp->token : 0, NULL);
}

static void on_nack5(void *ctx, MQTTAsync_failureData5 *resp)
{
    post_note(ctx, NOTE_NACK, resp ? resp->token : 0, NULL);
}

static void set_response_callbacks(struct mqtt *m, MQTTAsync_responseOptions *ro,
                                   MQTTAsync_onSuccess *ok, MQTTAsync_onFailure *bad,
                                   MQTTAsync_onSuccess5 *ok5, MQTTAsync_onFailure5 *bad5)
{
    ro->context = m;
    if (m->version == MQTTVERSION_5) {
        ro->onSuccess5 = ok5;
        ro->onFailure5 = bad5;
    } else {
        ro->onSuccess = ok;
        ro->onFailure = bad;
    }
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

static void on_farewell_done(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_FAREWELL_SENT, 0, NULL);
}

static void on_farewell_failed(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_FAREWELL_SENT, -1, NULL);
}

static void on_farewell_done5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    post_note(ctx, NOTE_FAREWELL_SENT, 0, NULL);
}

static void on_farewell_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    post_note(ctx, NOTE_FAREWELL_SENT, -1, NULL);
}

static void on_paho_connected(void *ctx, char *cause)
{
    struct mqtt *m = ctx;
    (void)cause; /* its wording depends on how the connect started; never branch on it */
    if (m->status_topic)
        send_status(m, "connected", NULL);
    if (m->watch_topic)     /* clean session: subscribe on every connect */
        MQTTAsync_subscribe(m->client, m->watch_topic, 1, NULL);
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
    struct mqtt *m = ctx;
    if (!m->watch_topic || strcmp(topic, m->watch_topic) != 0) {
        inbound_arrived(m, topic, topiclen, msg);   /* issue 7: command topics */
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
        return 1;
    }
    (void)topiclen;
    /* only watch_topic is subscribed; a payload that does not fit a note cannot be one the
     * watcher wants (HA's birth message is "online"), so it arrives as "" */
    char text[sizeof ((struct note *)0)->text] = "";
    if (msg->payloadlen > 0 && (size_t)msg->payloadlen < sizeof text)
        memcpy(text, msg->payload, (size_t)msg->payloadlen);
    post_note(m, NOTE_WATCHED, msg->retained, text);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    post_note(ctx, NOTE_CONNECT_FAILED, resp ? resp->code : -1, resp && resp->message ? resp->message : NULL);
}

static void on_connect_failure5(void *ctx, MQTTAsync_failureData5 *resp)
{
    /* MQTT 5 reason codes: 134 bad user name or password, 135 not authorised */
    int code = resp ? resp->code : -1;
    if (resp && (resp->reasonCode == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD))
        code = 4;
    else if (resp && resp->reasonCode == MQTTREASONCODE_NOT_AUTHORIZED)
        code = 5;
    post_note(ctx, NOTE_CONNECT_FAILED, code, resp && resp->message ? resp->message : NULL);
}

static void on_disconnect_done(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_DISCONNECTED, 0, NULL);
}

static void on_disconnect_failed(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    post_note(ctx, NOTE_DISCONNECTED, -1, NULL);
}

static void on_disconnect_done5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    post_note(ctx, NOTE_DISCONNECTED, 0, NULL);
}

static void on_disconnect_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    post_note(ctx, NOTE_DISCONNECTED, -1, NULL);
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

/* ---- message lists (loop thread) ---------------------------------------------------- */

static void msg_free(struct msg *q)
{
    free(q->topic);
    free(q->payload);
    free(q);
}

static struct msg *msg_new(const char *topic, const char *payload, size_t len, int qos, bool retain)
{
    struct msg *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->topic = strdup(topic);
    q->payload = malloc(len ? len : 1);
    if (!q->topic || !q->payload) {
        msg_free(q);
        return NULL;
    }
    memcpy(q->payload, payload, len);
    q->len = len;
    q->qos = qos;
    q->retain = retain;
    return q;
}

static void list_append(struct msglist *l, struct msg *q)
{
    q->next = NULL;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->len++;
}

static struct msg *list_pop(struct msglist *l)
{
    struct msg *q = l->head;
    if (!q)
        return NULL;
    l->head = q->next;
    if (!l->head)
        l->tail = NULL;
    l->len--;
    q->next = NULL;
    return q;
}

/* Moves all of src in front of dst, keeping both orders. */
static void list_prepend_all(struct msglist *dst, struct msglist *src)
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

static void list_clear(struct msglist *l)
{
    struct msg *q;
    while ((q = list_pop(l)))
        msg_free(q);
}

/* Drops the oldest QoS 0 message, or the oldest of any kind if there is none. */
static void drop_one(struct mqtt *m)
{
    struct msg *prev = NULL, *q;
    for (q = m->queue.head; q && q->qos > 0; prev = q, q = q->next)
        ;
    if (!q) {
        q = list_pop(&m->queue);
    } else {
        if (prev)
            prev->next = q->next;
        else
            m->queue.head = q->next;
        if (m->queue.tail == q)
            m->queue.tail = prev;
        m->queue.len--;
    }
    if (!q)
        return;
    if (m->dropped++ == 0 || m->dropped_unreported == 0)
        log_warn("mqtt: offline buffer full (%zu messages); dropping the oldest (%s)", m->q_limit, q->topic);
    m->dropped_unreported++;
    msg_free(q);
}

static void trim_queue(struct mqtt *m)
{
    while (m->queue.len + m->inflight.len > m->q_limit && m->queue.len > 0)
        drop_one(m);
}

/* ---- queue file: "qos retain topiclen payloadlen\n" topic payload "\n", per message ---- */

static void save_queue(struct mqtt *m)
{
    list_prepend_all(&m->queue, &m->inflight);
    if (!m->queue_file || m->queue.len == 0)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", m->queue_file);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        log_error("mqtt: cannot write the offline buffer to %s: %s; %zu messages lost", tmp, strerror(errno),
                  m->queue.len);
        return;
    }
    for (struct msg *q = m->queue.head; q; q = q->next) {
        fprintf(f, "%d %d %zu %zu\n", q->qos, q->retain ? 1 : 0, strlen(q->topic), q->len);
        fwrite(q->topic, 1, strlen(q->topic), f);
        fwrite(q->payload, 1, q->len, f);
        fputc('\n', f);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        log_error("mqtt: cannot write the offline buffer to %s: %s; %zu messages lost", tmp, strerror(errno),
                  m->queue.len);
        unlink(tmp);
        return;
    }
    if (rename(tmp, m->queue_file) != 0) {
        log_error("mqtt: cannot rename %s to %s: %s", tmp, m->queue_file, strerror(errno));
        unlink(tmp);
        return;
    }
    log_info("mqtt: %zu unsent messages kept in %s for the next start", m->queue.len, m->queue_file);
}

static void load_queue(struct mqtt *m)
{
    if (!m->queue_file)
        return;
    FILE *f = fopen(m->queue_file, "r");
    if (!f) {
        if (errno != ENOENT)
            log_warn("mqtt: cannot read the offline buffer %s: %s", m->queue_file, strerror(errno));
        return;
    }
    struct msglist loaded = { 0 };
    int qos, retain;
    size_t tl, pl;
    bool bad = false;
    while (fscanf(f, "%d %d %zu %zu", &qos, &retain, &tl, &pl) == 4) {
        if (fgetc(f) != '\n' || qos < 0 || qos > 2 || tl == 0 || tl > 65535 || pl > 256 * 1024 * 1024) {
            bad = true;
            break;
        }
        char *topic = malloc(tl + 1), *payload = malloc(pl ? pl : 1);
        bool ok = topic && payload && fread(topic, 1, tl, f) == tl && fread(payload, 1, pl, f) == pl &&
                  fgetc(f) == '\n';
        struct msg *q = NULL;
        if (ok) {
            topic[tl] = '\0';
            q = msg_new(topic, payload, pl, qos, retain != 0);
        }
        free(topic);
        free(payload);
        if (!q) {
            bad = true;
            break;
        }
        list_append(&loaded, q);
    }
    if (!bad && !feof(f) && fgetc(f) != EOF)
        bad = true;
    fclose(f);
    if (bad)
        log_warn("mqtt: %s is damaged; sending the %zu messages read before the damage", m->queue_file, loaded.len);
    else if (loaded.len)
        log_info("mqtt: %zu messages from %s will be sent once connected", loaded.len, m->queue_file);
    list_prepend_all(&m->queue, &loaded);
    trim_queue(m);
    if (unlink(m->queue_file) != 0)
        log_warn("mqtt: cannot remove %s: %s", m->queue_file, strerror(errno));
}

/* ---- loop thread --------------------------------------------------------------------- */

/* Hands q to Paho. QoS 0 is done once accepted; QoS 1/2 moves to the in-flight list. Returns
 * the Paho code; on failure q is still the caller's. */
static int hand_over(struct mqtt *m, struct msg *q)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = q->payload;
    msg.payloadlen = (int)q->len;
    msg.qos = q->qos;
    msg.retained = q->retain;
    if (q->qos > 0)
        set_response_callbacks(m, &ro, on_ack, on_nack, on_ack5, on_nack5);
    int rc = MQTTAsync_sendMessage(m->client, q->topic, &msg, q->qos > 0 ? &ro : NULL);
    if (rc != MQTTASYNC_SUCCESS)
        return rc;
    m->published++;
    if (q->qos > 0) {
        q->token = ro.token;
        list_append(&m->inflight, q);
    } else {
        msg_free(q);
    }
    return rc;
}

static void flush_queue(struct mqtt *m)
{
    while (m->queue.head && m->connected) {
        struct msg *q = list_pop(&m->queue);
        int rc = hand_over(m, q);
        if (rc == MQTTASYNC_SUCCESS)
            continue;
        if (rc == MQTTASYNC_DISCONNECTED) {
            m->connected = false;   /* lost again already; keep the rest for next time */
            q->next = m->queue.head;
            m->queue.head = q;
            if (!m->queue.tail)
                m->queue.tail = q;
            m->queue.len++;
            return;
        }
        log_warn("mqtt: dropping buffered message for %s: %s", q->topic, MQTTAsync_strerror(rc));
        msg_free(q);
    }
}

static void finish_stop(struct mqtt *m);
static void send_disconnect(struct mqtt *m);
static void start_connect(struct mqtt *m);

static void on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

static void schedule_retry(struct mqtt *m)
{
    if (m->stopping)
        return;
    if (m->retry_ms == 0)
        m->retry_ms = RETRY_MIN_MS;
    uv_timer_start(&m->retry, on_retry, m->retry_ms, 0);
    m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
}

static void connection_down(struct mqtt *m)
{
    m->connected = false;
    /* unacknowledged messages go first next time, in their order */
    list_prepend_all(&m->queue, &m->inflight);
    trim_queue(m);
}

static void on_ack_note(struct mqtt *m, int token, bool ok)
{
    struct msg *prev = NULL, *q;
    for (q = m->inflight.head; q && q->token != token; prev = q, q = q->next)
        ;
    if (!q)
        return;     /* already put back after a lost connection */
    if (prev)
        prev->next = q->next;
    else
        m->inflight.head = q->next;
    if (m->inflight.tail == q)
        m->inflight.tail = prev;
    m->inflight.len--;
    if (ok) {
        msg_free(q);
        return;
    }
    /* refused while the session lasts: try again after the next connect */
    q->next = NULL;
    list_append(&m->queue, q);
}

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
    const char *why = text && text[0] ? text : MQTTAsync_strerror(code);
    if (code == 4 || code == 5)
        log_error("mqtt: %s refused the connection: %s; check mqtt.username and mqtt.password "
                  "(retrying with backoff)", m->uri, code == 4 ? "bad user name or password" : "not authorised");
    else if (m->tls)
        log_error("mqtt: TLS connection to %s failed (%s); check mqtt.tls_ca_file, that mqtt.host "
                  "matches the broker's certificate, and mqtt.port (retrying with backoff)",
                  m->uri, ssl[0] ? ssl : why);
    else
        log_warn("mqtt: cannot connect to %s (%s); is the broker running? retrying in the background",
                 m->uri, why);
}

static void handle_note(struct mqtt *m, struct note *n)
{
    switch (n->kind) {
    case NOTE_CONNECTED: {
        bool first = !m->ever_connected;
        m->connecting = false;
        if (m->stopping)
            break;
        log_info("mqtt: connected to %s", m->uri);
        m->connected = true;
        m->ever_connected = true;
        m->failure_logged = false;
        m->retry_ms = 0;
        flush_queue(m);
        if (m->cb.connected)
            m->cb.connected(m->ctx, first);
        break;
    }
    case NOTE_LOST:
        if (m->stopping)
            break;
        if (m->connected)
            log_warn("mqtt: connection to %s lost (%s); reconnecting", m->uri, n->text);
        connection_down(m);
        if (m->cb.lost)
            m->cb.lost(m->ctx);
        if (!m->connecting)
            schedule_retry(m);
        break;
    case NOTE_CONNECT_FAILED:
        m->connecting = false;
        if (m->stopping)
            break;
        log_connect_failure(m, n->code, n->text);
        schedule_retry(m);
        break;
    case NOTE_ACK:
    case NOTE_NACK:
        on_ack_note(m, n->code, n->kind == NOTE_ACK);
        break;
    case NOTE_WATCHED:
        if (!m->stopping && m->cb.watched)
            m->cb.watched(m->ctx, n->text, n->code != 0);
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
    free(m->watch_topic);
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

int mqtt_create(struct mqtt **out, uv_loop_t *loop, const struct mqtt_options *opt,
                const struct mqtt_callbacks *cb, void *ctx)
{
    struct mqtt *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc;
    bool ok = true;
    size_t urilen = strlen(opt->host) + 32;
    m->uri = malloc(urilen);
    m->status_topic = dup_or_null(opt->status_topic, &ok);
    m->watch_topic = dup_or_null(opt->watch_topic, &ok);
    m->queue_file = dup_or_null(opt->queue_file, &ok);
    m->client_id = dup_or_null(opt->client_id, &ok);
    m->username = dup_or_null(opt->username, &ok);
    m->password = dup_or_null(opt->username ? opt->password : NULL, &ok);
    m->ca = dup_or_null(opt->tls_ca_file, &ok);
    m->cert = dup_or_null(opt->tls_cert_file, &ok);
    m->key = dup_or_null(opt->tls_key_file, &ok);
    if (!m->uri || !ok) {
        rc = -ENOMEM;
        goto fail;
    }
    /* IPv6 literals need brackets in a URI */
    snprintf(m->uri, urilen, strchr(opt->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
             opt->tls ? "ssl" : "tcp", opt->host, opt->port);
    m->loop = loop;
    m->status_retain = opt->status_retain;
    m->version = opt->version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    m->tls = opt->tls;
    m->insecure = opt->tls_insecure;
    m->keepalive = opt->keepalive;
    if (cb)
        m->cb = *cb;
    m->ctx = ctx;
    m->q_limit = opt->queue_limit;
    pthread_mutex_init(&m->lock, NULL);

    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = m->version;
    rc = MQTTAsync_createWithOptions(&m->client, m->uri, m->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("mqtt: cannot create a client for %s: %s", m->uri, MQTTAsync_strerror(rc));
        rc = -EINVAL;
        goto fail_mutex;
    }
    uv_async_init(loop, &m->wake, on_wake);
    m->wake.data = m;
    uv_timer_init(loop, &m->stop_guard);
    m->stop_guard.data = m;
    uv_timer_init(loop, &m->retry);
    m->retry.data = m;
    m->handles_open = 3;
    MQTTAsync_setCallbacks(m->client, m, on_paho_lost, on_paho_message, NULL);
    MQTTAsync_setConnected(m->client, m, on_paho_connected);
    *out = m;
    return 0;

fail_mutex:
    pthread_mutex_destroy(&m->lock);
fail:
    free_strings(m);
    free(m);
    return rc;
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
    o->context = m;
    if (m->version == MQTTVERSION_5)
        o->onFailure5 = on_connect_failure5;
    else
        o->onFailure = on_connect_failure;
    int rc = MQTTAsync_connect(m->client, o);
    if (rc != MQTTASYNC_SUCCESS) {
        log_connect_failure(m, rc, MQTTAsync_strerror(rc));
        schedule_retry(m);
        return;
    }
    m->connecting = true;
}

void mqtt_connect(struct mqtt *m)
{
    if (!m->loaded) {
        m->loaded = true;
        load_queue(m);
    }
    start_connect(m);
}

int mqtt_publish(struct mqtt *m, const char *topic, const char *payload, size_t len, int qos,
                 bool retain, bool keep)
{
    if (m->stopping)
        return -ESHUTDOWN;
    /* QoS 1/2 is always kept; before the first connect everything is (the start-up burst
     * must not depend on how fast the broker answers) */
    if (qos > 0 || !m->ever_connected)
        keep = true;
    if (m->connected && !m->queue.head) {
        struct msg *q = NULL;
        if (qos > 0) {
            if (!(q = msg_new(topic, payload, len, qos, retain)))
                return -ENOMEM;
            int rc = hand_over(m, q);
            if (rc == MQTTASYNC_SUCCESS)
                return 0;
            msg_free(q);
            if (rc != MQTTASYNC_DISCONNECTED) {
                log_warn("mqtt: cannot publish on %s: %s", topic, MQTTAsync_strerror(rc));
                return -EIO;
            }
        } else {
            MQTTAsync_message msg = MQTTAsync_message_initializer;
            msg.payload = (void *)payload;
            msg.payloadlen = (int)len;
            msg.retained = retain;
            int rc = MQTTAsync_sendMessage(m->client, topic, &msg, NULL);
            if (rc == MQTTASYNC_SUCCESS) {
                m->published++;
                return 0;
            }
            if (rc != MQTTASYNC_DISCONNECTED) {
                log_warn("mqtt: cannot publish on %s: %s", topic, MQTTAsync_strerror(rc));
                return -EIO;
            }
        }
        m->connected = false;   /* Paho knew before our note arrived */
    }
    if (!keep)
        return -ENOTCONN;
    if (m->q_limit == 0) {
        m->dropped++;
        m->dropped_unreported++;
        return -ENOBUFS;
    }
    struct msg *q = msg_new(topic, payload, len, qos, retain);
    if (!q)
        return -ENOMEM;
    list_append(&m->queue, q);
    trim_queue(m);
    if (m->connected)
        flush_queue(m);
    return 0;
}

bool mqtt_connected(const struct mqtt *m)
{
    return m->connected;
}

void mqtt_get_counters(const struct mqtt *m, struct mqtt_counters *out)
{
    out->published = m->published;
    out->buffered = m->queue.len + m->inflight.len;
    out->dropped = m->dropped;
}

unsigned long mqtt_take_dropped(struct mqtt *m)
{
    unsigned long n = m->dropped_unreported;
    m->dropped_unreported = 0;
    return n;
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
    list_prepend_all(&m->queue, &m->inflight);
    if (m->heir) {
        list_prepend_all(&m->heir->queue, &m->queue);
        m->heir->dropped_unreported += m->dropped_unreported;
        trim_queue(m->heir);
    } else {
        save_queue(m);
    }
    list_clear(&m->queue);
    inbound_free(m);
    pthread_mutex_destroy(&m->lock);
    free_strings(m);
    free(m);
    if (done)
        done(ctx);
}

static void finish_stop(struct mqtt *m)
{
    if (!m->client)
        return;     /* already finished (guard timer and Paho raced) */
    uv_timer_stop(&m->stop_guard);
    uv_timer_stop(&m->retry);
    MQTTAsync_destroy(&m->client);
    m->client = NULL;
    uv_close((uv_handle_t *)&m->wake, on_handle_closed);
    uv_close((uv_handle_t *)&m->stop_guard, on_handle_closed);
    uv_close((uv_handle_t *)&m->retry, on_handle_closed);
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
    MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnectOptions *o = m->version == MQTTVERSION_5 ? &d5 : &d;
    o->timeout = 1000;   /* ms Paho may spend delivering what is still in flight */
    if (m->version == MQTTVERSION_5) {
        o->onSuccess5 = on_disconnect_done5;
        o->onFailure5 = on_disconnect_failed5;
    } else {
        o->onSuccess = on_disconnect_done;
        o->onFailure = on_disconnect_failed;
    }
    o->context = m;
    if (MQTTAsync_disconnect(m->client, o) != MQTTASYNC_SUCCESS)
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
    uv_timer_start(&m->stop_guard, on_stop_guard, 4000, 0);
    if (m->connected && m->status_topic) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        set_response_callbacks(m, &ro, on_farewell_done, on_farewell_failed, on_farewell_done5,
                               on_farewell_failed5);
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
    size_t max_payload = in ? in->max_payload : 0;  /* may change: read it under the lock */
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
    if (ok && len <= max_payload && (ok = (c->payload = malloc(len + 1)) != NULL)) {
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

void mqtt_set_inbound_limit(struct mqtt *m, size_t max_payload)
{
    pthread_mutex_lock(&m->lock);
    if (m->in)
        m->in->max_payload = max_payload;
    pthread_mutex_unlock(&m->lock);
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
