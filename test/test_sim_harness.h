/* test_sim_harness.h: drives a real printbridge-sim process over its pseudo-terminal from
 * Check tests (test_sim_harness.c).
 *
 * Cleanup survives failures: Check's fork mode _exits a failing test without running checked
 * teardowns, so each simulator is started with PR_SET_PDEATHSIG (it gets SIGTERM, and removes
 * its link, when the test process dies) and every test folder lives under one base folder that
 * the test case's unchecked teardown removes in the runner process. On the normal path
 * simh_stop() (called by the checked teardown simh_teardown) stops and reaps the simulator,
 * checks that it exited with status 0 (so sanitizer reports and leaks fail the test) and removes
 * the folder. */
#ifndef TEST_SIM_HARNESS_H
#define TEST_SIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SIMH_LINE_MAX 4096

struct simh {
    pid_t pid;
    char dir[512];           /* this test's folder */
    char link[600];          /* dir/tty */
    char ctl[600];           /* dir/ctl (only used with simh_start_ctl) */
    char err_log[600];       /* the simulator's stderr */
    char banner[600];        /* the simulator's stdout line, without newline */
    int fd;                  /* the host end of the link, -1 when closed */
    int out_fd;              /* the simulator's stdout */
    bool hangup;             /* the link hung up (POLLHUP, EOF or EIO) */
    char buf[1 << 16];
    size_t len;
};

/* Per test case (unchecked fixture, runs in the runner process): the base folder. */
void simh_case_setup(void);
void simh_case_teardown(void);
/* Per test (checked fixture): stops whatever simh_start started and checks its exit. */
void simh_teardown(void);

/* Milliseconds scaled for slow (sanitizer) builds: PB_TIMEOUT_SCALE, default 1. */
int simh_ms(int ms);
long long simh_now_ms(void);

/* Creates h's folder (simh_start does it when needed); use it to put files in it first. */
void simh_prepare(struct simh *h);
/* Starts the simulator with --link dir/tty plus args (NULL-terminated), waits for its stdout
 * line, opens the link raw and non-blocking. Fails the test on any problem. */
void simh_start(struct simh *h, const char *const *args);
/* The same with --control dir/ctl added. */
void simh_start_ctl(struct simh *h, const char *const *args);
/* Opens (again) the link path as a host would: O_RDWR|O_NOCTTY|O_NONBLOCK, raw, TCSANOW. */
int simh_open(struct simh *h);
void simh_close_link(struct simh *h);
/* SIGTERM, reap (SIGKILL after 10 s), remove the folder. Returns the exit status, or -1 if the
 * simulator did not exit by itself or died from a signal. Safe to call twice. */
int simh_stop(struct simh *h);

/* The test reaped the simulator itself (waitpid): forget its pid. */
void simh_forget(struct simh *h);

/* Writes text and a newline to the link. */
void simh_send(struct simh *h, const char *text);
/* Writes "N<n> <cmd>*<cs>\n". */
void simh_send_numbered(struct simh *h, long n, const char *cmd);
/* The next line (without '\r'/'\n'; may contain NUL, so *len is given), or false after
 * timeout_ms or on a hang-up. */
bool simh_raw_line(struct simh *h, char *out, size_t outsz, size_t *len, int timeout_ms);
/* The next line as a C string (NULs cut it short), or false. */
bool simh_line(struct simh *h, char *out, size_t outsz, int timeout_ms);
/* Asserts that the next line is exactly want. */
void simh_expect(struct simh *h, const char *want, int timeout_ms);
/* Skips lines until one equals want; returns how many were skipped, -1 on timeout. */
int simh_skip_until(struct simh *h, const char *want, int timeout_ms);
/* Asserts that no line arrives within ms. */
void simh_expect_silence(struct simh *h, int ms);
/* Waits until the link hangs up; true if it did within timeout_ms. */
bool simh_wait_hangup(struct simh *h, int timeout_ms);

/* Sends one control command and returns its reply line in reply. */
void simh_control(struct simh *h, const char *cmd, char *reply, size_t replysz);
/* Runs a command to completion (no link), capturing stdout+stderr into out; returns the exit
 * status or -1. */
int simh_run_capture(const char *const *argv, char *out, size_t outsz);
/* $PB_BUILD/printbridge-sim */
const char *simh_binary(void);
/* Writes a file inside h->dir; returns its path in a static buffer. */
const char *simh_write_file(struct simh *h, const char *name, const char *content);
/* Reads a whole file into a malloc'ed NUL-terminated string (caller frees), or NULL. */
char *simh_read_file(const char *path);

#endif
