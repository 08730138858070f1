/* test_strbuf.c: the growable string: appends of every kind, the size limit refusing an
 * append whole, refusals that stick so a builder checks once, and handing the text over. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"

START_TEST(test_appends_and_take)
{
    struct strbuf b;
    strbuf_init(&b, SIZE_MAX);
    ck_assert_int_eq(strbuf_put(&b, "ab", 2), 0);
    ck_assert_int_eq(strbuf_putc(&b, 'c'), 0);
    ck_assert_int_eq(strbuf_puts(&b, "de"), 0);
    ck_assert_int_eq(strbuf_printf(&b, "-%d-%s", 42, "x"), 0);
    ck_assert_str_eq(b.s, "abcde-42-x");
    ck_assert_uint_eq(b.len, 10);
    /* longer than printf's small first try */
    char big[300];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(strbuf_printf(&b, "%s", big), 0);
    ck_assert_uint_eq(b.len, 10 + 299);
    ck_assert_int_eq(strbuf_error(&b), 0);
    char *s = strbuf_take(&b);
    ck_assert_uint_eq(strlen(s), 309);
    free(s);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
    /* nothing appended: take gives "" */
    s = strbuf_take(&b);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

START_TEST(test_max_refuses_whole_appends_and_sticks)
{
    struct strbuf b = { .max = 5 };
    ck_assert_int_eq(strbuf_puts(&b, "abcd"), 0);
    ck_assert_int_eq(strbuf_puts(&b, "ef"), -E2BIG);
    ck_assert(b.toolong);
    ck_assert_str_eq(b.s, "abcd");
    /* it sticks: even what would fit is refused now */
    ck_assert_int_eq(strbuf_putc(&b, 'e'), -E2BIG);
    ck_assert_int_eq(strbuf_printf(&b, "%d", 1), -E2BIG);
    ck_assert_str_eq(b.s, "abcd");
    ck_assert_int_eq(strbuf_error(&b), -E2BIG);
    ck_assert_ptr_null(strbuf_take(&b));
    /* emptied, same max, usable again */
    ck_assert_int_eq(strbuf_error(&b), 0);
    ck_assert_uint_eq(b.max, 5);
    ck_assert_int_eq(strbuf_puts(&b, "abcde"), 0);
    strbuf_free(&b);
    ck_assert_ptr_null(b.s);
    struct strbuf none = { .max = 0 };
    ck_assert_int_eq(strbuf_putc(&none, 'x'), -E2BIG);
    ck_assert_int_eq(strbuf_put(&none, "", 0), -E2BIG);
}
END_TEST

Suite *strbuf_suite(void);
Suite *strbuf_suite(void)
{
    Suite *s = suite_create("strbuf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_appends_and_take);
    tcase_add_test(tc, test_max_refuses_whole_appends_and_sticks);
    suite_add_tcase(s, tc);
    return s;
}
