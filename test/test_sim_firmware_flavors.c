/* test_sim_firmware_flavors.c: the simulated firmware as Repetier and Smoothieware, with
 * their own banners, acknowledgements and report formats, and Marlin with capabilities turned
 * off or left out of its M115 answer. (Klipper's dialect: test/it/test_protocol_klipper.sh.) */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "sim/firmware.h"
#include "sim_firmware_helpers.h"

/* ---- flavors and capabilities ---- */

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

Suite *sim_firmware_flavors_suite(void);
Suite *sim_firmware_flavors_suite(void)
{
    Suite *s = suite_create("sim_firmware_flavors");
    TCase *tc = tcase_create("flavors");
    sim_firmware_fixtures(tc);
    tcase_add_test(tc, test_repetier_acknowledges_with_line_numbers_and_waits_when_idle);
    tcase_add_test(tc, test_smoothie_reports_no_caps_and_its_own_formats);
    tcase_add_test(tc, test_cap_none_and_cap_overrides_shape_m115);
    suite_add_tcase(s, tc);
    return s;
}
