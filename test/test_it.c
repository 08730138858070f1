/* test_it.c: runs every integration script in test/it/ (sorted) and reports each as one Check
 * test, so real-broker and real-simulator tests count in the same summary as the unit tests.
 * A script gets PB_BUILD (folder holding printbridge and printbridge-sim of this build) and
 * PB_SRCDIR; it exits 0 on success. On failure the tail of its log is shown.
 *
 * The scripts spend their time waiting on brokers, simulators and timers, not on the CPU, so
 * they run PB_IT_JOBS at a time (default 3) before the tests report them: each picks its own
 * ports and temporary folder, so they cannot see each other. Each gets at most 300 s. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCRIPT_TIMEOUT_S 300

static glob_t scripts;
static int *status;     /* wait status of each script, -1 when it could not be started */
static double *seconds; /* how long each took */

static void find_scripts(void)
{
    const char *src = getenv("PB_SRCDIR");
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/test/it/test_*.sh", src ? src : ".");
    if (glob(pattern, 0, NULL, &scripts) != 0)
        scripts.gl_pathc = 0;
}

static const char *script_base(size_t i)
{
    const char *slash = strrchr(scripts.gl_pathv[i], '/');
    return slash ? slash + 1 : scripts.gl_pathv[i];
}

static void script_log(size_t i, char *log, size_t size)
{
    const char *build = getenv("PB_BUILD");
    snprintf(log, size, "%s/test/%s.log", build ? build : "build", script_base(i));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t start_script(size_t i)
{
    char log[4096], cmd[16384];
    script_log(i, log, sizeof log);
    /* timeout(1) kills the whole script, brokers and daemons it left behind included (their
     * EXIT traps run on its TERM) */
    snprintf(cmd, sizeof cmd, "exec timeout -k 10 %d bash '%s' >'%s' 2>&1", SCRIPT_TIMEOUT_S,
             scripts.gl_pathv[i], log);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int jobs_wanted(void)
{
    const char *env = getenv("PB_IT_JOBS");
    int n = env ? atoi(env) : 3;
    return n > 0 ? n : 1;
}

/* One line on where the time went, and every script's time in test/integration-times.txt. */
static void report_times(int jobs)
{
    size_t n = scripts.gl_pathc, slowest = 0;
    double total = 0;
    char path[4096];
    const char *build = getenv("PB_BUILD");
    snprintf(path, sizeof path, "%s/test/integration-times.txt", build ? build : "build");
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < n; i++) {
        total += seconds[i];
        if (seconds[i] > seconds[slowest])
            slowest = i;
        if (f)
            fprintf(f, "%7.1f s  %s\n", seconds[i], script_base(i));
    }
    if (f)
        fclose(f);
    if (n > 0)
        printf("integration: %zu scripts, %d at a time, %.0f s of script time (slowest %s, %.0f s)\n",
               n, jobs, total, script_base(slowest), seconds[slowest]);
    fflush(stdout);
}

/* Runs every script, PB_IT_JOBS at a time, in name order: a slow one holds one place in the
 * pool while the others flow around it. */
static void run_scripts(void)
{
    size_t n = scripts.gl_pathc, next = 0, running = 0;
    int jobs = jobs_wanted();
    status = calloc(n ? n : 1, sizeof *status);
    seconds = calloc(n ? n : 1, sizeof *seconds);
    pid_t *pids = calloc(n ? n : 1, sizeof *pids);
    double *started = calloc(n ? n : 1, sizeof *started);
    if (!status || !seconds || !pids || !started)
        abort();
    while (next < n || running > 0) {
        while (running < (size_t)jobs && next < n) {
            started[next] = now_s();
            pids[next] = start_script(next);
            if (pids[next] < 0)
                status[next] = -1;
            else
                running++;
            next++;
        }
        int st;
        pid_t done = wait(&st);
        if (done < 0)
            break;
        for (size_t i = 0; i < next; i++) {
            if (pids[i] == done) {
                status[i] = st;
                seconds[i] = now_s() - started[i];
                pids[i] = 0;
                running--;
            }
        }
    }
    free(pids);
    free(started);
    report_times(jobs);
}

START_TEST(test_integration_script)
{
    size_t i = (size_t)_i;
    char log[4096];
    script_log(i, log, sizeof log);
    int rc = status[i];
    int ok = rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
    int code = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (!ok) {
        char tail[16384];
        snprintf(tail, sizeof tail, "echo '--- %s failed after %.0f s%s, last lines of %s:'; tail -n 40 '%s'",
                 script_base(i), seconds[i], code == 124 ? " (killed: over the time limit)" : "", log, log);
        if (system(tail) == -1)
            perror("tail");
    }
    ck_assert_msg(ok, "%s failed (exit %d), log in %s", script_base(i), code, log);
}
END_TEST

Suite *integration_suite(void);
Suite *integration_suite(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("scripts");
    find_scripts();
    tcase_add_unchecked_fixture(tc, run_scripts, NULL);
    if (scripts.gl_pathc > 0)
        tcase_add_loop_test(tc, test_integration_script, 0, (int)scripts.gl_pathc);
    suite_add_tcase(s, tc);
    return s;
}
