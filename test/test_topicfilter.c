/* test_topicfilter.c: MQTT wildcard matching and filter validation (MQTT 3.1.1 4.7). */
#include <check.h>
#include <errno.h>

#include "printbridge/base.h"

START_TEST(test_match_follows_mqtt_rules)
{
    ck_assert(topicfilter_match("a/b", "a/b"));
    ck_assert(!topicfilter_match("a/b", "a/bc"));
    ck_assert(!topicfilter_match("a/b", "a/b/c"));
    ck_assert(topicfilter_match("a/+/c", "a/x/c"));
    ck_assert(topicfilter_match("a/+/c", "a//c"));
    ck_assert(!topicfilter_match("a/+/c", "a/x/y/c"));
    ck_assert(topicfilter_match("a/#", "a"));
    ck_assert(topicfilter_match("a/#", "a/b/c"));
    ck_assert(topicfilter_match("#", "a/b"));
    ck_assert(topicfilter_match("+", "a"));
    ck_assert(!topicfilter_match("+", "a/b"));
    ck_assert(topicfilter_match("+/+", "/a"));
    ck_assert(!topicfilter_match("#", "$SYS/x"));
    ck_assert(!topicfilter_match("+/x", "$SYS/x"));
    ck_assert(topicfilter_match("$SYS/#", "$SYS/x"));
    ck_assert(topicfilter_match("octoprint/cmd/+", "octoprint/cmd/light"));
    ck_assert(!topicfilter_match("a/b/#", "a"));
}
END_TEST

START_TEST(test_invalid_filters_are_explained)
{
    char why[128];
    ck_assert_int_eq(topicfilter_check("a/+/#", why, sizeof why), 0);
    ck_assert_int_eq(topicfilter_check("#", why, sizeof why), 0);
    ck_assert_int_eq(topicfilter_check("", why, sizeof why), -EINVAL);
    ck_assert_int_eq(topicfilter_check("a/b+", why, sizeof why), -EINVAL);
    ck_assert_int_eq(topicfilter_check("a/#/b", why, sizeof why), -EINVAL);
    ck_assert_int_eq(topicfilter_check("a#", why, sizeof why), -EINVAL);
    ck_assert_int_eq(topicfilter_check("a\nb", why, sizeof why), -EINVAL);
}
END_TEST

Suite *topicfilter_suite(void);
Suite *topicfilter_suite(void)
{
    Suite *s = suite_create("topicfilter");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_match_follows_mqtt_rules);
    tcase_add_test(tc, test_invalid_filters_are_explained);
    suite_add_tcase(s, tc);
    return s;
}
