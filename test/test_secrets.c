/* test_secrets.c: the warning about a password file every local user can read. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"

static char path[64];

static void make_file(mode_t mode)
{
    snprintf(path, sizeof path, "/tmp/pb-secrets-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "mqtt: { password = \"x\"; };\n", 27), 27);
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_world_readable_password_file_is_named_with_the_fix)
{
    char msg[1024], want[256];
    make_file(0644);
    ck_assert_int_eq(secrets_check_file(path, true, msg, sizeof msg), 1);
    ck_assert_ptr_nonnull(strstr(msg, path));
    snprintf(want, sizeof want, "chmod 640 %s", path);
    ck_assert_ptr_nonnull(strstr(msg, want));
    ck_assert_ptr_nonnull(strstr(msg, "mode 644"));
    ck_assert_ptr_null(strchr(msg, '\n'));
    chmod(path, 0606);
    ck_assert_int_eq(secrets_check_file(path, true, msg, sizeof msg), 1);
    ck_assert_ptr_nonnull(strstr(msg, "readable and writable"));
    unlink(path);
}
END_TEST

START_TEST(test_owner_and_group_only_or_no_password_is_quiet)
{
    char msg[1024] = "";
    make_file(0640);
    ck_assert_int_eq(secrets_check_file(path, true, msg, sizeof msg), 0);
    chmod(path, 0600);
    ck_assert_int_eq(secrets_check_file(path, true, msg, sizeof msg), 0);
    chmod(path, 0644);
    ck_assert_int_eq(secrets_check_file(path, false, msg, sizeof msg), 0);   /* no password in it */
    ck_assert_str_eq(msg, "");
    unlink(path);
    ck_assert_int_eq(secrets_check_file(path, true, msg, sizeof msg), -ENOENT);
}
END_TEST

Suite *secrets_suite(void);
Suite *secrets_suite(void)
{
    Suite *s = suite_create("secrets");
    TCase *tc = tcase_create("modes");
    tcase_add_test(tc, test_world_readable_password_file_is_named_with_the_fix);
    tcase_add_test(tc, test_owner_and_group_only_or_no_password_is_quiet);
    suite_add_tcase(s, tc);
    return s;
}
