/* test_sim_pty.c: the real printbridge-sim process over its pseudo-terminal: exact reply lines
 * for the protocol, SD, emergency and fault behaviour, the control socket, the record file,
 * hang-up and relink, signals, the command line and throughput. The firmware logic has exact
 * timing tests under a fake clock in test_sim_firmware.c; here every wait has a deadline. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "printbridge/serial.h"
#include "test_sim_harness.h"

#define T 3000      /* ms for a reply that should come at once (scaled by simh_ms) */

static struct simh sim;

static void reset_sim(void)
{
    memset(&sim, 0, sizeof sim);
    sim.fd = sim.out_fd = -1;
}

static void expect_banner(bool card)
{
    simh_expect(&sim, "start", T);
    simh_expect(&sim, "echo:Marlin printbridge-sim", T);
    simh_expect(&sim, card ? "SD card ok" : "echo:SD init fail", T);
}

static void start_plain(const char *const *args)
{
    simh_start(&sim, args);
    expect_banner(false);
}

/* ---- link, banner, handshake ---- */

START_TEST(test_link_is_a_symlink_to_the_announced_pty_and_banner_is_waiting)
{
    static const char *const args[] = {NULL};
    simh_start(&sim, args);
    char target[256];
    ssize_t n = readlink(sim.link, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    char want[1024];
    snprintf(want, sizeof want, "printbridge-sim: %s -> %s", target, sim.link);
    ck_assert_str_eq(sim.banner, want);
    ck_assert(strncmp(target, "/dev/pts/", 9) == 0);
    expect_banner(false);
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect(&sim, "ok", T);
}
END_TEST

START_TEST(test_m115_reports_firmware_then_capabilities_then_ok)
{
    static const char *const args[] = {"--chamber", NULL};
    start_plain(args);
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "N1 M115*39");
    simh_expect(&sim, "FIRMWARE_NAME:Marlin 2.1.2 (printbridge-sim) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
                      "PROTOCOL_VERSION:1.0 MACHINE_TYPE:printbridge-sim EXTRUDER_COUNT:1 "
                      "UUID:00000000-0000-0000-0000-000000000000", T);
    static const char *const caps[] = {
        "Cap:SERIAL_XON_XOFF:0", "Cap:BINARY_FILE_TRANSFER:0", "Cap:EEPROM:0", "Cap:VOLUMETRIC:1",
        "Cap:AUTOREPORT_POS:1", "Cap:AUTOREPORT_TEMP:1", "Cap:PROGRESS:0", "Cap:PRINT_JOB:1", "Cap:AUTOLEVEL:1",
        "Cap:Z_PROBE:1", "Cap:LEVELING_DATA:1", "Cap:SOFTWARE_POWER:0", "Cap:EMERGENCY_PARSER:1",
        "Cap:HOST_ACTION_COMMANDS:1", "Cap:PROMPT_SUPPORT:0", "Cap:SDCARD:1", "Cap:SD_WRITE:1",
        "Cap:AUTOREPORT_SD_STATUS:1", "Cap:LONG_FILENAME:1", "Cap:LFN_WRITE:1", "Cap:EXTENDED_M20:1",
        "Cap:THERMAL_PROTECTION:1", "Cap:ARCS:1", "Cap:CHAMBER_TEMPERATURE:1", "Cap:BUSY_PROTOCOL:1",
    };
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++)
        simh_expect(&sim, caps[i], T);
    simh_expect(&sim, "ok", T);
}
END_TEST

START_TEST(test_m105_puts_the_temperatures_on_the_ok_line)
{
    start_plain(NULL);
    simh_send(&sim, "M105");
    simh_expect(&sim, "ok T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", T);
}
END_TEST

START_TEST(test_line_errors_are_error_resend_ok_and_m110_resets)
{
    start_plain(NULL);
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "N2 M105*37");                 /* expected line 1 */
    simh_expect(&sim, "Error:Line Number is not Last Line Number+1, Last Line: 0", T);
    simh_expect(&sim, "Resend: 1", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "N1 M115*38");                 /* wrong checksum */
    simh_expect(&sim, "Error:checksum mismatch, Last Line: 0", T);
    simh_expect(&sim, "Resend: 1", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "N1 M105");                    /* no checksum */
    simh_expect(&sim, "Error:No Checksum with line number, Last Line: 0", T);
    simh_expect(&sim, "Resend: 1", T);
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 1, "M105");
    simh_expect(&sim, "ok T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", T);
    simh_send_numbered(&sim, 50, "M110 N50");
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 51, "G90");
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 2, "G90");
    simh_expect(&sim, "Error:Line Number is not Last Line Number+1, Last Line: 51", T);
    simh_expect(&sim, "Resend: 52", T);
    simh_expect(&sim, "ok", T);
}
END_TEST

/* ---- long commands ---- */

START_TEST(test_g28_is_busy_until_homed)
{
    static const char *const args[] = {"--busy-ms", "200", NULL};
    start_plain(args);
    long long t0 = simh_now_ms();
    simh_send(&sim, "G28 X");     /* 700 ms */
    int busy = simh_skip_until(&sim, "ok", T);
    long long took = simh_now_ms() - t0;
    ck_assert_msg(busy >= 2, "only %d busy lines before ok", busy);
    ck_assert_msg(took >= 650, "G28 X took only %lld ms", took);
}
END_TEST

START_TEST(test_m109_blocks_with_temperature_lines_then_ok)
{
    static const char *const args[] = {"--busy-ms", "300", NULL};
    start_plain(args);
    long long t0 = simh_now_ms();
    simh_send(&sim, "M109 S30");
    simh_expect(&sim, "T:21.30 /30.00 B:21.30 /0.00 @:127 B@:0 W:?", T);
    char line[SIMH_LINE_MAX];
    int temps = 1, busy = 0;
    for (;;) {
        ck_assert_msg(simh_line(&sim, line, sizeof line, simh_ms(5000)), "no ok after M109");
        if (strcmp(line, "ok") == 0)
            break;
        if (strcmp(line, "echo:busy: processing") == 0)
            busy++;
        else if (strncmp(line, "T:", 2) == 0 && strstr(line, " /30.00 ") && strstr(line, " W:?"))
            temps++;
        else
            ck_abort_msg("unexpected line during M109: %s", line);
    }
    long long took = simh_now_ms() - t0;
    ck_assert_msg(took >= 1000 && took < simh_ms(4000), "M109 S30 took %lld ms", took);
    ck_assert_int_ge(busy, 2);
    ck_assert_int_ge(temps, 2);
    simh_send(&sim, "M105");
    ck_assert(simh_line(&sim, line, sizeof line, simh_ms(T)));
    double actual = 0;
    ck_assert_msg(sscanf(line, "ok T:%lf /30.00", &actual) == 1, "%s", line);
    ck_assert_msg(actual >= 29.0 && actual <= 30.0, "%s", line);
}
END_TEST

START_TEST(test_m155_autoreports_until_switched_off)
{
    start_plain(NULL);
    simh_send(&sim, "M155 S1");
    simh_expect(&sim, "ok", T);
    long long t0 = simh_now_ms();
    simh_expect(&sim, "T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", 2500);
    simh_expect(&sim, "T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", 2500);
    long long took = simh_now_ms() - t0;
    ck_assert_msg(took >= 1800, "two reports in %lld ms", took);
    simh_send(&sim, "M155 S0");
    simh_expect(&sim, "ok", T);
    simh_expect_silence(&sim, 1300);
}
END_TEST

START_TEST(test_m114_follows_relative_moves_and_g92)
{
    start_plain(NULL);
    static const char *const cmds[] = {"G91", "G1 X5 Y-2 F12000", "G1 X5", "G92 E10", "G90", "G1 Z0.2"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        simh_send(&sim, cmds[i]);
        simh_expect(&sim, "ok", T);
    }
    simh_send(&sim, "M114");
    simh_expect(&sim, "ok X:10.00 Y:-2.00 Z:0.20 E:10.00 Count X:800 Y:-160 Z:80", T);
}
END_TEST

START_TEST(test_invalid_tool_is_reported_and_acknowledged)
{
    start_plain(NULL);
    simh_send(&sim, "T1");
    simh_expect(&sim, "echo:T1 Invalid extruder", T);
    simh_expect(&sim, "ok", T);
}
END_TEST

START_TEST(test_two_extruders_report_every_tool)
{
    static const char *const args[] = {"--extruders", "2", NULL};
    start_plain(args);
    simh_send(&sim, "T1");
    simh_expect(&sim, "echo:Active Extruder: 1", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M104 S200");
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M105");
    char line[SIMH_LINE_MAX];
    ck_assert(simh_line(&sim, line, sizeof line, simh_ms(T)));
    ck_assert_msg(strncmp(line, "ok T:", 5) == 0 && strstr(line, "/200.00 T0:21.30 /0.00 T1:") &&
                      strstr(line, " B:21.30 /0.00 @:"),
                  "%s", line);
}
END_TEST

/* ---- SD card ---- */

START_TEST(test_sd_list_select_print_status_and_done)
{
    simh_prepare(&sim);
    char sd[700];
    snprintf(sd, sizeof sd, "%s/sd", sim.dir);
    ck_assert_int_eq(mkdir(sd, 0755), 0);
    simh_write_file(&sim, "sd/cube.gcode", "G28 X\nG1 X7 F6000\nG4 P300\nM105\n");   /* 31 bytes */
    simh_write_file(&sim, "sd/SMALL.GCO", "G4 P1\n");
    simh_write_file(&sim, "sd/readme.txt", "not listed\n");
    const char *const args[] = {"--sd-dir", sd, "--busy-ms", "0", NULL};
    simh_start(&sim, args);
    expect_banner(true);
    simh_send(&sim, "M20");
    simh_expect(&sim, "Begin file list", T);
    simh_expect(&sim, "SMALL.GCO 6", T);
    simh_expect(&sim, "CUBE~1.GCO 31", T);
    simh_expect(&sim, "End file list", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M20 L T");
    simh_expect(&sim, "Begin file list", T);
    char line[SIMH_LINE_MAX];
    unsigned ts;
    ck_assert(simh_line(&sim, line, sizeof line, simh_ms(T)));
    ck_assert_msg(sscanf(line, "SMALL.GCO 6 0x%8X", &ts) == 1 && ts > 0x50000000u && strcmp(line + 22, " SMALL.GCO") == 0,
                  "%s", line);
    ck_assert(simh_line(&sim, line, sizeof line, simh_ms(T)));
    ck_assert_msg(strncmp(line, "CUBE~1.GCO 31 0x", 16) == 0 && strcmp(line + 24, " cube.gcode") == 0, "%s", line);
    simh_expect(&sim, "End file list", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M23 missing.gco");
    simh_expect(&sim, "open failed, File: missing.gco.", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M23 cube~1.gco");
    simh_expect(&sim, "File opened: cube~1.gco Size: 31", T);
    simh_expect(&sim, "File selected", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M24");
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M27");             /* queued behind the file's commands, like on Marlin */
    simh_expect(&sim, "T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", T);   /* the file's M105: no ok */
    simh_expect(&sim, "SD printing byte 31/31", T);
    simh_expect(&sim, "ok", T);
    simh_expect(&sim, "Done printing file", T);
    simh_send(&sim, "M27");
    simh_expect(&sim, "Not SD printing", T);
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M114");
    simh_expect(&sim, "ok X:7.00 Y:0.00 Z:0.00 E:0.00 Count X:560 Y:0 Z:0", T);
}
END_TEST

START_TEST(test_sd_upload_and_delete)
{
    simh_prepare(&sim);
    char sd[700], path[800];
    snprintf(sd, sizeof sd, "%s/sd", sim.dir);
    ck_assert_int_eq(mkdir(sd, 0755), 0);
    const char *const args[] = {"--sd-dir", sd, NULL};
    simh_start(&sim, args);
    expect_banner(true);
    simh_send_numbered(&sim, 0, "M110 N0");
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 1, "M28 up.gco");
    simh_expect(&sim, "Writing to file: up.gco", T);
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 2, "G28");
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 3, "G1 X5");
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 4, "M29");
    simh_expect(&sim, "Done saving file.", T);
    simh_expect(&sim, "ok", T);
    snprintf(path, sizeof path, "%s/up.gco", sd);
    char *content = simh_read_file(path);
    ck_assert_ptr_nonnull(content);
    ck_assert_str_eq(content, "G28\nG1 X5\n");
    free(content);
    simh_send(&sim, "M30 up.gco");
    simh_expect(&sim, "File deleted:up.gco", T);
    simh_expect(&sim, "ok", T);
    ck_assert_int_ne(access(path, F_OK), 0);
    simh_send(&sim, "M30 up.gco");
    simh_expect(&sim, "Deletion failed, File: up.gco.", T);
    simh_expect(&sim, "ok", T);
}
END_TEST

/* ---- pause for user, emergency ---- */

START_TEST(test_m600_pauses_for_user_until_m108)
{
    start_plain(NULL);
    long long t0 = simh_now_ms();
    simh_send(&sim, "M600");
    simh_expect(&sim, "echo:busy: paused for user", T);
    simh_expect(&sim, "echo:busy: paused for user", 3000);
    long long took = simh_now_ms() - t0;
    ck_assert_msg(took >= 1800, "second prompt after %lld ms", took);
    simh_send(&sim, "M108");
    simh_expect(&sim, "ok", T);
    simh_expect(&sim, "ok", T);
}
END_TEST

START_TEST(test_m112_halts_at_once_and_only_reset_revives)
{
    simh_start_ctl(&sim, NULL);
    expect_banner(false);
    simh_send(&sim, "M109 S200");
    simh_expect(&sim, "T:21.30 /200.00 B:21.30 /0.00 @:127 B@:0 W:?", T);
    simh_send(&sim, "M112");
    simh_expect(&sim, "Error:Printer halted. kill() called!", T);
    simh_send(&sim, "M105");
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect_silence(&sim, 600);
    char reply[256];
    simh_control(&sim, "reset", reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    expect_banner(false);
    simh_send(&sim, "M105");
    simh_expect(&sim, "ok T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", T);    /* the target was cleared */
}
END_TEST

/* ---- proof of execution ---- */

/* A minimal host: streams cmds numbered from N1 after M110, ping-pong, honouring Resend. */
static int stream_with_resends(const char *const *cmds, int count)
{
    char line[SIMH_LINE_MAX];
    int resends = 0;
    simh_send_numbered(&sim, 0, "M110 N0");
    simh_expect(&sim, "ok", T);
    int next = 0;     /* index of the next command to send */
    while (next < count) {
        simh_send_numbered(&sim, next + 1, cmds[next]);
        long want_resend = -1;
        for (;;) {
            ck_assert_msg(simh_line(&sim, line, sizeof line, simh_ms(T)), "no answer to line %d", next + 1);
            if (strncmp(line, "Resend: ", 8) == 0)
                want_resend = atol(line + 8);
            else if (strncmp(line, "ok", 2) == 0)
                break;
            else
                ck_assert_msg(strncmp(line, "Error:checksum mismatch", 23) == 0, "unexpected \"%s\"", line);
        }
        if (want_resend < 0) {
            next++;
        } else {
            ck_assert_int_eq(want_resend, next + 1);
            resends++;
        }
    }
    return resends;
}

START_TEST(test_record_holds_a_print_exactly_once_despite_resends)
{
    simh_prepare(&sim);
    char rec[700];
    snprintf(rec, sizeof rec, "%s/record.txt", sim.dir);
    const char *const args[] = {"--record", rec, "--resend-rate", "0.25", "--seed", "11", "--fast", NULL};
    simh_start(&sim, args);
    expect_banner(false);
    static char cmds[40][32];
    const char *list[40];
    char expected[4096] = "";
    for (int i = 0; i < 40; i++) {
        snprintf(cmds[i], sizeof cmds[i], "G1 X%d Y%d E%d", i, 40 - i, i * 2);
        list[i] = cmds[i];
        strcat(expected, cmds[i]);
        strcat(expected, "\n");
    }
    int resends = stream_with_resends(list, 40);
    /* Read the record after SIGTERM, as a test of a daemon would. */
    simh_close_link(&sim);
    kill(sim.pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(sim.pid, &status, 0), sim.pid);
    simh_forget(&sim);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *record = simh_read_file(rec);
    ck_assert_msg(resends >= 3, "only %d resends at rate 0.25", resends);
    ck_assert_ptr_nonnull(record);
    /* grep -v '^M110' */
    char filtered[4096] = "";
    for (char *line = strtok(record, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "M110", 4) == 0)
            continue;
        strcat(filtered, line);
        strcat(filtered, "\n");
    }
    free(record);
    ck_assert_str_eq(filtered, expected);
}
END_TEST

/* ---- faults ---- */

/* Everything the printer says (raw, noise included) to a fixed input, under three random
 * faults at once. */
static size_t faulty_transcript(const char *seed, char *out, size_t outsz)
{
    const char *const args[] = {"--garbage-rate", "0.5", "--drop-ok-rate", "0.5", "--resend-rate", "0.5",
                                "--seed", seed, NULL};
    simh_start(&sim, args);
    for (int i = 1; i <= 20; i++)
        simh_send_numbered(&sim, i, "G90");
    simh_send(&sim, "M117 END");
    size_t len = 0, n;
    char line[SIMH_LINE_MAX];
    for (;;) {
        ck_assert_msg(simh_raw_line(&sim, line, sizeof line, &n, simh_ms(T)), "no echo:END");
        ck_assert(len + n + 1 < outsz);
        memcpy(out + len, line, n);
        out[len + n] = '\n';
        len += n + 1;
        if (strcmp(line, "echo:END") == 0)
            break;
    }
    ck_assert_int_eq(simh_stop(&sim), 0);
    reset_sim();
    return len;
}

START_TEST(test_same_seed_gives_the_same_faults)
{
    static char a[65536], b[65536], c[65536];
    size_t la = faulty_transcript("4", a, sizeof a);
    size_t lb = faulty_transcript("4", b, sizeof b);
    size_t lc = faulty_transcript("5", c, sizeof c);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "seed 4 gave two different transcripts");
    ck_assert_msg(la != lc || memcmp(a, c, la) != 0, "seeds 4 and 5 gave the same transcript");
    ck_assert(memmem(a, la, "Error:checksum mismatch", 23) != NULL);
}
END_TEST

START_TEST(test_drop_ok_rate_loses_oks)
{
    static const char *const args[] = {"--drop-ok-rate", "1", NULL};
    start_plain(args);
    simh_send(&sim, "M117 still here");
    simh_expect(&sim, "echo:still here", T);
    simh_send(&sim, "M105");
    simh_expect_silence(&sim, 500);
}
END_TEST

START_TEST(test_garbage_rate_sends_noise_lines)
{
    static const char *const args[] = {"--garbage-rate", "1", "--seed", "3", NULL};
    simh_start(&sim, args);
    static const char *const want[] = {"start", "echo:Marlin printbridge-sim", "echo:SD init fail"};
    char line[SIMH_LINE_MAX];
    size_t len;
    for (int i = 0; i < 3; i++) {
        ck_assert(simh_raw_line(&sim, line, sizeof line, &len, simh_ms(T)));
        ck_assert_msg(len >= 1 && len <= 16 && !(line[0] >= 'a' && line[0] <= 'z') && !(line[0] >= 'A' && line[0] <= 'Z'),
                      "not a noise line (%zu bytes)", len);
        simh_expect(&sim, want[i], T);
    }
}
END_TEST

START_TEST(test_ok_delay_delays_each_ok)
{
    static const char *const args[] = {"--ok-delay-ms", "400", NULL};
    start_plain(args);
    long long t0 = simh_now_ms();
    simh_send(&sim, "G90");
    simh_expect(&sim, "ok", T);
    long long took = simh_now_ms() - t0;
    ck_assert_msg(took >= 390, "ok after %lld ms", took);
}
END_TEST

START_TEST(test_wait_ms_sends_wait_while_idle)
{
    static const char *const args[] = {"--wait-ms", "200", NULL};
    start_plain(args);
    simh_expect(&sim, "wait", T);
    simh_expect(&sim, "wait", T);
}
END_TEST

START_TEST(test_kill_after_halts_after_n_answered_lines)
{
    static const char *const args[] = {"--kill-after", "2", NULL};
    start_plain(args);
    simh_send(&sim, "G90");
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "G90");
    simh_expect(&sim, "ok", T);
    simh_expect(&sim, "Error:Printer halted. kill() called!", T);
    simh_send(&sim, "G90");
    simh_expect_silence(&sim, 500);
}
END_TEST

START_TEST(test_reset_after_boots_again_with_fresh_line_numbers)
{
    static const char *const args[] = {"--reset-after", "2", NULL};
    start_plain(args);
    simh_send_numbered(&sim, 0, "M110 N0");
    simh_expect(&sim, "ok", T);
    simh_send_numbered(&sim, 1, "G90");
    simh_expect(&sim, "ok", T);
    expect_banner(false);
    simh_send_numbered(&sim, 1, "G90");
    simh_expect(&sim, "ok", T);
}
END_TEST

START_TEST(test_thermal_runaway_after_kills_the_heating_printer)
{
    static const char *const args[] = {"--thermal-runaway-after", "0.5", NULL};
    start_plain(args);
    simh_send(&sim, "M104 S200");
    simh_expect(&sim, "ok", T);
    simh_expect(&sim, "Error:Thermal Runaway, system stopped! Heater_ID: E0", T);
    simh_expect(&sim, "Error:Printer halted. kill() called!", T);
}
END_TEST

START_TEST(test_disconnect_after_hangs_up_and_relink_brings_the_printer_back)
{
    static const char *const args[] = {"--disconnect-after", "2", "--relink", "--relink-delay-ms", "300", NULL};
    start_plain(args);
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect(&sim, "ok", T);
    simh_send(&sim, "M105");
    simh_expect(&sim, "ok T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0", T);   /* answered before the hang-up */
    ck_assert_msg(simh_wait_hangup(&sim, simh_ms(3000)), "no hang-up after 2 answered lines");
    ck_assert_int_lt(write(sim.fd, "M105\n", 5), 0);
    simh_close_link(&sim);
    long long deadline = simh_now_ms() + simh_ms(5000);
    while (simh_open(&sim) != 0) {
        ck_assert_msg(simh_now_ms() < deadline, "the link did not come back");
        poll(NULL, 0, 20);
    }
    expect_banner(false);
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect(&sim, "ok", T);
}
END_TEST

START_TEST(test_disconnect_without_relink_removes_the_link)
{
    simh_start_ctl(&sim, NULL);
    expect_banner(false);
    char reply[256];
    simh_control(&sim, "disconnect", reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    ck_assert(simh_wait_hangup(&sim, simh_ms(3000)));
    long long deadline = simh_now_ms() + simh_ms(3000);
    while (access(sim.link, F_OK) == 0 || errno != ENOENT) {
        ck_assert_msg(simh_now_ms() < deadline, "link still there");
        poll(NULL, 0, 10);
    }
    simh_control(&sim, "disconnect", reply, sizeof reply);
    ck_assert_str_eq(reply, "error: the link is already down");
}
END_TEST

/* ---- control socket ---- */

START_TEST(test_control_socket_injects_actions_temperatures_and_lines)
{
    simh_start_ctl(&sim, NULL);
    expect_banner(false);
    char reply[4096];
    static const struct {
        const char *cmd, *line;
    } actions[] = {
        {"action pause", "//action:pause"},       {"action resume", "//action:resume"},
        {"action cancel", "//action:cancel"},     {"action paused", "//action:paused"},
        {"action resumed", "//action:resumed"},   {"action disconnect", "//action:disconnect"},
        {"action notification Layer 5 done", "//action:notification Layer 5 done"},
        {"say Not SD printing", "Not SD printing"},
    };
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) {
        simh_control(&sim, actions[i].cmd, reply, sizeof reply);
        ck_assert_str_eq(reply, "ok");
        simh_expect(&sim, actions[i].line, T);
    }
    simh_control(&sim, "temp tool0 215.5", reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    simh_control(&sim, "heat bed 60", reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    simh_send(&sim, "M105");
    char line[SIMH_LINE_MAX];
    ck_assert(simh_line(&sim, line, sizeof line, simh_ms(T)));
    ck_assert_msg(strncmp(line, "ok T:215.50 /0.00 B:", 20) == 0 && strstr(line, " /60.00 @:0 B@:127"), "%s", line);
    simh_control(&sim, "heat nozzle 1", reply, sizeof reply);
    ck_assert_str_eq(reply, "error: unknown heater 'nozzle' (tool0..toolN, bed, chamber)");
    simh_control(&sim, "status", reply, sizeof reply);
    ck_assert_msg(strncmp(reply, "ok last_line=0 answered=1 halted=0 linked=1", 43) == 0, "%s", reply);
    simh_control(&sim, "kill", reply, sizeof reply);
    simh_expect(&sim, "Error:Printer halted. kill() called!", T);
    simh_control(&sim, "reset", reply, sizeof reply);
    expect_banner(false);
    simh_control(&sim, "runaway", reply, sizeof reply);
    simh_expect(&sim, "Error:Thermal Runaway, system stopped! Heater_ID: E0", T);
    simh_expect(&sim, "Error:Printer halted. kill() called!", T);
    simh_control(&sim, "frobnicate", reply, sizeof reply);
    ck_assert_str_eq(reply, "error: unknown command 'frobnicate' (try help)");
    simh_control(&sim, "quit", reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    int status;
    long long deadline = simh_now_ms() + simh_ms(5000);
    pid_t r;
    while ((r = waitpid(sim.pid, &status, WNOHANG)) == 0)
        ck_assert_msg(simh_now_ms() < deadline, "quit did not end the simulator");
    simh_forget(&sim);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_ne(access(sim.link, F_OK), 0);
    ck_assert_int_ne(access(sim.ctl, F_OK), 0);
}
END_TEST

START_TEST(test_control_continue_ends_a_user_pause)
{
    simh_start_ctl(&sim, NULL);
    expect_banner(false);
    simh_send(&sim, "M0");
    simh_expect(&sim, "echo:busy: paused for user", T);
    char reply[256];
    simh_control(&sim, "continue", reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    simh_expect(&sim, "ok", T);
}
END_TEST

/* ---- process ---- */

START_TEST(test_sigterm_and_sigint_remove_the_link_and_exit_zero)
{
    static const int sigs[] = {SIGTERM, SIGINT};
    start_plain(NULL);
    char link[sizeof sim.link];
    memcpy(link, sim.link, sizeof link);
    simh_close_link(&sim);
    kill(sim.pid, sigs[_i]);
    int status;
    ck_assert_int_eq(waitpid(sim.pid, &status, 0), sim.pid);
    simh_forget(&sim);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    struct stat st;
    ck_assert_int_ne(lstat(link, &st), 0);
}
END_TEST

START_TEST(test_help_documents_every_option_and_bad_options_exit_2)
{
    char out[16384];
    const char *const help[] = {simh_binary(), "--help", NULL};
    ck_assert_int_eq(simh_run_capture(help, out, sizeof out), 0);
    static const char *const names[] = {
        "--link PATH", "--control PATH", "--verbose", "--firmware NAME", "--extruders N", "--chamber", "--sd-dir DIR",
        "--cap NAME=0|1", "--cap none", "--advanced-ok", "--buffer N", "--busy-ms N", "--wait-ms N", "--fast",
        "--seed N", "--resend-rate P", "--drop-ok-rate P", "--garbage-rate P", "--ok-delay-ms N",
        "--disconnect-after N", "--relink", "--relink-delay-ms N", "--kill-after N", "--reset-after N",
        "--thermal-runaway-after", "--record FILE", "action NAME", "temp HEATER C", "heat HEATER C", "say TEXT",
        "raw TEXT", "continue", "runaway", "kill", "reset", "disconnect", "status", "quit", "Examples",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        ck_assert_msg(strstr(out, names[i]) != NULL, "--help does not mention %s", names[i]);
    const char *const bad[] = {simh_binary(), "--link", "/tmp/x", "--resend-rate", "2", NULL};
    ck_assert_int_eq(simh_run_capture(bad, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "--resend-rate expects a probability") != NULL, "%s", out);
    const char *const nolink[] = {simh_binary(), NULL};
    ck_assert_int_eq(simh_run_capture(nolink, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "--link PATH is required") != NULL, "%s", out);
    const char *const unknown[] = {simh_binary(), "--link", "/tmp/x", "--frobnicate", NULL};
    ck_assert_int_eq(simh_run_capture(unknown, out, sizeof out), 2);
}
END_TEST

START_TEST(test_firmware_flavor_changes_the_replies)
{
    static const char *const args[] = {"--firmware", "repetier", NULL};
    simh_start(&sim, args);
    simh_expect(&sim, "start", T);
    simh_expect(&sim, "echo:Repetier 1.0.3 printbridge-sim", T);
    simh_expect(&sim, "echo:SD init fail", T);
    simh_send(&sim, "N0 M110 N0*125");
    simh_expect(&sim, "ok 0", T);
    simh_send(&sim, "M105");
    simh_expect(&sim, "ok T:21.30 /0 B:21.30 /0 B@:0 @:0", T);
}
END_TEST

/* With many lines in flight and --fast, the simulator must outrun any host. */
START_TEST(test_fast_mode_answers_over_100000_lines_per_second)
{
    static const char *const args[] = {"--fast", "--buffer", "16", NULL};
    start_plain(args);
    enum { LINES = 200000 };
    static char data[LINES * 16];
    size_t len = 0;
    for (int i = 0; i < LINES; i++)
        len += (size_t)snprintf(data + len, sizeof data - len, "G1 X%d Y%d\n", i % 200, i % 100);
    size_t sent = 0;
    long oks = 0;     /* every reply is "ok\n" here, so newlines count them */
    char buf[65536];
    long long t0 = simh_now_ms();
    long long deadline = t0 + simh_ms(20000);
    while (oks < LINES) {
        ck_assert_msg(simh_now_ms() < deadline, "only %ld of %d oks", oks, LINES);
        struct pollfd p = {.fd = sim.fd, .events = (short)(POLLIN | (sent < len ? POLLOUT : 0))};
        poll(&p, 1, 100);
        if ((p.revents & POLLOUT) && sent < len) {
            ssize_t n = write(sim.fd, data + sent, len - sent > 65536 ? 65536 : len - sent);
            if (n > 0)
                sent += (size_t)n;
        }
        if (p.revents & POLLIN) {
            ssize_t n = read(sim.fd, buf, sizeof buf);
            for (ssize_t i = 0; i < n; i++)
                oks += buf[i] == '\n';
        }
    }
    long long took = simh_now_ms() - t0;
    double rate = LINES * 1000.0 / (double)(took > 0 ? took : 1);
    fprintf(stderr, "sim_pty: %d lines in flight-limited stream: %lld ms, %.0f lines/s\n", LINES, took, rate);
    ck_assert_msg(rate > 100000.0 / simh_ms(1), "only %.0f lines/s", rate);
}
END_TEST

Suite *sim_pty_suite(void);
Suite *sim_pty_suite(void)
{
    Suite *s = suite_create("sim_pty");
    TCase *tc = tcase_create("pty");
    tcase_add_unchecked_fixture(tc, simh_case_setup, simh_case_teardown);
    tcase_add_checked_fixture(tc, reset_sim, simh_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_link_is_a_symlink_to_the_announced_pty_and_banner_is_waiting);
    tcase_add_test(tc, test_m115_reports_firmware_then_capabilities_then_ok);
    tcase_add_test(tc, test_m105_puts_the_temperatures_on_the_ok_line);
    tcase_add_test(tc, test_line_errors_are_error_resend_ok_and_m110_resets);
    tcase_add_test(tc, test_g28_is_busy_until_homed);
    tcase_add_test(tc, test_m109_blocks_with_temperature_lines_then_ok);
    tcase_add_test(tc, test_m155_autoreports_until_switched_off);
    tcase_add_test(tc, test_m114_follows_relative_moves_and_g92);
    tcase_add_test(tc, test_invalid_tool_is_reported_and_acknowledged);
    tcase_add_test(tc, test_two_extruders_report_every_tool);
    tcase_add_test(tc, test_sd_list_select_print_status_and_done);
    tcase_add_test(tc, test_sd_upload_and_delete);
    tcase_add_test(tc, test_m600_pauses_for_user_until_m108);
    tcase_add_test(tc, test_m112_halts_at_once_and_only_reset_revives);
    tcase_add_test(tc, test_record_holds_a_print_exactly_once_despite_resends);
    tcase_add_test(tc, test_same_seed_gives_the_same_faults);
    tcase_add_test(tc, test_drop_ok_rate_loses_oks);
    tcase_add_test(tc, test_garbage_rate_sends_noise_lines);
    tcase_add_test(tc, test_ok_delay_delays_each_ok);
    tcase_add_test(tc, test_wait_ms_sends_wait_while_idle);
    tcase_add_test(tc, test_kill_after_halts_after_n_answered_lines);
    tcase_add_test(tc, test_reset_after_boots_again_with_fresh_line_numbers);
    tcase_add_test(tc, test_thermal_runaway_after_kills_the_heating_printer);
    tcase_add_test(tc, test_disconnect_after_hangs_up_and_relink_brings_the_printer_back);
    tcase_add_test(tc, test_disconnect_without_relink_removes_the_link);
    tcase_add_test(tc, test_control_socket_injects_actions_temperatures_and_lines);
    tcase_add_test(tc, test_control_continue_ends_a_user_pause);
    tcase_add_loop_test(tc, test_sigterm_and_sigint_remove_the_link_and_exit_zero, 0, 2);
    tcase_add_test(tc, test_help_documents_every_option_and_bad_options_exit_2);
    tcase_add_test(tc, test_firmware_flavor_changes_the_replies);
    tcase_add_test(tc, test_fast_mode_answers_over_100000_lines_per_second);
    suite_add_tcase(s, tc);
    return s;
}
