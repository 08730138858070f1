/* daemon.c: the running daemon's wiring. Owns every module's handle on one libuv loop
 * (printer -> events -> MQTT publisher, hooks, jobs, tools, inbound commands), starts them
 * in order, reloads the configuration on SIGHUP, and on SIGTERM/SIGINT shuts down in order:
 * Shutdown event, printer disconnected, "disconnected" status and a real MQTT DISCONNECT,
 * every handle closed. */
#include "printbridge/app.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "printbridge/commands.h"
#include "printbridge/jobs.h"
#include "printbridge/wire.h"
#include "printbridge/base.h"
#include "printbridge/hooks.h"
#include "printbridge/mqtt.h"
#include "printbridge/serial.h"
#include "printbridge/printer.h"
#include "printbridge/tools.h"

#include "options.h"

#define EVENT_SETTINGS_UPDATED "SettingsUpdated"
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
    struct discovery *discovery;    /* Home Assistant discovery (issue 8) */
    struct hooks *hooks;            /* event hooks and inbound handlers (issue 7) */
    struct commands_router *router; /* inbound commands (issue 7) */
    struct triggers *triggers;      /* line triggers (issue 7); printer.c does not feed them yet */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t stats_timer;
    uint64_t started_ms;
    char status_topic[PUBLISHER_MAX_TOPIC];
    bool stopping;
    struct storage *storage;        /* local files (issue 5) */
    struct job *job;
    struct job_view job_view;       /* what the state topic shows of the job */
    struct progressnotify progress_steps;   /* PrintProgress every N % / minutes */
    bool stop_new_after_old;
    const char *print_file;         /* --print */
    struct notify *notify;          /* systemd notifications (issue 10); NULL outside systemd */
};

/* ---- callbacks ------------------------------------------------------------------------ */

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
}

static void on_mqtt_lost(void *ctx)
{
    struct daemon *d = ctx;
    fire_connectivity(d, true, false);   /* kept, delivered once the broker is back */
    notify_update(d);
}

static void on_temperatures(void *ctx, const struct protocol_temps *t, long long ts)
{
    struct daemon *d = ctx;
    publisher_on_temperatures(&d->publisher, t, ts);
}

static void on_model_changed(void *ctx, const struct printer_model *m)
{
    struct daemon *d = ctx;
    (void)m;
    job_on_model_changed(d->job);
    d->publisher.job = job_fill_view(d->job, m, &d->job_view) ? &d->job_view : NULL;
    publisher_on_model(&d->publisher);
    notify_update(d);
    if (d->progress_steps.active && d->publisher.job && d->job_view.has_completion) {
        const struct job_view *v = &d->job_view;
        json_t *payload = progressnotify_update(&d->progress_steps, v->completion,
                                                v->has_print_time ? (double)v->print_time : 0,
                                                v->has_print_time_left ? (double)v->print_time_left : -1);
        if (payload)
            events_fire(&d->events, EVENT_PRINT_PROGRESS, payload);
    }
}

/* PrintProgress steps follow the job's life: armed by PrintStarted, disarmed at its end */
static void progress_steps_on_event(void *ctx, const char *name, json_t *payload, long long ts)
{
    struct daemon *d = ctx;
    (void)ts;
    if (strcmp(name, "PrintStarted") == 0) {
        const struct hookconfig *hc = d->cfg.hooks;
        struct progressnotify_settings st = { .percent = hc ? hc->progress_percent : 0,
                                              .minutes = hc ? hc->progress_minutes : 0,
                                              .layers = 0 /* needs extrusion-aware moves; not wired yet */ };
        progressnotify_start(&d->progress_steps, &st, json_string_value(json_object_get(payload, "name")),
                             json_string_value(json_object_get(payload, "path")));
    } else if (strcmp(name, "PrintDone") == 0 || strcmp(name, "PrintFailed") == 0 ||
               strcmp(name, "PrintCancelled") == 0) {
        progressnotify_stop(&d->progress_steps);
    }
}

/* command/job and hassControl pause/cancel: the router decoded and vetted it, the job module
 * decides whether it makes sense now */
static int on_job_command(void *ctx, const char *action, const json_t *args, char *err, size_t errsz)
{
    struct daemon *d = ctx;
    if (!d->job) {
        snprintf(err, errsz, "print jobs are not available (storage folder unusable?)");
        return -1;
    }
    json_t *o = json_is_object(args) ? json_deep_copy(args) : json_object();
    if (!o || json_object_set_new(o, "command", json_string(action)) < 0) {
        json_decref(o);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int rc = text ? job_command(d->job, text, strlen(text), err, errsz) : -1;
    free(text);
    return rc < 0 ? -1 : 0;
}

/* command/upload/<path>: the storage module stores it off the loop; the router replies when
 * storage says how it went (stored, or e.g. disk full with nothing left behind) */
struct upload_call {
    commands_upload_done_fn *done;
    void *done_ctx;
};

static void on_upload_stored(void *ctx, int rc, const char *rel, const char *err)
{
    struct upload_call *c = ctx;
    (void)rel;
    c->done(c->done_ctx, rc, err);
    free(c);
}

static int on_upload(void *ctx, const char *path, const char *data, size_t len, commands_upload_done_fn *done,
                     void *done_ctx, char *err, size_t errsz)
{
    struct daemon *d = ctx;
    if (!d->storage) {
        snprintf(err, errsz, "no usable storage folder (storage.folder); nothing was stored");
        return -1;
    }
    struct upload_call *c = malloc(sizeof *c);
    if (!c) {
        snprintf(err, errsz, "out of memory; nothing was stored");
        return -1;
    }
    c->done = done;
    c->done_ctx = done_ctx;
    if (storage_upload(d->storage, path, data, len, false, false, on_upload_stored, c, err, errsz) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

static void on_job_progress(void *ctx, const char *location, const char *path, int progress)
{
    struct daemon *d = ctx;
    publisher_publish_progress(&d->publisher, location, path, progress);
}

/* the printer's received lines feed the job module (SD status, file lists, positions) */
static void on_printer_line(void *ctx, const char *line)
{
    struct daemon *d = ctx;
    job_on_line(d->job, line);
    if (d->triggers)
        triggers_on_line(d->triggers, TRIGGER_RECEIVED, line);
}

/* ---- timelapse and snapshots (issue 11) ------------------------------------------------- */

static struct timelapse *timelapse_mod;    /* NULL: no camera configured */

static void on_snapshot(void *ctx, const void *data, size_t len, const char *err)
{
    struct daemon *d = ctx;
    char topic[PUBLISHER_MAX_TOPIC];
    if (!data) {
        log_warn("timelapse: snapshot on demand failed: %s", err);
        return;
    }
    if (d->mqtt && publisher_topic(topic, sizeof topic, d->cfg.mqtt_base_topic, "camera", "", "") > 0)
        mqtt_publish(d->mqtt, topic, data, len, 0, false, false);
}

/* command/snapshot: runs the snapshot command; on_snapshot publishes the image on <base>camera. */
static int on_snapshot_command(void *ctx, char *err, size_t errsz)
{
    int rc = timelapse_mod ? timelapse_snapshot_now(timelapse_mod, on_snapshot, ctx) : -ENOENT;
    if (rc == -ENOENT)
        snprintf(err, errsz, "no snapshot command is configured (timelapse.snapshot_command)");
    else if (rc == -EBUSY)
        snprintf(err, errsz, "a snapshot is already being taken");
    else if (rc < 0)
        snprintf(err, errsz, "the snapshot could not be started: %s", strerror(-rc));
    return rc < 0 ? -1 : 0;
}

static void start_timelapse(struct daemon *d)
{
    struct config *c = &d->cfg;
    if (!c->timelapse_snapshot_command[0])
        return;
    struct timelapse_options to = {
        .mode = strcmp(c->timelapse_mode, "zchange") == 0 ? TIMELAPSE_ZCHANGE
              : strcmp(c->timelapse_mode, "timed") == 0 ? TIMELAPSE_TIMED : TIMELAPSE_OFF,
        .interval = c->timelapse_interval, .post_roll = c->timelapse_post_roll,
        .snapshot_command = c->timelapse_snapshot_command, .snapshot_timeout = c->timelapse_snapshot_timeout,
        .frame_extension = c->timelapse_frame_extension, .frames_folder = c->timelapse_frames_folder,
        .output_folder = c->timelapse_output_folder, .ffmpeg = c->timelapse_ffmpeg,
        .ffmpeg_args = c->timelapse_ffmpeg_args, .fps = c->timelapse_fps,
        .movie_extension = c->timelapse_movie_extension, .render_timeout = c->timelapse_render_timeout,
    };
    if (timelapse_create(&timelapse_mod, d->loop, &d->events, &to) == 0)
        events_add_sink(&d->events, timelapse_on_event, timelapse_mod);
}

static struct slicing *slicing_mod;

/* <base>progress/slicing (wire-format.md 7) */
static void on_slicing_progress(void *ctx, const char *slicer, const char *stl, const char *gcode, int progress)
{
    struct daemon *d = ctx;
    char topic[PUBLISHER_MAX_TOPIC];
    const struct publisher_settings *ps = &d->publisher.s;
    if (!d->mqtt || publisher_topic(topic, sizeof topic, ps->base_topic, ps->progress_topic, "progress", "slicing") < 0)
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "slicer", slicer, "source_location", "local",
                          "source_path", stl, "destination_location", "local", "destination_path", gcode,
                          "progress", progress);
    char *payload = NULL;
    if (o && json_object_set_new(o, ps->timestamp_field, json_integer((long long)time(NULL))) == 0)
        payload = pyjson_dumps(o);
    json_decref(o);
    if (payload) {
        struct publisher_flags f = publisher_flags_for(ps, PUBLISHER_PROGRESS_SLICING, NULL);
        mqtt_publish(d->mqtt, topic, payload, strlen(payload), f.qos, f.retain, f.keep);
    }
    free(payload);
}

static void start_slicing(struct daemon *d)
{
    struct config *c = &d->cfg;
    if (!c->slicing_enabled)
        return;
    if (!c->slicing_command[0]) {
        log_error("slicing: enabled but slicing.command is empty; slicing is off");
        return;
    }
    struct slicing_options so = { .slicer = c->slicing_slicer, .command = c->slicing_command,
                                  .folder = c->storage_folder, .profiles_folder = c->slicing_profiles_folder,
                                  .profile = c->slicing_profile, .timeout = c->slicing_timeout,
                                  .publish_progress = on_slicing_progress, .publish_ctx = d };
    if (slicing_create(&slicing_mod, d->loop, &d->events, &so) < 0)
        log_error("slicing: out of memory; slicing is off");
}

static void start_jobs(struct daemon *d)
{
    struct config *c = &d->cfg;
    struct storage_options so = { .folder = c->storage_folder,
                                  .max_upload_size = (long long)c->storage_max_upload_size << 20 };
    analysis_options_default(&so.analysis);
    so.analysis.filament_diameter = c->analysis_filament_diameter;
    so.analysis.acceleration = c->analysis_acceleration;
    so.analysis.junction_deviation = c->analysis_junction_deviation;
    if (storage_create(&d->storage, d->loop, &d->events, &so) < 0)
        log_error("storage: %s unusable; local files are disabled", c->storage_folder);
    static char journal[4096];
    snprintf(journal, sizeof journal, "%s/.printbridge/journal.json", c->storage_folder);
    struct job_options jo = { .publish_progress = on_job_progress, .publish_ctx = d,
                              .extruders = c->profile_extruders, .heated_bed = c->profile_heated_bed,
                              .journal_path = d->storage ? journal : NULL };
    jo.scripts[JOB_SCRIPT_BEFORE_PRINT_STARTED] = c->script_before_print_started;
    jo.scripts[JOB_SCRIPT_AFTER_PRINT_DONE] = c->script_after_print_done;
    jo.scripts[JOB_SCRIPT_AFTER_PRINT_CANCELLED] = c->script_after_print_cancelled;
    jo.scripts[JOB_SCRIPT_AFTER_PRINT_PAUSED] = c->script_after_print_paused;
    jo.scripts[JOB_SCRIPT_BEFORE_PRINT_RESUMED] = c->script_before_print_resumed;
    jo.scripts[JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED] = c->script_before_printer_disconnected;
    jo.scripts[JOB_SCRIPT_BEFORE_TOOL_CHANGE] = c->script_before_tool_change;
    jo.scripts[JOB_SCRIPT_AFTER_TOOL_CHANGE] = c->script_after_tool_change;
    if (job_create(&d->job, d->loop, &d->events, d->printer, d->storage, &jo) == 0)
        events_add_sink(&d->events, job_on_event, d->job);
    start_timelapse(d);
    start_slicing(d);
}

static const struct printer_model *model_source(void *ctx)
{
    struct daemon *d = ctx;
    return d->printer ? printer_get_model(d->printer) : NULL;
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
    const struct printer_model *m = model_source(d);
    struct mqtt_counters mc = { 0 };
    if (d->mqtt)
        mqtt_get_counters(d->mqtt, &mc);
    struct publisher_stats st = {
        .uptime = (double)(uv_now(d->loop) - d->started_ms) / 1000.0,
        .lines_sent = m ? m->lines_sent : 0,
        .resends = m ? m->resends : 0,
        .has_timeouts = false,      /* the printer module does not count them yet */
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
    discovery_close(d->discovery, NULL, NULL);
    notify_close(d->notify);
    d->notify = NULL;
}

static void on_printer_destroyed(void *ctx)
{
    struct daemon *d = ctx;
    d->printer = NULL;
    d->publisher.job = NULL;
    job_destroy(d->job);
    d->job = NULL;
    timelapse_destroy(timelapse_mod);   /* no more events; kills a running camera or ffmpeg */
    timelapse_mod = NULL;
    slicing_destroy(slicing_mod);
    slicing_mod = NULL;
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
    events_fire(&d->events, EVENT_SHUTDOWN, NULL);
    job_stop(d->job);
    commands_router_detach(d->router);  /* no replies once the broker link is going */
    hooks_stop(d->hooks);               /* kills running system hooks' process groups */
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

static void reload(struct daemon *d)
{
    struct config nc;
    char err[1024];
    if (config_load(&nc, d->cfg.path, err, sizeof err) < 0) {
        log_error("printbridge: reload refused, the running configuration stays: %s", err);
        return;
    }
    if (d->old_mqtt && mqtt_settings_differ(&d->cfg, &nc)) {
        log_error("printbridge: reload refused: the previous broker change is still in progress; "
                  "send SIGHUP again in a few seconds");
        config_free(&nc);
        return;
    }
    struct printer_options po;
    printer_options_from(&nc, NULL, &po);
    if (printer_set_options(d->printer, &po) < 0) {
        log_error("printbridge: reload refused: out of memory applying the printer options");
        config_free(&nc);
        return;
    }
    bool rebuild = mqtt_settings_differ(&d->cfg, &nc);
    bool profile = profile_differs(&d->cfg, &nc);
    if (rebuild) {
        struct mqtt_options mo;
        struct mqtt *fresh;
        char status_topic[PUBLISHER_MAX_TOPIC];
        struct mqtt_callbacks cb = { .connected = on_mqtt_connected, .lost = on_mqtt_lost };
        mqtt_options_from(&nc, status_topic, sizeof status_topic, &mo);
        if (mqtt_create(&fresh, d->loop, &mo, &cb, d, err, sizeof err) < 0) {
            log_error("printbridge: reload: cannot set up the new broker connection (%s); keeping the old one", err);
        } else {
            /* "disconnected" on the old status topic first, then the new client connects
             * (same client id: connecting first would kick the old one and fire its will) */
            log_info("printbridge: broker settings changed; reconnecting");
            d->old_mqtt = d->mqtt;
            d->mqtt = fresh;
            snprintf(d->status_topic, sizeof d->status_topic, "%s", status_topic);
            publisher_set_mqtt(&d->publisher, fresh);
            if (discovery_set_mqtt(d->discovery, fresh) < 0)
                log_error("printbridge: reload: cannot subscribe Home Assistant's birth topic (out of memory)");
            mqtt_stop(d->old_mqtt, fresh, on_old_mqtt_stopped, d);
        }
    }
    config_free(&d->cfg);
    d->cfg = nc;
    /* the hook runner and the router read the events and inbound groups in place */
    hooks_set_config(d->hooks, d->cfg.hooks);
    if (commands_router_reconfigure(d->router, d->cfg.mqtt_base_topic, d->cfg.hooks, d->mqtt) < 0)
        log_error("printbridge: reload: cannot subscribe the command topics on the new broker connection");
    if (triggers_set_config(d->triggers, d->cfg.hooks, err, sizeof err) < 0)
        log_error("printbridge: reload: %s", err);
    /* after the move: the filter lists are arrays inside struct config */
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

static int run(struct daemon *d)
{
    struct config *c = &d->cfg;
    d->loop = uv_default_loop();
    d->started_ms = uv_now(d->loop);
    events_init(&d->events);

    struct mqtt_options mo;
    struct mqtt_callbacks mcb = { .connected = on_mqtt_connected, .lost = on_mqtt_lost };
    mqtt_options_from(c, d->status_topic, sizeof d->status_topic, &mo);
    char merr[256];
    if (mqtt_create(&d->mqtt, d->loop, &mo, &mcb, d, merr, sizeof merr) < 0) {
        log_error("mqtt: %s", merr);
        return 1;
    }
    struct publisher_settings ps;
    publisher_settings_from(c, &ps);
    publisher_init(&d->publisher, d->loop, d->mqtt, &ps);
    publisher_set_model_source(&d->publisher, model_source, d);
    events_add_sink(&d->events, publisher_on_event, &d->publisher);
    struct discovery_settings ds;
    char node_id[DISCOVERY_MAX_ID];
    discovery_settings_from(c, node_id, &ds);
    if (discovery_create(&d->discovery, d->loop, d->mqtt, &ds) < 0) {
        log_error("printbridge: cannot set up Home Assistant discovery (out of memory or a too long topic)");
        return 1;
    }

    struct printer_options po;
    printer_options_from(c, d->print_file, &po);
    struct printer_callbacks pc = { .temperatures = on_temperatures, .changed = on_model_changed,
                                    .line = on_printer_line };
    if (printer_create(&d->printer, d->loop, &d->events, &po, &pc, d) < 0) {
        log_error("printbridge: cannot set up the printer link (out of memory)");
        return 1;
    }
    start_jobs(d);
    /* issue 7: hooks see every event after the publisher; inbound commands need all three */
    if (hooks_create(&d->hooks, d->loop, &d->events, c->hooks) < 0 ||
        events_add_sink(&d->events, hooks_on_event, d->hooks) < 0 ||
        commands_router_create(&d->router, c->mqtt_base_topic, c->hooks, d->mqtt, d->printer, d->hooks) < 0) {
        log_error("printbridge: cannot set up hooks and inbound commands (out of memory)");
        return 1;
    }
    char terr[512];
    if (triggers_create(&d->triggers, c->hooks, &d->events, d->hooks, terr, sizeof terr) < 0) {
        log_error("printbridge: %s", terr);
        return 1;
    }
    hooks_set_printer(d->hooks, d->printer);
    commands_router_set_job_handler(d->router, on_job_command, d);
    commands_router_set_upload_handler(d->router, on_upload, d, (size_t)c->storage_max_upload_size << 20);
    commands_router_set_snapshot_handler(d->router, on_snapshot_command, d);   /* issue 11 */
    events_add_sink(&d->events, progress_steps_on_event, d);

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
