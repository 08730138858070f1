/* daemon.c: the running daemon's wiring. Owns every module's handle on one libuv loop and
 * connects them: the printer's callbacks go to the job, the publisher and the triggers; the
 * event bus feeds the publisher, the job, hooks and the timelapse; inbound commands reach
 * the printer, the job, storage, hooks and the camera through the router. Starts them in
 * order, reloads the configuration on SIGHUP, and on SIGTERM/SIGINT shuts down in order:
 * Shutdown event, printer disconnected, "disconnected" status and a real MQTT DISCONNECT,
 * every handle closed. */
#include "printbridge/app.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "printbridge/base.h"
#include "printbridge/commands.h"
#include "printbridge/hooks.h"
#include "printbridge/jobs.h"
#include "printbridge/mqtt.h"
#include "printbridge/printer.h"
#include "printbridge/tools.h"
#include "printbridge/wire.h"

#include "options.h"

#define EVENT_SETTINGS_UPDATED "SettingsUpdated"
#define EVENT_SETTINGS_REFUSED "SettingsRefused"
#define EVENT_PROFILE_MODIFIED "PrinterProfileModified"
#define EVENT_CONNECTIVITY_CHANGED "ConnectivityChanged"
#define EVENT_BUFFER_OVERFLOW "MqttBufferOverflow"

struct daemon {
    uv_loop_t *loop;
    struct config cfg;
    struct events events;
    struct mqtt *mqtt;
    struct mqtt *old_mqtt;          /* being stopped after a reload rebuilt the client */
    struct publisher publisher;
    struct printer *printer;
    struct discovery *discovery;    /* Home Assistant discovery */
    struct hooks *hooks;            /* event hooks and inbound handlers */
    struct commands_router *router; /* inbound commands */
    struct triggers *triggers;      /* serial-line triggers */
    struct storage *storage;        /* local files; NULL when the folder is unusable */
    struct job *job;
    struct timelapse *timelapse;    /* NULL: no camera configured */
    struct slicing *slicing;        /* NULL: slicing is off */
    struct proc *shutdown_run;      /* the printer.shutdown_command running, or NULL */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t stats_timer;
    uv_timer_t republish_timer;     /* mqtt.republish_interval */
    uint64_t started_ms;
    char status_topic[PUBLISHER_MAX_TOPIC];
    bool stopping;
    bool stop_new_after_old;
    const char *print_file;         /* --print */
    bool print_started;             /* ... handed to the job once */
    struct notify *notify;          /* systemd notifications; NULL outside systemd */
};

/* ---- the broker --------------------------------------------------------------------------- */

/* STATUS= for systemctl status: the printer's state and the broker's (sent on changes only) */
static void notify_update(struct daemon *d)
{
    notify_status(d->notify, d->printer ? printer_state_string(printer_get_state(d->printer)) : "stopped",
                  d->mqtt && mqtt_connected(d->mqtt) ? "connected" : "disconnected");
}

static void fire_connectivity(struct daemon *d, bool old, bool new_)
{
    events_fire(&d->events, EVENT_CONNECTIVITY_CHANGED, json_pack("{s:b, s:b}", "old", old, "new", new_));
}

static void on_mqtt_connected(void *ctx, bool first)
{
    struct daemon *d = ctx;
    discovery_on_connected(d->discovery);   /* the device first, then the states it reads */
    publisher_on_connected(&d->publisher, first, (long long)time(NULL));
    notify_update(d);
    if (!first)
        fire_connectivity(d, false, true);
    unsigned long dropped = mqtt_take_dropped(d->mqtt);
    if (dropped) {
        struct mqtt_counters mc;
        mqtt_get_counters(d->mqtt, &mc);
        events_fire(&d->events, EVENT_BUFFER_OVERFLOW,
                    json_pack("{s:I, s:I}", "dropped", (json_int_t)dropped, "total", (json_int_t)mc.dropped));
    }
    memory_trim();      /* start-up and the discovery burst are over: their freed pages go back */
}

static void on_mqtt_lost(void *ctx)
{
    struct daemon *d = ctx;
    fire_connectivity(d, true, false);   /* kept, delivered once the broker is back */
    notify_update(d);
}

/* ---- the printer --------------------------------------------------------------------------- */

static void on_temperatures(void *ctx, const struct protocol_temps *t, long long ts)
{
    struct daemon *d = ctx;
    publisher_on_temperatures(&d->publisher, t, ts);
}

static void on_model_changed(void *ctx, const struct printer_model *m)
{
    struct daemon *d = ctx;
    publisher_on_model(&d->publisher);
    discovery_on_model(d->discovery, m);
    notify_update(d);
}

static void on_printer_state(void *ctx, enum printer_state s)
{
    struct daemon *d = ctx;
    job_on_printer_state(d->job, s);
}

/* the printer's received lines feed the job (SD card messages) and the triggers */
static void on_printer_line(void *ctx, const char *line)
{
    struct daemon *d = ctx;
    job_on_line(d->job, line);
    if (d->triggers)
        triggers_on_line(d->triggers, TRIGGER_RECEIVED, line);
}

/* the commands written to the printer feed the triggers with direction "sent" */
static void on_printer_sent(void *ctx, const char *cmd)
{
    struct daemon *d = ctx;
    if (d->triggers)
        triggers_on_line(d->triggers, TRIGGER_SENT, cmd);
}

/* --print: the file is printed as a job once the printer is first ready */
static void on_printer_connected(void *ctx)
{
    struct daemon *d = ctx;
    char err[512];
    if (!d->print_file || d->print_started || !d->job)
        return;
    d->print_started = true;
    if (job_start_file(d->job, d->print_file, err, sizeof err) < 0)
        log_error("printbridge: cannot print %s: %s", d->print_file, err);
}

static void on_shutdown_done(void *ctx, const struct proc_result *r)
{
    struct daemon *d = ctx;
    (void)r;        /* the runner logs how it ended */
    d->shutdown_run = NULL;
}

/* "//action:shutdown": the firmware asks the host to shut down */
static void on_printer_shutdown(void *ctx)
{
    struct daemon *d = ctx;
    const char *cmd = d->cfg.printer_shutdown_command;
    if (!cmd || !cmd[0]) {
        log_info("printbridge: printer asked the host to shut down; ignored (printer.shutdown_command is not set)");
        return;
    }
    if (d->shutdown_run)
        return;
    int rc = proc_shell(&d->shutdown_run, d->loop, cmd, "printbridge: shutdown command", on_shutdown_done, d);
    if (rc < 0) {
        log_error("printbridge: cannot run the shutdown command: %s", strerror(-rc));
        return;
    }
    log_warn("printbridge: printer asked the host to shut down; running: %s", cmd);
}

/* ---- jobs and tools -------------------------------------------------------------------------- */

static void on_job_progress(void *ctx, const char *location, const char *path, int progress)
{
    struct daemon *d = ctx;
    publisher_publish_progress(&d->publisher, location, path, progress);
}

static void on_job_changed(void *ctx)
{
    struct daemon *d = ctx;
    publisher_on_model(&d->publisher);
}

/* {__filename}, {__filepath}, {__fileorigin} and {__progress} of a hook: the selected file
 * and how far its print is (100 once it finished) */
static void hook_job_placeholders(void *ctx, struct placeholders *ph)
{
    struct daemon *d = ctx;
    struct job_view v;
    if (!d->job || !job_fill_view(d->job, &v))
        return;
    ph->filename = v.name;
    ph->filepath = v.path;
    ph->fileorigin = v.origin;
    ph->progress = v.has_completion ? v.completion : 0;
}

static struct progressnotify_settings progress_steps(const struct config *c)
{
    const struct hookconfig *hc = c->hooks;
    return (struct progressnotify_settings){ .percent = hc ? hc->progress_percent : 0,
                                             .minutes = hc ? hc->progress_minutes : 0,
                                             .layers = hc ? hc->progress_layers : 0 };
}

/* an STL in the storage folder: the slicer's (slicing is started after storage) */
static void on_storage_model(void *ctx, const char *rel)
{
    struct daemon *d = ctx;
    if (d->slicing)
        slicing_notice(d->slicing, rel);
}

static bool slicing_wanted(const struct config *c)
{
    return c->slicing_enabled && c->slicing_command[0];
}

static void start_jobs(struct daemon *d)
{
    struct config *c = &d->cfg;
    struct storage_options so;
    storage_options_from(c, &so);
    if (slicing_wanted(c)) {
        so.model = on_storage_model;
        so.model_ctx = d;
    }
    if (storage_create(&d->storage, d->loop, &d->events, &so) < 0)
        log_error("storage: %s unusable; local files are disabled", c->storage_folder);
    char journal[4096];
    snprintf(journal, sizeof journal, "%s/.printbridge/journal.json", c->storage_folder);
    struct job_options jo;
    job_options_from(c, &jo);
    jo.publish_progress = on_job_progress;
    jo.changed = on_job_changed;
    jo.publish_ctx = d;
    jo.journal_path = d->storage ? journal : NULL;
    jo.steps = progress_steps(c);
    if (job_create(&d->job, d->loop, &d->events, d->printer, d->storage, &jo) == 0)
        events_add_sink(&d->events, job_on_event, d->job);
    publisher_set_sources(&d->publisher, d->printer, d->job);
}

static void on_slicing_progress(void *ctx, const char *slicer, const char *stl, const char *gcode, int progress)
{
    struct daemon *d = ctx;
    publisher_publish_slicing_progress(&d->publisher, slicer, stl, gcode, progress);
}

static void start_tools(struct daemon *d)
{
    struct config *c = &d->cfg;
    if (c->timelapse_snapshot_command[0]) {
        struct timelapse_options to;
        timelapse_options_from(c, &to);
        if (timelapse_create(&d->timelapse, d->loop, &d->events, &to) == 0)
            events_add_sink(&d->events, timelapse_on_event, d->timelapse);
    }
    if (!c->slicing_enabled)
        return;
    if (!c->slicing_command[0]) {
        log_error("slicing: enabled but slicing.command is empty; slicing is off");
        return;
    }
    struct slicing_options so;
    slicing_options_from(c, &so);
    so.publish_progress = on_slicing_progress;
    so.publish_ctx = d;
    if (slicing_create(&d->slicing, d->loop, &d->events, &so) < 0)
        log_error("slicing: out of memory; slicing is off");
}

/* ---- stats ------------------------------------------------------------------------------ */

static long long resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size, rss = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%lld %lld", &size, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

static void on_stats_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    const struct printer_model *m = d->printer ? printer_get_model(d->printer) : NULL;
    struct mqtt_counters mc = { 0 };
    if (d->mqtt)
        mqtt_get_counters(d->mqtt, &mc);
    struct publisher_stats st = {
        .uptime = (double)(uv_now(d->loop) - d->started_ms) / 1000.0,
        .lines_sent = m ? m->lines_sent : 0,
        .resends = m ? m->resends : 0,
        .has_timeouts = true,
        .timeouts = m ? m->timeouts : 0,
        .published = mc.published,
        .buffered = mc.buffered,
        .dropped = mc.dropped,
        .rss_bytes = resident_bytes(),
    };
    char *payload = publisher_stats_json(&st, d->cfg.mqtt_timestamp_field, (long long)time(NULL));
    if (payload)
        publisher_publish_stats(&d->publisher, payload);
    free(payload);
}

static void start_stats_timer(struct daemon *d)
{
    uv_timer_stop(&d->stats_timer);
    if (d->cfg.mqtt_stats_interval > 0) {
        uint64_t ms = (uint64_t)(d->cfg.mqtt_stats_interval * 1000.0);
        uv_timer_start(&d->stats_timer, on_stats_timer, ms, ms);
    }
}

/* Brokers that keep retained messages per node, or never hand them to wildcard subscribers
 * (a RabbitMQ cluster), leave a late subscriber with nothing: publish the picture again. */
static void on_republish_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    if (!d->mqtt || !mqtt_connected(d->mqtt))
        return;
    mqtt_republish_status(d->mqtt);
    publisher_republish(&d->publisher);
}

static void start_republish_timer(struct daemon *d)
{
    uv_timer_stop(&d->republish_timer);
    if (d->cfg.mqtt_republish_interval > 0) {
        uint64_t ms = (uint64_t)(d->cfg.mqtt_republish_interval * 1000.0);
        uv_timer_start(&d->republish_timer, on_republish_timer, ms, ms);
    }
}

/* ---- shutdown ---------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_publisher_closed(void *ctx)
{
    struct daemon *d = ctx;
    uv_close((uv_handle_t *)&d->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&d->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&d->sighup, on_handle_closed);
    uv_close((uv_handle_t *)&d->stats_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->republish_timer, on_handle_closed);
    discovery_close(d->discovery, NULL, NULL);
    notify_close(d->notify);
    d->notify = NULL;
}

static void on_printer_destroyed(void *ctx)
{
    struct daemon *d = ctx;
    d->printer = NULL;
    publisher_set_sources(&d->publisher, NULL, NULL);
    job_destroy(d->job);
    d->job = NULL;
    timelapse_destroy(d->timelapse);   /* no more events; kills a running camera or ffmpeg */
    d->timelapse = NULL;
    slicing_destroy(d->slicing);
    d->slicing = NULL;
    if (d->storage)
        storage_destroy(d->storage, NULL, NULL);
    d->storage = NULL;
    publisher_close(&d->publisher, on_publisher_closed, d);
}

static void on_mqtt_stopped(void *ctx)
{
    struct daemon *d = ctx;
    d->mqtt = NULL;
    publisher_set_mqtt(&d->publisher, NULL);
    discovery_set_mqtt(d->discovery, NULL);
    printer_destroy(d->printer, on_printer_destroyed, d);
}

static void stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("printbridge: %s, shutting down", why);
    notify_stopping(d->notify);
    uv_timer_stop(&d->stats_timer);
    uv_timer_stop(&d->republish_timer);
    events_fire(&d->events, EVENT_SHUTDOWN, NULL);
    job_stop(d->job);
    commands_router_detach(d->router);  /* no replies once the broker link is going */
    hooks_stop(d->hooks);               /* kills running system hooks' process groups */
    proc_release(d->shutdown_run);      /* the shutdown command finishes on its own */
    d->shutdown_run = NULL;
    printer_disconnect(d->printer);
    if (d->old_mqtt)
        d->stop_new_after_old = true;   /* the old client hands its buffer to the new one first */
    else
        mqtt_stop(d->mqtt, NULL, on_mqtt_stopped, d);
}

/* ---- reload -------------------------------------------------------------------------------- */

static void on_old_mqtt_stopped(void *ctx)
{
    struct daemon *d = ctx;
    d->old_mqtt = NULL;
    if (d->stop_new_after_old) {
        mqtt_stop(d->mqtt, NULL, on_mqtt_stopped, d);
        return;
    }
    mqtt_connect(d->mqtt);
}

static const struct mqtt_callbacks mqtt_cb = { .connected = on_mqtt_connected, .lost = on_mqtt_lost };

/* status_topic: PUBLISHER_MAX_TOPIC bytes, which the options point into */
static int create_mqtt(struct daemon *d, const struct config *c, char *status_topic, struct mqtt **out)
{
    struct mqtt_options mo;
    char err[256];
    mqtt_options_from(c, status_topic, PUBLISHER_MAX_TOPIC, &mo);
    int rc = mqtt_create(out, d->loop, &mo, &mqtt_cb, d, err, sizeof err);
    if (rc < 0)
        log_error("mqtt: %s", err);
    return rc;
}

/* A new broker connection: "disconnected" on the old status topic first, then the new
 * client connects (same client id: connecting first would kick the old one and fire its will) */
static void rebuild_mqtt(struct daemon *d, const struct config *nc)
{
    struct mqtt *fresh;
    char status_topic[PUBLISHER_MAX_TOPIC];
    if (create_mqtt(d, nc, status_topic, &fresh) < 0) {
        log_error("printbridge: reload: cannot set up the new broker connection; keeping the old one");
        return;
    }
    log_info("printbridge: broker settings changed; reconnecting");
    d->old_mqtt = d->mqtt;
    d->mqtt = fresh;
    snprintf(d->status_topic, sizeof d->status_topic, "%s", status_topic);
    publisher_set_mqtt(&d->publisher, fresh);
    if (discovery_set_mqtt(d->discovery, fresh) < 0)
        log_error("printbridge: reload: cannot subscribe Home Assistant's birth topic (out of memory)");
    mqtt_stop(d->old_mqtt, fresh, on_old_mqtt_stopped, d);
}

/* Every module takes the settings of the configuration in force. */
static void apply_config(struct daemon *d)
{
    char err[1024];
    /* the hook runner and the router read the events and inbound groups in place */
    hooks_set_config(d->hooks, d->cfg.hooks);
    if (commands_router_reconfigure(d->router, d->cfg.mqtt_base_topic, d->cfg.hooks, d->mqtt) < 0)
        log_error("printbridge: reload: cannot subscribe the command topics on the new broker connection");
    if (triggers_set_config(d->triggers, d->cfg.hooks, err, sizeof err) < 0)
        log_error("printbridge: reload: %s", err);
    struct progressnotify_settings steps = progress_steps(&d->cfg);
    job_set_steps(d->job, &steps);
    struct publisher_settings ps;
    publisher_settings_from(&d->cfg, &ps);
    publisher_set_settings(&d->publisher, &ps);
    struct discovery_settings ds;
    char node_id[DISCOVERY_MAX_ID];
    discovery_settings_from(&d->cfg, node_id, &ds);
    if (discovery_set_settings(d->discovery, &ds) < 0)
        log_error("printbridge: reload: cannot apply the homeassistant settings (out of memory); keeping the old ones");
    log_set_level((enum log_level)d->cfg.log_level);
    start_stats_timer(d);
    start_republish_timer(d);
}

/* A reload that was refused is logged and published, so that an operator who edited the
 * file remotely learns why: SettingsRefused {file, line, error}, line null when the error
 * has no place in the file. why is "FILE:LINE: message" or a plain message. */
static void refuse_reload(struct daemon *d, const char *why)
{
    const char *path = d->cfg.path;
    size_t n = strlen(path);
    json_t *line = json_null();
    const char *msg = why;
    if (strncmp(why, path, n) == 0 && why[n] == ':') {
        char *end;
        long l = strtol(why + n + 1, &end, 10);
        if (end > why + n + 1 && end[0] == ':' && end[1] == ' ') {
            line = json_integer(l);
            msg = end + 2;
        } else if (strncmp(why + n, ": ", 2) == 0) {
            msg = why + n + 2;
        }
    }
    log_error("printbridge: reload refused, the running configuration stays: %s", why);
    events_fire(&d->events, EVENT_SETTINGS_REFUSED, json_pack("{s:s, s:o, s:s}", "file", path, "line", line, "error", msg));
}

static void reload(struct daemon *d)
{
    struct config nc;
    char err[1024];
    if (config_load(&nc, d->cfg.path, err, sizeof err) < 0) {
        refuse_reload(d, err);
        return;
    }
    if (d->old_mqtt && mqtt_connection_changed(&d->cfg, &nc)) {
        refuse_reload(d, "the previous broker change is still in progress; send SIGHUP again in a few seconds");
        config_free(&nc);
        return;
    }
    struct printer_options po;
    printer_options_from(&nc, &po);
    if (printer_set_options(d->printer, &po) < 0) {
        refuse_reload(d, "out of memory applying the printer options");
        config_free(&nc);
        return;
    }
    bool profile = profile_changed(&d->cfg, &nc);
    if (mqtt_connection_changed(&d->cfg, &nc))
        rebuild_mqtt(d, &nc);
    config_free(&d->cfg);
    d->cfg = nc;
    apply_config(d);
    log_info("printbridge: configuration reloaded from %s", d->cfg.path);
    events_fire(&d->events, EVENT_SETTINGS_UPDATED, NULL);
    if (profile)
        events_fire(&d->events, EVENT_PROFILE_MODIFIED, json_pack("{s:s}", "identifier", "_default"));
    publisher_on_model(&d->publisher);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    if (signum == SIGHUP) {
        if (!d->stopping)
            reload(d);
        return;
    }
    stop(d, signum == SIGTERM ? "SIGTERM received" : "SIGINT received");
}

/* ---- start ---------------------------------------------------------------------------------- */

static int start_wire(struct daemon *d)
{
    struct config *c = &d->cfg;
    if (create_mqtt(d, c, d->status_topic, &d->mqtt) < 0)
        return -EINVAL;
    struct publisher_settings ps;
    publisher_settings_from(c, &ps);
    publisher_init(&d->publisher, d->loop, d->mqtt, &ps);
    events_add_sink(&d->events, publisher_on_event, &d->publisher);
    struct discovery_settings ds;
    char node_id[DISCOVERY_MAX_ID];
    discovery_settings_from(c, node_id, &ds);
    if (discovery_create(&d->discovery, d->loop, d->mqtt, &ds) < 0) {
        log_error("printbridge: cannot set up Home Assistant discovery (out of memory or a too long topic)");
        return -ENOMEM;
    }
    return 0;
}

static int start_printer(struct daemon *d)
{
    struct printer_options po;
    printer_options_from(&d->cfg, &po);
    static const struct printer_callbacks pc = {
        .temperatures = on_temperatures, .changed = on_model_changed, .line = on_printer_line, .sent = on_printer_sent,
        .state = on_printer_state, .connected = on_printer_connected, .shutdown = on_printer_shutdown,
    };
    if (printer_create(&d->printer, d->loop, &d->events, &po, &pc, d) < 0) {
        log_error("printbridge: cannot set up the printer link (out of memory)");
        return -ENOMEM;
    }
    return 0;
}

/* hooks see every event after the publisher; inbound commands reach everything */
static int start_commands(struct daemon *d)
{
    struct config *c = &d->cfg;
    char err[512];
    if (hooks_create(&d->hooks, d->loop, &d->events, c->hooks) < 0 ||
        events_add_sink(&d->events, hooks_on_event, d->hooks) < 0) {
        log_error("printbridge: cannot set up hooks (out of memory)");
        return -ENOMEM;
    }
    hooks_set_printer(d->hooks, d->printer);
    hooks_set_job(d->hooks, hook_job_placeholders, d);
    struct commands_targets t = { .printer = d->printer, .hooks = d->hooks, .job = d->job, .storage = d->storage,
                                  .upload_limit = (size_t)c->storage_max_upload_size << 20,
                                  .camera = d->timelapse, .publisher = &d->publisher };
    if (commands_router_create(&d->router, c->mqtt_base_topic, c->hooks, d->mqtt, &t) < 0) {
        log_error("printbridge: cannot set up inbound commands (out of memory)");
        return -ENOMEM;
    }
    if (triggers_create(&d->triggers, c->hooks, &d->events, d->hooks, err, sizeof err) < 0) {
        log_error("printbridge: %s", err);
        return -EINVAL;
    }
    return 0;
}

static void start_signals(struct daemon *d)
{
    uv_signal_t *sigs[] = { &d->sigterm, &d->sigint, &d->sighup };
    int nums[] = { SIGTERM, SIGINT, SIGHUP };
    for (int i = 0; i < 3; i++) {
        uv_signal_init(d->loop, sigs[i]);
        sigs[i]->data = d;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    uv_timer_init(d->loop, &d->stats_timer);
    d->stats_timer.data = d;
    start_stats_timer(d);
    uv_timer_init(d->loop, &d->republish_timer);
    d->republish_timer.data = d;
    start_republish_timer(d);
}

static int run(struct daemon *d)
{
    struct config *c = &d->cfg;
    d->loop = uv_default_loop();
    d->started_ms = uv_now(d->loop);
    events_init(&d->events);
    if (start_wire(d) < 0 || start_printer(d) < 0)
        return 1;
    start_jobs(d);
    start_tools(d);
    if (start_commands(d) < 0)
        return 1;
    start_signals(d);
    if (notify_start(&d->notify, d->loop) < 0)
        log_warn("printbridge: cannot notify systemd; a Type=notify unit will time out");

    log_info("printbridge %s: printer %s, broker %s:%d, base topic %s", PB_VERSION, c->printer_port,
             c->mqtt_host, c->mqtt_port, c->mqtt_base_topic);
    mqtt_connect(d->mqtt);
    events_fire(&d->events, EVENT_STARTUP, NULL);
    printer_connect(d->printer);
    /* Ready: configuration valid, storage journal recovered, both links being brought up (they
     * retry on their own, so waiting for a printer that is switched off would fail the unit). */
    notify_ready(d->notify);
    notify_update(d);

    uv_run(d->loop, UV_RUN_DEFAULT);
    commands_router_free(d->router);
    triggers_free(d->triggers);
    hooks_free(d->hooks);
    int rc = uv_loop_close(d->loop);
    if (rc != 0)
        log_warn("printbridge: event loop closed with handles still open (%s)", uv_strerror(rc));
    log_info("printbridge: stopped");
    return 0;
}

int daemon_run(struct config *cfg, const char *print_file)
{
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.cfg = *cfg;
    d.print_file = print_file;
    int rc = run(&d);
    *cfg = d.cfg;   /* a reload replaced it: the caller frees what is current */
    return rc;
}
