/* test_sim_gcode.c: the simulated firmware's reading of received lines (src/sim/gcode.c):
 * its own checksum and comment stripping, N/checksum framing and Marlin's verdict, the
 * command word, parameters and numbers. The checksums are literals worked out from the XOR
 * definition, so the simulator is held to them independently of the daemon's framing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/gcode.h"

static struct sim_gcode_line split(const char *s)
{
    struct sim_gcode_line l;
    sim_gcode_split(s, strlen(s), &l);
    return l;
}

static void assert_cmd(const struct sim_gcode_line *l, const char *want)
{
    ck_assert_uint_eq(l->cmd_len, strlen(want));
    ck_assert_msg(strncmp(l->cmd, want, l->cmd_len) == 0, "cmd is \"%.*s\", want \"%s\"", (int)l->cmd_len, l->cmd, want);
}

START_TEST(test_numbered_lines_with_their_checksum_are_accepted)
{
    /* (line as sent, last accepted N) */
    static const struct {
        const char *line;
        long last;
        const char *cmd;
    } v[] = {
        {"N0 M110 N0*125", 57, "M110 N0"},
        {"N1 M115*39", 0, "M115"},
        {"N2 M21*18", 1, "M21"},
        {"N2 M105*37", 1, "M105"},
        {"N3 M105*36", 2, "M105"},
        {"N1 G28*18", 0, "G28"},
        {"N5 G1 X10 Y10 Z0.2 F3000*31", 4, "G1 X10 Y10 Z0.2 F3000"},
        {"N4 M105*35", 3, "M105"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        struct sim_gcode_line l = split(v[i].line);
        ck_assert_msg(sim_gcode_check(&l, v[i].last) == SIM_LINE_OK, "%s rejected", v[i].line);
        assert_cmd(&l, v[i].cmd);
    }
}
END_TEST

START_TEST(test_checksum_is_the_xor_of_every_byte)
{
    static const struct {
        const char *s;
        size_t n;
        unsigned cs;
    } v[] = {
        {"N0 M110 N0", 10, 125},
        {"", 0, 0},
        {"N", 1, 78},
        {"AA", 2, 0},                            /* a byte XORed with itself */
        {"M105", 4, 121},
        {"M105*121", 4, 121},                    /* only the n bytes given */
        {"N1 M115", 7, 39},
        {"N-1 M110", 8, 15},
        {"N3 M117 a*b", 11, 46},
        {"N10 G1 X10.5 Y-3 E0.25", 22, 96},
        {"N123456 M117 Hello World", 24, 19},
        {"A\0B", 3, 3},                          /* a NUL byte counts as 0 */
        {"\xff", 1, 255},                        /* bytes are unsigned */
        {"N7 M117 \xc3\xa9t\xc3\xa9", 13, 119},   /* UTF-8 text, bytes above 0x7f */
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        ck_assert_msg(sim_gcode_checksum(v[i].s, v[i].n) == v[i].cs, "checksum of vector %zu is %u, want %u", i,
                      sim_gcode_checksum(v[i].s, v[i].n), v[i].cs);
}
END_TEST

START_TEST(test_comment_is_cut_at_the_first_unescaped_semicolon)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"G1 X10 ; move", "G1 X10"},
        {"; only a comment", ""},
        {"", ""},
        {"   M105   ", "M105"},
        {"\tG28\t;home\r", "G28"},
        {"M117 a\\;b ; c", "M117 a\\;b"},        /* an escaped ';' is text */
        {"M117 a\\\\;b", "M117 a\\\\"},         /* an escaped backslash escapes nothing */
        {"M117 end\\", "M117 end\\"},            /* a final backslash stays */
        {"M117 x;y;z", "M117 x"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", v[i].in);
        size_t len = sim_gcode_strip_comment(buf);
        ck_assert_msg(strcmp(buf, v[i].out) == 0, "\"%s\" became \"%s\", want \"%s\"", v[i].in, buf, v[i].out);
        ck_assert_uint_eq(len, strlen(v[i].out));
    }
}
END_TEST

START_TEST(test_wrong_line_number_is_checked_before_the_checksum)
{
    struct sim_gcode_line l = split("N7 M105*0");
    ck_assert_int_eq(sim_gcode_check(&l, 5), SIM_LINE_BAD_NUMBER);
    ck_assert_int_eq(sim_gcode_check(&l, 6), SIM_LINE_BAD_CHECKSUM);
}
END_TEST

START_TEST(test_numbered_line_without_star_lacks_its_checksum)
{
    struct sim_gcode_line l = split("N3 M105");
    ck_assert_int_eq(sim_gcode_check(&l, 2), SIM_LINE_NO_CHECKSUM);
    ck_assert(l.has_n);
    ck_assert_int_eq(l.n, 3);
}
END_TEST

START_TEST(test_unnumbered_lines_are_always_accepted_and_lose_their_star)
{
    struct sim_gcode_line l = split("M105*99");
    ck_assert_int_eq(sim_gcode_check(&l, 41), SIM_LINE_OK);
    assert_cmd(&l, "M105");
    l = split("G1 X5");
    ck_assert(!l.has_n && !l.has_checksum);
    assert_cmd(&l, "G1 X5");
}
END_TEST

START_TEST(test_m110_skips_the_line_number_check_and_sets_its_n)
{
    struct sim_gcode_line l = split("N0 M110 N0*125");
    ck_assert(l.is_m110 && l.m110_has_n);
    ck_assert_int_eq(sim_gcode_check(&l, 99), SIM_LINE_OK);
    ck_assert_int_eq(sim_gcode_new_last_n(&l, 99), 0);
    l = split("M110 N42");
    ck_assert_int_eq(sim_gcode_new_last_n(&l, 3), 42);
    l = split("N9 M110*0");
    l.checksum = l.computed;
    ck_assert_int_eq(sim_gcode_check(&l, 1), SIM_LINE_OK);
    ck_assert_int_eq(sim_gcode_new_last_n(&l, 1), 9);
    l = split("N3 M1100*0");
    ck_assert(!l.is_m110);
}
END_TEST

/* printcore opens with "N-1 M110*<cs>": Marlin takes the line's own N, so N0 comes next */
START_TEST(test_negative_m110_line_resets_to_minus_one)
{
    struct sim_gcode_line l = split("N-1 M110*15");
    ck_assert(l.has_n && l.is_m110 && !l.m110_has_n);
    ck_assert_int_eq(l.n, -1);
    ck_assert_uint_eq(l.computed, 15);
    ck_assert_int_eq(sim_gcode_check(&l, 57), SIM_LINE_OK);
    ck_assert_int_eq(sim_gcode_new_last_n(&l, 57), -1);
    l = split("N0 G21*26");
    ck_assert_int_eq(sim_gcode_check(&l, -1), SIM_LINE_OK);
}
END_TEST

START_TEST(test_checksum_covers_everything_before_the_last_star)
{
    struct sim_gcode_line l = split("N1 M117 a*b*12");
    assert_cmd(&l, "M117 a*b");
    ck_assert_uint_eq(l.checksum, 12);
    const char *body = "N1 M117 a*b";
    unsigned cs = 0;
    for (const char *p = body; *p; p++)
        cs ^= (unsigned char)*p;
    ck_assert_uint_eq(l.computed, cs);
}
END_TEST

START_TEST(test_command_word_letter_code_and_subcode)
{
    struct sim_gcode_cmd c;
    ck_assert(sim_gcode_command("G1 X1", &c));
    ck_assert_int_eq(c.letter, 'G');
    ck_assert_int_eq(c.code, 1);
    ck_assert_int_eq(c.sub, -1);
    ck_assert_str_eq(c.args, " X1");
    ck_assert(sim_gcode_command("m80.1", &c));
    ck_assert_int_eq(c.letter, 'M');
    ck_assert_int_eq(c.code, 80);
    ck_assert_int_eq(c.sub, 1);
    ck_assert(sim_gcode_command("T3", &c));
    ck_assert_int_eq(c.letter, 'T');
    ck_assert_int_eq(c.code, 3);
    ck_assert(!sim_gcode_command("hello", &c));
    ck_assert(!sim_gcode_command("M", &c));
    ck_assert(!sim_gcode_command("", &c));
}
END_TEST

START_TEST(test_parameters_packed_spaced_and_lowercase)
{
    double v;
    bool has;
    ck_assert(sim_gcode_value("X10Y-2.5E.3", 'Y', &v));
    ck_assert_double_eq(v, -2.5);
    ck_assert(sim_gcode_value("X10Y-2.5E.3", 'E', &v));
    ck_assert_double_eq_tol(v, 0.3, 1e-12);
    ck_assert(sim_gcode_value(" x10 f3000", 'F', &v));
    ck_assert_double_eq(v, 3000);
    ck_assert(sim_gcode_param(" X Y", 'Y', &v, &has));
    ck_assert(!has);
    ck_assert(!sim_gcode_value(" X Y", 'Y', &v));
    ck_assert(!sim_gcode_value(" NP100", 'P', &v));      /* P follows a letter */
    ck_assert(!sim_gcode_value(" X1", 'Z', &v));
}
END_TEST

START_TEST(test_numbers_never_take_exponents_or_words)
{
    double v = 0;
    ck_assert_uint_eq(sim_gcode_number("1E5", &v), 1);
    ck_assert_double_eq(v, 1);
    ck_assert_uint_eq(sim_gcode_number("inf", &v), 0);
    ck_assert_uint_eq(sim_gcode_number("0x10", &v), 1);
    ck_assert_uint_eq(sim_gcode_number("-.5", &v), 3);
    ck_assert_double_eq(v, -0.5);
    ck_assert_uint_eq(sim_gcode_number("10.", &v), 3);
    ck_assert_double_eq(v, 10);
    ck_assert_uint_eq(sim_gcode_number("-", &v), 0);
}
END_TEST

START_TEST(test_string_argument_skips_leading_blanks)
{
    ck_assert_str_eq(sim_gcode_string_arg("  big file.gcode"), "big file.gcode");
    ck_assert_str_eq(sim_gcode_string_arg(""), "");
}
END_TEST

Suite *sim_gcode_suite(void);
Suite *sim_gcode_suite(void)
{
    Suite *s = suite_create("sim_gcode");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, test_checksum_is_the_xor_of_every_byte);
    tcase_add_test(tc, test_comment_is_cut_at_the_first_unescaped_semicolon);
    tcase_add_test(tc, test_numbered_lines_with_their_checksum_are_accepted);
    tcase_add_test(tc, test_wrong_line_number_is_checked_before_the_checksum);
    tcase_add_test(tc, test_numbered_line_without_star_lacks_its_checksum);
    tcase_add_test(tc, test_unnumbered_lines_are_always_accepted_and_lose_their_star);
    tcase_add_test(tc, test_m110_skips_the_line_number_check_and_sets_its_n);
    tcase_add_test(tc, test_negative_m110_line_resets_to_minus_one);
    tcase_add_test(tc, test_checksum_covers_everything_before_the_last_star);
    suite_add_tcase(s, tc);
    tc = tcase_create("commands");
    tcase_add_test(tc, test_command_word_letter_code_and_subcode);
    tcase_add_test(tc, test_parameters_packed_spaced_and_lowercase);
    tcase_add_test(tc, test_numbers_never_take_exponents_or_words);
    tcase_add_test(tc, test_string_argument_skips_leading_blanks);
    suite_add_tcase(s, tc);
    return s;
}
