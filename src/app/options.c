/* options.c: the configuration turned into each module's options, and what a reload changed.
 * Modules never read struct config themselves (the hooks and inbound groups excepted, which
 * hookconfig hands over whole): they get their own option structs, built here. */
#include "options.h"

#include <stdio.h>
#include <string.h>

/* The origin's support URL in Home Assistant's discovery: set at build time (make
 * SUPPORT_URL=https://...), none by default. */
#ifndef PB_SUPPORT_URL
#define PB_SUPPORT_URL ""
#endif

void mqtt_options_from(const struct config *c, char *status_topic, size_t stsz, struct mqtt_options *mo)
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

void publisher_settings_from(const struct config *c, struct publisher_settings *ps)
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

void printer_options_from(const struct config *c, struct printer_options *po)
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
        .position_autoreport_interval = c->printer_position_autoreport_interval,
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
        .zchange_mode = (enum gcodeevents_zmode)printer_zchange_mode_parse(c->printer_zchange_mode),
    };
}

/* node_id: a buffer of DISCOVERY_MAX_ID for the id derived from the client id */
void discovery_settings_from(const struct config *c, char *node_id, struct discovery_settings *ds)
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
        .camera = c->timelapse_snapshot_command[0] != NULL,
        .event_topic = c->topic_event,
        .progress_topic = c->topic_progress,
        .stats_topic = c->mqtt_stats_interval > 0 ? c->topic_stats : "",
        .max_tool_temperature = c->profile_max_tool_temperature,
        .max_bed_temperature = c->profile_max_bed_temperature,
        .max_chamber_temperature = c->profile_max_chamber_temperature,
        .support_url = PB_SUPPORT_URL,
        .octoprint_node_id = c->ha_octoprint_node_id,
        .octoprint_node_name = c->ha_octoprint_node_name,
    };
}

/* ---- what a reload changed ----------------------------------------------------------------
 * Each question is put to the key table (config_group_changed), never to a list of fields
 * here: a key added to a group is compared the day it is added. */

/* The mqtt keys that are not part of the broker connection: the publisher applies them in
 * place (publisher_settings_from above; the stats and republish timers restart on every reload).
 * mqtt.password_file is compared through what it yields, mqtt.password. A new mqtt key is
 * part of the connection unless it is named here: forgetting it costs a needless reconnect,
 * never a missed change. */
static const char *const mqtt_publishing_keys[] = {
    "retain", "timestamp_field", "temperature_threshold", "temperature_min_interval",
    "temperature_decimals", "printer_data", "state_interval", "stats_interval", "password_file",
    "republish_interval", NULL,
};

bool mqtt_connection_changed(const struct config *a, const struct config *b)
{
    /* homeassistant.prefix is not: discovery moves its birth subscription itself */
    return config_group_changed(a, b, "mqtt", mqtt_publishing_keys) ||
           config_key_changed(a, b, "topics", "status");             /* the will and status */
}

bool profile_changed(const struct config *a, const struct config *b)
{
    return config_group_changed(a, b, "profile", NULL);
}

void storage_options_from(const struct config *c, struct storage_options *so)
{
    *so = (struct storage_options){ .folder = c->storage_folder,
                                    .max_upload_size = (long long)c->storage_max_upload_size << 20 };
    analysis_options_default(&so->analysis);
    so->analysis.filament_diameter = c->analysis_filament_diameter;
    so->analysis.acceleration = c->analysis_acceleration;
    so->analysis.junction_deviation = c->analysis_junction_deviation;
}

void job_options_from(const struct config *c, struct job_options *jo)
{
    *jo = (struct job_options){ .extruders = c->profile_extruders, .heated_bed = c->profile_heated_bed };
    jo->scripts[JOB_SCRIPT_BEFORE_PRINT_STARTED] = c->script_before_print_started;
    jo->scripts[JOB_SCRIPT_AFTER_PRINT_DONE] = c->script_after_print_done;
    jo->scripts[JOB_SCRIPT_AFTER_PRINT_CANCELLED] = c->script_after_print_cancelled;
    jo->scripts[JOB_SCRIPT_AFTER_PRINT_PAUSED] = c->script_after_print_paused;
    jo->scripts[JOB_SCRIPT_BEFORE_PRINT_RESUMED] = c->script_before_print_resumed;
    jo->scripts[JOB_SCRIPT_BEFORE_PRINTER_DISCONNECTED] = c->script_before_printer_disconnected;
    jo->scripts[JOB_SCRIPT_BEFORE_TOOL_CHANGE] = c->script_before_tool_change;
    jo->scripts[JOB_SCRIPT_AFTER_TOOL_CHANGE] = c->script_after_tool_change;
}

void timelapse_options_from(const struct config *c, struct timelapse_options *to)
{
    *to = (struct timelapse_options){
        .mode = strcmp(c->timelapse_mode, "zchange") == 0 ? TIMELAPSE_ZCHANGE
              : strcmp(c->timelapse_mode, "timed") == 0 ? TIMELAPSE_TIMED : TIMELAPSE_OFF,
        .interval = c->timelapse_interval, .post_roll = c->timelapse_post_roll,
        .snapshot_command = c->timelapse_snapshot_command, .snapshot_timeout = c->timelapse_snapshot_timeout,
        .frame_extension = c->timelapse_frame_extension, .frames_folder = c->timelapse_frames_folder,
        .output_folder = c->timelapse_output_folder, .ffmpeg = c->timelapse_ffmpeg,
        .ffmpeg_args = c->timelapse_ffmpeg_args, .fps = c->timelapse_fps,
        .movie_extension = c->timelapse_movie_extension, .render_timeout = c->timelapse_render_timeout,
    };
}

void slicing_options_from(const struct config *c, struct slicing_options *so)
{
    *so = (struct slicing_options){ .slicer = c->slicing_slicer, .command = c->slicing_command,
                                    .folder = c->storage_folder, .profiles_folder = c->slicing_profiles_folder,
                                    .profile = c->slicing_profile, .timeout = c->slicing_timeout };
}
