/* router.c: inbound commands on the loop thread (see commands.h).
 *
 * Every message passes the same gate, in this order, and the first refusal ends it with an
 * error reply (retained messages are only logged: a reply to each retained copy on every
 * reconnect would be noise, and acting on them paused prints when HA restarted):
 *   own replies (.../response) ignored -> retained ignored -> empty ignored -> size -> NUL
 *   bytes -> decode (unknown command, invalid JSON) -> state -> G-code allow/deny ->
 *   duplicate id -> run.
 * The duplicate check comes last so a refused command does not use up its id: the client
 * may fix the cause and send it again. */
#include "printbridge/commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/config.h"
#include "printbridge/hooks.h"
#include "printbridge/base.h"
#include "printbridge/mqtt.h"
#include "printbridge/printer.h"
#include "printbridge/jobs.h"
#include "printbridge/tools.h"
#include "printbridge/wire.h"

#define MAX_PENDING 1000        /* messages waiting for the loop before new ones are dropped */

struct commands_router {
    char *base;
    size_t baselen;
    const struct hookconfig *hc;
    struct mqtt *mqtt;
    struct commands_targets t;
    struct mqtt *client;        /* the client our subscriptions are set on */
    char **filters;             /* ... and what they are */
    size_t nfilters;
    struct commands_dedupe dedupe;
    int waiting;                /* hook runs and uploads whose reply is still due */
    bool freed;                 /* free requested while runs were waiting */
};

/* Where and how to answer one message. */
struct reply_to {
    struct commands_router *r;
    char *topic;                /* <topic>/response or the MQTT 5 response topic */
    char *corr;
    size_t corrlen;
    json_t *id;                 /* own reference, or NULL */
};

static void reply_free(struct reply_to *t)
{
    free(t->topic);
    free(t->corr);
    json_decref(t->id);
}

static int reply_init(struct reply_to *t, struct commands_router *r, const struct mqtt_message *msg)
{
    memset(t, 0, sizeof *t);
    t->r = r;
    if (msg->response_topic)
        t->topic = strdup(msg->response_topic);
    else if (asprintf(&t->topic, "%s/response", msg->topic) < 0)
        t->topic = NULL;
    if (msg->correlation && (t->corr = malloc(msg->correlation_len))) {
        memcpy(t->corr, msg->correlation, msg->correlation_len);
        t->corrlen = msg->correlation_len;
    }
    return t->topic ? 0 : -1;
}

/* {"id": .., "result": "ok"|"error", "error": ".." (errors only), extra keys...}. extra is
 * stolen. Successes are only answered when the request had an id. */
static void send_reply(struct reply_to *t, const char *error, json_t *extra)
{
    struct commands_router *r = t->r;
    if (!r->mqtt || (!error && !t->id && !t->corr)) {
        json_decref(extra);
        return;
    }
    json_t *o = json_object();
    json_object_set(o, "id", t->id ? t->id : json_null());
    json_object_set_new(o, "result", json_string(error ? "error" : "ok"));
    if (error)
        json_object_set_new(o, "error", pyjson_string_lossy(error, strlen(error)));
    if (extra)
        json_object_update(o, extra);
    json_decref(extra);
    char *text = pyjson_dumps(o);
    json_decref(o);
    if (text) {
        int rc = mqtt_publish_reply(r->mqtt, t->topic, text, strlen(text), t->corr, t->corrlen);
        if (rc < 0)
            log_debug("commands: reply on %s not sent: %s", t->topic, strerror(-rc));
    }
    free(text);
}

/* ---- running ------------------------------------------------------------------------------ */

struct hook_wait {
    struct reply_to to;
};

static void router_release(struct commands_router *r);

static void on_hook_done(void *ctx, const struct hooks_result *res)
{
    struct hook_wait *w = ctx;
    struct commands_router *r = w->to.r;
    json_t *extra = NULL;
    if (res->type == HOOK_SYSTEM) {
        extra = json_object();
        json_object_set_new(extra, "returncode", res->has_returncode ? json_integer(res->returncode) : json_null());
        json_object_set_new(extra, "stdout", pyjson_string_lossy(res->out ? res->out : "", res->out_len));
        json_object_set_new(extra, "stderr", pyjson_string_lossy(res->err ? res->err : "", res->err_len));
    }
    const char *error = res->error;
    char why[64];
    if (!error && res->has_returncode && res->returncode != 0) {
        snprintf(why, sizeof why, "the hook exited with %d", res->returncode);
        error = why;
    }
    send_reply(&w->to, error, extra);
    reply_free(&w->to);
    free(w);
    r->waiting--;
    if (r->freed && r->waiting == 0)
        router_release(r);
}

static const struct hook_def *find_handler(const struct commands_router *r, const char *name)
{
    for (size_t i = 0; i < r->hc->nhandlers; i++)
        if (strcmp(r->hc->handlers[i].name, name) == 0)
            return &r->hc->handlers[i];
    return NULL;
}

/* Runs a configured handler; the reply comes when the run is over. */
static void run_handler(struct commands_router *r, struct reply_to *to, const struct hook_def *def, const char *rel,
                        const json_t *doc, const char *payload)
{
    if (!def->enabled) {
        send_reply(to, "this handler is disabled (enabled = false)", NULL);
        return;
    }
    struct hook_wait *w = malloc(sizeof *w);
    if (!w) {
        send_reply(to, "out of memory", NULL);
        return;
    }
    w->to = *to;                /* the wait owns the reply target now */
    memset(to, 0, sizeof *to);
    struct placeholders ph = { .payload = json_is_object(doc) ? doc : NULL, .raw_payload = payload, .topic = rel };
    hooks_fill_placeholders(r->t.hooks, &ph);
    r->waiting++;
    hooks_run(r->t.hooks, def, rel, &ph, on_hook_done, w);
}

static json_t *state_reply(struct commands_router *r)
{
    const struct printer_model *m = printer_get_model(r->t.printer);
    json_t *temps = json_object();
    for (int i = 0; i < m->nheaters; i++)
        json_object_set_new(temps, m->heaters[i].key,
                            json_pack("{s:o, s:o}", "actual", pyjson_real_or_null(m->heaters[i].actual), "target",
                                      m->heaters[i].has_target ? pyjson_real_or_null(m->heaters[i].target) : json_null()));
    json_t *o = json_pack("{s:{s:s, s:s}, s:o}", "state", "id", printer_state_id(m->state), "text",
                          printer_state_string(m->state), "temperatures", temps);
    /* "printer": the <base>state payload, for a subscriber whose broker did not hand it the
     * retained one (docs/farm.md) */
    char *text = r->t.publisher ? publisher_state_payload(r->t.publisher) : NULL;
    json_t *state = text ? json_loads(text, 0, NULL) : NULL;
    if (o && state)
        json_object_set_new(o, "printer", state);
    else
        json_decref(state);
    free(text);
    return o;
}

/* The snapshot command's image goes to <base>camera (not retained). */
static void on_snapshot(void *ctx, const void *data, size_t len, const char *err)
{
    struct publisher *p = ctx;
    if (!data) {
        log_warn("commands: snapshot on demand failed: %s", err);
        return;
    }
    publisher_publish_camera(p, data, len);
}

static int take_snapshot(struct commands_router *r, char *err, size_t errsz)
{
    int rc = r->t.camera ? timelapse_snapshot_now(r->t.camera, on_snapshot, r->t.publisher) : -ENOENT;
    if (rc == -ENOENT)
        snprintf(err, errsz, "no snapshot command is configured (timelapse.snapshot_command)");
    else if (rc == -EBUSY)
        snprintf(err, errsz, "a snapshot is already being taken");
    else if (rc < 0)
        snprintf(err, errsz, "the snapshot could not be started: %s", strerror(-rc));
    return rc;
}

/* ---- G-code: the reply waits for the firmware's answer to every line ------------------------ */

struct gcode_wait;

struct gcode_line {
    struct gcode_wait *w;
    size_t index;
    char text[44];              /* the line's start, for the error */
};

struct gcode_wait {
    struct reply_to to;
    size_t pending;             /* lines still unanswered, plus one while queuing */
    char err[512];              /* the first error, "" when none */
    struct gcode_line lines[];
};

static void gcode_settle(struct gcode_wait *w)
{
    if (--w->pending > 0)
        return;
    struct commands_router *r = w->to.r;
    send_reply(&w->to, w->err[0] ? w->err : NULL, NULL);
    reply_free(&w->to);
    free(w);
    r->waiting--;
    if (r->freed && r->waiting == 0)
        router_release(r);
}

static void on_gcode_line_done(void *ctx, const char *error)
{
    struct gcode_line *l = ctx;
    struct gcode_wait *w = l->w;
    if (error && !w->err[0])
        snprintf(w->err, sizeof w->err, "line %zu (\"%s\"): %s", l->index + 1, l->text, error);
    gcode_settle(w);
}

static void run_gcode(struct commands_router *r, struct reply_to *to, const struct command *c)
{
    struct gcode_wait *w = calloc(1, sizeof *w + c->nlines * sizeof w->lines[0]);
    if (!w) {
        send_reply(to, "out of memory; nothing was sent", NULL);
        return;
    }
    w->to = *to;                /* the wait owns the reply target now */
    memset(to, 0, sizeof *to);
    w->pending = 1;
    r->waiting++;
    for (size_t i = 0; i < c->nlines; i++) {
        struct gcode_line *l = &w->lines[i];
        l->w = w;
        l->index = i;
        snprintf(l->text, sizeof l->text, "%.40s", c->lines[i]);
        w->pending++;
        if (r->t.job && printer_tool_change(r->t.printer, c->lines[i]) >= 0)
            job_run_script(r->t.job, JOB_SCRIPT_BEFORE_TOOL_CHANGE);   /* queued ahead of the T */
        int rc = printer_send_then(r->t.printer, c->lines[i], strlen(c->lines[i]), on_gcode_line_done, l);
        if (rc < 0) {
            w->pending--;
            snprintf(w->err, sizeof w->err, "line %zu (\"%.40s\") was not queued: %s%s", i + 1, c->lines[i],
                     strerror(-rc), i ? "; the lines before it were" : "");
            break;
        }
    }
    log_info("commands: %s: queued %zu G-code line%s", c->what, c->nlines, c->nlines == 1 ? "" : "s");
    gcode_settle(w);
}

static void execute(struct commands_router *r, struct reply_to *to, struct command *c)
{
    char err[256] = "";
    switch (c->kind) {
    case COMMAND_GCODE:
        run_gcode(r, to, c);
        return;
    case COMMAND_FIRMWARE_RESTART:
        log_info("commands: %s: restarting the printer's firmware", c->what);
        send_reply(to, printer_firmware_restart(r->t.printer, err, sizeof err) < 0 ? err : NULL, NULL);
        return;
    case COMMAND_CONNECT:
        if (c->port || c->baudrate) {
            send_reply(to, "choosing \"port\" or \"baudrate\" per command is not supported yet; set printer.port and "
                           "printer.baudrate in the configuration and send {\"command\": \"connect\"}", NULL);
            return;
        }
        log_info("commands: %s: connecting the printer", c->what);
        printer_connect(r->t.printer);
        send_reply(to, NULL, NULL);
        return;
    case COMMAND_DISCONNECT:
        log_info("commands: %s: disconnecting the printer", c->what);
        if (r->t.job)
            job_disconnect(r->t.job);
        else
            printer_disconnect(r->t.printer);
        send_reply(to, NULL, NULL);
        return;
    case COMMAND_JOB:
        if (!r->t.job) {
            send_reply(to, "print jobs are not available; nothing was done", NULL);
            return;
        }
        if (commands_run_job(r->t.job, c, err, sizeof err) < 0) {
            send_reply(to, err[0] ? err : "the job command failed", NULL);
            return;
        }
        send_reply(to, NULL, NULL);
        return;
    case COMMAND_STATUS:
        if (!to->id && !to->corr) {
            to->id = json_null();       /* a status request always wants its answer */
        }
        send_reply(to, NULL, state_reply(r));
        return;
    case COMMAND_SNAPSHOT:
        if (take_snapshot(r, err, sizeof err) < 0) {
            send_reply(to, err, NULL);
            return;
        }
        send_reply(to, NULL, NULL);
        return;
    case COMMAND_HOOK:
        break;  /* handled by the caller */
    }
}

/* ---- the gate ------------------------------------------------------------------------------ */

/* ---- uploads ------------------------------------------------------------------------------ */

struct upload_wait {
    struct reply_to to;
};

static void on_upload_done(void *ctx, int rc, const char *rel, const char *error)
{
    (void)rel;
    struct upload_wait *w = ctx;
    struct commands_router *r = w->to.r;
    send_reply(&w->to, rc < 0 ? (error && *error ? error : "the upload failed") : NULL, NULL);
    reply_free(&w->to);
    free(w);
    r->waiting--;
    if (r->freed && r->waiting == 0)
        router_release(r);
}

/* The payload is the file itself (binary allowed); the reply comes once it is stored. */
static void route_upload(struct commands_router *r, const struct mqtt_message *msg, const char *path,
                         struct reply_to *to)
{
    char err[512];
    if (!r->t.storage) {
        send_reply(to, "uploads are not available (no storage folder); nothing was stored", NULL);
        return;
    }
    if (!msg->payload && !msg->held) {
        snprintf(err, sizeof err, "upload of %zu bytes is over storage.max_upload_size; nothing was stored", msg->len);
        send_reply(to, err, NULL);
        return;
    }
    struct upload_wait *w = malloc(sizeof *w);
    if (!w) {
        send_reply(to, "out of memory; nothing was stored", NULL);
        return;
    }
    w->to = *to;                /* the wait owns the reply target now */
    memset(to, 0, sizeof *to);
    r->waiting++;
    err[0] = '\0';
    /* the storage takes the bytes: a large upload is held once, and only until written */
    struct storage_bytes b = { .len = msg->len };
    b.data = mqtt_message_take_payload(msg, &b.release, &b.owner);
    int rc = storage_upload_take(r->t.storage, path, b, false, false,
                                 on_upload_done, w, err, sizeof err);
    if (rc < 0)
        on_upload_done(w, rc, path, err);
}

static void route(struct commands_router *r, const struct mqtt_message *msg, struct reply_to *to)
{
    const char *rel = msg->topic + r->baselen;
    char err[512];
    struct command c;

    if (msg->retained) {
        log_info("commands: ignoring the retained message on %s: commands are never taken from retained messages",
                 msg->topic);
        return;
    }
    /* zero bytes is how a retained command is cleared (mosquitto_pub -r -n); subscribers
     * already connected receive it without the retain flag, so it must not look like a
     * request */
    if (msg->len == 0) {
        log_info("commands: ignoring the empty message on %s", msg->topic);
        return;
    }
    if (strncmp(rel, "command/upload/", 15) == 0) {
        route_upload(r, msg, rel + 15, to);
        return;
    }
    /* the subscription admits upload-sized payloads; everything else keeps the small limit */
    if (!msg->payload || msg->len > (size_t)r->hc->max_payload) {
        snprintf(err, sizeof err, "payload of %zu bytes is over inbound.max_payload (%d bytes); nothing was done",
                 msg->len, r->hc->max_payload);
        send_reply(to, err, NULL);
        return;
    }
    if (strlen(msg->payload) != msg->len) {
        send_reply(to, "the payload contains a NUL byte; nothing was done", NULL);
        return;
    }
    /* configured handlers first: their topics are outside command/ and hassControl/ */
    for (size_t i = 0; i < r->hc->nhandlers; i++) {
        const struct hook_def *def = &r->hc->handlers[i];
        if (!def->topic || !topicfilter_match(def->topic, rel))
            continue;
        json_t *doc = NULL;
        const char *p = msg->payload + strspn(msg->payload, " \t\r\n");
        if (*p == '{' || *p == '[') {
            json_error_t je;
            if (!(doc = json_loadb(msg->payload, msg->len, 0, &je))) {
                snprintf(err, sizeof err, "invalid JSON: %s (line %d, column %d); nothing was done", je.text, je.line,
                         je.column);
                send_reply(to, err, NULL);
                return;
            }
            json_t *id = json_object_get(doc, "id");
            if (json_is_string(id) || json_is_number(id))
                to->id = json_incref(id);
        }
        char *key = NULL;
        char *idtext = to->id ? json_dumps(to->id, JSON_ENCODE_ANY) : NULL;
        if (idtext && asprintf(&key, "%s\n%s", msg->topic, idtext) >= 0 &&
            commands_dedupe_seen(&r->dedupe, key, (double)uv_hrtime() / 1e9)) {
            send_reply(to, "duplicate id: a command with this id was already run in the last 10 minutes; nothing was done",
                       NULL);
        } else {
            log_info("commands: %s: running handler %s", msg->topic, def->name);
            run_handler(r, to, def, rel, doc, msg->payload);
        }
        free(key);
        free(idtext);
        json_decref(doc);
        return;
    }
    if (commands_decode(rel, msg->payload, msg->len, &c, err, sizeof err) < 0) {
        if (c.id)
            to->id = json_incref(c.id);
        log_info("commands: %s: %s", msg->topic, err);
        send_reply(to, err, NULL);
        commands_command_free(&c);
        return;
    }
    if (c.id)
        to->id = json_incref(c.id);
    const struct hook_def *handler = NULL;
    if (c.kind == COMMAND_HOOK && !(handler = find_handler(r, c.name))) {
        snprintf(err, sizeof err, "no inbound handler is named \"%.60s\"", c.name);
    } else if (commands_check_state(&c, printer_get_state(r->t.printer), err, sizeof err) < 0) {
        /* err says why */
    } else {
        err[0] = '\0';
        for (size_t i = 0; i < c.nlines && !err[0]; i++)
            commands_check_gcode(c.lines[i], r->hc->gcode_allow, r->hc->gcode_deny, err, sizeof err);
    }
    if (!err[0] && to->id) {
        char *idtext = json_dumps(to->id, JSON_ENCODE_ANY), *key = NULL;
        if (idtext && asprintf(&key, "%s\n%s", msg->topic, idtext) >= 0 &&
            commands_dedupe_seen(&r->dedupe, key, (double)uv_hrtime() / 1e9))
            snprintf(err, sizeof err, "duplicate id: a command with this id was already run in the last 10 minutes; "
                                      "nothing was done");
        free(key);
        free(idtext);
    }
    if (err[0]) {
        log_info("commands: %s: %s", msg->topic, err);
        send_reply(to, err, NULL);
    } else if (c.kind == COMMAND_HOOK) {
        log_info("commands: %s: running handler %s", msg->topic, handler->name);
        run_handler(r, to, handler, rel, c.doc, msg->payload);
    } else {
        execute(r, to, &c);
    }
    commands_command_free(&c);
}

void commands_router_on_message(void *ctx, const struct mqtt_message *msg)
{
    struct commands_router *r = ctx;
    size_t n = strlen(msg->topic);
    if (r->freed || !r->hc->inbound_enabled || strncmp(msg->topic, r->base, r->baselen) != 0)
        return;
    /* our own replies come back on the same subscriptions */
    if (n >= 9 && strcmp(msg->topic + n - 9, "/response") == 0)
        return;
    struct reply_to to;
    if (reply_init(&to, r, msg) < 0) {
        log_error("commands: out of memory handling %s", msg->topic);
        reply_free(&to);
        return;
    }
    route(r, msg, &to);
    reply_free(&to);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

/* <base>command/#, <base>hassControl/+ and each handler topic, once each. */
static int build_filters(const char *base, const struct hookconfig *hc, char ***out, size_t *nout)
{
    size_t n = 0;
    char **filters = calloc(hc->nhandlers + 3, sizeof *filters);
    int rc = filters ? 0 : -ENOMEM;
    if (!rc && (asprintf(&filters[n++], "%scommand/#", base) < 0 || asprintf(&filters[n++], "%shassControl/+", base) < 0))
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < hc->nhandlers; i++) {
        if (!hc->handlers[i].topic)
            continue;
        if (asprintf(&filters[n], "%s%s", base, hc->handlers[i].topic) < 0) {
            filters[n] = NULL;
            rc = -ENOMEM;
            break;
        }
        bool dup = false;   /* a topic handled twice is still subscribed once */
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(filters[k], filters[n]) == 0;
        if (dup) {
            free(filters[n]);
            filters[n] = NULL;
        } else {
            n++;
        }
    }
    *out = filters;
    *nout = n;
    return rc;
}

static void free_filters(char **filters, size_t n)
{
    for (size_t i = 0; filters && i < n; i++)
        free(filters[i]);
    free(filters);
}

static bool same_filters(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static void unsubscribe_filters(struct commands_router *r, struct mqtt *m, char **filters, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mqtt_unsubscribe(m, filters[i], commands_router_on_message, r);
}

/* Subscribes on m unless that client already carries these subscriptions. A reload that
 * changed the topics on the same client subscribes the new ones before the old ones go, so
 * topics in both are never without a subscription. */
static int subscribe_on(struct commands_router *r, struct mqtt *m)
{
    char **filters;
    size_t n;
    r->mqtt = m;
    if (!r->hc->inbound_enabled)
        return 0;
    int rc = build_filters(r->base, r->hc, &filters, &n);
    if (rc == 0 && (m != r->client || !same_filters(filters, n, r->filters, r->nfilters))) {
        size_t limit = (size_t)r->hc->max_payload > r->t.upload_limit ? (size_t)r->hc->max_payload : r->t.upload_limit;
        mqtt_set_inbound_limits(m, limit, (size_t)r->hc->max_payload, MAX_PENDING);
        size_t done = 0;
        while (rc == 0 && done < n)
            if ((rc = mqtt_subscribe(m, filters[done], commands_router_on_message, r)) == 0)
                done++;
        if (rc == 0) {
            if (m == r->client)
                unsubscribe_filters(r, m, r->filters, r->nfilters);
            r->client = m;
            free_filters(r->filters, r->nfilters);
            r->filters = filters;
            r->nfilters = n;
            return 0;
        }
        unsubscribe_filters(r, m, filters, done);
    }
    free_filters(filters, n);
    return rc;
}

int commands_router_create(struct commands_router **out, const char *base_topic, const struct hookconfig *hcfg,
                           struct mqtt *m, const struct commands_targets *t)
{
    struct commands_router *r = calloc(1, sizeof *r);
    if (!r || !(r->base = strdup(base_topic))) {
        free(r);
        return -ENOMEM;
    }
    r->baselen = strlen(base_topic);
    r->hc = hookconfig_or_defaults(hcfg);
    r->t = *t;
    *out = r;
    if (!r->hc->inbound_enabled)
        log_info("commands: inbound commands are switched off (inbound.enabled = false)");
    return subscribe_on(r, m);
}

int commands_router_reconfigure(struct commands_router *r, const char *base_topic, const struct hookconfig *hcfg,
                                struct mqtt *m)
{
    char *base = strdup(base_topic);
    if (!base)
        return -ENOMEM;
    free(r->base);
    r->base = base;
    r->baselen = strlen(base);
    r->hc = hookconfig_or_defaults(hcfg);
    return subscribe_on(r, m);
}

void commands_router_detach(struct commands_router *r)
{
    if (r)
        r->mqtt = NULL;
}

static void router_release(struct commands_router *r)
{
    commands_dedupe_clear(&r->dedupe);
    free_filters(r->filters, r->nfilters);
    free(r->base);
    free(r);
}

void commands_router_free(struct commands_router *r)
{
    if (!r)
        return;
    r->mqtt = NULL;
    r->freed = true;
    if (r->waiting == 0)
        router_release(r);
}
