/* sim_firmware_helpers.h: the harness the simulated-firmware tests (test_sim_firmware*.c)
 * share. Each test gets one firmware and a fake clock that only the test moves; lines are fed
 * in, the output is read back line by line and compared exactly. Everything here is static, so
 * each test file that includes it has its own harness. */
#ifndef TEST_SIM_FIRMWARE_HELPERS_H
#define TEST_SIM_FIRMWARE_HELPERS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/serial.h"
#include "sim/firmware.h"

static struct sim_options opt;
static struct sim_fw *fw;
static int64_t now;
static char outq[1 << 18];
static size_t outq_len;
static char tmp_dir[256];     /* per test case, removed by the unchecked teardown */
static int tmp_seq;

static inline void case_setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/pb-simfw.XXXXXX");
    if (!mkdtemp(tmp_dir))
        tmp_dir[0] = '\0';
}

static inline void case_teardown(void)
{
    char cmd[400];
    if (!tmp_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
}

static inline void test_setup(void)
{
    sim_options_init(&opt);
    opt.link_path = "unused";
    fw = NULL;
    now = 1000000;
    outq_len = 0;
}

static inline void test_teardown(void)
{
    sim_fw_destroy(fw);
    fw = NULL;
}

/* A fresh folder inside the case folder. */
static inline const char *fresh_dir(void)
{
    static char dir[400];
    ck_assert(tmp_dir[0]);
    snprintf(dir, sizeof dir, "%s/d%d.%d", tmp_dir, (int)getpid(), tmp_seq++);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    return dir;
}

static inline void write_file(const char *dir, const char *name, const char *content)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(content, f);
    fclose(f);
}

static inline void boot(void)
{
    char err[256];
    int rc = sim_fw_create(&fw, &opt, err, sizeof err);
    ck_assert_msg(rc == 0 && fw != NULL, "sim_fw_create: %s", err);
    sim_fw_boot(fw, now);
    sim_fw_run(fw, now);
}

static inline void drain(void)
{
    size_t n;
    const char *d = sim_fw_output(fw, &n);
    ck_assert(outq_len + n <= sizeof outq);
    memcpy(outq + outq_len, d, n);
    outq_len += n;
    sim_fw_consume_output(fw, n);
}

static inline bool pop_line(char *out, size_t outsz)
{
    drain();
    char *nl = memchr(outq, '\n', outq_len);
    if (!nl)
        return false;
    size_t n = (size_t)(nl - outq);
    size_t keep = n < outsz - 1 ? n : outsz - 1;
    memcpy(out, outq, keep);
    out[keep] = '\0';
    memmove(outq, nl + 1, outq_len - n - 1);
    outq_len -= n + 1;
    return true;
}

static inline void expect(const char *want)
{
    char got[2048];
    ck_assert_msg(pop_line(got, sizeof got), "expected \"%s\", got nothing", want);
    ck_assert_msg(strcmp(got, want) == 0, "expected \"%s\", got \"%s\"", want, got);
}

static inline void expect_prefix(const char *want)
{
    char got[2048];
    ck_assert_msg(pop_line(got, sizeof got), "expected \"%s...\", got nothing", want);
    ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "expected \"%s...\", got \"%s\"", want, got);
}

static inline void expect_nothing(void)
{
    char got[2048];
    ck_assert_msg(!pop_line(got, sizeof got), "expected nothing, got \"%s\"", got);
}

static inline void skip_banner(void)
{
    expect("start");
    expect("echo:Marlin printbridge-sim");
    if (opt.sd_dir)
        expect("SD card ok");
    else
        expect("echo:SD init fail");
}

static inline void fw_send(const char *line)
{
    char buf[FRAMING_MAX_LINE + 2];
    int n = snprintf(buf, sizeof buf, "%s\n", line);
    sim_fw_feed(fw, buf, (size_t)n, now);
    sim_fw_run(fw, now);
}

static inline void send_numbered(long n, const char *cmd)
{
    char buf[FRAMING_MAX_LINE + 2];
    int len = framing_frame(buf, sizeof buf, (unsigned long)n, cmd);
    ck_assert_int_gt(len, 0);
    sim_fw_feed(fw, buf, (size_t)len, now);
    sim_fw_run(fw, now);
}

/* The I/O loop in miniature: run at every deadline (or every 10 ms) until now + ms. */
static inline void advance(int64_t ms)
{
    int64_t end = now + ms;
    while (now < end) {
        int64_t d = sim_fw_next_deadline(fw, now);
        int64_t step = now + 10;
        if (d > now && d < step)
            step = d;
        now = step < end ? step : end;
        sim_fw_run(fw, now);
    }
}

/* Advances until a line is available; returns the time it took, -1 if none within limit. */
static inline int64_t time_to_line(int64_t limit)
{
    int64_t start = now;
    drain();
    while (!memchr(outq, '\n', outq_len)) {
        if (now - start >= limit)
            return -1;
        advance(1);
        drain();
    }
    return now - start;
}

/* The timeout and fixtures every test case of these files uses: a folder per test case for
 * the SD cards and records, and a fresh harness per test. */
static inline void sim_firmware_fixtures(TCase *tc)
{
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, case_setup, case_teardown);
    tcase_add_checked_fixture(tc, test_setup, test_teardown);
}

#endif
