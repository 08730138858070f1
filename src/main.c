/* main.c: printbridge's entry point. Reads the command line and the configuration, wires
 * the modules together on one libuv loop (printer -> events -> MQTT publisher), and runs
 * until SIGTERM/SIGINT, then shuts down in order: Shutdown event, printer disconnected,
 * "disconnected" status and a real MQTT DISCONNECT, every handle closed. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "printbridge/commands.h"
#include "printbridge/analysis.h"
#include "printbridge/config.h"
#include "printbridge/discovery.h"
#include "printbridge/events.h"
#include "printbridge/hooks.h"
#include "printbridge/triggers.h"
#include "printbridge/log.h"
#include "printbridge/mqtt.h"
#include "printbridge/notify.h"
#include "printbridge/portscan.h"
#include "printbridge/printer.h"
#include "printbridge/publisher.h"
#include "printbridge/secrets.h"
#include "printbridge/statetopic.h"
#include "printbridge/storage.h"
#include "printbridge/pyjson.h"
#include "printbridge/slicing.h"
#include "printbridge/timelapse.h"
#include "printbridge/job.h"
#include "printbridge/progressnotify.h"

#ifndef PB_VERSION
#define PB_VERSION "0.0.0"
#endif
#define DEFAULT_CONFIG "/etc/printbridge.conf"
#define EXIT_CONFIG 2
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

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: printbridge [-c FILE] [-v]\n"
            "       printbridge -c FILE --check-config\n"
            "       printbridge --list-ports\n"
            "       printbridge -c FILE --print GCODE\n"
            "       printbridge --analyse GCODE\n"
            "\n"
            "Bridges a serial 3D printer (Marlin-style G-code firmware) and an MQTT broker,\n"
            "publishing OctoPrint-MQTT compatible topics under mqtt.base_topic, plus the\n"
            "retained <base>state (the whole printer state) and <base>stats topics.\n"
            "\n"
            "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ");\n"
            "                      every key is documented in etc/printbridge.conf\n"
            "      --check-config  validate the configuration and exit (0 valid, 2 invalid)\n"
            "      --list-ports    list serial ports with USB ids and stable /dev/serial/by-id names\n"
            "      --print GCODE   stream this G-code file to the printer once it is operational\n"
            "                      (every line numbered and checksummed, read in constant memory;\n"
            "                      the daemon keeps running afterwards)\n"
            "      --analyse GCODE print the file's metadata analysis (estimated print time, the\n"
            "                      slicer's own estimate, filament, dimensions, layers) as JSON\n"
            "  -v, --verbose       debug logging (every line sent to and received from the printer)\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly (the status topic <base>mqtt becomes\n"
            "\"disconnected\"). SIGHUP reloads the configuration file without dropping the\n"
            "printer: an invalid file is refused (its FILE:LINE error is logged) and the\n"
            "running configuration kept; a valid one publishes the SettingsUpdated event\n"
            "(and PrinterProfileModified when the profile group changed), and changed broker\n"
            "settings reconnect to the broker. Logs go to stderr, one line each, with\n"
            "journald priorities under systemd.\n");
}

/* ---- configuration to module options ----------------------------------------------- */

static void mqtt_options_from(const struct config *c, char *status_topic, size_t stsz, struct mqtt_options *mo)
{
    if (c->topic_status[0])
        snprintf(status_topic, stsz, "%s%s", c->mqtt_base_topic, c->topic_status);
    *mo = (struct mqtt_options){
        .host = c->mqtt_host,
        .port = c->mqtt_port,
        .client_id = c->mqtt_client_id,
        .username = c->mqtt_username,
        .password = c->mqtt_password,
        .keepalive = c->mqtt_keepalive,
        .version = strcmp(c->mqtt_protocol, "5") == 0 ? 5 : 4,
        .status_topic = c->topic_status[0] ? status_topic : NULL,
        .status_retain = c->mqtt_status_retain,
        .queue_limit = (size_t)c->mqtt_queue_limit,
        .queue_file = c->mqtt_queue_file,
        .tls = c->mqtt_tls,
        .tls_ca_file = c->mqtt_tls_ca_file,
        .tls_cert_file = c->mqtt_tls_cert_file,
        .tls_key_file = c->mqtt_tls_key_file,
        .tls_insecure = c->mqtt_tls_insecure,
    };
}

static void publisher_settings_from(const struct config *c, struct publisher_settings *ps)
{
    *ps = (struct publisher_settings){
        .base_topic = c->mqtt_base_topic,
        .event_topic = c->topic_event,
        .progress_topic = c->topic_progress,
        .temperature_topic = c->topic_temperature,
        .state_topic = c->topic_state,
        .stats_topic = c->topic_stats,
        .timestamp_field = c->mqtt_timestamp_field,
        .retain = c->mqtt_retain,
        .printer_data = c->mqtt_printer_data,
        .qos_event = c->qos_event,
        .qos_progress = c->qos_progress,
        .qos_temperature = c->qos_temperature,
        .qos_state = c->qos_state,
        .qos_stats = c->qos_stats,
        .temperature_threshold = c->mqtt_temperature_threshold,
        .temperature_min_interval = c->mqtt_temperature_min_interval,
        .temperature_decimals = c->mqtt_temperature_decimals,
        .state_interval = c->mqtt_state_interval,
        .classes_off = c->filter_classes_off,
        .events_off = c->filter_events_off,
        .events_on = c->filter_events_on,
    };
}

static void printer_options_from(const struct config *c, const char *print_file, struct printer_options *po)
{
    *po = (struct printer_options){
        .port = c->printer_port,
        .baudrate = c->printer_baudrate,
        .usb_id = c->printer_usb_id,
        .reconnect_delay = c->printer_reconnect_delay,
        .reconnect_max_delay = c->printer_reconnect_max_delay,
        .connection_timeout = c->printer_connection_timeout,
        .communication_timeout = c->printer_communication_timeout,
        .temperature_interval = c->printer_temperature_interval,
        .temperature_interval_target = c->printer_temperature_interval_target,
        .autoreport_interval = c->printer_autoreport_interval,
        .after_connected = c->script_after_connected,
        .extruders = c->profile_extruders,
        .heated_bed = c->profile_heated_bed,
        .heated_chamber = c->profile_heated_chamber,
        .checksum = (enum printer_checksum)printer_checksum_parse(c->printer_checksum),
        .history_size = c->printer_history_size,
        .advanced_ok_window = c->printer_advanced_ok_window,
        .send_m112_on_error = c->printer_emergency_stop_on_error,
        .blocked_commands = c->printer_blocked_commands,
        .reconnect = c->printer_reconnect,
        .shutdown_command = c->printer_shutdown_command,
        .zchange_mode = (enum gcodeevents_zmode)printer_zchange_mode_parse(c->printer_zchange_mode),
        .print_file = print_file,
    };
}

/* node_id: a buffer of DISCOVERY_MAX_ID for the id derived from the client id */
static void discovery_settings_from(const struct config *c, char *node_id, struct discovery_settings *ds)
{
    if (c->ha_node_id)
        snprintf(node_id, DISCOVERY_MAX_ID, "%s", c->ha_node_id);
    else if (discovery_node_id_from(node_id, DISCOVERY_MAX_ID, c->mqtt_client_id) < 0)
        snprintf(node_id, DISCOVERY_MAX_ID, "printbridge");
    *ds = (struct discovery_settings){
        .enabled = c->ha_enabled,
        .prefix = c->ha_prefix,
        .node_id = node_id,
        .device_name = c->ha_device_name,
        .base_topic = c->mqtt_base_topic,
        .state_topic = c->topic_state,
        .status_topic = c->topic_status,
        .temperature_topic = c->topic_temperature,
        .extruders = c->profile_extruders,
        .heated_bed = c->profile_heated_bed,
        .heated_chamber = c->profile_heated_chamber,
        .republish_delay = c->ha_republish_delay,
        .sw_version = PB_VERSION,
        .camera = c->timelapse_snapshot_command[0] != NULL,   /* issue 11 */
    };
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Anything the broker connection itself is made of (the status topic included). */
static bool mqtt_settings_differ(const struct config *a, const struct config *b)
{
    return str_differs(a->mqtt_host, b->mqtt_host) || a->mqtt_port != b->mqtt_port ||
           str_differs(a->mqtt_base_topic, b->mqtt_base_topic) ||
           str_differs(a->mqtt_client_id, b->mqtt_client_id) ||
           str_differs(a->mqtt_username, b->mqtt_username) ||
           str_differs(a->mqtt_password, b->mqtt_password) || a->mqtt_keepalive != b->mqtt_keepalive ||
           str_differs(a->mqtt_protocol, b->mqtt_protocol) || a->mqtt_status_retain != b->mqtt_status_retain ||
           a->mqtt_tls != b->mqtt_tls || str_differs(a->mqtt_tls_ca_file, b->mqtt_tls_ca_file) ||
           str_differs(a->mqtt_tls_cert_file, b->mqtt_tls_cert_file) ||
           str_differs(a->mqtt_tls_key_file, b->mqtt_tls_key_file) ||
           a->mqtt_tls_insecure != b->mqtt_tls_insecure || a->mqtt_queue_limit != b->mqtt_queue_limit ||
           str_differs(a->mqtt_queue_file, b->mqtt_queue_file) || str_differs(a->topic_status, b->topic_status) ||
           str_differs(a->ha_prefix, b->ha_prefix);
}

static bool profile_differs(const struct config *a, const struct config *b)
{
    return a->profile_extruders != b->profile_extruders || a->profile_heated_bed != b->profile_heated_bed ||
           a->profile_heated_chamber != b->profile_heated_chamber ||
           a->profile_volume_width != b->profile_volume_width ||
           a->profile_volume_depth != b->profile_volume_depth ||
           a->profile_volume_height != b->profile_volume_height;
}

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

static void on_mqtt_watched(void *ctx, const char *payload, bool retained)
{
    struct daemon *d = ctx;
    discovery_on_birth(d->discovery, payload, retained);
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
        struct mqtt_callbacks cb = { .connected = on_mqtt_connected, .lost = on_mqtt_lost, .watched = on_mqtt_watched };
        mqtt_options_from(&nc, status_topic, sizeof status_topic, &mo);
        char birth[PUBLISHER_MAX_TOPIC];
        if (discovery_birth_topic(birth, sizeof birth, nc.ha_prefix) > 0)
            mo.watch_topic = birth;
        if (mqtt_create(&fresh, d->loop, &mo, &cb, d) < 0) {
            log_error("printbridge: reload: cannot set up the new broker connection; keeping the old one");
        } else {
            /* "disconnected" on the old status topic first, then the new client connects
             * (same client id: connecting first would kick the old one and fire its will) */
            log_info("printbridge: broker settings changed; reconnecting");
            d->old_mqtt = d->mqtt;
            d->mqtt = fresh;
            snprintf(d->status_topic, sizeof d->status_topic, "%s", status_topic);
            publisher_set_mqtt(&d->publisher, fresh);
            discovery_set_mqtt(d->discovery, fresh);
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
    struct mqtt_callbacks mcb = { .connected = on_mqtt_connected, .lost = on_mqtt_lost, .watched = on_mqtt_watched };
    mqtt_options_from(c, d->status_topic, sizeof d->status_topic, &mo);
    char birth[PUBLISHER_MAX_TOPIC];
    if (discovery_birth_topic(birth, sizeof birth, c->ha_prefix) > 0)
        mo.watch_topic = birth;
    if (mqtt_create(&d->mqtt, d->loop, &mo, &mcb, d) < 0)
        return 1;
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

/* --analyse: the metadata analysis a file gets in the storage folder, printed as JSON (with
 * the default analysis settings), for checking an estimate or timing the analyser */
static int analyse_file(const char *path)
{
    struct analysis_options o;
    struct analysis_result r;
    analysis_options_default(&o);
    int rc = analysis_file(path, &o, &r);
    if (rc < 0) {
        fprintf(stderr, "printbridge: cannot analyse %s: %s\n", path, strerror(-rc));
        return 1;
    }
    json_t *j = analysis_to_json(&r);
    char *text = j ? pyjson_dumps(j) : NULL;
    json_decref(j);
    if (!text) {
        fprintf(stderr, "printbridge: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'C' },
        { "list-ports", no_argument, NULL, 'L' },
        { "verbose", no_argument, NULL, 'v' },
        { "print", required_argument, NULL, 'P' },
        { "analyse", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = DEFAULT_CONFIG;
    const char *print_file = NULL;
    bool check_only = false, verbose = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'C': check_only = true; break;
        case 'L': return portscan_print(stdout) == 0 ? 0 : 1;
        case 'v': verbose = true; break;
        case 'P': print_file = optarg; break;
        case 'A': return analyse_file(optarg);
        case 'h': usage(stdout); return 0;
        case 'V': printf("printbridge %s\n", PB_VERSION); return 0;
        default: usage(stderr); return EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "printbridge: unexpected argument '%s'; see printbridge --help\n", argv[optind]);
        return EXIT_CONFIG;
    }

    struct daemon d;
    char err[1024];
    memset(&d, 0, sizeof d);
    d.print_file = print_file;
    if (config_load(&d.cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    /* once per start (and in ExecStartPre's --check-config, which sees the real path) */
    secrets_warn(path, d.cfg.mqtt_password && !d.cfg.mqtt_password_file, d.cfg.mqtt_password_file);
    if (check_only) {
        printf("%s: configuration OK\n", path);
        config_free(&d.cfg);
        return 0;
    }
    log_set_level(verbose ? LOG_LEVEL_DEBUG : (enum log_level)d.cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    int rc = run(&d);
    config_free(&d.cfg);
    return rc;
}
