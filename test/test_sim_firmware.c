/* test_sim_firmware.c: the simulated firmware core (src/sim/firmware.c, executor.c and
 * commands.c) under a fake clock: exact replies, exact timing of busy/temperature/autoreport
 * lines, the command buffer and planner, the emergency parser, SD printing and uploading,
 * the record, and every seeded fault. The pty process around it is tested in
 * test_sim_pty.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/serial.h"
#include "sim/control.h"
#include "sim/firmware.h"

static struct sim_options opt;
static struct sim_fw *fw;
static int64_t now;
static char outq[1 << 18];
static size_t outq_len;
static char tmp_dir[256];     /* per test case, removed by the unchecked teardown */
static int tmp_seq;

static void case_setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/pb-simfw.XXXXXX");
    if (!mkdtemp(tmp_dir))
        tmp_dir[0] = '\0';
}

static void case_teardown(void)
{
    char cmd[400];
    if (!tmp_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
}

static void test_setup(void)
{
    sim_options_init(&opt);
    opt.link_path = "unused";
    fw = NULL;
    now = 1000000;
    outq_len = 0;
}

static void test_teardown(void)
{
    sim_fw_destroy(fw);
    fw = NULL;
}

/* A fresh folder inside the case folder. */
static const char *fresh_dir(void)
{
    static char dir[400];
    ck_assert(tmp_dir[0]);
    snprintf(dir, sizeof dir, "%s/d%d.%d", tmp_dir, (int)getpid(), tmp_seq++);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    return dir;
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(content, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void boot(void)
{
    char err[256];
    int rc = sim_fw_create(&fw, &opt, err, sizeof err);
    ck_assert_msg(rc == 0 && fw != NULL, "sim_fw_create: %s", err);
    sim_fw_boot(fw, now);
    sim_fw_run(fw, now);
}

static void drain(void)
{
    size_t n;
    const char *d = sim_fw_output(fw, &n);
    ck_assert(outq_len + n <= sizeof outq);
    memcpy(outq + outq_len, d, n);
    outq_len += n;
    sim_fw_consume_output(fw, n);
}

static bool pop_line(char *out, size_t outsz)
{
    drain();
    char *nl = memchr(outq, '\n', outq_len);
    if (!nl)
        return false;
    size_t n = (size_t)(nl - outq);
    size_t keep = n < outsz - 1 ? n : outsz - 1;
    memcpy(out, outq, keep);
    out[keep] = '\0';
    memmove(outq, nl + 1, outq_len - n - 1);
    outq_len -= n + 1;
    return true;
}

static void expect(const char *want)
{
    char got[2048];
    ck_assert_msg(pop_line(got, sizeof got), "expected \"%s\", got nothing", want);
    ck_assert_msg(strcmp(got, want) == 0, "expected \"%s\", got \"%s\"", want, got);
}

static void expect_prefix(const char *want)
{
    char got[2048];
    ck_assert_msg(pop_line(got, sizeof got), "expected \"%s...\", got nothing", want);
    ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "expected \"%s...\", got \"%s\"", want, got);
}

static void expect_nothing(void)
{
    char got[2048];
    ck_assert_msg(!pop_line(got, sizeof got), "expected nothing, got \"%s\"", got);
}

static void skip_banner(void)
{
    expect("start");
    expect("echo:Marlin printbridge-sim");
    if (opt.sd_dir)
        expect("SD card ok");
    else
        expect("echo:SD init fail");
}

static void fw_send(const char *line)
{
    char buf[FRAMING_MAX_LINE + 2];
    int n = snprintf(buf, sizeof buf, "%s\n", line);
    sim_fw_feed(fw, buf, (size_t)n, now);
    sim_fw_run(fw, now);
}

static void send_numbered(long n, const char *cmd)
{
    char buf[FRAMING_MAX_LINE + 2];
    int len = framing_frame(buf, sizeof buf, (unsigned long)n, cmd);
    ck_assert_int_gt(len, 0);
    sim_fw_feed(fw, buf, (size_t)len, now);
    sim_fw_run(fw, now);
}

/* The I/O loop in miniature: run at every deadline (or every 10 ms) until now + ms. */
static void advance(int64_t ms)
{
    int64_t end = now + ms;
    while (now < end) {
        int64_t d = sim_fw_next_deadline(fw, now);
        int64_t step = now + 10;
        if (d > now && d < step)
            step = d;
        now = step < end ? step : end;
        sim_fw_run(fw, now);
    }
}

/* Advances until a line is available; returns the time it took, -1 if none within limit. */
static int64_t time_to_line(int64_t limit)
{
    int64_t start = now;
    drain();
    while (!memchr(outq, '\n', outq_len)) {
        if (now - start >= limit)
            return -1;
        advance(1);
        drain();
    }
    return now - start;
}

/* ---- handshake and line validation ---- */

START_TEST(test_boot_banner_depends_on_the_card)
{
    boot();
    skip_banner();
    expect_nothing();
    sim_fw_destroy(fw);
    opt.sd_dir = fresh_dir();
    outq_len = 0;
    boot();
    skip_banner();
    sim_fw_destroy(fw);
    opt.caps[SIM_CAP_SDCARD] = 0;
    outq_len = 0;
    boot();
    expect("start");
    expect("echo:Marlin printbridge-sim");
    expect_nothing();
}
END_TEST

START_TEST(test_hello_is_acknowledged_with_ok)
{
    boot();
    skip_banner();
    fw_send("N0 M110 N0*125");
    expect("ok");
    expect_nothing();
}
END_TEST

START_TEST(test_each_line_error_says_error_resend_ok)
{
    boot();
    skip_banner();
    fw_send("N0 M110 N0*125");
    expect("ok");
    send_numbered(1, "M105");
    expect("ok T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0");
    fw_send("N3 M105*36");
    expect("Error:Line Number is not Last Line Number+1, Last Line: 1");
    expect("Resend: 2");
    expect("ok");
    fw_send("N2 M105*99");
    expect("Error:checksum mismatch, Last Line: 1");
    expect("Resend: 2");
    expect("ok");
    fw_send("N2 M105");
    expect("Error:No Checksum with line number, Last Line: 1");
    expect("Resend: 2");
    expect("ok");
    fw_send("N2 M105*37");
    expect("ok T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0");
}
END_TEST

START_TEST(test_m110_resets_the_line_counter)
{
    boot();
    skip_banner();
    send_numbered(0, "M110 N0");
    expect("ok");
    send_numbered(1, "G90");
    expect("ok");
    send_numbered(100, "M110 N100");
    expect("ok");
    send_numbered(101, "G90");
    expect("ok");
    fw_send("M110 N7");
    expect("ok");
    send_numbered(8, "G90");
    expect("ok");
    send_numbered(2, "G90");
    expect("Error:Line Number is not Last Line Number+1, Last Line: 8");
}
END_TEST

START_TEST(test_unknown_commands_are_echoed_and_acknowledged)
{
    boot();
    skip_banner();
    fw_send("M9999");
    expect("echo:Unknown command: \"M9999\"");
    expect("ok");
    fw_send("hello there");
    expect("echo:Unknown command: \"hello there\"");
    expect("ok");
    fw_send("G21 ; millimetres");
    expect("ok");
}
END_TEST

/* ---- busy, heating, autoreports ---- */

START_TEST(test_g28_sends_busy_every_interval_then_ok)
{
    boot();
    skip_banner();
    fw_send("G28");                    /* 3 axes x 700 ms */
    advance(999);
    expect_nothing();
    advance(1);
    expect("echo:busy: processing");
    advance(1000);
    expect("echo:busy: processing");
    advance(99);
    expect_nothing();
    advance(1);
    expect("ok");
    fw_send("M114");
    expect("ok X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0");
}
END_TEST

START_TEST(test_busy_ms_zero_and_m113_control_the_keepalive)
{
    opt.busy_ms = 0;
    boot();
    skip_banner();
    fw_send("G4 P2500");
    advance(2600);
    expect("ok");
    sim_fw_destroy(fw);
    opt.busy_ms = 1000;
    outq_len = 0;
    boot();
    skip_banner();
    fw_send("M113 S2");
    expect("ok");
    fw_send("M113");
    expect("echo:M113 S2");
    expect("ok");
    fw_send("G4 P2500");
    advance(1999);
    expect_nothing();
    advance(1);
    expect("echo:busy: processing");
}
END_TEST

START_TEST(test_m109_reports_each_second_until_within_one_degree)
{
    boot();
    skip_banner();
    fw_send("M109 S30");
    expect("T:21.30 /30.00 B:21.30 /0.00 @:127 B@:0 W:?");
    expect_nothing();
    int64_t t = time_to_line(5000);
    ck_assert_int_eq(t, 1000);
    expect("echo:busy: processing");
    expect_prefix("T:2");
    t = time_to_line(5000);
    ck_assert_msg(t > 100 && t < 300, "ok came %lld ms after the second report", (long long)t);
    expect("ok");
    fw_send("M105");
    expect_prefix("ok T:29.");
}
END_TEST

START_TEST(test_m108_at_arrival_breaks_a_heating_wait)
{
    boot();
    skip_banner();
    fw_send("M109 S200");
    expect_prefix("T:21.30 /200.00");
    advance(500);
    fw_send("M108");
    expect("ok");
    expect("ok");
    fw_send("M105");
    expect_prefix("ok T:26.30 /200.00");
}
END_TEST

START_TEST(test_m112_kills_at_once_even_behind_a_blocked_queue)
{
    opt.record_path = "/dev/null";
    boot();
    skip_banner();
    fw_send("M190 S90");
    expect_prefix("T:21.30 /0.00 B:21.30 /90.00");
    fw_send("G28");
    fw_send("N5 M112*0");      /* any framing: the emergency parser reads the command word */
    expect("Error:Printer halted. kill() called!");
    ck_assert(sim_fw_halted(fw));
    fw_send("M105");
    advance(3000);
    expect_nothing();
    sim_fw_boot(fw, now);
    skip_banner();
    fw_send("M105");
    expect_prefix("ok T:");
}
END_TEST

START_TEST(test_without_emergency_parser_m112_waits_its_turn)
{
    opt.caps[SIM_CAP_EMERGENCY_PARSER] = 0;
    boot();
    skip_banner();
    fw_send("G4 P500");
    fw_send("M112");
    expect_nothing();
    advance(500);
    expect("ok");
    expect("Error:Printer halted. kill() called!");
}
END_TEST

START_TEST(test_m155_autoreports_temperatures_every_s_seconds)
{
    boot();
    skip_banner();
    fw_send("M155 S2");
    expect("ok");
    ck_assert_int_eq(time_to_line(5000), 2000);
    expect("T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0");
    ck_assert_int_eq(time_to_line(5000), 2000);
    expect("T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0");
    fw_send("M155 S0");
    expect("ok");
    advance(5000);
    expect_nothing();
}
END_TEST

START_TEST(test_m154_autoreports_the_position)
{
    boot();
    skip_banner();
    fw_send("M154 S1");
    expect("ok");
    fw_send("G92 X5");
    expect("ok");
    ck_assert_int_eq(time_to_line(3000), 1000);
    expect("X:5.00 Y:0.00 Z:0.00 E:0.00 Count X:400 Y:0 Z:0");
}
END_TEST

START_TEST(test_m600_pauses_for_user_every_two_seconds_until_m108)
{
    boot();
    skip_banner();
    fw_send("M600");
    expect("echo:busy: paused for user");
    advance(1999);
    expect_nothing();
    advance(1);
    expect("echo:busy: paused for user");
    advance(2000);
    expect("echo:busy: paused for user");
    fw_send("M876 S0");
    expect("ok");
    expect("ok");
    fw_send("M0");
    expect("echo:busy: paused for user");
    sim_fw_continue(fw);
    sim_fw_run(fw, now);
    expect("ok");
}
END_TEST

/* ---- motion, buffer, planner ---- */

START_TEST(test_m114_follows_g91_g1_g92_g90_and_g28)
{
    opt.fast = true;
    boot();
    skip_banner();
    static const char *cmds[] = {"G91", "G1 X5 Y-2 F12000", "G1 X5", "G92 E10", "G90", "G1 Z0.2", "M83", "G1 E1.5"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        fw_send(cmds[i]);
        expect("ok");
    }
    fw_send("M114");
    expect("ok X:10.00 Y:-2.00 Z:0.20 E:11.50 Count X:800 Y:-160 Z:80");
    fw_send("G28 X");
    expect("ok");
    fw_send("M114");
    expect("ok X:0.00 Y:-2.00 Z:0.20 E:11.50 Count X:0 Y:-160 Z:80");
}
END_TEST

START_TEST(test_tools_are_checked_against_the_extruder_count)
{
    boot();
    skip_banner();
    fw_send("T0");
    expect("ok");
    fw_send("T1");
    expect("echo:T1 Invalid extruder");
    expect("ok");
    fw_send("M104 T3 S200");
    expect("echo:M104 Invalid extruder 3");
    expect("ok");
    sim_fw_destroy(fw);
    opt.extruders = 2;
    outq_len = 0;
    boot();
    skip_banner();
    fw_send("T1");
    expect("echo:Active Extruder: 1");
    expect("ok");
    fw_send("M105");
    expect("ok T:21.30 /0.00 T0:21.30 /0.00 T1:21.30 /0.00 B:21.30 /0.00 @:0 B@:0 @0:0 @1:0");
}
END_TEST

START_TEST(test_input_is_buffered_while_a_command_executes)
{
    opt.advanced_ok = true;
    boot();
    skip_banner();
    fw_send("G4 P500\nM105\nN0 M110 N0*125");
    expect_nothing();
    advance(500);
    expect("ok P15 B1");
    expect_prefix("ok T:");
    expect("ok N0 P15 B3");
}
END_TEST

START_TEST(test_planner_takes_fifteen_moves_then_the_next_waits)
{
    opt.advanced_ok = true;
    opt.busy_ms = 0;
    boot();
    skip_banner();
    for (int i = 1; i <= 15; i++) {
        char cmd[64], want[32];
        snprintf(cmd, sizeof cmd, "G1 X%d F6000", i * 100);    /* 100 mm at 100 mm/s: 1 s each */
        fw_send(cmd);
        snprintf(want, sizeof want, "ok P%d B3", 15 - i);
        expect(want);
    }
    fw_send("G1 X1600");
    expect_nothing();
    ck_assert_int_eq(time_to_line(5000), 1000);
    expect("ok P0 B3");
    fw_send("M400");
    advance(14999);
    expect_nothing();
    advance(1);
    expect("ok P15 B3");
}
END_TEST

/* ---- SD card ---- */

START_TEST(test_sd_print_executes_the_file_and_ends_with_done)
{
    opt.sd_dir = fresh_dir();
    write_file(opt.sd_dir, "part.gcode", "; sliced\nG28\nG1 X10 F6000 ; move\n\nG1 Y20\nM105\n");
    boot();
    skip_banner();
    fw_send("M20");
    expect("Begin file list");
    expect("PART~1.GCO 46");
    expect("End file list");
    expect("ok");
    fw_send("M23 /part.gcode");
    expect("File opened: part.gcode Size: 46");
    expect("File selected");
    expect("ok");
    fw_send("M27");
    expect("SD printing byte 0/46");
    expect("ok");
    fw_send("M24");
    expect("ok");
    advance(2100);      /* G28 */
    expect("echo:busy: processing");
    expect("echo:busy: processing");
    expect_prefix("T:21.30");       /* M105 from the file: the report without ok */
    expect_nothing();
    fw_send("M27");
    expect("SD printing byte 46/46");
    expect("ok");
    ck_assert_int_gt(time_to_line(2000), 0);
    expect("Done printing file");
    fw_send("M27");
    expect("Not SD printing");
    expect("ok");
    fw_send("M114");
    expect("ok X:10.00 Y:20.00 Z:0.00 E:0.00 Count X:800 Y:1600 Z:0");
}
END_TEST

START_TEST(test_sd_pause_and_resume_continue_where_they_stopped)
{
    opt.sd_dir = fresh_dir();
    write_file(opt.sd_dir, "P.G", "G4 P1000\nG4 P1000\nG4 P1000\nG4 P1000\nG4 P1000\nG4 P1000\nG92 X42\n");
    opt.busy_ms = 0;
    opt.buffer = 1;
    boot();
    skip_banner();
    fw_send("M23 p.g");
    expect("File opened: p.g Size: 62");
    expect("File selected");
    expect("ok");
    fw_send("M24");
    expect("ok");
    advance(1500);
    fw_send("M25");              /* waits for the dwell in progress, then stops reading the file */
    advance(600);
    expect("ok");
    fw_send("M27");
    expect("SD printing byte 18/62");
    expect("ok");
    advance(5000);
    fw_send("M27");
    expect("SD printing byte 18/62");
    expect("ok");
    fw_send("M24");
    expect("ok");
    advance(5000);
    expect("Done printing file");
    fw_send("M114");
    expect_prefix("ok X:42.00");
    fw_send("M524");              /* nothing to abort: harmless */
    expect("ok");
}
END_TEST

START_TEST(test_sd_open_failures_and_deletion)
{
    opt.sd_dir = fresh_dir();
    write_file(opt.sd_dir, "a.gco", "G28\n");
    boot();
    skip_banner();
    fw_send("M23 missing.gcode");
    expect("open failed, File: missing.gcode.");
    expect("ok");
    fw_send("M30 a.gco");
    expect("File deleted:a.gco");
    expect("ok");
    fw_send("M30 a.gco");
    expect("Deletion failed, File: a.gco.");
    expect("ok");
    fw_send("M20 L T");
    expect("Begin file list");
    expect("End file list");
    expect("ok");
}
END_TEST

START_TEST(test_sd_upload_writes_lines_between_m28_and_m29)
{
    opt.sd_dir = fresh_dir();
    char rec[600];
    snprintf(rec, sizeof rec, "%s.rec", opt.sd_dir);
    opt.record_path = rec;
    boot();
    skip_banner();
    send_numbered(0, "M110 N0");
    expect("ok");
    send_numbered(1, "M28 upload.gcode");
    expect("Writing to file: upload.gcode");
    expect("ok");
    send_numbered(2, "G1 X1");
    expect("ok");
    fw_send("G1 X2");
    expect("Error:No Checksum with line number, Last Line: 2");
    expect("Resend: 3");
    expect("ok");
    send_numbered(3, "G1 X2 ; comment");
    expect("ok");
    send_numbered(4, "M105");
    expect("ok");
    fw_send("M29");
    expect("Done saving file.");
    expect("ok");
    char path[700];
    snprintf(path, sizeof path, "%s/upload.gcode", opt.sd_dir);
    ck_assert_str_eq(read_file(path), "G1 X1\nG1 X2\nM105\n");
    fw_send("M20 L");
    expect("Begin file list");
    expect("UPLOAD~1.GCO 17 upload.gcode");
    expect("End file list");
    expect("ok");
    sim_fw_flush_record(fw);
    ck_assert_str_eq(read_file(rec), "M110 N0\nM28 upload.gcode\nM29\nM20 L\n");
}
END_TEST

START_TEST(test_lfn_write_off_refuses_long_upload_names)
{
    opt.sd_dir = fresh_dir();
    opt.caps[SIM_CAP_LFN_WRITE] = 0;
    boot();
    skip_banner();
    fw_send("M28 long name.gcode");
    expect("open failed, File: long name.gcode.");
    expect("ok");
    fw_send("M28 ok.gco");
    expect("Writing to file: ok.gco");
    expect("ok");
}
END_TEST

START_TEST(test_no_card_answers_no_media)
{
    boot();
    skip_banner();
    fw_send("M21");
    expect("echo:SD init fail");
    expect("ok");
    fw_send("M20");
    expect("echo:No media");
    expect("ok");
}
END_TEST

/* ---- record ---- */

START_TEST(test_record_holds_each_executed_command_once_in_order)
{
    opt.sd_dir = fresh_dir();
    write_file(opt.sd_dir, "s.g", "G92 E0\n;c\nG1 E1\n");
    char rec[600];
    snprintf(rec, sizeof rec, "%s.rec", opt.sd_dir);
    opt.record_path = rec;
    opt.fast = true;
    boot();
    skip_banner();
    send_numbered(0, "M110 N0");
    send_numbered(1, "G28");
    send_numbered(3, "G1 X1");      /* rejected: not recorded */
    send_numbered(2, "G1 X1 ;note");
    fw_send("M23 s.g");
    fw_send("M24");
    advance(100);
    sim_fw_flush_record(fw);
    ck_assert_str_eq(read_file(rec), "M110 N0\nG28\nG1 X1\nM23 s.g\nM24\nG92 E0\nG1 E1\n");
}
END_TEST

/* ---- faults ---- */

static void run_transcript(uint64_t seed, double rate, char *out, size_t outsz)
{
    sim_options_init(&opt);
    opt.resend_rate = rate;
    opt.seed = seed;
    opt.fast = true;
    outq_len = 0;
    boot();
    long n = 0;
    send_numbered(0, "M110 N0");
    for (int i = 0; i < 60; i++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "G1 X%d", i);
        send_numbered(++n, cmd);
    }
    drain();
    size_t len = outq_len < outsz - 1 ? outq_len : outsz - 1;
    memcpy(out, outq, len);
    out[len] = '\0';
    sim_fw_destroy(fw);
    fw = NULL;
}

START_TEST(test_resend_rate_is_reproducible_per_seed)
{
    static char a[1 << 14], b[1 << 14], c[1 << 14];
    run_transcript(9, 0.2, a, sizeof a);
    run_transcript(9, 0.2, b, sizeof b);
    run_transcript(10, 0.2, c, sizeof c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_msg(strstr(a, "Error:checksum mismatch, Last Line: ") != NULL, "no injected resend at rate 0.2");
    run_transcript(9, 0, c, sizeof c);
    ck_assert_ptr_null(strstr(c, "Error:"));
}
END_TEST

START_TEST(test_resend_rate_one_rejects_every_numbered_line_but_m110)
{
    opt.resend_rate = 1;
    boot();
    skip_banner();
    send_numbered(0, "M110 N0");
    expect("ok");
    send_numbered(1, "M105");
    expect("Error:checksum mismatch, Last Line: 0");
    expect("Resend: 1");
    expect("ok");
    fw_send("M105");
    expect_prefix("ok T:");
}
END_TEST

START_TEST(test_drop_ok_rate_one_loses_every_ok_but_counts_it)
{
    opt.drop_ok_rate = 1;
    opt.kill_after = 2;
    boot();
    skip_banner();
    fw_send("M117 hello");
    expect("echo:hello");
    expect_nothing();
    fw_send("M105");
    expect("Error:Printer halted. kill() called!");
}
END_TEST

START_TEST(test_garbage_rate_one_puts_noise_before_every_line)
{
    opt.garbage_rate = 1;
    boot();
    drain();
    int lines = 0;
    for (size_t i = 0; i < outq_len; lines++) {
        char *nl = memchr(outq + i, '\n', outq_len - i);
        ck_assert(nl);
        size_t len = (size_t)(nl - (outq + i));
        if (lines % 2 == 0) {
            unsigned char first = (unsigned char)outq[i];
            ck_assert_msg(len >= 1 && len <= 16, "noise line of %zu bytes", len);
            ck_assert_msg(!((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z')), "noise starts with a letter");
        }
        i += len + 1;
    }
    ck_assert_int_eq(lines, 6);    /* 3 banner lines, each after its noise */
    ck_assert(memmem(outq, outq_len, "\nstart\n", 7) != NULL);
}
END_TEST

START_TEST(test_ok_delay_holds_each_ok_back)
{
    opt.ok_delay_ms = 300;
    boot();
    skip_banner();
    fw_send("G90");
    expect_nothing();
    ck_assert_int_eq(time_to_line(1000), 300);
    expect("ok");
    fw_send("M117 x");
    expect("echo:x");
    ck_assert_int_eq(time_to_line(1000), 300);
    expect("ok");
}
END_TEST

START_TEST(test_kill_reset_and_disconnect_fire_after_n_answered_lines)
{
    opt.reset_after = 2;
    opt.disconnect_after = 4;
    boot();
    skip_banner();
    fw_send("G90");
    expect("ok");
    fw_send("N5 G90");              /* rejected, but answered: counts */
    expect_prefix("Error:");
    expect("Resend: 1");
    expect("ok");
    skip_banner();               /* reset after the 2nd answered line */
    send_numbered(1, "G90");     /* line numbers were reset too */
    expect("ok");
    ck_assert(!sim_fw_hangup_requested(fw));
    fw_send("G90");
    expect("ok");
    ck_assert(sim_fw_hangup_requested(fw));
    fw_send("G90");
    expect_nothing();
}
END_TEST

START_TEST(test_thermal_runaway_fires_s_seconds_after_heating_starts)
{
    opt.runaway_after_s = 2;
    boot();
    skip_banner();
    advance(5000);
    expect_nothing();
    fw_send("M140 S60");
    expect("ok");
    advance(1999);
    expect_nothing();
    advance(1);
    expect("Error:Thermal Runaway, system stopped! Heater_ID: bed");
    expect("Error:Printer halted. kill() called!");
    ck_assert(sim_fw_halted(fw));
}
END_TEST

START_TEST(test_repetier_acknowledges_with_line_numbers_and_waits_when_idle)
{
    opt.flavor = SIM_FLAVOR_REPETIER;
    boot();
    expect("start");
    expect("echo:Repetier 1.0.3 printbridge-sim");
    expect("echo:SD init fail");
    send_numbered(0, "M110 N0");
    expect("ok 0");
    send_numbered(1, "G90");
    expect("ok 1");
    send_numbered(3, "G90");
    expect("Error:expected line 2 got 3");
    expect("Resend:2");
    expect("ok");
    ck_assert_int_eq(time_to_line(2000), 1000);
    expect("wait");
}
END_TEST

START_TEST(test_smoothie_reports_no_caps_and_its_own_formats)
{
    opt.flavor = SIM_FLAVOR_SMOOTHIE;
    boot();
    expect("start");
    expect("echo:Smoothieware printbridge-sim");
    expect("echo:SD init fail");
    fw_send("M115");
    expect_prefix("FIRMWARE_NAME:Smoothieware, ");
    expect("ok");
    fw_send("M105");
    expect("ok T:21.3 /0.0 @0 B:21.3 /0.0 @0");
    fw_send("M114");
    expect("ok C: X:0.0000 Y:0.0000 Z:0.0000 E:0.0000");
}
END_TEST

START_TEST(test_cap_none_and_cap_overrides_shape_m115)
{
    opt.caps[SIM_CAP_AUTOREPORT_TEMP] = 0;
    boot();
    skip_banner();
    fw_send("M115");
    char line[512];
    bool seen = false;
    while (pop_line(line, sizeof line) && strcmp(line, "ok") != 0)
        seen |= strcmp(line, "Cap:AUTOREPORT_TEMP:0") == 0;
    ck_assert(seen);
    fw_send("M155 S1");
    expect("echo:Unknown command: \"M155 S1\"");
    expect("ok");
    sim_fw_destroy(fw);
    sim_options_init(&opt);
    opt.no_cap_lines = true;
    outq_len = 0;
    boot();
    skip_banner();
    fw_send("M115");
    expect_prefix("FIRMWARE_NAME:Marlin");
    expect("ok");
}
END_TEST

START_TEST(test_control_language_drives_the_firmware)
{
    opt.chamber = true;
    boot();
    skip_banner();
    char reply[4096];
    ck_assert_int_eq(sim_control_execute(fw, "action pause", now, reply, sizeof reply), SIM_CONTROL_NONE);
    ck_assert_str_eq(reply, "ok");
    expect("//action:pause");
    sim_control_execute(fw, "action notification Filament low", now, reply, sizeof reply);
    expect("//action:notification Filament low");
    sim_control_execute(fw, "action Bad", now, reply, sizeof reply);
    ck_assert(strncmp(reply, "error: ", 7) == 0);
    sim_control_execute(fw, "temp tool0 215.5", now, reply, sizeof reply);
    ck_assert_str_eq(reply, "ok");
    sim_control_execute(fw, "heat chamber 40", now, reply, sizeof reply);
    fw_send("M105");
    expect("ok T:215.50 /0.00 B:21.30 /0.00 C:21.30 /40.00 @:0 B@:0 C@:127");
    sim_control_execute(fw, "temp bed hot", now, reply, sizeof reply);
    ck_assert(strncmp(reply, "error: ", 7) == 0);
    sim_control_execute(fw, "say A\\x00B\\xff", now, reply, sizeof reply);
    drain();
    ck_assert_int_eq(outq_len, 5);
    ck_assert(memcmp(outq, "A\0B\xff\n", 5) == 0);
    outq_len = 0;
    sim_control_execute(fw, "say bad\\q", now, reply, sizeof reply);
    ck_assert(strncmp(reply, "error: ", 7) == 0);
    ck_assert_int_eq(sim_control_execute(fw, "disconnect", now, reply, sizeof reply), SIM_CONTROL_HANGUP);
    ck_assert_int_eq(sim_control_execute(fw, "quit", now, reply, sizeof reply), SIM_CONTROL_QUIT);
    sim_control_execute(fw, "status", now, reply, sizeof reply);
    ck_assert_msg(strncmp(reply, "ok last_line=0 ", 15) == 0, "%s", reply);
    sim_control_execute(fw, "runaway tool0", now, reply, sizeof reply);
    expect("Error:Thermal Runaway, system stopped! Heater_ID: E0");
    expect("Error:Printer halted. kill() called!");
    sim_control_execute(fw, "reset", now, reply, sizeof reply);
    skip_banner();
    sim_control_execute(fw, "nonsense", now, reply, sizeof reply);
    ck_assert_str_eq(reply, "error: unknown command 'nonsense' (try help)");
}
END_TEST

/* Random G-code fragments and raw noise, every fault on, a moving clock: nothing may crash
 * (ASan/UBSan in the sanitizer build), and a fresh boot must still answer. */
START_TEST(test_random_input_never_breaks_the_firmware)
{
    static const char *const words[] = {
        "G0", "G1", "G4", "G28", "G29", "G90", "G91", "G92", "M0", "M20", "M21", "M22", "M23", "M24", "M25", "M26",
        "M27", "M28", "M29", "M30", "M33", "M104", "M105", "M108", "M109", "M110", "M112", "M113", "M114", "M115",
        "M117", "M118", "M140", "M154", "M155", "M190", "M400", "M410", "M524", "M600", "M876", "M999", "T0", "T7",
        "N", "*", ";", " X", " Y-", " Z.", " E", " F", " S", " P", " R", " T", " L", " N", "9", "1e9", "999999999999",
        ".5", "-3", " a.gco", " /../x", "\\", "\r", "\t", "\x80", "\xff",
    };
    opt.sd_dir = fresh_dir();
    write_file(opt.sd_dir, "a.gco", "G28\nG1 X5 F600\nM105\nG4 P10\n");
    opt.resend_rate = 0.2;
    opt.drop_ok_rate = 0.2;
    opt.garbage_rate = 0.2;
    opt.extruders = 2;
    opt.chamber = true;
    opt.advanced_ok = true;
    boot();
    uint64_t r = 12345;
    char line[512];
    for (int i = 0; i < 20000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = 0;
        int parts = 1 + (int)((r >> 33) % 6);
        for (int k = 0; k < parts; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            const char *w = words[(r >> 33) % (sizeof words / sizeof *words)];
            size_t wl = strlen(w);
            if (len + wl + 2 < sizeof line) {
                memcpy(line + len, w, wl);
                len += wl;
            }
        }
        if ((r >> 40) % 7 == 0)
            line[len++] = (char)(r >> 48);       /* a raw byte, NUL included */
        line[len++] = '\n';
        sim_fw_feed(fw, line, len, now);
        now += (int64_t)((r >> 20) % 50);
        sim_fw_run(fw, now);
        if (i % 64 == 0) {
            char reply[4096];
            sim_control_execute(fw, (r >> 30) % 2 ? "continue" : "status", now, reply, sizeof reply);
        }
        if (sim_fw_halted(fw) || sim_fw_hangup_requested(fw) || (r >> 50) % 500 == 0)
            sim_fw_boot(fw, now);
        size_t n;
        sim_fw_output(fw, &n);
        sim_fw_consume_output(fw, n);
    }
    sim_fw_boot(fw, now);
    sim_fw_discard_output(fw);
    outq_len = 0;
    sim_fw_run(fw, now);
    fw_send("M105");
    expect_prefix("ok T:");
}
END_TEST

Suite *sim_firmware_suite(void);
Suite *sim_firmware_suite(void)
{
    Suite *s = suite_create("sim_firmware");
    TCase *tc = tcase_create("protocol");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, case_setup, case_teardown);
    tcase_add_checked_fixture(tc, test_setup, test_teardown);
    tcase_add_test(tc, test_boot_banner_depends_on_the_card);
    tcase_add_test(tc, test_hello_is_acknowledged_with_ok);
    tcase_add_test(tc, test_each_line_error_says_error_resend_ok);
    tcase_add_test(tc, test_m110_resets_the_line_counter);
    tcase_add_test(tc, test_unknown_commands_are_echoed_and_acknowledged);
    tcase_add_test(tc, test_g28_sends_busy_every_interval_then_ok);
    tcase_add_test(tc, test_busy_ms_zero_and_m113_control_the_keepalive);
    tcase_add_test(tc, test_m109_reports_each_second_until_within_one_degree);
    tcase_add_test(tc, test_m108_at_arrival_breaks_a_heating_wait);
    tcase_add_test(tc, test_m112_kills_at_once_even_behind_a_blocked_queue);
    tcase_add_test(tc, test_without_emergency_parser_m112_waits_its_turn);
    tcase_add_test(tc, test_m155_autoreports_temperatures_every_s_seconds);
    tcase_add_test(tc, test_m154_autoreports_the_position);
    tcase_add_test(tc, test_m600_pauses_for_user_every_two_seconds_until_m108);
    tcase_add_test(tc, test_m114_follows_g91_g1_g92_g90_and_g28);
    tcase_add_test(tc, test_tools_are_checked_against_the_extruder_count);
    tcase_add_test(tc, test_input_is_buffered_while_a_command_executes);
    tcase_add_test(tc, test_planner_takes_fifteen_moves_then_the_next_waits);
    tcase_add_test(tc, test_sd_print_executes_the_file_and_ends_with_done);
    tcase_add_test(tc, test_sd_pause_and_resume_continue_where_they_stopped);
    tcase_add_test(tc, test_sd_open_failures_and_deletion);
    tcase_add_test(tc, test_sd_upload_writes_lines_between_m28_and_m29);
    tcase_add_test(tc, test_lfn_write_off_refuses_long_upload_names);
    tcase_add_test(tc, test_no_card_answers_no_media);
    tcase_add_test(tc, test_record_holds_each_executed_command_once_in_order);
    tcase_add_test(tc, test_resend_rate_is_reproducible_per_seed);
    tcase_add_test(tc, test_resend_rate_one_rejects_every_numbered_line_but_m110);
    tcase_add_test(tc, test_drop_ok_rate_one_loses_every_ok_but_counts_it);
    tcase_add_test(tc, test_garbage_rate_one_puts_noise_before_every_line);
    tcase_add_test(tc, test_ok_delay_holds_each_ok_back);
    tcase_add_test(tc, test_kill_reset_and_disconnect_fire_after_n_answered_lines);
    tcase_add_test(tc, test_thermal_runaway_fires_s_seconds_after_heating_starts);
    tcase_add_test(tc, test_repetier_acknowledges_with_line_numbers_and_waits_when_idle);
    tcase_add_test(tc, test_smoothie_reports_no_caps_and_its_own_formats);
    tcase_add_test(tc, test_cap_none_and_cap_overrides_shape_m115);
    tcase_add_test(tc, test_control_language_drives_the_firmware);
    tcase_add_test(tc, test_random_input_never_breaks_the_firmware);
    suite_add_tcase(s, tc);
    return s;
}
