/* test_it.c: runs every integration script in test/it/ (sorted) as one Check test each, so
 * real-broker and real-simulator tests count in the same summary as the unit tests. A script
 * gets PB_BUILD (folder holding printbridge and printbridge-sim of this build) and PB_SRCDIR;
 * it exits 0 on success. On failure the tail of its log is shown. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static glob_t scripts;

static void find_scripts(void)
{
    const char *src = getenv("PB_SRCDIR");
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/test/it/test_*.sh", src ? src : ".");
    if (glob(pattern, 0, NULL, &scripts) != 0)
        scripts.gl_pathc = 0;
}

START_TEST(test_integration_script)
{
    const char *script = scripts.gl_pathv[_i];
    const char *build = getenv("PB_BUILD");
    char log[4096], cmd[16384];
    const char *base = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
    snprintf(log, sizeof log, "%s/test/%s.log", build ? build : "build", base);
    snprintf(cmd, sizeof cmd, "bash '%s' >'%s' 2>&1", script, log);
    int rc = system(cmd);
    int ok = rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
    if (!ok) {
        char tail[16384];
        snprintf(tail, sizeof tail, "echo '--- %s failed, last lines of %s:'; tail -n 40 '%s'", base, log, log);
        if (system(tail) == -1)
            perror("tail");
    }
    ck_assert_msg(ok, "%s failed (exit %d), log in %s", base, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, log);
}
END_TEST

Suite *integration_suite(void);
Suite *integration_suite(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("scripts");
    find_scripts();
    tcase_set_timeout(tc, 300);
    if (scripts.gl_pathc > 0)
        tcase_add_loop_test(tc, test_integration_script, 0, (int)scripts.gl_pathc);
    suite_add_tcase(s, tc);
    return s;
}
