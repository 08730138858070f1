/* test_linemap.c: where a print continues after a restart, from the firmware's last line and
 * the ring of lines the previous process sent (src/jobs/linemap.c). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "jobs/linemap.h"

/* slots holding lines first..last, line k after byte 100*k, its k-th command */
static void fill(struct linemap_entry *slots, size_t n, unsigned long first, unsigned long last)
{
    for (size_t i = 0; i < n; i++)
        slots[i].line = LINEMAP_EMPTY;
    for (unsigned long k = first; k <= last; k++) {
        struct linemap_entry *e = &slots[k % n];
        e->line = (uint32_t)k;
        e->pos = 100 * k;
        e->index = (uint32_t)k;
    }
}

START_TEST(test_continues_after_the_firmware_last_line)
{
    static struct linemap_entry slots[64];
    struct linemap_entry at;
    char why[256] = "";
    fill(slots, 64, 0, 40);
    ck_assert_int_eq(linemap_find(slots, 64, 33, &at, why, sizeof why), 0);
    ck_assert_uint_eq(at.line, 33);
    ck_assert_uint_eq(at.pos, 3300);
    ck_assert_uint_eq(at.index, 33);
    ck_assert_int_eq(linemap_find(slots, 64, 0, &at, why, sizeof why), 0);     /* nothing ran yet */
    ck_assert_uint_eq(at.pos, 0);
}
END_TEST

START_TEST(test_a_counter_that_went_back_is_a_reset)
{
    static struct linemap_entry slots[LINEMAP_SLOTS];
    struct linemap_entry at;
    char why[256] = "";
    /* 500 lines sent since the print's M110 N0, and the firmware says 0: a board that reset
     * and whose "start" nobody read must not print the file again from its first byte */
    fill(slots, LINEMAP_SLOTS, 0, 500);
    ck_assert_int_eq(linemap_find(slots, LINEMAP_SLOTS, 0, &at, why, sizeof why), -ESRCH);
    ck_assert_str_eq(why, "the firmware's last line 0 is 500 lines behind the last line sent (500), more than can be "
                          "in flight: its counter was reset");
    ck_assert_int_eq(linemap_find(slots, LINEMAP_SLOTS, 500 - LINEMAP_MAX_LAG, &at, why, sizeof why), 0);
    ck_assert_int_eq(linemap_find(slots, LINEMAP_SLOTS, 500 - LINEMAP_MAX_LAG - 1, &at, why, sizeof why), -ESRCH);
}
END_TEST

START_TEST(test_a_counter_outside_the_ring_is_refused)
{
    static struct linemap_entry slots[64];
    struct linemap_entry at;
    char why[256] = "";
    fill(slots, 64, 100, 150);
    ck_assert_int_eq(linemap_find(slots, 64, 151, &at, why, sizeof why), -ERANGE);
    ck_assert_int_eq(linemap_find(slots, 64, 99, &at, why, sizeof why), -ESRCH);
    ck_assert_str_eq(why, "the firmware's last line 99 is before the print's lines (100-150): its counter was reset");
    fill(slots, 64, 1, 0);
    ck_assert_int_eq(linemap_find(slots, 64, 5, &at, why, sizeof why), -ENODATA);
}
END_TEST

Suite *linemap_suite(void);
Suite *linemap_suite(void)
{
    Suite *s = suite_create("linemap");
    TCase *tc = tcase_create("find");
    tcase_add_test(tc, test_continues_after_the_firmware_last_line);
    tcase_add_test(tc, test_a_counter_that_went_back_is_a_reset);
    tcase_add_test(tc, test_a_counter_outside_the_ring_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
