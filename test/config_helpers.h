/* config_helpers.h: what the config_load tests (test_config.c, test_config_values.c and
 * test_config_files.c) share: the folders each test writes its files into, the writers, and
 * the checks of a clean load and of the exact one-line error. Everything here is static, so
 * each test file that includes it has its own copy of the folder names. */
#ifndef TEST_CONFIG_HELPERS_H
#define TEST_CONFIG_HELPERS_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"
#include "printbridge/config.h"

/* Each test gets tmpdir inside rootdir. rootdir belongs to an unchecked fixture, which runs
 * in the runner itself, so it is removed even when a failing test skips its own teardown. */
static char rootdir[64]; /* "/tmp/pb-config-XXXXXX" */
static char tmpdir[PATH_MAX];
static char conf[PATH_MAX + 32]; /* the file the last write_conf wrote */

static inline void make_root(void)
{
    snprintf(rootdir, sizeof rootdir, "/tmp/pb-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rootdir));
    chmod(rootdir, 0711); /* let the unreadable-file test's "nobody" reach its folder */
}

static inline void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/tXXXXXX", rootdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    chmod(path, 0700); /* a test may have made it unreadable */
    remove(path);
    return 0;
}

static inline void teardown(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void remove_root(void)
{
    nftw(rootdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes tmpdir/name (creating a "sub/" folder if named) and returns its path. */
static inline const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX + 32];
    FILE *f;

    if (strncmp(name, "sub/", 4) == 0) {
        snprintf(path, sizeof path, "%s/sub", tmpdir);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static inline const char *write_conf(const char *text)
{
    snprintf(conf, sizeof conf, "%s", write_file("t.conf", text));
    return conf;
}

static inline bool is_zeroed(const struct config *c)
{
    static const struct config zero;
    return memcmp(c, &zero, sizeof zero) == 0;
}

/* Loads path, which must fail with the negative errno rc and exactly the line want, and leave
 * c empty. */
static inline void expect_load_error_of(const char *path, int rc, const char *want)
{
    struct config c;
    char err[2048];

    memset(&c, 0x5a, sizeof c); /* garbage in: config_load must not free or keep it */
    ck_assert_int_eq(config_load(&c, path, err, sizeof err), rc);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_msg(is_zeroed(&c), "cfg not left empty after an error");
    config_free(&c);
}

/* Writes text as t.conf and expects rc and "<path>:<line>: <msg>". */
static inline void expect_error_rc(const char *text, int line, int rc, const char *msg)
{
    char *want;
    write_conf(text);
    ck_assert_int_ge(asprintf(&want, "%s:%d: %s", conf, line, msg), 0);
    expect_load_error_of(conf, rc, want);
    free(want);
}

/* A mistake in the file: -EINVAL and "<path>:<line>: <msg>". */
static inline void expect_error(const char *text, int line, const char *msg)
{
    expect_error_rc(text, line, -EINVAL, msg);
}

static inline void load_ok(const char *text, struct config *c)
{
    char err[2048] = "junk";
    write_conf(text);
    memset(c, 0x5a, sizeof *c);
    ck_assert_msg(config_load(c, conf, err, sizeof err) == 0, "unexpected error: %s", err);
    ck_assert_str_eq(err, "");
}

/* What the documentation promises for the derived client id, computed independently. */
static inline void expected_client_id(char *out, size_t outsz, const char *base_topic)
{
    char host[256] = "";
    size_t n;
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    snprintf(out, outsz, "printbridge-%s-%s", host, base_topic);
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '-';
    n = strlen(out);
    while (n > 0 && out[n - 1] == '-')
        out[--n] = '\0';
}

/* The fixtures every test case of these files uses. */
static inline void config_test_fixtures(TCase *tc)
{
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, setup, teardown);
}

#endif
