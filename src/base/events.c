/* events.c: the event bus and the table of OctoPrint-MQTT event classes. */
#include "printbridge/base.h"

#include <errno.h>
#include <string.h>
#include <time.h>


void events_init(struct events *ev)
{
    memset(ev, 0, sizeof *ev);
}

int events_add_sink(struct events *ev, events_sink_fn fn, void *ctx)
{
    if (ev->count >= EVENTS_MAX_SINKS)
        return -ENOSPC;
    ev->sinks[ev->count].fn = fn;
    ev->sinks[ev->count].ctx = ctx;
    ev->count++;
    return 0;
}

void events_fire(struct events *ev, const char *name, json_t *payload)
{
    if (!payload)
        payload = json_object();
    if (!payload) {
        log_error("events: out of memory firing %s", name);
        return;
    }
    long long now = (long long)time(NULL);
    log_debug("event: %s", name);
    for (int i = 0; i < ev->count; i++)
        ev->sinks[i].fn(ev->sinks[i].ctx, name, payload, now);
    json_decref(payload);
}

/* OctoPrint-MQTT's EVENT_CLASS_TO_EVENT_LIST (docs/wire-format.md). MovieDone is deliberately
 * absent from "timelapse", as upstream, so it counts as unclassified. */
static const struct { const char *cls; const char *names[16]; } classes[] = {
    { "server", { "Startup", "Shutdown", "ClientOpened", "ClientClosed", "ConnectivityChanged" } },
    { "comm", { "Connecting", "Connected", "Disconnecting", "Disconnected", "Error", "PrinterStateChanged" } },
    { "files", { "Upload", "FileAdded", "FileRemoved", "FolderAdded", "FolderRemoved", "UpdatedFiles",
                 "MetadataAnalysisStarted", "MetadataAnalysisFinished", "FileSelected", "FileDeselected",
                 "TransferStarted", "TransferFailed", "TransferDone" } },
    { "printjob", { "PrintStarted", "PrintFailed", "PrintDone", "PrintCancelled", "PrintPaused", "PrintResumed" } },
    { "gcode", { "PowerOn", "PowerOff", "Home", "Dwelling", "Waiting", "Cooling", "Alert", "Conveyor",
                 "Eject", "EStop", "ToolChange" } },
    { "position", { "ZChange", "PositionUpdate" } },
    { "timelapse", { "CaptureStart", "CaptureFailed", "CaptureDone", "MovieRendering", "MovieFailed" } },
    { "slicing", { "SlicingStarted", "SlicingDone", "SlicingCancelled", "SlicingFailed",
                   "SlicingProfileAdded", "SlicingProfileDeleted", "SlicingProfileModified" } },
    /* SettingsRefused is printbridge's: a refused reload belongs with the accepted one */
    { "settings", { "SettingsUpdated", "SettingsRefused" } },
};

/* Every other event printbridge publishes (docs/wire-format.md 5): unclassified. */
static const char *const unclassified[] = {
    "PrintCancelling", "ChartMarked", "FirmwareData", "PrinterReset", "CommandSuppressed", "CommandError",
    "InvalidToolReported", "FilamentChange", "FileMoved", "FolderMoved", "MovieDone",
    "PrinterProfileModified", "MqttBufferOverflow", "ActionNotification", "HookFinished",
    "SerialLineMatched", "PrintProgress", "PausedForUser", "PrintRecovered",
    "GcodeScriptBeforePrintStartedRunning", "GcodeScriptBeforePrintStartedFinished",
    "GcodeScriptAfterPrintDoneRunning", "GcodeScriptAfterPrintDoneFinished",
    "GcodeScriptAfterPrintCancelledRunning", "GcodeScriptAfterPrintCancelledFinished",
    "GcodeScriptAfterPrintPausedRunning", "GcodeScriptAfterPrintPausedFinished",
    "GcodeScriptBeforePrintResumedRunning", "GcodeScriptBeforePrintResumedFinished",
    "GcodeScriptAfterPrinterConnectedRunning", "GcodeScriptAfterPrinterConnectedFinished",
    "GcodeScriptBeforePrinterDisconnectedRunning", "GcodeScriptBeforePrinterDisconnectedFinished",
    "GcodeScriptBeforeToolChangeRunning", "GcodeScriptBeforeToolChangeFinished",
    "GcodeScriptAfterToolChangeRunning", "GcodeScriptAfterToolChangeFinished",
};

/* ClientOpened and ClientClosed belong to a class but printbridge has no web clients */
static bool never_published(const char *name)
{
    return strcmp(name, "ClientOpened") == 0 || strcmp(name, "ClientClosed") == 0;
}

const char *events_name(size_t i)
{
    for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++)
        for (int k = 0; k < 16 && classes[c].names[k]; k++) {
            if (never_published(classes[c].names[k]))
                continue;
            if (i-- == 0)
                return classes[c].names[k];
        }
    return i < sizeof unclassified / sizeof unclassified[0] ? unclassified[i] : NULL;
}

bool events_is_known(const char *name)
{
    for (size_t i = 0; events_name(i); i++)
        if (strcmp(events_name(i), name) == 0)
            return true;
    return false;
}

const char *events_class(const char *name)
{
    for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++)
        for (int i = 0; i < 16 && classes[c].names[i]; i++)
            if (strcmp(classes[c].names[i], name) == 0)
                return classes[c].cls;
    return "unclassified";
}
