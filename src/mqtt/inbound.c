/* inbound.c: subscriptions, the messages they bring, and the replies to them (see inbound.h).
 *
 * Paho's message callback copies the message (topic, payload up to max_payload, retain flag,
 * MQTT 5 response topic and correlation data) onto a list bounded by max_pending and wakes
 * the loop; inbound_drain hands each message to its handlers there. A payload over max_text
 * (an upload: up to storage.max_upload_size) is not copied: the message keeps Paho's, so the
 * bytes are held twice (Paho's receive buffer, Paho's copy), not three times. Which handlers
 * get a message is decided when it is handed out, so a handler that unsubscribed gets nothing
 * more, even from messages that were already waiting.
 *
 * Paho's threads take in->lock; Paho is never called while we hold it. */
#include "inbound.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "printbridge/base.h"

#define SUBSCRIBE_QOS 1

#define MAX_HELD 1000          /* replies held while the client is renewed */

struct inbound_msg {
    struct mqtt_message msg;
    struct paho_payload *kept;  /* Paho's message, when its payload was not copied */
    struct inbound_msg *next;
};

/* A payload left in Paho's message, and the library that frees it. */
struct paho_payload {
    const struct paho *api;
    MQTTAsync_message *msg;
};

struct held_reply {
    char *topic, *payload;
    size_t len;
    void *corr;
    size_t corrlen;
    struct held_reply *next;
};

int inbound_init(struct inbound *in)
{
    memset(in, 0, sizeof *in);
    in->held_tail = &in->held;
    in->max_payload = in->max_text = MQTT_INBOUND_MAX_PAYLOAD;
    in->max_pending = MQTT_INBOUND_MAX_PENDING;
    return -pthread_mutex_init(&in->lock, NULL);
}

static void paho_payload_release(void *owner)
{
    struct paho_payload *k = owner;
    k->api->freeMessage(&k->msg);
    free(k);
}

static void msg_free(struct inbound_msg *c)
{
    if (c->kept)
        paho_payload_release(c->kept);
    free(c->msg.topic);
    free(c->msg.payload);
    free(c->msg.response_topic);
    free(c->msg.correlation);
    free(c);
}

/* Handlers get const messages, but every message they get is one of ours (struct
 * inbound_msg, not const): taking its payload changes only our object. */
char *mqtt_message_take_payload(const struct mqtt_message *msg, void (**release)(void *owner), void **owner)
{
    struct inbound_msg *own = (struct inbound_msg *)msg;    /* msg is its first member */
    char *p = own->msg.payload;
    *release = p ? free : NULL;
    *owner = p;
    if (own->kept) {            /* over max_text, so never empty */
        p = own->kept->msg->payload;
        *release = paho_payload_release;
        *owner = own->kept;
        own->kept = NULL;
    }
    own->msg.payload = NULL;
    own->msg.held = false;
    return p;
}

static void sub_free(struct inbound_sub *s)
{
    free(s->filter);
    free(s);
}

static void held_free(struct held_reply *h)
{
    free(h->topic);
    free(h->payload);
    free(h->corr);
    free(h);
}

void inbound_destroy(struct inbound *in)
{
    while (in->held) {
        struct held_reply *next = in->held->next;
        held_free(in->held);
        in->held = next;
    }
    while (in->head) {
        struct inbound_msg *next = in->head->next;
        msg_free(in->head);
        in->head = next;
    }
    while (in->subs) {
        struct inbound_sub *next = in->subs->next;
        sub_free(in->subs);
        in->subs = next;
    }
    pthread_mutex_destroy(&in->lock);
}

/* ---- subscriptions ---------------------------------------------------------------------- */

/* True if a live subscription before stop (NULL: any) has filter. */
static bool held_before(const struct inbound_sub *subs, const struct inbound_sub *stop, const char *filter)
{
    for (const struct inbound_sub *s = subs; s && s != stop; s = s->next)
        if (!s->gone && strcmp(s->filter, filter) == 0)
            return true;
    return false;
}

/* The filters held, each once, copied under the lock for Paho's thread. Returns the count,
 * or -ENOMEM. */
static int copy_filters(struct inbound *in, char ***out)
{
    int n = 0, rc = 0;
    pthread_mutex_lock(&in->lock);
    for (const struct inbound_sub *s = in->subs; s; s = s->next)
        n++;
    char **filters = calloc((size_t)n + 1, sizeof *filters);
    n = 0;
    for (const struct inbound_sub *s = in->subs; filters && s; s = s->next) {
        if (s->gone || held_before(in->subs, s, s->filter))
            continue;
        if (!(filters[n] = strdup(s->filter))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    pthread_mutex_unlock(&in->lock);
    if (!filters || rc < 0) {
        for (int i = 0; filters && i < n; i++)
            free(filters[i]);
        free(filters);
        return -ENOMEM;
    }
    *out = filters;
    return n;
}

void inbound_on_connected(struct mqtt *m)
{
    char **filters;
    int n = copy_filters(&m->in, &filters);
    if (n < 0) {
        log_error("mqtt: cannot subscribe: out of memory");
        return;
    }
    int *qos = n > 0 ? calloc((size_t)n, sizeof *qos) : NULL;
    int rc = MQTTASYNC_SUCCESS;
    if (n > 0 && !qos) {
        log_error("mqtt: cannot subscribe: out of memory");
    } else if (n > 0) {
        for (int i = 0; i < n; i++)
            qos[i] = SUBSCRIBE_QOS;
        /* never NULL options: Paho 1.3 reads them for an MQTT 5 subscription of several
         * filters and crashed the daemon at its first MQTT 5 connect */
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        rc = m->api->subscribeMany(m->client, n, filters, qos, &ro);
    }
    if (rc != MQTTASYNC_SUCCESS)
        log_error("mqtt: cannot subscribe to %s%s: %s", filters[0], n > 1 ? " and the other topics" : "",
                  m->api->strerror(rc));
    for (int i = 0; i < n; i++)
        free(filters[i]);
    free(filters);
    free(qos);
}

/* A subscription change goes to the broker at once while Paho has a session; otherwise the
 * next connect brings the whole set. Paho may be connected before the loop heard of it:
 * whatever is registered before its connected callback copies the set is in that copy. */
static bool session_up(const struct mqtt *m)
{
    return !m->stopping && m->client && m->api->isConnected(m->client);
}

int mqtt_subscribe(struct mqtt *m, const char *filter, mqtt_message_fn fn, void *ctx)
{
    char why[160];
    if (!fn || topicfilter_check(filter, why, sizeof why) < 0)
        return -EINVAL;
    struct inbound_sub *s = calloc(1, sizeof *s);
    if (!s || !(s->filter = strdup(filter))) {
        free(s);
        return -ENOMEM;
    }
    s->fn = fn;
    s->ctx = ctx;
    struct inbound *in = &m->in;
    bool held = held_before(in->subs, NULL, filter);
    struct inbound_sub **tail = &in->subs;
    while (*tail)
        tail = &(*tail)->next;
    pthread_mutex_lock(&in->lock);
    *tail = s;
    pthread_mutex_unlock(&in->lock);
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc = held || !session_up(m) ? MQTTASYNC_SUCCESS : m->api->subscribe(m->client, filter, SUBSCRIBE_QOS, &ro);
    if (rc != MQTTASYNC_SUCCESS && rc != MQTTASYNC_DISCONNECTED)
        log_error("mqtt: cannot subscribe to %s: %s", filter, m->api->strerror(rc));
    return 0;
}

/* Frees the subscriptions marked gone (not while a handler runs: the loop walks the list). */
static void sweep(struct inbound *in)
{
    pthread_mutex_lock(&in->lock);
    for (struct inbound_sub **p = &in->subs; *p;) {
        struct inbound_sub *s = *p;
        if (s->gone) {
            *p = s->next;
            sub_free(s);
        } else {
            p = &s->next;
        }
    }
    pthread_mutex_unlock(&in->lock);
}

int mqtt_unsubscribe(struct mqtt *m, const char *filter, mqtt_message_fn fn, void *ctx)
{
    struct inbound *in = &m->in;
    struct inbound_sub *s = in->subs;
    while (s && (s->gone || s->fn != fn || s->ctx != ctx || strcmp(s->filter, filter) != 0))
        s = s->next;
    if (!s)
        return -ENOENT;
    pthread_mutex_lock(&in->lock);
    s->gone = true;
    pthread_mutex_unlock(&in->lock);
    bool held = held_before(in->subs, NULL, filter);
    if (!in->delivering)
        sweep(in);
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc = held || !session_up(m) ? MQTTASYNC_SUCCESS : m->api->unsubscribe(m->client, filter, &ro);
    if (rc != MQTTASYNC_SUCCESS && rc != MQTTASYNC_DISCONNECTED)
        log_warn("mqtt: cannot unsubscribe from %s: %s", filter, m->api->strerror(rc));
    return 0;
}

void mqtt_set_inbound_limits(struct mqtt *m, size_t max_payload, size_t max_text, size_t max_pending)
{
    pthread_mutex_lock(&m->in.lock);
    m->in.max_payload = max_payload;
    m->in.max_text = max_text;
    m->in.max_pending = max_pending ? max_pending : 1;
    pthread_mutex_unlock(&m->in.lock);
}

/* ---- messages: Paho's thread ---------------------------------------------------------------- */

/* MQTT 5's response topic and correlation data. Returns 0 or -ENOMEM. */
static int copy_properties(const struct paho *api, struct mqtt_message *c, const MQTTAsync_message *msg)
{
    MQTTProperties *props = (MQTTProperties *)&msg->properties;
    MQTTProperty *rt = api->properties_get(props, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
    MQTTProperty *cd = api->properties_get(props, MQTTPROPERTY_CODE_CORRELATION_DATA);
    if (rt && rt->value.data.len > 0 &&
        !(c->response_topic = strndup(rt->value.data.data, (size_t)rt->value.data.len)))
        return -ENOMEM;
    if (cd && cd->value.data.len > 0) {
        if (!(c->correlation = malloc((size_t)cd->value.data.len)))
            return -ENOMEM;
        memcpy(c->correlation, cd->value.data.data, (size_t)cd->value.data.len);
        c->correlation_len = (size_t)cd->value.data.len;
    }
    return 0;
}

/* Paho's payload for c, kept as it is; msg becomes c's. Returns 0 or -ENOMEM. */
static int keep_payload(const struct paho *api, struct inbound_msg *c, MQTTAsync_message *msg)
{
    if (!(c->kept = malloc(sizeof *c->kept)))
        return -ENOMEM;
    c->kept->api = api;
    c->kept->msg = msg;
    c->msg.held = true;
    return 0;
}

/* A copy of msg; the payload only up to max_text bytes, kept as Paho's up to max_payload (msg
 * is then the copy's: *kept is set), else left out. Returns 0 or -ENOMEM. */
static int copy_message(const struct paho *api, struct inbound_msg **out, const char *topic, int topiclen,
                        MQTTAsync_message *msg, size_t max_payload, size_t max_text)
{
    struct inbound_msg *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    int rc = 0;
    c->msg.topic = topiclen > 0 ? strndup(topic, (size_t)topiclen) : strdup(topic);
    if (!c->msg.topic)
        rc = -ENOMEM;
    if (rc == 0 && len > max_text && len <= max_payload) {
        rc = keep_payload(api, c, msg);
    } else if (rc == 0 && len <= max_payload) {
        if ((c->msg.payload = malloc(len + 1))) {
            memcpy(c->msg.payload, msg->payload, len);
            c->msg.payload[len] = '\0';
        } else {
            rc = -ENOMEM;
        }
    }
    if (rc == 0)
        rc = copy_properties(api, &c->msg, msg);
    if (rc < 0) {
        free(c->kept);              /* msg is still the caller's */
        c->kept = NULL;
        msg_free(c);
        return rc;
    }
    c->msg.len = len;
    c->msg.retained = msg->retained != 0;
    c->msg.qos = msg->qos;
    *out = c;
    return 0;
}

bool inbound_arrived(struct mqtt *m, const char *topic, int topiclen, MQTTAsync_message *msg)
{
    struct inbound *in = &m->in;
    pthread_mutex_lock(&in->lock);
    size_t max_payload = in->max_payload;   /* may change: read them under the lock */
    size_t max_text = in->max_text;
    bool room = in->pending < in->max_pending;
    if (room)
        in->pending++;      /* reserve the slot; copy outside the lock */
    else
        in->dropped++;
    pthread_mutex_unlock(&in->lock);
    if (!room)
        return false;
    struct inbound_msg *c = NULL;
    int rc = copy_message(m->api, &c, topic, topiclen, msg, max_payload, max_text);
    bool kept = rc == 0 && c->kept;     /* read now: once listed, c is the loop's */
    pthread_mutex_lock(&in->lock);
    if (rc == 0) {
        if (in->tail)
            in->tail->next = c;
        else
            in->head = c;
        in->tail = c;
    } else {
        in->pending--;
        in->dropped++;
    }
    pthread_mutex_unlock(&in->lock);
    uv_async_send(&m->wake);
    return kept;
}

/* ---- messages: the loop ---------------------------------------------------------------------- */

/* Marks the subscriptions that get msg: each handler (fn and ctx) once, however many of its
 * filters match. Decided before any handler runs, so one subscribing meanwhile waits for the
 * next message. */
static bool mark_due(struct inbound *in, const char *topic)
{
    bool any = false;
    for (struct inbound_sub *s = in->subs; s; s = s->next) {
        s->due = !s->gone && topicfilter_match(s->filter, topic);
        for (struct inbound_sub *e = in->subs; s->due && e != s; e = e->next)
            if (e->due && e->fn == s->fn && e->ctx == s->ctx)
                s->due = false;
        any = any || s->due;
    }
    return any;
}

static void deliver(struct inbound *in, const struct mqtt_message *msg)
{
    if (!mark_due(in, msg->topic))
        return;
    in->delivering = true;
    for (struct inbound_sub *s = in->subs; s; s = s->next) {
        bool due = s->due && !s->gone;
        s->due = false;
        if (due)
            s->fn(s->ctx, msg);
    }
    in->delivering = false;
    sweep(in);
}

void inbound_drain(struct mqtt *m)
{
    struct inbound *in = &m->in;
    pthread_mutex_lock(&in->lock);
    struct inbound_msg *c = in->head;
    in->head = in->tail = NULL;
    unsigned long dropped = in->dropped;
    in->dropped = 0;
    size_t max_pending = in->max_pending;
    pthread_mutex_unlock(&in->lock);
    if (dropped)
        log_warn("mqtt: dropped %lu inbound message%s: more than %zu were waiting to be handled", dropped,
                 dropped == 1 ? "" : "s", max_pending);
    /* Paho now holds a buffer as large as the largest of these: renewed before they are
     * handled, so that every reply and event they cause goes out after the new client has
     * subscribed (a client that saw one and sends a command is heard) */
    for (struct inbound_msg *l = c; l; l = l->next)
        if (l->msg.len >= MQTT_RENEW_AFTER) {
            mqtt_renew(m);
            break;
        }
    while (c) {
        struct inbound_msg *next = c->next;
        if (!m->stopping)
            deliver(in, &c->msg);
        msg_free(c);
        pthread_mutex_lock(&in->lock);
        in->pending--;
        pthread_mutex_unlock(&in->lock);
        c = next;
    }
    if (in->replies_dropped > 1)
        log_warn("mqtt: %lu more command replies could not be sent (too many at once)", in->replies_dropped - 1);
    in->replies_dropped = 0;
}

/* ---- replies --------------------------------------------------------------------------------- */

/* The first reply dropped since the last drain is logged; inbound_drain counts the rest. */
static void reply_dropped(struct inbound *in, const char *topic, const char *why)
{
    if (in->replies_dropped++ == 0)
        log_warn("mqtt: cannot send a command reply on %s: %s", topic, why);
}

static int hold_reply(struct inbound *in, const char *topic, const char *payload, size_t len, const void *corr,
                      size_t corrlen)
{
    if (in->nheld >= MAX_HELD) {
        reply_dropped(in, topic, "too many replies waiting for the renewed connection");
        return -ENOBUFS;
    }
    struct held_reply *h = calloc(1, sizeof *h);
    if (!h || !(h->topic = strdup(topic)) || !(h->payload = malloc(len + 1)) ||
        (corrlen > 0 && !(h->corr = malloc(corrlen)))) {
        if (h)
            held_free(h);
        return -ENOMEM;
    }
    memcpy(h->payload, payload, len);
    h->len = len;
    if (corrlen > 0)
        memcpy(h->corr, corr, corrlen);
    h->corrlen = corrlen;
    *in->held_tail = h;
    in->held_tail = &h->next;
    in->nheld++;
    return 0;
}

void inbound_send_held(struct mqtt *m)
{
    struct held_reply *h = m->in.held;
    m->in.held = NULL;
    m->in.held_tail = &m->in.held;
    m->in.nheld = 0;
    while (h) {
        struct held_reply *next = h->next;
        (void)mqtt_publish_reply(m, h->topic, h->payload, h->len, h->corr, h->corrlen);   /* logged */
        held_free(h);
        h = next;
    }
}

int mqtt_publish_reply(struct mqtt *m, const char *topic, const char *payload, size_t len, const void *corr,
                       size_t corrlen)
{
    /* A reply answers a live request: never queued for later, and a burst that overflows
     * Paho's buffer is counted and reported once per drain instead of once per reply. A
     * renewal of the client is no outage: what is due meanwhile is held for the new one. */
    if (!m->stopping && mqtt_renewal_pending(m))
        return hold_reply(&m->in, topic, payload, len, corr, corrlen);
    if (m->stopping || !m->connected)
        return -ENOTCONN;
    MQTTProperties props = MQTTProperties_initializer;
    if (corr && corrlen > 0) {
        MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_CORRELATION_DATA };
        p.value.data.data = (char *)corr;
        p.value.data.len = (int)corrlen;
        if (m->api->properties_add(&props, &p) != 0)
            return -ENOMEM;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = 1;
    msg.retained = 0;
    msg.properties = props;
    /* Paho takes a message's MQTT 5 properties through the response options: without them
     * the correlation data was silently left out */
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc = m->api->sendMessage(m->client, topic, &msg, &ro);
    m->api->properties_free(&props);
    if (rc == MQTTASYNC_SUCCESS)
        return 0;
    reply_dropped(&m->in, topic, m->api->strerror(rc));
    return -EIO;
}
