/* test_sim_rx.c: the simulated printer's receive side (src/sim/rx.c): lines reassembled from
 * any chunking, blanks, CR and NUL noise dropped, over-long lines dropped whole. */
#include <check.h>
#include <string.h>

#include "sim/rx.h"

struct lines {
    char text[8][SIM_RX_LINE_MAX + 1];
    size_t len[8];
    int count;
};

static void collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    ck_assert_int_lt(l->count, 8);
    ck_assert_uint_eq(strlen(line), len);
    memcpy(l->text[l->count], line, len + 1);
    l->len[l->count++] = len;
}

/* Feeds a string literal, NUL bytes included. */
#define FEED(rx, l, s) sim_rx_feed((rx), (s), sizeof(s) - 1, collect, (l))

START_TEST(test_lines_split_over_chunks_arrive_whole)
{
    struct sim_rx rx;
    struct lines l = {0};
    sim_rx_reset(&rx);
    FEED(&rx, &l, "N1 M1");
    FEED(&rx, &l, "05*3");
    ck_assert_int_eq(l.count, 0);
    FEED(&rx, &l, "7\r");
    ck_assert_int_eq(l.count, 0);
    FEED(&rx, &l, "\nG28\nM1");
    ck_assert_int_eq(l.count, 2);
    ck_assert_str_eq(l.text[0], "N1 M105*37");
    ck_assert_str_eq(l.text[1], "G28");
}
END_TEST

START_TEST(test_blanks_cr_and_nul_bytes_are_dropped)
{
    struct sim_rx rx;
    struct lines l = {0};
    sim_rx_reset(&rx);
    FEED(&rx, &l, "\n\r\n \t \r\n");
    ck_assert_int_eq(l.count, 0);
    FEED(&rx, &l, "  M1\0" "05 \r\n\0\n");
    ck_assert_int_eq(l.count, 1);
    ck_assert_str_eq(l.text[0], "M105");
    ck_assert_uint_eq(l.len[0], 4);
}
END_TEST

START_TEST(test_a_line_of_the_maximum_length_is_accepted)
{
    static char big[SIM_RX_LINE_MAX + 1];
    struct sim_rx rx;
    struct lines l = {0};
    sim_rx_reset(&rx);
    memset(big, 'A', SIM_RX_LINE_MAX);
    big[SIM_RX_LINE_MAX] = '\n';
    sim_rx_feed(&rx, big, sizeof big, collect, &l);
    ck_assert_int_eq(l.count, 1);
    ck_assert_uint_eq(l.len[0], SIM_RX_LINE_MAX);
}
END_TEST

START_TEST(test_an_overlong_line_is_dropped_whole_up_to_its_newline)
{
    static char big[SIM_RX_LINE_MAX + 1];
    struct sim_rx rx;
    struct lines l = {0};
    sim_rx_reset(&rx);
    memset(big, 'B', sizeof big);
    sim_rx_feed(&rx, big, sizeof big, collect, &l);    /* one byte too many, no newline */
    FEED(&rx, &l, "M105 tail");                        /* the same line: not a command */
    ck_assert_int_eq(l.count, 0);
    FEED(&rx, &l, "\nM115\n");
    ck_assert_int_eq(l.count, 1);
    ck_assert_str_eq(l.text[0], "M115");
}
END_TEST

START_TEST(test_reset_forgets_a_partial_line)
{
    struct sim_rx rx;
    struct lines l = {0};
    sim_rx_reset(&rx);
    FEED(&rx, &l, "M10");
    sim_rx_reset(&rx);
    FEED(&rx, &l, "4\n");
    ck_assert_int_eq(l.count, 1);
    ck_assert_str_eq(l.text[0], "4");
}
END_TEST

Suite *sim_rx_suite(void);
Suite *sim_rx_suite(void)
{
    Suite *s = suite_create("sim_rx");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, test_lines_split_over_chunks_arrive_whole);
    tcase_add_test(tc, test_blanks_cr_and_nul_bytes_are_dropped);
    tcase_add_test(tc, test_a_line_of_the_maximum_length_is_accepted);
    tcase_add_test(tc, test_an_overlong_line_is_dropped_whole_up_to_its_newline);
    tcase_add_test(tc, test_reset_forgets_a_partial_line);
    suite_add_tcase(s, tc);
    return s;
}
