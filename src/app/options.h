/* options.h: the configuration turned into each module's options (options.c). */
#ifndef PRINTBRIDGE_APP_OPTIONS_H
#define PRINTBRIDGE_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "printbridge/config.h"
#include "printbridge/mqtt.h"
#include "printbridge/jobs.h"
#include "printbridge/printer.h"
#include "printbridge/tools.h"
#include "printbridge/wire.h"

#ifndef PB_VERSION
#define PB_VERSION "0.0.0"
#endif

/* status_topic: a buffer of stsz bytes for <base><status topic>, which mo points into */
void mqtt_options_from(const struct config *c, char *status_topic, size_t stsz, struct mqtt_options *mo);
void publisher_settings_from(const struct config *c, struct publisher_settings *ps);
void printer_options_from(const struct config *c, struct printer_options *po);
void storage_options_from(const struct config *c, struct storage_options *so);
/* the profile and the scripts; callbacks and the journal are the caller's */
void job_options_from(const struct config *c, struct job_options *jo);
void timelapse_options_from(const struct config *c, struct timelapse_options *to);
/* the command and folders; the progress callback is the caller's */
void slicing_options_from(const struct config *c, struct slicing_options *so);
/* node_id: a buffer of DISCOVERY_MAX_ID for the id derived from the client id */
void discovery_settings_from(const struct config *c, char *node_id, struct discovery_settings *ds);

/* What a reload changed, one question per config group, each answered from the key table.
 * mqtt_connection_changed: anything the broker connection is made of (the mqtt group but the
 * keys the publisher applies in place, topics.status and homeassistant.prefix), so a new
 * client is needed. profile_changed: any key of the profile group (PrinterProfileModified). */
bool mqtt_connection_changed(const struct config *a, const struct config *b);
bool profile_changed(const struct config *a, const struct config *b);

#endif
