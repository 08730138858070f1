/* test_history.c: the resend history ring (docs/protocol.md 3.5). */
#include <check.h>
#include <stdio.h>

#include "printer/history.h"

START_TEST(test_history_returns_recent_lines_and_forgets_old_ones)
{
    struct history h;
    ck_assert_int_eq(history_init(&h, 4), 0);
    char buf[32];
    for (unsigned long n = 1; n <= 6; n++) {
        snprintf(buf, sizeof buf, "G1 X%lu", n);
        ck_assert_int_eq(history_add(&h, n, buf), 0);
    }
    ck_assert_ptr_null(history_get(&h, 1));
    ck_assert_ptr_null(history_get(&h, 2));
    ck_assert_str_eq(history_get(&h, 3), "G1 X3");
    ck_assert_str_eq(history_get(&h, 6), "G1 X6");
    ck_assert_ptr_null(history_get(&h, 7));
    history_free(&h);
}
END_TEST

START_TEST(test_history_gap_or_clear_drops_older_lines)
{
    struct history h;
    ck_assert_int_eq(history_init(&h, 8), 0);
    history_add(&h, 1, "M105");
    history_add(&h, 2, "G28");
    /* M110 N0 restarts numbering: a jump backwards must not mix two numberings */
    history_add(&h, 0, "M110 N0");
    ck_assert_ptr_null(history_get(&h, 1));
    ck_assert_str_eq(history_get(&h, 0), "M110 N0");
    history_clear(&h);
    ck_assert_ptr_null(history_get(&h, 0));
    /* a longer command reuses and grows the slot */
    history_add(&h, 5, "M117 a much longer message than before, to grow the buffer");
    ck_assert_str_eq(history_get(&h, 5), "M117 a much longer message than before, to grow the buffer");
    history_free(&h);
}
END_TEST

Suite *history_suite(void);
Suite *history_suite(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("ring");
    tcase_add_test(tc, test_history_returns_recent_lines_and_forgets_old_ones);
    tcase_add_test(tc, test_history_gap_or_clear_drops_older_lines);
    suite_add_tcase(s, tc);
    return s;
}
