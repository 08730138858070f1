/* test_sim_firmware.c: the simulated firmware core (src/sim/firmware.c, executor.c and
 * commands.c) under a fake clock: the hello and the checks of each numbered line, the exact
 * replies and timing of busy, heating and autoreport lines, the emergency parser, and the
 * command buffer and planner. SD cards, faults and the other firmware flavors are tested in
 * test_sim_firmware_sd.c, test_sim_firmware_faults.c and test_sim_firmware_flavors.c, the pty
 * process around the firmware in test_sim_pty.c. */
#include <check.h>
#include <stdio.h>

#include "sim/firmware.h"
#include "sim_firmware_helpers.h"

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

Suite *sim_firmware_suite(void);
Suite *sim_firmware_suite(void)
{
    Suite *s = suite_create("sim_firmware");
    TCase *tc = tcase_create("protocol");
    sim_firmware_fixtures(tc);
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
    suite_add_tcase(s, tc);
    return s;
}
