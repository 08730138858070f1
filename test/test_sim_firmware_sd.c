/* test_sim_firmware_sd.c: the simulated firmware's SD card under a fake clock: listing,
 * printing a file with pause and resume, opening and deleting, uploading between M28 and M29,
 * no card at all, and the record of executed commands that the card's files add to. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "sim/firmware.h"
#include "sim_firmware_helpers.h"

/* The whole file at path in a static buffer, or NULL if it cannot be opened. */
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

Suite *sim_firmware_sd_suite(void);
Suite *sim_firmware_sd_suite(void)
{
    Suite *s = suite_create("sim_firmware_sd");
    TCase *tc = tcase_create("sd");
    sim_firmware_fixtures(tc);
    tcase_add_test(tc, test_sd_print_executes_the_file_and_ends_with_done);
    tcase_add_test(tc, test_sd_pause_and_resume_continue_where_they_stopped);
    tcase_add_test(tc, test_sd_open_failures_and_deletion);
    tcase_add_test(tc, test_sd_upload_writes_lines_between_m28_and_m29);
    tcase_add_test(tc, test_lfn_write_off_refuses_long_upload_names);
    tcase_add_test(tc, test_no_card_answers_no_media);
    tcase_add_test(tc, test_record_holds_each_executed_command_once_in_order);
    suite_add_tcase(s, tc);
    return s;
}
