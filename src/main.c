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
#include <uv.h>

#include "printbridge/commands.h"
#include "printbridge/config.h"
#include "printbridge/events.h"
#include "printbridge/hooks.h"
#include "printbridge/log.h"
#include "printbridge/mqtt.h"
#include "printbridge/portscan.h"
#include "printbridge/printer.h"
#include "printbridge/publisher.h"

#ifndef PB_VERSION
#define PB_VERSION "0.0.0"
#endif
#define DEFAULT_CONFIG "/etc/printbridge.conf"
#define EXIT_CONFIG 2
#define OFFLINE_QUEUE_LIMIT 1000

struct daemon {
    uv_loop_t *loop;
    struct config cfg;
    struct events events;
    struct mqtt *mqtt;
    struct publisher publisher;
    struct printer *printer;
    struct hooks *hooks;                /* issue 7: event hooks and inbound handlers */
    struct commands_router *router;     /* issue 7: inbound commands */
    uv_signal_t sigterm, sigint, sighup;
    char status_topic[PUBLISHER_MAX_TOPIC];
    bool stopping;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: printbridge [-c FILE] [-v]\n"
            "       printbridge -c FILE --check-config\n"
            "       printbridge --list-ports\n"
            "\n"
            "Bridges a serial 3D printer (Marlin-style G-code firmware) and an MQTT broker,\n"
            "publishing OctoPrint-MQTT compatible topics under mqtt.base_topic.\n"
            "\n"
            "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ");\n"
            "                      every key is documented in etc/printbridge.conf\n"
            "      --check-config  validate the configuration and exit (0 valid, 2 invalid)\n"
            "      --list-ports    list serial ports with USB ids and stable /dev/serial/by-id names\n"
            "  -v, --verbose       debug logging (every line sent to and received from the printer)\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly (the status topic <base>mqtt becomes\n"
            "\"disconnected\"). Logs go to stderr, one line each, with journald priorities\n"
            "under systemd.\n");
}

static void on_mqtt_connected(void *ctx, bool first)
{
    struct daemon *d = ctx;
    publisher_on_connected(&d->publisher, first, (long long)time(NULL));
}

static void on_temperatures(void *ctx, const struct protocol_temps *t, long long ts)
{
    struct daemon *d = ctx;
    publisher_on_temperatures(&d->publisher, t, ts);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_printer_destroyed(void *ctx)
{
    struct daemon *d = ctx;
    uv_close((uv_handle_t *)&d->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&d->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&d->sighup, on_handle_closed);
}

static void on_mqtt_stopped(void *ctx)
{
    struct daemon *d = ctx;
    d->mqtt = NULL;
    printer_destroy(d->printer, on_printer_destroyed, d);
}

static void stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("printbridge: %s, shutting down", why);
    events_fire(&d->events, EVENT_SHUTDOWN, NULL);
    commands_router_detach(d->router);      /* no replies once the broker link is going */
    hooks_stop(d->hooks);                   /* kills running system hooks' process groups */
    printer_disconnect(d->printer);
    mqtt_stop(d->mqtt, on_mqtt_stopped, d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    if (signum == SIGHUP) {
        log_warn("printbridge: SIGHUP received; reloading the configuration is not supported yet, restart to apply changes");
        return;
    }
    stop(d, signum == SIGTERM ? "SIGTERM received" : "SIGINT received");
}

static int run(struct daemon *d)
{
    struct config *c = &d->cfg;
    d->loop = uv_default_loop();
    events_init(&d->events);
    snprintf(d->status_topic, sizeof d->status_topic, "%smqtt", c->mqtt_base_topic);

    struct mqtt_options mo = {
        .host = c->mqtt_host,
        .port = c->mqtt_port,
        .client_id = c->mqtt_client_id,
        .username = c->mqtt_username,
        .password = c->mqtt_password,
        .keepalive = c->mqtt_keepalive,
        .status_topic = d->status_topic,
        .status_retain = true,
        .queue_limit = OFFLINE_QUEUE_LIMIT,
    };
    if (mqtt_start(&d->mqtt, d->loop, &mo, on_mqtt_connected, d) < 0)
        return 1;
    struct publisher_settings ps = {
        .base_topic = c->mqtt_base_topic,
        .event_topic = "event/{event}",
        .progress_topic = "progress/{progress}",
        .temperature_topic = "temperature/{temp}",
        .timestamp_field = "_timestamp",
        .retain = c->mqtt_retain,
        .temperature_threshold = c->mqtt_temperature_threshold,
    };
    publisher_init(&d->publisher, d->mqtt, &ps);
    events_add_sink(&d->events, publisher_on_event, &d->publisher);

    struct printer_options po = {
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
        .extruders = 1,
    };
    struct printer_callbacks pc = { .temperatures = on_temperatures };
    printer_create(&d->printer, d->loop, &d->events, &po, &pc, d);

    /* issue 7: hooks see every event after the publisher; inbound commands need all three */
    if (hooks_create(&d->hooks, d->loop, &d->events, c->hooks) < 0 ||
        events_add_sink(&d->events, hooks_on_event, d->hooks) < 0 ||
        commands_router_create(&d->router, c->mqtt_base_topic, c->hooks, d->mqtt, d->printer, d->hooks) < 0) {
        log_error("printbridge: out of memory setting up hooks and inbound commands");
        return 1;
    }
    hooks_set_printer(d->hooks, d->printer);

    uv_signal_t *sigs[] = { &d->sigterm, &d->sigint, &d->sighup };
    int nums[] = { SIGTERM, SIGINT, SIGHUP };
    for (int i = 0; i < 3; i++) {
        uv_signal_init(d->loop, sigs[i]);
        sigs[i]->data = d;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }

    log_info("printbridge %s: printer %s, broker %s:%d, base topic %s", PB_VERSION, c->printer_port,
             c->mqtt_host, c->mqtt_port, c->mqtt_base_topic);
    events_fire(&d->events, EVENT_STARTUP, NULL);
    printer_connect(d->printer);

    uv_run(d->loop, UV_RUN_DEFAULT);
    commands_router_free(d->router);
    hooks_free(d->hooks);
    int rc = uv_loop_close(d->loop);
    if (rc != 0)
        log_warn("printbridge: event loop closed with handles still open (%s)", uv_strerror(rc));
    log_info("printbridge: stopped");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'C' },
        { "list-ports", no_argument, NULL, 'L' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = DEFAULT_CONFIG;
    bool check_only = false, verbose = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'C': check_only = true; break;
        case 'L': return portscan_print(stdout) == 0 ? 0 : 1;
        case 'v': verbose = true; break;
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
    if (config_load(&d.cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
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
