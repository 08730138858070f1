/* options.c: the configuration turned into each module's options, and what a reload changed.
 * Modules never read struct config themselves (the hooks and inbound groups excepted, which
 * hookconfig hands over whole): they get their own option structs, built here. */
#include "options.h"

#include <stdio.h>
#include <string.h>

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

void printer_options_from(const struct config *c, const char *print_file, struct printer_options *po)
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
        .camera = c->timelapse_snapshot_command[0] != NULL,   /* issue 11 */
    };
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Anything the broker connection itself is made of (the status topic included). */
bool mqtt_settings_differ(const struct config *a, const struct config *b)
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
           str_differs(a->mqtt_queue_file, b->mqtt_queue_file) || str_differs(a->topic_status, b->topic_status);
}

bool profile_differs(const struct config *a, const struct config *b)
{
    return a->profile_extruders != b->profile_extruders || a->profile_heated_bed != b->profile_heated_bed ||
           a->profile_heated_chamber != b->profile_heated_chamber ||
           a->profile_volume_width != b->profile_volume_width ||
           a->profile_volume_depth != b->profile_volume_depth ||
           a->profile_volume_height != b->profile_volume_height;
}
