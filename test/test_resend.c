/* test_resend.c: resend-request rules of docs/protocol.md 8. */
#include <check.h>

#include "printer/resend.h"

START_TEST(test_resend_request_replays_from_requested_line)
{
    struct resend r = { 0 };
    /* lines 1..5 sent, next would be 6; the firmware wants 3 again */
    ck_assert_int_eq(resend_request(&r, 3, 6, true), RESEND_STARTED);
    ck_assert(resend_pending(&r));
    ck_assert_uint_eq(resend_take(&r), 3);
    ck_assert_uint_eq(resend_take(&r), 4);
    ck_assert_uint_eq(resend_take(&r), 5);
    ck_assert(!resend_pending(&r));
    ck_assert(r.active);          /* stays active until the next ok */
    resend_on_ok(&r);
    ck_assert(!r.active);
}
END_TEST

START_TEST(test_resend_request_for_unsent_line_is_ignored)
{
    struct resend r = { 0 };
    ck_assert_int_eq(resend_request(&r, 6, 6, false), RESEND_IGNORED_UNSENT);
    ck_assert_int_eq(resend_request(&r, 1, 1, false), RESEND_IGNORED_UNSENT); /* after a reset */
    ck_assert(!r.active);
}
END_TEST

/* lost ok during a replay: the timeout sends the last replayed line again, the firmware (which
 * had it) asks for the next, never-sent line; that completes the replay (was M112 + ERROR) */
START_TEST(test_resend_request_for_next_line_during_replay_completes_it)
{
    struct resend r = { 0 };
    ck_assert_int_eq(resend_request(&r, 5, 8, true), RESEND_STARTED);
    ck_assert_uint_eq(resend_take(&r), 5);
    ck_assert_uint_eq(resend_take(&r), 6);
    ck_assert_uint_eq(resend_take(&r), 7);
    resend_on_timeout(&r);                 /* the ok of 7 was lost: 7 goes again */
    ck_assert(resend_pending(&r));
    resend_note_error(&r, "Error:Line Number is not Last Line Number+1, Last Line: 7");
    ck_assert_int_eq(resend_request(&r, 8, 8, false), RESEND_IGNORED_UNSENT);
    ck_assert(!r.active);
    ck_assert(!resend_pending(&r));
    ck_assert_int_eq(resend_request(&r, 6, 8, true), RESEND_STARTED);   /* later requests work */
}
END_TEST

START_TEST(test_resend_stale_line_number_duplicates_are_ignored_up_to_distance)
{
    struct resend r = { 0 };
    resend_note_error(&r, "Error:checksum mismatch, Last Line: 4");
    ck_assert_int_eq(resend_request(&r, 5, 8, true), RESEND_STARTED);   /* 5, 6, 7 in flight */
    resend_note_error(&r, "Error:Line Number is not Last Line Number+1, Last Line: 4");
    ck_assert_int_eq(resend_request(&r, 5, 8, true), RESEND_IGNORED_STALE);
    ck_assert_int_eq(resend_request(&r, 5, 8, true), RESEND_IGNORED_STALE);
    ck_assert_int_eq(resend_request(&r, 5, 8, true), RESEND_IGNORED_STALE);
    /* more duplicates than lines were in flight: a real new request */
    ck_assert_int_eq(resend_request(&r, 5, 8, true), RESEND_STARTED);
    ck_assert_uint_eq(resend_take(&r), 5);
}
END_TEST

START_TEST(test_resend_same_line_again_and_again_is_a_loop)
{
    struct resend r = { 0 };
    resend_note_error(&r, "Error:checksum mismatch");
    int i;
    for (i = 1; i < RESEND_MAX_SAME; i++) {
        ck_assert_int_eq(resend_request(&r, 7, 8, true), RESEND_STARTED);
        resend_take(&r);
    }
    ck_assert_int_eq(resend_request(&r, 7, 8, true), RESEND_LOOP);
}
END_TEST

START_TEST(test_resend_completed_replay_restarts_the_count)
{
    struct resend r = { 0 };
    for (int i = 0; i < 3 * RESEND_MAX_SAME; i++) {
        ck_assert_int_eq(resend_request(&r, 7, 8, true), RESEND_STARTED);
        resend_take(&r);
        resend_on_ok(&r);
    }
}
END_TEST

START_TEST(test_resend_outside_history_is_reported)
{
    struct resend r = { 0 };
    ck_assert_int_eq(resend_request(&r, 2, 2000, false), RESEND_NO_HISTORY);
    ck_assert_int_eq(resend_request(&r, 9, 5, true), RESEND_NO_HISTORY);   /* never sent */
    ck_assert(!r.active);
}
END_TEST

START_TEST(test_resend_timeout_sends_the_last_line_again)
{
    struct resend r = { 0 };
    resend_request(&r, 3, 5, true);
    ck_assert_uint_eq(resend_take(&r), 3);
    resend_on_timeout(&r);
    ck_assert_uint_eq(resend_take(&r), 3);
    ck_assert_uint_eq(resend_take(&r), 4);
}
END_TEST

Suite *resend_suite(void);
Suite *resend_suite(void)
{
    Suite *s = suite_create("resend");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_resend_request_replays_from_requested_line);
    tcase_add_test(tc, test_resend_request_for_unsent_line_is_ignored);
    tcase_add_test(tc, test_resend_stale_line_number_duplicates_are_ignored_up_to_distance);
    tcase_add_test(tc, test_resend_same_line_again_and_again_is_a_loop);
    tcase_add_test(tc, test_resend_completed_replay_restarts_the_count);
    tcase_add_test(tc, test_resend_outside_history_is_reported);
    tcase_add_test(tc, test_resend_timeout_sends_the_last_line_again);
    tcase_add_test(tc, test_resend_request_for_next_line_during_replay_completes_it);
    suite_add_tcase(s, tc);
    return s;
}
