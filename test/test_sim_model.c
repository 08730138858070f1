/* test_sim_model.c: the simulator's pure models: the heater curve (heater.c), the SD card's
 * FAT view of a folder (sd.c) and the per-firmware wire formats (flavor.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/cap.h"
#include "sim/flavor.h"
#include "sim/heater.h"
#include "sim/sd.h"

/* ---- heater ---- */

START_TEST(test_heater_rises_10_per_second_far_from_target)
{
    struct sim_heater h;
    sim_heater_init(&h);
    ck_assert_double_eq(h.actual, 21.3);
    h.target = 200;
    sim_heater_step(&h, 1.0);
    ck_assert_double_eq_tol(h.actual, 31.3, 1e-9);
    sim_heater_step(&h, 10.0);
    ck_assert_double_eq_tol(h.actual, 131.3, 1e-9);
}
END_TEST

START_TEST(test_heater_slows_down_and_lands_on_target_without_overshoot)
{
    struct sim_heater h;
    sim_heater_init(&h);
    h.actual = 197;    /* 3 C away: 6 C/s, slowing */
    h.target = 200;
    sim_heater_step(&h, 0.1);
    ck_assert_double_eq_tol(h.actual, 197.6, 1e-9);
    double prev = h.actual;
    for (int i = 0; i < 400; i++) {
        sim_heater_step(&h, 0.05);
        ck_assert(h.actual >= prev);
        ck_assert(h.actual <= 200.0);
        prev = h.actual;
    }
    ck_assert_double_eq(h.actual, 200.0);
    sim_heater_step(&h, 5);
    ck_assert_double_eq(h.actual, 200.0);
}
END_TEST

START_TEST(test_heater_cools_2_per_second_to_ambient_or_lower_target)
{
    struct sim_heater h;
    sim_heater_init(&h);
    h.actual = 60;
    sim_heater_step(&h, 1.0);
    ck_assert_double_eq_tol(h.actual, 58, 1e-9);
    sim_heater_step(&h, 100);
    ck_assert_double_eq(h.actual, SIM_AMBIENT_C);
    h.actual = 210;
    h.target = 200;
    sim_heater_step(&h, 2.0);
    ck_assert_double_eq_tol(h.actual, 206, 1e-9);
}
END_TEST

START_TEST(test_pinned_heater_ignores_its_target)
{
    struct sim_heater h;
    sim_heater_init(&h);
    h.pinned = true;
    h.pin = 215.5;
    h.target = 60;
    sim_heater_step(&h, 3);
    ck_assert_double_eq(h.actual, 215.5);
    h.pinned = false;
    sim_heater_step(&h, 1);
    ck_assert_double_eq_tol(h.actual, 213.5, 1e-9);
    sim_heater_settle(&h);
    ck_assert_double_eq(h.actual, 60);
}
END_TEST

START_TEST(test_wait_is_over_within_one_degree_or_above_unless_r)
{
    struct sim_heater h;
    sim_heater_init(&h);
    h.target = 200;
    h.actual = 198.9;
    ck_assert(!sim_heater_reached(&h, false));
    h.actual = 199.0;
    ck_assert(sim_heater_reached(&h, false));
    h.actual = 230;
    ck_assert(sim_heater_reached(&h, false));
    ck_assert(!sim_heater_reached(&h, true));
    h.target = 0;
    ck_assert(sim_heater_reached(&h, true));
}
END_TEST

START_TEST(test_power_is_full_far_below_and_zero_at_target)
{
    struct sim_heater h;
    sim_heater_init(&h);
    ck_assert_int_eq(sim_heater_power(&h), 0);
    h.target = 200;
    ck_assert_int_eq(sim_heater_power(&h), 127);
    h.actual = 200;
    ck_assert_int_eq(sim_heater_power(&h), 0);
}
END_TEST

/* ---- SD card ---- */

static char sd_dir[256];

static void sd_setup(void)
{
    snprintf(sd_dir, sizeof sd_dir, "/tmp/pb-simsd.XXXXXX");
    if (!mkdtemp(sd_dir))
        sd_dir[0] = '\0';
}

static void sd_teardown(void)
{
    char cmd[400];
    if (!sd_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sd_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", sd_dir);
}

static void sd_file(const char *name, const char *content)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", sd_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(content, f);
    fclose(f);
}

START_TEST(test_short_names_follow_fat_8_3_rules)
{
    ck_assert(sim_sd_is_short_name("TEST.GCO"));
    ck_assert(sim_sd_is_short_name("test.g"));
    ck_assert(sim_sd_is_short_name("ABCDEFGH"));
    ck_assert(!sim_sd_is_short_name("test.gcode"));
    ck_assert(!sim_sd_is_short_name("ABCDEFGHI.G"));
    ck_assert(!sim_sd_is_short_name("my file.g"));
    ck_assert(!sim_sd_is_short_name("a.b.c"));
    ck_assert(!sim_sd_is_short_name(".gco"));
    ck_assert(!sim_sd_is_short_name("caf\xc3\xa9.g"));
}
END_TEST

START_TEST(test_unsafe_names_never_leave_the_folder)
{
    ck_assert(sim_sd_name_is_safe("benchy.gcode"));
    ck_assert(!sim_sd_name_is_safe("../etc/passwd"));
    ck_assert(!sim_sd_name_is_safe(".."));
    ck_assert(!sim_sd_name_is_safe(""));
    ck_assert(!sim_sd_name_is_safe("a\nb"));
}
END_TEST

START_TEST(test_long_names_get_numbered_aliases_that_avoid_real_short_names)
{
    sd_file("benchy.gcode", "G28\n");
    sd_file("benchy_two.gcode", "G28\nG1 X1\n");
    sd_file("BENCHY~1.GCO", "M105\n");     /* a real short name the alias must avoid */
    sd_file("small.gco", "x");
    sd_file(".hidden.gcode", "x");
    struct sim_sd_list l;
    ck_assert_int_eq(sim_sd_scan(sd_dir, false, &l), 0);
    ck_assert_uint_eq(l.count, 4);
    /* sorted by name: BENCHY~1.GCO, benchy.gcode, benchy_two.gcode, small.gco */
    ck_assert_str_eq(l.files[0].name, "BENCHY~1.GCO");
    ck_assert_str_eq(l.files[0].alias, "BENCHY~1.GCO");
    ck_assert_str_eq(l.files[1].alias, "BENCHY~2.GCO");
    ck_assert_str_eq(l.files[2].alias, "BENCHY~3.GCO");
    ck_assert_str_eq(l.files[3].alias, "SMALL.GCO");
    ck_assert_int_eq(l.files[2].size, 10);
    ck_assert_ptr_eq(sim_sd_lookup(&l, "/benchy_two.GCODE"), &l.files[2]);
    ck_assert_ptr_eq(sim_sd_lookup(&l, "benchy~3.gco"), &l.files[2]);
    ck_assert_ptr_null(sim_sd_lookup(&l, "nope.gco"));
    sim_sd_list_free(&l);
    ck_assert_int_eq(sim_sd_scan(sd_dir, true, &l), 0);
    ck_assert_str_eq(l.files[3].alias, "small.gco");
    sim_sd_list_free(&l);
}
END_TEST

START_TEST(test_m20_lists_gcode_extensions_only)
{
    struct sim_sd_file f = {.name = (char *)"notes.txt", .alias = "NOTES.TXT"};
    ck_assert(!sim_sd_is_gcode(&f));
    struct sim_sd_file g = {.name = (char *)"a.gcode", .alias = "A~1.GCO"};
    ck_assert(sim_sd_is_gcode(&g));
}
END_TEST

START_TEST(test_fat_timestamp_packs_date_and_time)
{
    /* 2016-08-21 14:43:04 -> date 0x4915, time 0x7562 */
    struct tm tm = {.tm_year = 116, .tm_mon = 7, .tm_mday = 21, .tm_hour = 14, .tm_min = 43, .tm_sec = 4};
    ck_assert_uint_eq(sim_sd_fat_timestamp(&tm), 0x49157562u);
}
END_TEST

START_TEST(test_m20_entry_with_and_without_long_name_and_time)
{
    struct sim_sd_file f = {.name = (char *)"big file.gcode", .alias = "BIGFIL~1.GCO", .size = 8610, .mtime = 0};
    char out[200];
    ck_assert_int_gt(sim_sd_format_entry(out, sizeof out, &f, false, false), 0);
    ck_assert_str_eq(out, "BIGFIL~1.GCO 8610");
    ck_assert_int_gt(sim_sd_format_entry(out, sizeof out, &f, true, false), 0);
    ck_assert_str_eq(out, "BIGFIL~1.GCO 8610 big file.gcode");
    ck_assert_int_gt(sim_sd_format_entry(out, sizeof out, &f, true, true), 0);
    ck_assert_msg(strncmp(out, "BIGFIL~1.GCO 8610 0x", 20) == 0 && strlen(out) == 20 + 8 + 15, "got %s", out);
    ck_assert_int_eq(sim_sd_format_entry(out, 10, &f, false, false), -ENOSPC);
}
END_TEST

/* ---- firmware flavors ---- */

static struct sim_heater heaters[SIM_MAX_HEATERS];

static void heaters_setup(void)
{
    for (int i = 0; i < SIM_MAX_HEATERS; i++)
        sim_heater_init(&heaters[i]);
}

START_TEST(test_marlin_temperature_report_single_extruder)
{
    char out[512];
    heaters_setup();
    ck_assert_int_gt(sim_flavor_format_temps(SIM_FLAVOR_MARLIN, heaters, 1, false, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0");
    ck_assert_int_gt(sim_flavor_format_wait_temps(SIM_FLAVOR_MARLIN, heaters, 1, false, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:21.30 /0.00 B:21.30 /0.00 @:0 B@:0 W:?");
}
END_TEST

START_TEST(test_marlin_temperature_report_lists_every_tool_and_the_chamber)
{
    char out[512];
    heaters_setup();
    heaters[1].actual = 150;
    heaters[1].target = 210;
    heaters[2].target = 60;     /* bed of a 2-extruder printer */
    heaters[3].actual = 30;     /* chamber */
    ck_assert_int_gt(sim_flavor_format_temps(SIM_FLAVOR_MARLIN, heaters, 2, true, 1, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:150.00 /210.00 T0:21.30 /0.00 T1:150.00 /210.00 B:21.30 /60.00 C:30.00 /0.00 "
                          "@:127 B@:127 C@:0 @0:0 @1:127");
}
END_TEST

START_TEST(test_other_flavors_temperature_reports)
{
    char out[512];
    heaters_setup();
    ck_assert_int_gt(sim_flavor_format_temps(SIM_FLAVOR_SMOOTHIE, heaters, 2, false, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:21.3 /0.0 @0 T1:21.3 /0.0 @0 B:21.3 /0.0 @0");
    ck_assert_int_gt(sim_flavor_format_temps(SIM_FLAVOR_RRF, heaters, 1, false, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:21.3 /0.0 B:21.3 /0.0");
    ck_assert_int_gt(sim_flavor_format_temps(SIM_FLAVOR_REPETIER, heaters, 1, false, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:21.30 /0 B:21.30 /0 B@:0 @:0");
    ck_assert_int_gt(sim_flavor_format_temps(SIM_FLAVOR_PRUSA, heaters, 1, false, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "T:21.3 /0.0 B:21.3 /0.0 T0:21.3 /0.0 @:0 B@:0 P:21.3 A:21.3");
    ck_assert_int_eq(sim_flavor_format_temps(SIM_FLAVOR_MARLIN, heaters, 1, false, 0, out, 8), -ENOSPC);
}
END_TEST

START_TEST(test_position_reports_carry_x_y_z_and_e)
{
    char out[512];
    double pos[4] = {10, -2, 0.2, 3.5};
    ck_assert_int_gt(sim_flavor_format_position(SIM_FLAVOR_MARLIN, pos, 1, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "X:10.00 Y:-2.00 Z:0.20 E:3.50 Count X:800 Y:-160 Z:80");
    ck_assert_int_gt(sim_flavor_format_position(SIM_FLAVOR_RRF, pos, 2, 1, out, sizeof out), 0);
    ck_assert_str_eq(out, "X:10.000 Y:-2.000 Z:0.200 E0:0.0 E1:3.5 Count 800 -160 80 Machine 10.000 -2.000 0.200 "
                          "Bed comp 0.000");
    ck_assert_int_gt(sim_flavor_format_position(SIM_FLAVOR_SMOOTHIE, pos, 1, 0, out, sizeof out), 0);
    ck_assert_str_eq(out, "C: X:10.0000 Y:-2.0000 Z:0.2000 E:3.5000");
}
END_TEST

START_TEST(test_firmware_lines_name_the_firmware)
{
    char out[512];
    ck_assert_int_gt(sim_flavor_format_m115(SIM_FLAVOR_MARLIN, 2, out, sizeof out), 0);
    ck_assert_str_eq(out, "FIRMWARE_NAME:Marlin 2.1.2 (printbridge-sim) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
                          "PROTOCOL_VERSION:1.0 MACHINE_TYPE:printbridge-sim EXTRUDER_COUNT:2 "
                          "UUID:00000000-0000-0000-0000-000000000000");
    ck_assert_int_gt(sim_flavor_format_m115(SIM_FLAVOR_RRF, 1, out, sizeof out), 0);
    static const char rrf[] = "FIRMWARE_NAME: RepRapFirmware for Duet 2 WiFi/Ethernet FIRMWARE_VERSION: 3.4";
    ck_assert(strncmp(out, rrf, sizeof rrf - 1) == 0);
    ck_assert_int_gt(sim_flavor_format_m115(SIM_FLAVOR_REPETIER, 1, out, sizeof out), 0);
    ck_assert(strncmp(out, "FIRMWARE_NAME:Repetier_1.0", 26) == 0);
    ck_assert_int_gt(sim_flavor_format_m115(SIM_FLAVOR_PRUSA, 1, out, sizeof out), 0);
    ck_assert(strncmp(out, "FIRMWARE_NAME:Prusa-Firmware 3.", 31) == 0);
    ck_assert(sim_flavor_reports_caps(SIM_FLAVOR_MARLIN));
    ck_assert(!sim_flavor_reports_caps(SIM_FLAVOR_SMOOTHIE));
}
END_TEST

START_TEST(test_line_errors_and_resend_wording)
{
    char out[200];
    sim_flavor_format_line_error(SIM_FLAVOR_MARLIN, SIM_LINE_BAD_NUMBER, 5, 7, out, sizeof out);
    ck_assert_str_eq(out, "Error:Line Number is not Last Line Number+1, Last Line: 5");
    sim_flavor_format_line_error(SIM_FLAVOR_MARLIN, SIM_LINE_BAD_CHECKSUM, 5, 6, out, sizeof out);
    ck_assert_str_eq(out, "Error:checksum mismatch, Last Line: 5");
    sim_flavor_format_line_error(SIM_FLAVOR_MARLIN, SIM_LINE_NO_CHECKSUM, 5, 6, out, sizeof out);
    ck_assert_str_eq(out, "Error:No Checksum with line number, Last Line: 5");
    sim_flavor_format_resend(SIM_FLAVOR_MARLIN, 6, out, sizeof out);
    ck_assert_str_eq(out, "Resend: 6");
    sim_flavor_format_line_error(SIM_FLAVOR_REPETIER, SIM_LINE_BAD_NUMBER, 5, 7, out, sizeof out);
    ck_assert_str_eq(out, "Error:expected line 6 got 7");
    sim_flavor_format_resend(SIM_FLAVOR_REPETIER, 6, out, sizeof out);
    ck_assert_str_eq(out, "Resend:6");
}
END_TEST

START_TEST(test_capability_names_round_trip_and_defaults_follow_options)
{
    for (int i = 0; i < SIM_CAP_COUNT; i++)
        ck_assert_int_eq(sim_cap_lookup(sim_cap_name((enum sim_cap)i)), i);
    ck_assert_int_eq(sim_cap_lookup("autoreport_temp"), SIM_CAP_AUTOREPORT_TEMP);
    ck_assert_int_eq(sim_cap_lookup("NOPE"), -ENOENT);
    struct sim_options o;
    sim_options_init(&o);
    ck_assert(!sim_cap_default(SIM_CAP_CHAMBER_TEMPERATURE, &o));
    ck_assert(sim_cap_default(SIM_CAP_BUSY_PROTOCOL, &o));
    o.chamber = true;
    o.busy_ms = 0;
    ck_assert(sim_cap_default(SIM_CAP_CHAMBER_TEMPERATURE, &o));
    ck_assert(!sim_cap_default(SIM_CAP_BUSY_PROTOCOL, &o));
}
END_TEST

Suite *sim_model_suite(void);
Suite *sim_model_suite(void)
{
    Suite *s = suite_create("sim_model");
    TCase *tc = tcase_create("heater");
    tcase_add_test(tc, test_heater_rises_10_per_second_far_from_target);
    tcase_add_test(tc, test_heater_slows_down_and_lands_on_target_without_overshoot);
    tcase_add_test(tc, test_heater_cools_2_per_second_to_ambient_or_lower_target);
    tcase_add_test(tc, test_pinned_heater_ignores_its_target);
    tcase_add_test(tc, test_wait_is_over_within_one_degree_or_above_unless_r);
    tcase_add_test(tc, test_power_is_full_far_below_and_zero_at_target);
    suite_add_tcase(s, tc);
    tc = tcase_create("sd");
    tcase_add_unchecked_fixture(tc, sd_setup, sd_teardown);   /* runs even when a test fails */
    tcase_add_test(tc, test_short_names_follow_fat_8_3_rules);
    tcase_add_test(tc, test_unsafe_names_never_leave_the_folder);
    tcase_add_test(tc, test_long_names_get_numbered_aliases_that_avoid_real_short_names);
    tcase_add_test(tc, test_m20_lists_gcode_extensions_only);
    tcase_add_test(tc, test_fat_timestamp_packs_date_and_time);
    tcase_add_test(tc, test_m20_entry_with_and_without_long_name_and_time);
    suite_add_tcase(s, tc);
    tc = tcase_create("flavor");
    tcase_add_test(tc, test_marlin_temperature_report_single_extruder);
    tcase_add_test(tc, test_marlin_temperature_report_lists_every_tool_and_the_chamber);
    tcase_add_test(tc, test_other_flavors_temperature_reports);
    tcase_add_test(tc, test_position_reports_carry_x_y_z_and_e);
    tcase_add_test(tc, test_firmware_lines_name_the_firmware);
    tcase_add_test(tc, test_line_errors_and_resend_wording);
    tcase_add_test(tc, test_capability_names_round_trip_and_defaults_follow_options);
    suite_add_tcase(s, tc);
    return s;
}
