/* checks.h: what a string value of a key may be (checks.c). Each check_* is a key_check_fn
 * named in the key table: 0, or -EINVAL with the message tail ("must ...") in why. */
#ifndef PRINTBRIDGE_CONFIG_CHECKS_H
#define PRINTBRIDGE_CONFIG_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

int check_port(const char *v, char *why, size_t whysz);
int check_usb_id(const char *v, char *why, size_t whysz);
int check_host(const char *v, char *why, size_t whysz);
int check_base_topic(const char *v, char *why, size_t whysz);
int check_client_id(const char *v, char *why, size_t whysz);
int check_username(const char *v, char *why, size_t whysz);
int check_not_empty(const char *v, char *why, size_t whysz);
int check_protocol(const char *v, char *why, size_t whysz);
int check_topic(const char *v, char *why, size_t whysz);
int check_field_name(const char *v, char *why, size_t whysz);
int check_ha_prefix(const char *v, char *why, size_t whysz);
int check_ha_node_id(const char *v, char *why, size_t whysz);
int check_checksum(const char *v, char *why, size_t whysz);
int check_zchange_mode(const char *v, char *why, size_t whysz);
int check_timelapse_mode(const char *v, char *why, size_t whysz);

/* "VID:PID" as check_usb_id accepts it, parsed: 0, or -EINVAL. */
int check_usb_id_parse(const char *v, int *vid, int *pid);

/* One of OctoPrint-MQTT's event classes (filter.classes_off). */
bool check_is_event_class(const char *v);
/* Looks like an event name (filter.events_off, filter.events_on). */
bool check_is_event_name(const char *v);

#endif
