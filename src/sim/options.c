/* options.c: printbridge-sim's command line, its validation and its --help text. The help
 * text is the simulator's manual: every option, the control commands, the record rule and
 * examples, so keep it in step with the behaviour. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cap.h"
#include "flavor.h"

void sim_options_init(struct sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->flavor = SIM_FLAVOR_MARLIN;
    o->extruders = 1;
    o->buffer = 4;
    o->busy_ms = 1000;
    o->wait_ms = -1;
    o->seed = 1;
    o->relink_delay_ms = 1000;
    for (int i = 0; i < SIM_CAP_COUNT; i++)
        o->caps[i] = -1;
}

void sim_options_usage(FILE *out)
{
    fputs(
"Usage: printbridge-sim --link PATH [OPTIONS]\n"
"\n"
"A simulated Marlin-style 3D printer on a pseudo-terminal, for testing serial hosts such as\n"
"printbridge. It creates a pty in raw mode, makes PATH a symlink to its slave side once it is\n"
"ready to answer, prints one line on stdout\n"
"    printbridge-sim: /dev/pts/N -> PATH\n"
"and then behaves like firmware: boot banner, N/checksum validation with Resend, ok per\n"
"command, busy/wait/temperature/position/SD reports, heaters, moves, an SD card in a folder,\n"
"and faults on demand. SIGTERM or SIGINT ends it cleanly and removes PATH (and the control\n"
"socket). Exit status: 0 after a signal or \"quit\", 1 on a runtime error, 2 on bad options.\n"
"\n"
"Connection\n"
"  --link PATH             symlink to create for the pty slave (required)\n"
"  --control PATH          Unix stream socket taking control commands (see below)\n"
"  --verbose, -v           log every received and sent line on stderr\n"
"\n"
"Firmware\n"
"  --firmware NAME         marlin (default), prusa, reprapfirmware (rrf), smoothie, repetier,\n"
"                          klipper: changes the banner, M115, the M105/M114 formats, ok (Repetier\n"
"                          acknowledges numbered lines as \"ok <N>\"), Repetier's line-error\n"
"                          wording, and whether Cap: lines are reported (not for rrf/smoothie/\n"
"                          klipper). klipper is klippy's pty: no banner but \"// Klipper state:\n"
"                          Ready\", M115 on the ok line, line numbers ignored, \"!! Must home axis\n"
"                          first\" / \"!! Move out of range\" (0..200 mm) and \"// Unknown command:\"\n"
"                          before the ok, STATUS, and M112's shutdown state until FIRMWARE_RESTART\n"
"  --extruders N           tools T0..T(N-1), 1-8 (default 1)\n"
"  --chamber               a heated chamber: M141/M191, C: in reports, Cap:CHAMBER_TEMPERATURE:1\n"
"  --sd-dir DIR            the SD card is this folder (top-level regular files, 8.3 short names\n"
"                          in M20). Without it no card is inserted: the banner says\n"
"                          \"echo:SD init fail\" and SD commands answer \"echo:No media\"\n"
"  --cap NAME=0|1          override one M115 capability and the behaviour behind it:\n"
"                          AUTOREPORT_TEMP (M155), AUTOREPORT_POS (M154), AUTOREPORT_SD_STATUS\n"
"                          (M27 S), EMERGENCY_PARSER (M112/M108/M410/M876 act on arrival),\n"
"                          SDCARD (0: SD commands are unknown), LFN_WRITE (0: M28 needs an 8.3\n"
"                          name), EXTENDED_M20 (0: M20 ignores L/T), BUSY_PROTOCOL (0: no busy:\n"
"                          lines); the others only change the report. Repeatable\n"
"  --cap none              report no Cap: lines at all (behaviour unchanged)\n"
"  --advanced-ok           \"ok N<line> P<free planner slots> B<free buffer slots>\"\n"
"  --buffer N              command buffer slots, 1-64 (default 4). Input is always buffered\n"
"                          while a command executes; a full buffer leaves lines unread\n"
"  --busy-ms N             \"echo:busy: processing\" interval while a command blocks (default\n"
"                          1000, 0 = busy protocol off); M113 S<s> changes it at run time\n"
"  --wait, --wait-ms N     send \"wait\" every N ms while idle (--wait: 1000; default off,\n"
"                          except repetier: 1000; --wait-ms 0 turns it off)\n"
"  --fast                  no motion, dwell or heating delays (targets are reached at once):\n"
"                          for throughput benchmarks\n"
"\n"
"Faults (all off by default; random ones are reproducible with --seed)\n"
"  --seed N                seed of the random faults (default 1)\n"
"  --resend-rate P         probability 0..1 that a valid numbered line (not M110) is treated as\n"
"                          corrupted: Error:checksum mismatch + Resend + ok\n"
"  --drop-ok-rate P        probability that an ok line (including ok T:/ok X: lines) is lost\n"
"  --garbage-rate P        probability that a noise line (1-16 bytes: NUL, control bytes,\n"
"                          invalid UTF-8, never starting with a letter) precedes a line\n"
"  --ok-delay-ms N         every ok comes N ms after the command finished\n"
"  --disconnect-after N    hang up (close the pty, remove PATH) after the Nth answered line\n"
"  --relink                after a hang-up bring PATH back with a fresh pty after\n"
"  --relink-delay-ms N     N ms (default 1000), booting again with \"start\" (like a replug)\n"
"  --reset-on-close MODE   what the host closing the port does: hupcl (reset, \"start\", when\n"
"                          the port still had HUPCL set, i.e. DTR dropped: a board with an\n"
"                          auto-reset circuit) or always (reset on every close: a board where\n"
"                          clearing HUPCL cannot help). Default: the firmware keeps its state\n"
"                          and line counter, as Marlin does when its host goes away\n"
"  --kill-after N          after the Nth answered line: Error:Printer halted. kill() called!\n"
"  --reset-after N         after the Nth answered line: firmware reset (\"start\" banner again)\n"
"  --thermal-runaway-after S\n"
"                          S seconds after a heater target is first set: \"Error:Thermal Runaway,\n"
"                          system stopped! Heater_ID: E0|bed|chamber\", then the kill line\n"
"  \"Answered lines\" count every host line that got its ok (sent or dropped), including the ok\n"
"  after a Resend; each of these faults fires once per run.\n"
"\n"
"Proof of execution\n"
"  --record FILE           write (truncating FILE) every command the firmware executed, once,\n"
"                          in order, one per line: the text after removing \"N<n> \",\n"
"                          \"*<checksum>\", any ;comment and surrounding blanks.\n"
"                          Included: every accepted host command (M110, M105, M115... too),\n"
"                          M28 and M29 themselves, the lines of SD prints, and M112 when the\n"
"                          emergency parser acts on it. Not included: lines rejected with\n"
"                          Resend (only their accepted resend counts), lines written to a file\n"
"                          between M28 and M29, lines received while halted. So for a host\n"
"                          streaming a file: grep -v '^M110' FILE equals the file's commands\n"
"                          plus whatever else the host sent. Flushed after every loop\n"
"                          iteration and at exit\n"
"\n"
"Behaviour worth knowing\n"
"  Boot: \"start\", \"echo:Marlin printbridge-sim\", \"SD card ok\" (with --sd-dir).\n"
"  Every host line gets exactly one ok (after its output), in the order the lines arrived;\n"
"  a rejected line is answered \"Error:...\", \"Resend: <last+1>\", \"ok\" in its turn.\n"
"  Unknown commands: echo:Unknown command: \"<line>\" and ok. Between M28 and M29 lines must\n"
"  be numbered (Marlin); they go to the file unexecuted, M29 answers \"Done saving file.\".\n"
"  M112 (emergency parser) answers \"Error:Printer halted. kill() called!\" at once; the\n"
"  printer then ignores everything until a control \"reset\". M600, M0 and M1 say\n"
"  \"echo:busy: paused for user\" at once and every 2 s until M108, M876 or control \"continue\".\n"
"  M108 also ends M109/M190/M191 waits. M24 resumes a paused SD print where it stopped.\n"
"\n"
"Control commands (--control; one per line, each answered \"ok...\" or \"error: ...\")\n"
"  action NAME [TEXT]      emit //action:NAME [TEXT], e.g. action pause, action notification Hi\n"
"                          (pause resume cancel paused resumed disconnect notification ...)\n"
"  temp HEATER C           pin the actual temperature of tool0..toolN, bed or chamber to C\n"
"  temp HEATER free        let the model move it again\n"
"  heat HEATER C           set a target, like M104/M140/M141\n"
"  say TEXT                emit TEXT as a line (escapes: \\\\ \\n \\r \\t \\e \\0 \\xNN)\n"
"  raw TEXT                emit TEXT without a newline (same escapes)\n"
"  continue                the user pressed the button (ends M0/M1/M600 and heating waits)\n"
"  runaway [HEATER]        thermal runaway now, then kill\n"
"  kill                    Error:Printer halted. kill() called!\n"
"  reset                   firmware reset: state cleared, \"start\" banner\n"
"  disconnect              hang up now (PATH comes back with --relink)\n"
"  status                  ok last_line=... answered=... halted=... X:.. T:..\n"
"  quit                    exit like SIGTERM\n"
"\n"
"Examples\n"
"  printbridge-sim --link /tmp/printer.tty --sd-dir /tmp/sd\n"
"  printbridge-sim --link run/tty --control run/ctl --record run/record.txt\n"
"  printbridge-sim --link run/tty --fast --advanced-ok --buffer 16      # benchmarks\n"
"  printbridge-sim --link run/tty --resend-rate 0.05 --garbage-rate 0.02 --seed 7\n"
"  printbridge-sim --link run/tty --disconnect-after 50 --relink       # unplug + replug\n"
"  printbridge-sim --link run/tty --firmware prusa --extruders 2 --chamber\n"
"  echo 'action pause' | socat - UNIX-CONNECT:run/ctl\n"
"  socat - run/tty,raw,echo=0                     # type G-code by hand: M105 -> ok T:21.30 ...\n",
        out);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0 && v <= 1))
        return -EINVAL;
    *out = v;
    return 0;
}

enum {
    OPT_LINK = 256, OPT_CONTROL, OPT_SD_DIR, OPT_RECORD, OPT_FIRMWARE, OPT_EXTRUDERS, OPT_CHAMBER,
    OPT_FAST, OPT_ADVANCED_OK, OPT_BUFFER, OPT_BUSY_MS, OPT_WAIT, OPT_WAIT_MS, OPT_SEED, OPT_RESEND_RATE,
    OPT_DROP_OK_RATE, OPT_GARBAGE_RATE, OPT_OK_DELAY_MS, OPT_DISCONNECT_AFTER, OPT_RELINK, OPT_RELINK_DELAY_MS,
    OPT_RUNAWAY_AFTER, OPT_KILL_AFTER, OPT_RESET_AFTER, OPT_RESET_ON_CLOSE, OPT_CAP, OPT_VERSION,
};

static const struct option long_options[] = {
    {"link", required_argument, NULL, OPT_LINK},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"sd-dir", required_argument, NULL, OPT_SD_DIR},
    {"record", required_argument, NULL, OPT_RECORD},
    {"firmware", required_argument, NULL, OPT_FIRMWARE},
    {"extruders", required_argument, NULL, OPT_EXTRUDERS},
    {"chamber", no_argument, NULL, OPT_CHAMBER},
    {"fast", no_argument, NULL, OPT_FAST},
    {"advanced-ok", no_argument, NULL, OPT_ADVANCED_OK},
    {"buffer", required_argument, NULL, OPT_BUFFER},
    {"busy-ms", required_argument, NULL, OPT_BUSY_MS},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"wait-ms", required_argument, NULL, OPT_WAIT_MS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"resend-rate", required_argument, NULL, OPT_RESEND_RATE},
    {"drop-ok-rate", required_argument, NULL, OPT_DROP_OK_RATE},
    {"garbage-rate", required_argument, NULL, OPT_GARBAGE_RATE},
    {"ok-delay-ms", required_argument, NULL, OPT_OK_DELAY_MS},
    {"disconnect-after", required_argument, NULL, OPT_DISCONNECT_AFTER},
    {"relink", no_argument, NULL, OPT_RELINK},
    {"relink-delay-ms", required_argument, NULL, OPT_RELINK_DELAY_MS},
    {"thermal-runaway-after", required_argument, NULL, OPT_RUNAWAY_AFTER},
    {"kill-after", required_argument, NULL, OPT_KILL_AFTER},
    {"reset-after", required_argument, NULL, OPT_RESET_AFTER},
    {"reset-on-close", required_argument, NULL, OPT_RESET_ON_CLOSE},
    {"cap", required_argument, NULL, OPT_CAP},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int parse_cap(struct sim_options *o, const char *arg, char *err, size_t errsz)
{
    if (strcasecmp(arg, "none") == 0) {
        o->no_cap_lines = true;
        return 0;
    }
    const char *eq = strchr(arg, '=');
    char name[64];
    if (!eq || (size_t)(eq - arg) >= sizeof name || (strcmp(eq + 1, "0") != 0 && strcmp(eq + 1, "1") != 0)) {
        snprintf(err, errsz, "--cap expects NAME=0 or NAME=1 (or none), got '%s'", arg);
        return -EINVAL;
    }
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    int cap = sim_cap_lookup(name);
    if (cap < 0) {
        snprintf(err, errsz, "--cap: unknown capability '%s'", name);
        return -EINVAL;
    }
    o->caps[cap] = (signed char)(eq[1] == '1');
    return 0;
}

int sim_options_parse(struct sim_options *o, int argc, char **argv, FILE *out, bool *done, char *err,
                      size_t errsz)
{
    long v;
    double d;
    int c;
    optind = 1;
    opterr = 0;
    int idx = -1;
    *done = false;
    while ((c = getopt_long(argc, argv, ":vh", long_options, &idx)) != -1) {
        char name[64];
        if (idx >= 0)
            snprintf(name, sizeof name, "--%s", long_options[idx].name);
        else
            snprintf(name, sizeof name, "%.63s", optind > 1 && optind - 1 < argc ? argv[optind - 1] : "?");
        idx = -1;
        switch (c) {
        case OPT_LINK: o->link_path = optarg; break;
        case OPT_CONTROL: o->control_path = optarg; break;
        case OPT_SD_DIR: o->sd_dir = optarg; break;
        case OPT_RECORD: o->record_path = optarg; break;
        case OPT_FIRMWARE:
            if ((v = sim_flavor_parse(optarg)) < 0) {
                snprintf(err, errsz, "--firmware: unknown '%s' (marlin, prusa, reprapfirmware, smoothie, repetier)",
                         optarg);
                return -EINVAL;
            }
            o->flavor = (enum sim_flavor)v;
            break;
        case OPT_EXTRUDERS:
            if (parse_long(optarg, 1, SIM_MAX_EXTRUDERS, &v) < 0)
                goto bad_number;
            o->extruders = (int)v;
            break;
        case OPT_CHAMBER: o->chamber = true; break;
        case OPT_FAST: o->fast = true; break;
        case OPT_ADVANCED_OK: o->advanced_ok = true; break;
        case OPT_BUFFER:
            if (parse_long(optarg, 1, SIM_MAX_BUFFER, &v) < 0)
                goto bad_number;
            o->buffer = (int)v;
            break;
        case OPT_BUSY_MS:
            if (parse_long(optarg, 0, 600000, &v) < 0)
                goto bad_number;
            o->busy_ms = (int)v;
            break;
        case OPT_WAIT: o->wait_ms = 1000; break;
        case OPT_WAIT_MS:
            if (parse_long(optarg, 0, 600000, &v) < 0)
                goto bad_number;
            o->wait_ms = (int)v;
            break;
        case OPT_SEED:
            if (parse_long(optarg, 0, LONG_MAX, &v) < 0)
                goto bad_number;
            o->seed = (uint64_t)v;
            break;
        case OPT_RESEND_RATE:
        case OPT_DROP_OK_RATE:
        case OPT_GARBAGE_RATE:
            if (parse_rate(optarg, &d) < 0) {
                snprintf(err, errsz, "%s expects a probability between 0 and 1, got '%s'", name, optarg);
                return -EINVAL;
            }
            *(c == OPT_RESEND_RATE ? &o->resend_rate : c == OPT_DROP_OK_RATE ? &o->drop_ok_rate : &o->garbage_rate) = d;
            break;
        case OPT_OK_DELAY_MS:
            if (parse_long(optarg, 0, 600000, &v) < 0)
                goto bad_number;
            o->ok_delay_ms = (int)v;
            break;
        case OPT_DISCONNECT_AFTER:
        case OPT_KILL_AFTER:
        case OPT_RESET_AFTER:
            if (parse_long(optarg, 1, LONG_MAX, &v) < 0)
                goto bad_number;
            *(c == OPT_DISCONNECT_AFTER ? &o->disconnect_after : c == OPT_KILL_AFTER ? &o->kill_after
                                                                                     : &o->reset_after) =
                (unsigned long)v;
            break;
        case OPT_RESET_ON_CLOSE:
            if (strcmp(optarg, "hupcl") == 0)
                o->reset_on_close = SIM_CLOSE_HUPCL;
            else if (strcmp(optarg, "always") == 0)
                o->reset_on_close = SIM_CLOSE_ALWAYS;
            else {
                snprintf(err, errsz, "--reset-on-close expects hupcl or always, got '%s'", optarg);
                return -EINVAL;
            }
            break;
        case OPT_RELINK: o->relink = true; break;
        case OPT_RELINK_DELAY_MS:
            if (parse_long(optarg, 0, 600000, &v) < 0)
                goto bad_number;
            o->relink_delay_ms = (int)v;
            break;
        case OPT_RUNAWAY_AFTER: {
            char *end;
            errno = 0;
            d = strtod(optarg, &end);
            if (errno || end == optarg || *end != '\0' || !(d > 0 && d < 1e6)) {
                snprintf(err, errsz, "--thermal-runaway-after expects seconds > 0, got '%s'", optarg);
                return -EINVAL;
            }
            o->runaway_after_s = d;
            break;
        }
        case OPT_CAP:
            if (parse_cap(o, optarg, err, errsz) < 0)
                return -EINVAL;
            break;
        case 'v': o->verbose = true; break;
        case 'h':
            sim_options_usage(out);
            *done = true;
            return 0;
        case OPT_VERSION:
            fprintf(out, "printbridge-sim %s\n", PB_VERSION);
            *done = true;
            return 0;
        case ':':
            snprintf(err, errsz, "%s needs a value", name);
            return -EINVAL;
        default:
            snprintf(err, errsz, "unknown option '%s' (see --help)", name);
            return -EINVAL;
        }
        continue;
bad_number:
        snprintf(err, errsz, "%s: '%s' is not a valid number here (see --help)", name, optarg);
        return -EINVAL;
    }
    if (optind < argc) {
        snprintf(err, errsz, "unexpected argument '%s' (see --help)", argv[optind]);
        return -EINVAL;
    }
    if (!o->link_path) {
        snprintf(err, errsz, "--link PATH is required (see --help)");
        return -EINVAL;
    }
    return 0;
}
