/* test_progressnotify.c: PrintProgress steps by percent, minutes and layers (the vocabulary
 * of OctoPrint's notification plugins), Z-hops not counted as layers, no repeats, no
 * 100 %, and the payload keys. */
#include <check.h>
#include <stdlib.h>

#include "printbridge/jobs.h"
#include "printbridge/base.h"

static struct progressnotify pn;

static int fires(double progress, double t)
{
    json_t *p = progressnotify_update(&pn, progress, t, -1);
    int got = p ? (int)json_integer_value(json_object_get(p, "progress")) : -1;
    json_decref(p);
    return got;
}

START_TEST(test_every_ten_percent_once)
{
    struct progressnotify_settings s = { .percent = 10 };
    progressnotify_start(&pn, &s, "cube.gcode", "folder/cube.gcode");
    ck_assert_int_eq(fires(0, 0), -1);
    ck_assert_int_eq(fires(9.99, 1), -1);
    ck_assert_int_eq(fires(10.0, 2), 10);
    ck_assert_int_eq(fires(10.5, 3), -1);
    ck_assert_int_eq(fires(31.2, 4), 31);   /* several steps crossed: one message */
    ck_assert_int_eq(fires(39.9, 5), -1);
    ck_assert_int_eq(fires(40, 6), 40);
    ck_assert_int_eq(fires(99.5, 7), 99);
    ck_assert_int_eq(fires(100, 8), -1);    /* PrintDone says it */
    progressnotify_stop(&pn);
    ck_assert_int_eq(fires(50, 9), -1);
}
END_TEST

START_TEST(test_every_n_minutes_of_print_time)
{
    struct progressnotify_settings s = { .minutes = 5 };
    progressnotify_start(&pn, &s, "a", "a");
    ck_assert_int_eq(fires(1, 299), -1);
    ck_assert_int_eq(fires(2, 300), 2);
    ck_assert_int_eq(fires(3, 301), -1);
    ck_assert_int_eq(fires(9, 1250), 9);    /* 600, 900, 1200 passed: once */
    ck_assert_int_eq(fires(9, 1499), -1);
    ck_assert_int_eq(fires(10, 1500), 10);
}
END_TEST

START_TEST(test_layers_ignore_z_hops)
{
    struct progressnotify_settings s = { .layers = 2 };
    progressnotify_start(&pn, &s, "a", "a");
    ck_assert(!progressnotify_move(&pn, 5.0, false));  /* travel to the start: no material */
    ck_assert(progressnotify_move(&pn, 0.2, true));    /* layer 1 (lower than the travel) */
    ck_assert_int_eq(fires(1, 1), -1);
    ck_assert(!progressnotify_move(&pn, 0.6, false));  /* Z-hop up ... */
    ck_assert(!progressnotify_move(&pn, 0.2, true));   /* ... and back down: same layer */
    ck_assert(!progressnotify_move(&pn, 0.2001, true));
    ck_assert(progressnotify_move(&pn, 0.4, true));    /* layer 2 */
    json_t *p = progressnotify_update(&pn, 5.4, 60, 1200);
    ck_assert_ptr_nonnull(p);
    char *text = pyjson_dumps(p);
    ck_assert_str_eq(text, "{\"progress\": 5, \"time\": 60, \"timeLeft\": 1200, \"layer\": 2, \"name\": \"a\", \"path\": \"a\"}");
    free(text);
    json_decref(p);
    ck_assert(progressnotify_move(&pn, 0.6, true));    /* layer 3: not a multiple of 2 */
    ck_assert_int_eq(fires(6, 70), -1);
    ck_assert(progressnotify_move(&pn, 0.8, true));
    ck_assert_int_eq(fires(7, 80), 7);
    ck_assert_int_eq(pn.layer, 4);
}
END_TEST

START_TEST(test_payload_with_unknown_time_left)
{
    struct progressnotify_settings s = { .percent = 50 };
    progressnotify_start(&pn, &s, NULL, NULL);
    json_t *p = progressnotify_update(&pn, 50, 10.7, -1);
    char *text = pyjson_dumps(p);
    ck_assert_str_eq(text, "{\"progress\": 50, \"time\": 10, \"timeLeft\": null, \"layer\": 0, \"name\": \"\", \"path\": \"\"}");
    free(text);
    json_decref(p);
}
END_TEST

Suite *progressnotify_suite(void);
Suite *progressnotify_suite(void)
{
    Suite *s = suite_create("progressnotify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_ten_percent_once);
    tcase_add_test(tc, test_every_n_minutes_of_print_time);
    tcase_add_test(tc, test_layers_ignore_z_hops);
    tcase_add_test(tc, test_payload_with_unknown_time_left);
    suite_add_tcase(s, tc);
    return s;
}
