/* discovery_shell.c: publishing Home Assistant discovery (docs/wire-format.md 12): on every
 * broker connect, after Home Assistant's birth message, when a reload or the printer's
 * firmware report changes the config, and the removal when discovery is switched off.
 *
 * The messages are printbridge's device config first, then (with the OctoPrint-HomeAssistant
 * option) one config per entity of that plugin. The shell keeps its own copy of the
 * settings, so the printer's identity can be added later without the caller's help. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "discovery_impl.h"
#include "printbridge/base.h"
#include "printbridge/mqtt.h"
#include "printbridge/wire.h"

#define BIRTH_ONLINE "online"
#define BIRTH_OFFLINE "offline"     /* Home Assistant's will */

struct discovery {
    uv_loop_t *loop;
    struct mqtt *mqtt;
    uv_timer_t timer;
    struct discovery_settings s;    /* the strings are ours (settings_copy) */
    uint64_t births_until;  /* loop ms: births until then share the republish already planned */
    struct discovery_message *msgs; /* [0]: the device config; payloads NULL when it cannot be built */
    int nmsgs;
    char *birth;            /* "<prefix>/status", subscribed on mqtt */
    void (*done)(void *ctx);
    void *done_ctx;
};

/* ---- the settings copy ------------------------------------------------------------------- */

static const size_t string_fields[] = {
    offsetof(struct discovery_settings, prefix), offsetof(struct discovery_settings, node_id),
    offsetof(struct discovery_settings, device_name), offsetof(struct discovery_settings, base_topic),
    offsetof(struct discovery_settings, state_topic), offsetof(struct discovery_settings, status_topic),
    offsetof(struct discovery_settings, temperature_topic), offsetof(struct discovery_settings, sw_version),
    offsetof(struct discovery_settings, event_topic), offsetof(struct discovery_settings, progress_topic),
    offsetof(struct discovery_settings, stats_topic), offsetof(struct discovery_settings, support_url),
    offsetof(struct discovery_settings, firmware), offsetof(struct discovery_settings, machine),
    offsetof(struct discovery_settings, serial), offsetof(struct discovery_settings, octoprint_node_id),
    offsetof(struct discovery_settings, octoprint_node_name),
};
#define N_STRINGS (sizeof string_fields / sizeof string_fields[0])

static const char **field(struct discovery_settings *s, size_t i)
{
    return (const char **)(void *)((char *)s + string_fields[i]);
}

static void settings_free(struct discovery_settings *s)
{
    for (size_t i = 0; i < N_STRINGS; i++) {
        free((void *)*field(s, i));
        *field(s, i) = NULL;
    }
}

/* *dst = a deep copy of src; 0 or -ENOMEM (dst untouched) */
static int settings_copy(struct discovery_settings *dst, const struct discovery_settings *src)
{
    struct discovery_settings c = *src;
    bool ok = true;
    for (size_t i = 0; i < N_STRINGS; i++) {
        const char *v = *field(&c, i);
        *field(&c, i) = v && ok ? strdup(v) : NULL;
        ok = ok && (!v || *field(&c, i));
    }
    if (!ok) {
        settings_free(&c);
        return -ENOMEM;
    }
    *dst = c;
    return 0;
}

/* ---- building ---------------------------------------------------------------------------- */

void discovery_messages_free(struct discovery_message *m, int n)
{
    for (int i = 0; m && i < n; i++) {
        free(m[i].topic);
        free(m[i].payload);
    }
    free(m);
}

/* The messages for s: the device config, then the compat entities. Payloads are NULL with
 * discovery off (only the topics, to remove them). Returns the count or -ENOMEM / -EINVAL. */
static int build(const struct discovery_settings *s, struct discovery_message **out)
{
    char t[PUBLISHER_MAX_TOPIC];
    struct discovery_message *compat = NULL, *all;
    *out = NULL;
    if (discovery_config_topic(t, sizeof t, s->prefix, s->node_id) < 0)
        return -EINVAL;
    int n = discovery_compat_messages(s, s->enabled, &compat);
    if (n < 0)
        return n;
    if (!(all = calloc((size_t)n + 1, sizeof *all))) {
        discovery_messages_free(compat, n);
        return -ENOMEM;
    }
    if (n > 0)
        memcpy(all + 1, compat, (size_t)n * sizeof *all);
    free(compat);
    all[0].topic = strdup(t);
    if (!all[0].topic ||
        (s->enabled && !(all[0].payload = discovery_config_json(s)) && s->state_topic && s->state_topic[0])) {
        discovery_messages_free(all, n + 1);
        return -ENOMEM;
    }
    *out = all;
    return n + 1;
}

static bool has_topic(const struct discovery_message *m, int n, const char *topic)
{
    for (int i = 0; i < n; i++)
        if (strcmp(m[i].topic, topic) == 0)
            return true;
    return false;
}

static bool same_messages(const struct discovery_message *a, int na, const struct discovery_message *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].topic, b[i].topic) != 0 || (a[i].payload == NULL) != (b[i].payload == NULL) ||
            (a[i].payload && strcmp(a[i].payload, b[i].payload) != 0))
            return false;
    return true;
}

/* ---- publishing -------------------------------------------------------------------------- */

static void publish(struct discovery *d, const char *topic, const char *payload)
{
    if (!d->mqtt)
        return;
    /* QoS 1 and retained: the device must survive Home Assistant's and the broker's restarts,
     * and a removal must not be lost to an outage */
    if (mqtt_publish(d->mqtt, topic, payload, strlen(payload), 1, true, MQTT_KEEP) < 0)
        log_warn("homeassistant: cannot publish the discovery config on %s", topic);
}

/* Every message: its payload, or with discovery off (or nothing to announce) an empty one. */
static void publish_current(struct discovery *d)
{
    for (int i = 0; i < d->nmsgs; i++)
        publish(d, d->msgs[i].topic, d->s.enabled && d->msgs[i].payload ? d->msgs[i].payload : "");
    /* the log says what happened: sent, or waiting for the broker */
    if (!d->s.enabled || !d->nmsgs || !d->msgs[0].payload)
        return;
    if (d->mqtt && mqtt_connected(d->mqtt))
        log_info("homeassistant: device announced on %s (%zu bytes)", d->msgs[0].topic, strlen(d->msgs[0].payload));
    else
        log_info("homeassistant: device announcement on %s queued until the broker connection is up", d->msgs[0].topic);
}

static void explain(const struct discovery *d)
{
    const struct discovery_settings *s = &d->s;
    const char *payload = d->nmsgs ? d->msgs[0].payload : NULL;
    if (!s->enabled)
        log_info("homeassistant: discovery is off; any device left under %s/device/%s is removed", s->prefix,
                 s->node_id);
    else if (!payload)
        log_warn("homeassistant: topics.state is off, so there is nothing to discover; "
                 "set topics.state = \"state\"; to get a Home Assistant device");
    else if (d->nmsgs > 1)
        log_debug("homeassistant: device %s configured under %s/ (%zu bytes), with %d OctoPrint-HomeAssistant "
                  "entities of node %s", s->node_id, s->prefix, strlen(payload), d->nmsgs - 1, s->octoprint_node_id);
    else
        log_debug("homeassistant: device %s configured under %s/ (%zu bytes)", s->node_id, s->prefix, strlen(payload));
}

/* Takes over s (a copy the caller made) with the printer's identity kept: rebuilds the
 * messages, removes the topics that are gone and publishes what changed. 0, or -EINVAL /
 * -ENOMEM with nothing changed (s is then freed). */
static int apply(struct discovery *d, struct discovery_settings *s)
{
    struct discovery_message *msgs;
    int n = build(s, &msgs);
    if (n < 0) {
        settings_free(s);
        return n;
    }
    bool changed = s->enabled != d->s.enabled || !same_messages(msgs, n, d->msgs, d->nmsgs);
    bool live = d->mqtt && mqtt_connected(d->mqtt);
    /* a device or entity under a topic that is gone goes first; the new ones follow */
    for (int i = 0; live && i < d->nmsgs; i++)
        if (d->s.enabled && d->msgs[i].payload && !has_topic(msgs, n, d->msgs[i].topic))
            publish(d, d->msgs[i].topic, "");
    discovery_messages_free(d->msgs, d->nmsgs);
    settings_free(&d->s);
    d->s = *s;
    d->msgs = msgs;
    d->nmsgs = n;
    if (!d->s.enabled)
        uv_timer_stop(&d->timer);
    if (changed) {
        explain(d);
        if (live)
            publish_current(d);
    }
    return 0;
}

/* ---- the birth topic ----------------------------------------------------------------------- */

static void on_birth(void *ctx, const struct mqtt_message *msg);

/* "<prefix>/status", malloc'd. Returns 0, -EINVAL (too long) or -ENOMEM. */
static int birth_topic(const struct discovery_settings *s, char **out)
{
    char t[PUBLISHER_MAX_TOPIC];
    if (discovery_birth_topic(t, sizeof t, s->prefix) < 0)
        return -EINVAL;
    return (*out = strdup(t)) ? 0 : -ENOMEM;
}

/* Listens on the birth topic of s from now on (the new one is in before the old one goes).
 * Returns 0, -EINVAL or -ENOMEM (the old one stays). */
static int move_birth(struct discovery *d, const struct discovery_settings *s)
{
    char *birth;
    int rc = birth_topic(s, &birth);
    if (rc < 0 || strcmp(birth, d->birth) == 0) {
        free(rc < 0 ? NULL : birth);
        return rc;
    }
    if (d->mqtt && (rc = mqtt_subscribe(d->mqtt, birth, on_birth, d)) < 0) {
        free(birth);
        return rc;
    }
    if (d->mqtt)
        mqtt_unsubscribe(d->mqtt, d->birth, on_birth, d);
    free(d->birth);
    d->birth = birth;
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct discovery *d = t->data;
    if (d->s.enabled && d->nmsgs && d->msgs[0].payload && d->mqtt && mqtt_connected(d->mqtt)) {
        log_info("homeassistant: Home Assistant came online; discovery republished");
        publish_current(d);
    }
}

/* Home Assistant's birth message: "online" schedules one republish after a random delay;
 * more births within republish_delay of the first are answered by that same republish,
 * even when its random delay was short and it already went out. */
static void on_birth(void *ctx, const struct mqtt_message *msg)
{
    struct discovery *d = ctx;
    /* a retained "online" is as good a reason: the republish is idempotent */
    if (!msg->payload || strcmp(msg->payload, BIRTH_ONLINE) != 0) {
        if (!msg->payload || strcmp(msg->payload, BIRTH_OFFLINE) != 0)
            log_info("homeassistant: ignoring a %zu-byte message on %s: Home Assistant's birth message is \"%s\"",
                     msg->len, msg->topic, BIRTH_ONLINE);
        return;
    }
    uint64_t now = uv_now(d->loop);
    if (!d->s.enabled || uv_is_active((uv_handle_t *)&d->timer) || now < d->births_until)
        return;
    d->births_until = now + (uint64_t)(d->s.republish_delay * 1000.0);
    /* many devices answer the same birth message: a random delay spreads their bursts */
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)uv_hrtime();
    uint64_t ms = (uint64_t)(d->s.republish_delay * 1000.0 * ((double)r / 4294967296.0));
    uv_timer_start(&d->timer, on_timer, ms, 0);
}

/* ---- the interface ------------------------------------------------------------------------ */

int discovery_create(struct discovery **out, uv_loop_t *loop, struct mqtt *m, const struct discovery_settings *s)
{
    struct discovery *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    int rc = settings_copy(&d->s, s);
    if (rc == 0 && (rc = build(&d->s, &d->msgs)) >= 0) {
        d->nmsgs = rc;
        rc = birth_topic(s, &d->birth);
    }
    if (rc == 0 && m)
        rc = mqtt_subscribe(m, d->birth, on_birth, d);
    if (rc < 0) {
        discovery_messages_free(d->msgs, d->nmsgs);
        settings_free(&d->s);
        free(d->birth);
        free(d);
        return rc;
    }
    d->loop = loop;
    d->mqtt = m;
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    explain(d);
    *out = d;
    return 0;
}

int discovery_set_mqtt(struct discovery *d, struct mqtt *m)
{
    d->mqtt = m;
    return m ? mqtt_subscribe(m, d->birth, on_birth, d) : 0;
}

int discovery_set_settings(struct discovery *d, const struct discovery_settings *s)
{
    struct discovery_settings next = *s;
    /* the printer's identity is the shell's, not the configuration's */
    next.firmware = d->s.firmware;
    next.machine = d->s.machine;
    next.serial = d->s.serial;
    struct discovery_settings copy;
    int rc = settings_copy(&copy, &next);
    if (rc == 0 && (rc = move_birth(d, &copy)) < 0)
        settings_free(&copy);
    return rc < 0 ? rc : apply(d, &copy);
}

static bool differs(const char *known, const char *now)
{
    return now[0] && (!known || strcmp(known, now) != 0);
}

void discovery_on_model(struct discovery *d, const struct printer_model *m)
{
    if (!d || !m || !(differs(d->s.firmware, m->firmware_name) || differs(d->s.machine, m->firmware_machine) ||
                      differs(d->s.serial, m->firmware_uuid)))
        return;
    struct discovery_settings next = d->s, copy;
    if (m->firmware_name[0])
        next.firmware = m->firmware_name;
    if (m->firmware_machine[0])
        next.machine = m->firmware_machine;
    if (m->firmware_uuid[0])
        next.serial = m->firmware_uuid;
    if (settings_copy(&copy, &next) < 0 || apply(d, &copy) < 0)
        log_warn("homeassistant: out of memory; the device page keeps the firmware it showed");
}

void discovery_on_connected(struct discovery *d)
{
    publish_current(d);
}

static void on_closed(uv_handle_t *h)
{
    struct discovery *d = h->data;
    void (*done)(void *) = d->done;
    void *ctx = d->done_ctx;
    discovery_messages_free(d->msgs, d->nmsgs);
    settings_free(&d->s);
    free(d->birth);
    free(d);
    if (done)
        done(ctx);
}

void discovery_close(struct discovery *d, void (*done)(void *ctx), void *ctx)
{
    if (!d) {
        if (done)
            done(ctx);
        return;
    }
    if (d->mqtt)
        mqtt_unsubscribe(d->mqtt, d->birth, on_birth, d);
    d->done = done;
    d->done_ctx = ctx;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_closed);
}
