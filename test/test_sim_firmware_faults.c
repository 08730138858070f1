/* test_sim_firmware_faults.c: what the simulated firmware does wrong on purpose: every seeded
 * fault (injected resends, lost oks, noise, late oks, kill, reset, hang-up, thermal runaway),
 * the control language that triggers events by hand, and random input with every fault on,
 * which must never break it. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim/control.h"
#include "sim/firmware.h"
#include "sim_firmware_helpers.h"

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

/* ---- control language and random input ---- */

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

Suite *sim_firmware_faults_suite(void);
Suite *sim_firmware_faults_suite(void)
{
    Suite *s = suite_create("sim_firmware_faults");
    TCase *tc = tcase_create("faults");
    sim_firmware_fixtures(tc);
    tcase_add_test(tc, test_resend_rate_is_reproducible_per_seed);
    tcase_add_test(tc, test_resend_rate_one_rejects_every_numbered_line_but_m110);
    tcase_add_test(tc, test_drop_ok_rate_one_loses_every_ok_but_counts_it);
    tcase_add_test(tc, test_garbage_rate_one_puts_noise_before_every_line);
    tcase_add_test(tc, test_ok_delay_holds_each_ok_back);
    tcase_add_test(tc, test_kill_reset_and_disconnect_fire_after_n_answered_lines);
    tcase_add_test(tc, test_thermal_runaway_fires_s_seconds_after_heating_starts);
    tcase_add_test(tc, test_control_language_drives_the_firmware);
    tcase_add_test(tc, test_random_input_never_breaks_the_firmware);
    suite_add_tcase(s, tc);
    return s;
}
