/* events.h: the event bus. An event is an OctoPrint event name plus an ordered JSON payload,
 * fired once on the loop thread and handed to every sink (MQTT publisher, later hooks) in
 * the order the sinks were added. Event names and their OctoPrint-MQTT classes are defined
 * once, here. */
#ifndef PRINTBRIDGE_EVENTS_H
#define PRINTBRIDGE_EVENTS_H

#include <jansson.h>

#define EVENTS_MAX_SINKS 8

/* A sink must not keep payload beyond the call (json_incref it if it must). */
typedef void (*events_sink_fn)(void *ctx, const char *name, json_t *payload, long long timestamp);

struct events {
    struct { events_sink_fn fn; void *ctx; } sinks[EVENTS_MAX_SINKS];
    int count;
};

void events_init(struct events *ev);
int events_add_sink(struct events *ev, events_sink_fn fn, void *ctx);

/* Fires name with payload (a JSON object, reference stolen; NULL means {}), time-stamped now. */
void events_fire(struct events *ev, const char *name, json_t *payload);

/* The OctoPrint-MQTT event class ("server", "comm", "files", "printjob", "gcode",
 * "position", "timelapse", "slicing", "settings") or "unclassified" (wire-format.md 5.2). */
const char *events_class(const char *name);

/* Event names used by the daemon (OctoPrint's spelling). */
#define EVENT_STARTUP "Startup"
#define EVENT_SHUTDOWN "Shutdown"
#define EVENT_CONNECTING "Connecting"
#define EVENT_CONNECTED "Connected"
#define EVENT_DISCONNECTING "Disconnecting"
#define EVENT_DISCONNECTED "Disconnected"
#define EVENT_ERROR "Error"
#define EVENT_PRINTER_STATE_CHANGED "PrinterStateChanged"
#define EVENT_FIRMWARE_DATA "FirmwareData"
#define EVENT_PRINTER_RESET "PrinterReset"
#define EVENT_ESTOP "EStop"
#define EVENT_TOOL_CHANGE "ToolChange"
#define EVENT_INVALID_TOOL_REPORTED "InvalidToolReported"
#define EVENT_Z_CHANGE "ZChange"
#define EVENT_POSITION_UPDATE "PositionUpdate"
#define EVENT_COMMAND_SUPPRESSED "CommandSuppressed"
/* OctoPrint-MQTT's synthetic event for "echo:busy: paused for user" (wire-format.md 5.5) */
#define EVENT_PAUSED_FOR_USER "PausedForUser"
/* "//action:notification <message>": OctoPrint only shows it in its UI; printbridge
 * publishes it as {"message": ...} (unclassified) */
#define EVENT_ACTION_NOTIFICATION "ActionNotification"

#endif
