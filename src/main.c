/* main.c: printbridge's entry point. Parses the command line and dispatches: check the
 * configuration, list serial ports, analyse a G-code file, or run the daemon (src/app/). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/app.h"
#include "printbridge/base.h"
#include "printbridge/config.h"
#include "printbridge/jobs.h"
#include "printbridge/serial.h"

#ifndef PB_VERSION
#define PB_VERSION "0.0.0"
#endif
/* the install's configuration folder, baked in at build time (Makefile: SYSCONFDIR) */
#ifndef PB_SYSCONFDIR
#define PB_SYSCONFDIR "/usr/local/etc"
#endif
#define DEFAULT_CONFIG PB_SYSCONFDIR "/printbridge.conf"
#define EXIT_CONFIG 2

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: printbridge [-c FILE] [-v]\n"
            "       printbridge [-c FILE] --check-config\n"
            "       printbridge --list-ports\n"
            "       printbridge [-c FILE] --print GCODE\n"
            "       printbridge --analyse GCODE\n"
            "\n"
            "Bridges a serial 3D printer (Marlin-style G-code firmware) and an MQTT broker,\n"
            "publishing OctoPrint-MQTT compatible topics under mqtt.base_topic, plus the\n"
            "retained <base>state (the whole printer state) and <base>stats topics.\n"
            "\n"
            "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ");\n"
            "                      every setting is described in the installed file and in\n"
            "                      printbridge.conf(5); one per printer with printbridge@.service:\n"
            "                      " PB_SYSCONFDIR "/printbridge/INSTANCE.conf\n"
            "      --check-config  validate the configuration and exit (0 valid, 2 invalid)\n"
            "      --list-ports    list serial ports with USB ids and stable /dev/serial/by-id names\n"
            "      --print GCODE   print this G-code file as a job once the printer is first ready\n"
            "                      (PrintStarted ... PrintDone; every line numbered and checksummed,\n"
            "                      read in constant memory; the daemon keeps running afterwards)\n"
            "      --analyse GCODE print the file's metadata analysis (estimated print time, the\n"
            "                      slicer's own estimate, filament, dimensions, layers) as JSON\n"
            "  -v, --verbose       debug logging (every line sent to and received from the printer)\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly (the status topic <base>mqtt becomes\n"
            "\"disconnected\"). SIGHUP (systemctl reload) reads the configuration file again\n"
            "without dropping the printer: an invalid file is refused (its FILE:LINE error is\n"
            "logged) and the running configuration kept; a valid one publishes the\n"
            "SettingsUpdated event (and PrinterProfileModified when the profile group\n"
            "changed), and changed broker settings reconnect to the broker. Logs go to stderr,\n"
            "one line each, with journald priorities under systemd.\n");
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
    memory_tune();
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

    struct config cfg;
    char err[1024];
    if (config_load(&cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    /* once per start (and in ExecStartPre's --check-config, which sees the real path) */
    secrets_warn(path, cfg.mqtt_password && !cfg.mqtt_password_file, cfg.mqtt_password_file);
    if (check_only) {
        printf("%s: configuration OK\n", path);
        config_free(&cfg);
        return 0;
    }
    log_set_level(verbose ? LOG_LEVEL_DEBUG : (enum log_level)cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    int rc = daemon_run(&cfg, print_file);
    config_free(&cfg);
    return rc;
}
