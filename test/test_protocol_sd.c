/* test_protocol_sd.c: how the protocol module reads the printer's SD card lines: the card
 * coming and going, print progress, "File opened", the lines of an M20 file list with their FAT time stamps, and which
 * names on the card are G-code. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_table.h"
#include "printer/protocol.h"

/* ---- SD card ------------------------------------------------------------------------------- */

static const struct { const char *line; int state; } card_lines[] = {
    { "SD card ok", 1 },
    { "echo:SD card ok", 1 },
    { "Card successfully initialized", 1 },
    { "Begin file list", 1 },
    { "echo:SD init fail", 0 },
    { "Error:volume.init failed", 0 },
    { "openRoot failed", 0 },
    { "echo:SD card released", 0 },
    { "echo:No SD card", 0 },
    { "echo:No media", 0 },
    { "End file list", -1 },
    { "File selected", -1 },
    { "ok", -1 },
};

START_TEST(test_sd_card_state_vectors)
{
    ck_assert_msg(protocol_sd_card_state(card_lines[_i].line) == card_lines[_i].state, "%s", card_lines[_i].line);
}
END_TEST

static const struct { const char *line; int rc; unsigned long cur, total; } sd_progress[] = {
    { "SD printing byte 1317/8610", 0, 1317, 8610 },
    { "SD printing byte 0/0", 0, 0, 0 },
    { "SD printing byte 12/", -EINVAL, 0, 0 },
    { "Not SD printing", -EINVAL, 0, 0 },
};

START_TEST(test_sd_progress_vectors)
{
    unsigned long cur = 99, total = 99;
    int rc = protocol_parse_sd_progress(sd_progress[_i].line, &cur, &total);
    ck_assert_int_eq(rc, sd_progress[_i].rc);
    if (rc == 0) {
        ck_assert_uint_eq(cur, sd_progress[_i].cur);
        ck_assert_uint_eq(total, sd_progress[_i].total);
    }
}
END_TEST

static const struct { const char *line; int rc; const char *name; unsigned long size; } opened[] = {
    { "File opened: big.gcode  Size: 8610", 0, "big.gcode", 8610 },
    { "File opened: my file.gcode Size: 12", 0, "my file.gcode", 12 },
    { "File opened:foo.g Size:5", 0, "foo.g", 5 },
    { "File opened: a Size: x Size: 7", 0, "a Size: x", 7 },
    { "File opened: Size: 5", 0, "", 5 },
    { "File opened: big.gcode", -EINVAL, NULL, 0 },
    { "File selected", -EINVAL, NULL, 0 },
};

START_TEST(test_file_opened_vectors)
{
    char name[64];
    unsigned long size = 0;
    int rc = protocol_parse_file_opened(opened[_i].line, name, sizeof name, &size);
    ck_assert_msg(rc == opened[_i].rc, "%s", opened[_i].line);
    if (rc == 0) {
        ck_assert_str_eq(name, opened[_i].name);
        ck_assert_uint_eq(size, opened[_i].size);
    }
}
END_TEST

static const struct {
    const char *line;
    const char *name;
    bool has_size;
    unsigned long size;
    bool has_ts;
    unsigned long ts;
    const char *longname;
} file_list[] = {
    /* the simulator's two forms */
    { "test.gco 63", "test.gco", true, 63, false, 0, "" },
    { "big.gco 8610 0x5d757562 \"big.gcode\"", "big.gco", true, 8610, true, 0x5d757562, "big.gcode" },
    /* field rules */
    { "LONGNA~1.GCO 12 long name here.gcode", "LONGNA~1.GCO", true, 12, false, 0,
      "long name here.gcode" },
    { "LONGNA~1.GCO 12 0x5d757562 long name here.gcode", "LONGNA~1.GCO", true, 12, true, 0x5d757562,
      "long name here.gcode" },
    { "foo.gco 12 longname.gcode", "foo.gco", true, 12, false, 0, "longname.gcode" },
    { "foo.gco 12 0x5d757562", "foo.gco", true, 12, true, 0x5d757562, "" },
    { "foo.gco", "foo.gco", false, 0, false, 0, "" },
    { "foo bar.gco", "foo bar.gco", false, 0, false, 0, "" },
    { "/dir/x.gcode 100", "/dir/x.gcode", true, 100, false, 0, "" },
    { "foo.gco 12 \"\"", "foo.gco", true, 12, false, 0, "" },
};

START_TEST(test_file_list_vectors)
{
    struct protocol_sd_entry e;
    ck_assert_int_eq(protocol_parse_file_list_line(file_list[_i].line, &e), 0);
    ck_assert_str_eq(e.name, file_list[_i].name);
    ck_assert(e.has_size == file_list[_i].has_size);
    ck_assert_uint_eq(e.size, file_list[_i].size);
    ck_assert(e.has_timestamp == file_list[_i].has_ts);
    ck_assert_uint_eq(e.timestamp, file_list[_i].ts);
    ck_assert_str_eq(e.longname, file_list[_i].longname);
}
END_TEST

START_TEST(test_file_list_refuses_empty_and_oversized)
{
    struct protocol_sd_entry e;
    char line[400];
    ck_assert_int_eq(protocol_parse_file_list_line("   ", &e), -EINVAL);
    memset(line, 'a', 300);
    strcpy(line + 300, ".gco 12");
    ck_assert_int_eq(protocol_parse_file_list_line(line, &e), -EINVAL);
}
END_TEST

START_TEST(test_m20_timestamp_converts_fat_date_and_time)
{
    /* 0x5d757562: 2026-11-21 14:43:04 */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x5d757562), 1795272184LL);
    /* 1980-01-01 00:00:00, the FAT epoch */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x00210000), 315532800LL);
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0), -EINVAL);              /* month 0 */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x005e0000), -EINVAL);     /* 1980-02-30 */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x0221c000), -EINVAL);     /* hour 24 */
}
END_TEST

static const struct { const char *name; bool gcode; } sd_names[] = {
    /* machine-code extensions, ASCII only */
    { "/test.gco", true }, { "BIG.GCODE", true }, { "x.g", true }, { "x.gc~", true },
    { "x.txt", false }, { "noext", false }, { "W\xc3\xbcrfel.gcode", false },
    { "x.gcode.bak", false },
};

START_TEST(test_sd_name_is_gcode)
{
    ck_assert_msg(protocol_sd_name_is_gcode(sd_names[_i].name) == sd_names[_i].gcode, "%s",
                  sd_names[_i].name);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------- */

Suite *protocol_sd_suite(void);
Suite *protocol_sd_suite(void)
{
    Suite *s = suite_create("protocol_sd");

    TCase *tc = tcase_create("sd");
    LOOP(tc, test_sd_card_state_vectors, card_lines);
    LOOP(tc, test_sd_progress_vectors, sd_progress);
    LOOP(tc, test_file_opened_vectors, opened);
    LOOP(tc, test_file_list_vectors, file_list);
    tcase_add_test(tc, test_file_list_refuses_empty_and_oversized);
    tcase_add_test(tc, test_m20_timestamp_converts_fat_date_and_time);
    LOOP(tc, test_sd_name_is_gcode, sd_names);
    suite_add_tcase(s, tc);

    return s;
}
