/* test_job_sim.c: print jobs end to end against the real printbridge-sim on a pty, with the
 * printer, storage and job modules on one loop; job commands are decoded and run as the
 * MQTT command router does, uploads go straight to storage.
 * Every event's payload is checked as pyjson writes it, and the simulator's --record proves
 * what the firmware executed: the file's commands, in order, exactly once. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_loop.h"
#include "printbridge/commands.h"
#include "printbridge/jobs.h"
#include "printbridge/base.h"

Suite *job_sim_suite(void);

extern char **environ;

#define MAX_EV 4096
static char *evlog[MAX_EV];
static int nev;
static uv_loop_t loop;
static struct events events;
static struct printer *pr;
static struct storage *st;
static struct job *jb;
static char dir[256], link_path[300], rec[300], files[300], sd[300], journal[300];
static pid_t sim_pid;
static int upload_rc = 1;

static void on_event(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ctx;
    (void)ts;
    if (nev >= MAX_EV)
        return;
    char *js = payload ? pyjson_dumps(payload) : strdup("{}");
    size_t n = strlen(name) + strlen(js) + 2;
    evlog[nev] = malloc(n);
    snprintf(evlog[nev], n, "%s %s", name, js);
    free(js);
    nev++;
}

static void clear_events(void)
{
    for (int i = 0; i < nev; i++)
        free(evlog[i]);
    nev = 0;
}

static void on_line(void *ctx, const char *line)
{
    (void)ctx;
    job_on_line(jb, line);
}

static void on_state(void *ctx, enum printer_state s)
{
    (void)ctx;
    job_on_printer_state(jb, s);
}

static int find_event(const char *prefix, int from)
{
    for (int i = from; i < nev; i++)
        if (strncmp(evlog[i], prefix, strlen(prefix)) == 0)
            return i;
    return -1;
}

static int scale(void)
{
    const char *s = getenv("PB_TIMEOUT_SCALE");
    return s && atoi(s) > 0 ? atoi(s) : 3;
}

static int wait_event(const char *prefix, double seconds)
{
    int i;
    RUN_UNTIL((i = find_event(prefix, 0)) >= 0, seconds * scale());
    if (i < 0)
        for (int k = 0; k < nev; k++)
            fprintf(stderr, "  event %d: %s\n", k, evlog[k]);
    return i;
}

static void run_for(double seconds)
{
    RUN_UNTIL(false, seconds);
}

static void keepalive_cb(uv_timer_t *t) { (void)t; }
static uv_timer_t keepalive;

static void start_sim(bool fast)
{
    const char *build = getenv("PB_BUILD");
    char bin[600];
    snprintf(bin, sizeof bin, "%s/printbridge-sim", build ? build : "build");
    char *argv[] = { bin, "--link", link_path, "--record", rec, "--sd-dir", sd,
                     fast ? "--fast" : "--busy-ms", fast ? NULL : "1000", NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ck_assert_int_eq(posix_spawn(&sim_pid, bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 500 && access(link_path, F_OK) != 0; i++)
        usleep(10000);
    ck_assert_int_eq(access(link_path, F_OK), 0);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup_with(bool fast, char *const *cancel_script)
{
    log_set_level(getenv("PB_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    snprintf(dir, sizeof dir, "/tmp/pb-jobsim-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(link_path, sizeof link_path, "%s/tty", dir);
    snprintf(rec, sizeof rec, "%s/record", dir);
    snprintf(files, sizeof files, "%s/files", dir);
    snprintf(sd, sizeof sd, "%s/sd", dir);
    snprintf(journal, sizeof journal, "%s/files/.printbridge/journal.json", dir);
    mkdir(sd, 0755);
    char p[400];
    snprintf(p, sizeof p, "%s/sdprint.gco", sd);
    put(p, "G28\nG1 X10 F6000\nG1 X20\nG1 X30\nM400\n");
    start_sim(fast);
    uv_loop_init(&loop);
    events_init(&events);
    events_add_sink(&events, on_event, NULL);
    uv_timer_init(&loop, &keepalive);
    uv_timer_start(&keepalive, keepalive_cb, 5, 5);

    struct printer_options o = {
        .port = link_path, .baudrate = 115200, .reconnect_delay = 0.5, .reconnect_max_delay = 1,
        .connection_timeout = 5, .communication_timeout = 10, .temperature_interval = 5,
        .temperature_interval_target = 2, .autoreport_interval = 2, .extruders = 1,
        .heated_bed = true, .checksum = PRINTER_CHECKSUM_AUTO, .history_size = 1000,
        .advanced_ok_window = 8, .send_m112_on_error = true, .blocked_commands = "M0 M1",
        .reconnect = false, .zchange_mode = GCODEEVENTS_Z_OCTOPRINT,
    };
    struct printer_callbacks cb = { .line = on_line, .state = on_state };
    ck_assert_int_eq(printer_create(&pr, &loop, &events, &o, &cb, NULL), 0);
    struct storage_options so = { .folder = files, .max_upload_size = 1 << 20, .settle_time = 0.1 };
    analysis_options_default(&so.analysis);
    ck_assert_int_eq(storage_create(&st, &loop, &events, &so), 0);
    struct job_options jo = { .extruders = 1, .heated_bed = true, .journal_path = journal,
                              .journal_interval = 0.2, .position_wait = 3 };
    jo.scripts[JOB_SCRIPT_AFTER_PRINT_CANCELLED] = cancel_script;
    ck_assert_int_eq(job_create(&jb, &loop, &events, pr, st, &jo), 0);
    events_add_sink(&events, job_on_event, jb);
    printer_connect(pr);
    ck_assert_int_ge(wait_event("FirmwareData", 10), 0);
    run_for(0.3);
    clear_events();
}

static void setup(void)
{
    setup_with(false, NULL);
}

static void on_destroyed(void *ctx)
{
    (void)ctx;
}

static void teardown(void)
{
    job_stop(jb);
    printer_disconnect(pr);
    run_for(0.2);
    printer_destroy(pr, on_destroyed, NULL);
    job_destroy(jb);
    storage_destroy(st, NULL, NULL);
    uv_timer_stop(&keepalive);
    uv_close((uv_handle_t *)&keepalive, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    kill(sim_pid, SIGTERM);
    int status;
    waitpid(sim_pid, &status, 0);
    clear_events();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void on_upload(void *ctx, int rc, const char *rel, const char *err)
{
    (void)ctx;
    (void)rel;
    (void)err;
    upload_rc = rc;
}

/* A print of a few seconds on the simulator (no --fast): short moves at 100 mm/s. */
static char *make_gcode(int lines)
{
    size_t cap = (size_t)lines * 40 + 200;
    char *g = malloc(cap), *o = g;
    o += sprintf(o, "; test print\nG28\nG90\nM83\n");
    for (int i = 0; i < lines; i++)
        o += sprintf(o, "G1 X%d Y%d E0.05 F6000 ; move %d\n", 10 + (i % 20), 10 + (i / 20) % 20, i);
    o += sprintf(o, "G1 Z10\n");
    return g;
}

/* The record's lines that are commands of the file (host polls, M110, scripts filtered out:
 * the file uses only G28, G90, M83 and G1). */
static char *file_commands_in_record(void)
{
    FILE *f = fopen(rec, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 20, n = 0;
    char *out = calloc(1, cap), line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "G1 ", 3) == 0 || strcmp(line, "G28\n") == 0 || strcmp(line, "G90\n") == 0 ||
            strcmp(line, "M83\n") == 0) {
            size_t l = strlen(line);
            if (n + l < cap) {
                memcpy(out + n, line, l);
                n += l;
            }
        }
    fclose(f);
    return out;
}

static char *expected_commands(const char *g)
{
    char *out = calloc(1, strlen(g) + 1), *o = out;
    const char *p = g;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *semi = memchr(p, ';', len);
        size_t cl = semi ? (size_t)(semi - p) : len;
        while (cl && p[cl - 1] == ' ')
            cl--;
        if (cl) {
            memcpy(o, p, cl);
            o += cl;
            *o++ = '\n';
        }
        p += len + (nl ? 1 : 0);
    }
    return out;
}

static void upload(const char *rel, const char *g)
{
    char err[256];
    upload_rc = 1;
    ck_assert_int_eq(storage_upload(st, rel, g, strlen(g), true, false, on_upload, NULL, err, sizeof err), 0);
    ck_assert_int_ge(wait_event("Upload", 5), 0);
    ck_assert_int_eq(upload_rc, 0);
    ck_assert_int_ge(wait_event("FileAdded", 5), 0);
}

/* a command/job payload, decoded and run as the router does */
static void command(const char *json, int want)
{
    char err[256] = "";
    struct command c;
    int rc = commands_decode("command/job", json, strlen(json), &c, err, sizeof err);
    if (rc == 0)
        rc = commands_run_job(jb, &c, err, sizeof err);
    commands_command_free(&c);
    ck_assert_msg(rc == want, "%s: %d (%s), want %d", json, rc, err, want);
}

static long long job_filepos(void)
{
    struct job_view v;
    ck_assert(job_fill_view(jb, &v));
    return v.filepos;
}

START_TEST(test_upload_print_pause_resume_done)
{
    char *g = make_gcode(400);
    upload("jobs/cube.gcode", g);
    long long size = (long long)strlen(g);
    char want[512];

    command("{\"command\": \"start\", \"path\": \"jobs/cube.gcode\", \"origin\": \"local\"}", 0);
    snprintf(want, sizeof want, "FileSelected {\"name\": \"cube.gcode\", \"path\": \"jobs/cube.gcode\", \"origin\": \"local\", \"size\": %lld}", size);
    ck_assert_int_ge(find_event(want, 0), 0);
    snprintf(want, sizeof want, "PrintStarted {\"name\": \"cube.gcode\", \"path\": \"jobs/cube.gcode\", \"origin\": \"local\", \"size\": %lld}", size);
    ck_assert_int_ge(find_event(want, 0), 0);
    ck_assert_int_ge(find_event("ChartMarked {\"type\": \"print\", \"label\": \"Start\", \"time\": ", 0), 0);
    /* refused while printing, with a reason */
    command("{\"command\": \"select\", \"path\": \"jobs/cube.gcode\"}", -EBUSY);
    command("{\"command\": \"start\"}", -EBUSY);
    command("{\"command\": \"resume\"}", -EINVAL);
    command("{\"command\": \"fly\"}", -EINVAL);
    command("not json", -EINVAL);

    run_for(0.5);
    command("{\"command\": \"toggle\"}", 0);
    int i = wait_event("PrintPaused", 5);
    ck_assert_int_ge(i, 0);
    ck_assert_msg(strstr(evlog[i], "\"position\": {\"x\": ") && strstr(evlog[i], "\"fileposition\": ") &&
                  strstr(evlog[i], "\"progress\": "), "%s", evlog[i]);
    ck_assert_int_ge(find_event("PrinterStateChanged {\"state_id\": \"PAUSING\"", 0), 0);
    ck_assert_int_ge(find_event("PrinterStateChanged {\"state_id\": \"PAUSED\"", 0), 0);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_PAUSED);
    /* nothing more of the file goes out while paused */
    long long pos = job_filepos();
    ck_assert_int_gt(pos, 0);
    run_for(0.5);
    ck_assert_int_eq(job_filepos(), pos);
    /* the journal holds the position */
    ck_assert_int_eq(access(journal, R_OK), 0);

    command("{\"command\": \"resume\"}", 0);
    ck_assert_int_ge(find_event("PrintResumed {\"name\": \"cube.gcode\"", 0), 0);
    ck_assert_int_ge(find_event("ChartMarked {\"type\": \"resume\"", 0), 0);
    i = wait_event("PrintDone", 30);
    ck_assert_int_ge(i, 0);
    snprintf(want, sizeof want, "PrintDone {\"name\": \"cube.gcode\", \"path\": \"jobs/cube.gcode\", \"origin\": \"local\", \"size\": %lld, \"time\": ", size);
    ck_assert_msg(strncmp(evlog[i], want, strlen(want)) == 0, "%s", evlog[i]);
    ck_assert_int_ge(find_event("ChartMarked {\"type\": \"done\"", 0), 0);
    ck_assert_int_lt(find_event("PrintFailed", 0), 0);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_OPERATIONAL);
    ck_assert_int_eq(access(journal, F_OK), -1);
    run_for(0.3);

    char *got = file_commands_in_record(), *exp = expected_commands(g);
    ck_assert_str_eq(got, exp);
    free(got);
    free(exp);
    free(g);
}
END_TEST

/* How far the firmware's record holds the cancel script M84, M104 T0 S0, M140 S0, M106 S0 in
 * order (0..4); a file line after the script's start fails the test. */
static int cancel_script_seen(void)
{
    const char *script[] = { "M84\n", "M104 T0 S0\n", "M140 S0\n", "M106 S0\n" };
    FILE *f = fopen(rec, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int state = 0;
    while (fgets(line, sizeof line, f)) {
        if (state < 4 && strcmp(line, script[state]) == 0)
            state++;
        else if (state > 0 && strncmp(line, "G1 ", 3) == 0)
            ck_abort_msg("a file line after the cancel script: %s", line);
    }
    fclose(f);
    return state;
}

START_TEST(test_cancel_mid_print_runs_the_cancel_script)
{
    char *g = make_gcode(600);
    upload("c.gcode", g);
    command("{\"command\": \"select\", \"path\": \"c.gcode\"}", 0);
    command("{\"command\": \"start\"}", 0);
    run_for(0.6);
    command("{\"command\": \"cancel\"}", 0);
    ck_assert_int_ge(find_event("PrintCancelling {\"name\": \"c.gcode\"", 0), 0);
    int i = wait_event("PrintCancelled", 5);
    ck_assert_int_ge(i, 0);
    ck_assert_msg(strstr(evlog[i], "\"time\": ") && strstr(evlog[i], "\"position\": {\"x\": ") &&
                  strstr(evlog[i], "\"fileposition\": ") && strstr(evlog[i], "\"progress\": "), "%s", evlog[i]);
    int k = find_event("PrintFailed", 0);
    ck_assert_int_gt(k, i);
    ck_assert_ptr_nonnull(strstr(evlog[k], "\"reason\": \"cancelled\""));
    ck_assert_int_ge(find_event("GcodeScriptAfterPrintCancelledRunning {\"name\": \"c.gcode\"", 0), 0);
    ck_assert_int_ge(find_event("GcodeScriptAfterPrintCancelledFinished", 0), 0);
    ck_assert_int_ge(find_event("PrinterStateChanged {\"state_id\": \"CANCELLING\"", 0), 0);
    /* OctoPrint's default cancel script reaches the printer, after the last file line */
    int state;
    RUN_UNTIL((state = cancel_script_seen()) == 4, 5);
    ck_assert_int_eq(state, 4);
    ck_assert_int_eq(printer_get_state(pr), PRINTER_OPERATIONAL);
    /* not the whole file */
    char *got = file_commands_in_record();
    ck_assert_ptr_null(strstr(got, "G1 Z10\n"));
    free(got);
    free(g);
    command("{\"command\": \"cancel\"}", -EINVAL);
}
END_TEST

/* The card's boot message came before the link was up: until M21 reports it, SD files are
 * refused. */
static void init_sd_card(void)
{
    command("{\"command\": \"select\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\"}", -ENODEV);
    ck_assert_int_eq(find_event("FileSelected", 0), -1);
    ck_assert_int_eq(printer_send(pr, "M21"), 0);
    RUN_UNTIL(printer_get_model(pr)->sd_ready, 5 * scale());
    ck_assert(printer_get_model(pr)->sd_ready);
}

START_TEST(test_sd_print_and_sd_upload)
{
    init_sd_card();
    command("{\"command\": \"select\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\"}", 0);
    int i = wait_event("FileSelected", 5);
    ck_assert_int_ge(i, 0);
    ck_assert_str_eq(evlog[i], "FileSelected {\"name\": \"sdprint.gco\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\", \"size\": 36}");
    command("{\"command\": \"start\"}", 0);
    ck_assert_int_ge(find_event("PrintStarted {\"name\": \"sdprint.gco\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\", \"size\": 36}", 0), 0);
    i = wait_event("PrintDone", 20);
    ck_assert_int_ge(i, 0);
    ck_assert_int_ge(find_event("PrinterStateChanged {\"state_id\": \"OPERATIONAL\"", 0), 0);
    run_for(0.3);
    /* the printer ran the SD file itself */
    FILE *f = fopen(rec, "r");
    char all[8192] = "";
    size_t n = fread(all, 1, sizeof all - 1, f);
    all[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(all, "M23 sdprint.gco\n"));
    ck_assert_ptr_nonnull(strstr(all, "M24\n"));
    ck_assert_ptr_nonnull(strstr(all, "G1 X30\n"));

    /* upload a local file to the card */
    clear_events();
    const char *g = "G28\nG1 X5 F3000 ; c\nG1 X6\n";
    upload("up.gcode", g);
    char err[256];
    ck_assert_int_eq(job_sd_upload(jb, "up.gcode", "up.gco", err, sizeof err), 0);
    ck_assert_int_ge(find_event("TransferStarted {\"local\": \"up.gcode\", \"remote\": \"up.gco\"}", 0), 0);
    i = wait_event("TransferDone", 10);
    ck_assert_int_ge(i, 0);
    ck_assert_ptr_nonnull(strstr(evlog[i], "{\"local\": \"up.gcode\", \"remote\": \"up.gco\", \"time\": "));
    ck_assert_int_ge(wait_event("UpdatedFiles {\"type\": \"printables\"}", 5), 0);
    run_for(0.3);
    char p[400];
    snprintf(p, sizeof p, "%s/up.gco", sd);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(all, 1, sizeof all - 1, f);
    all[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(all, "G28") && strstr(all, "G1 X5 F3000") && strstr(all, "G1 X6"), "SD file: %s", all);
    ck_assert_int_eq(job_sd_upload(jb, "../x.gcode", "x.gco", err, sizeof err), -EINVAL);
}
END_TEST

START_TEST(test_sd_start_by_path_selects_then_starts_with_the_size)
{
    init_sd_card();
    clear_events();
    command("{\"command\": \"start\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\"}", 0);
    int sel = wait_event("FileSelected", 5);
    ck_assert_int_ge(sel, 0);
    ck_assert_str_eq(evlog[sel], "FileSelected {\"name\": \"sdprint.gco\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\", \"size\": 36}");
    int started = wait_event("PrintStarted", 5);
    ck_assert_int_gt(started, sel);
    ck_assert_str_eq(evlog[started], "PrintStarted {\"name\": \"sdprint.gco\", \"path\": \"sdprint.gco\", \"origin\": \"sdcard\", \"size\": 36}");
    ck_assert_int_ge(wait_event("PrintDone", 20), 0);
    /* a file the card does not have: the selection is dropped and nothing starts */
    clear_events();
    command("{\"command\": \"start\", \"path\": \"nothere.gco\", \"origin\": \"sdcard\"}", 0);
    ck_assert_int_ge(wait_event("FileDeselected", 5), 0);
    run_for(0.3);
    ck_assert_int_eq(find_event("PrintStarted", 0), -1);
    ck_assert_int_eq(find_event("FileSelected", 0), -1);
}
END_TEST

START_TEST(test_restart_during_a_print_keeps_it_for_the_next_handshake)
{
    char *g = make_gcode(600);
    upload("long.gcode", g);
    command("{\"command\": \"start\", \"path\": \"long.gcode\"}", 0);
    run_for(0.8);
    ck_assert_int_eq(access(journal, R_OK), 0);
    /* a crash: nothing ends the print; a new job module starts on the same journal. The
     * decision waits for the printer's next handshake (drill_kill9 and drill_resume_refused
     * run it end to end): no PrintFailed yet, and the journal stays */
    job_stop(jb);
    struct job *second;
    struct job_options jo = { .extruders = 1, .journal_path = journal };
    clear_events();
    ck_assert_int_eq(job_create(&second, &loop, &events, pr, st, &jo), 0);
    ck_assert_int_lt(find_event("PrintFailed", 0), 0);
    ck_assert_int_eq(access(journal, F_OK), 0);
    ck_assert(printer_get_resync(pr) != NULL);
    job_destroy(second);
    free(g);
}
END_TEST

START_TEST(test_pure_progress_rules)
{
    ck_assert_int_eq(job_progress_percent(0.5, false), 0);
    ck_assert_int_eq(job_progress_percent(2.5, false), 2);
    ck_assert_int_eq(job_progress_percent(3.5, false), 4);
    ck_assert_int_eq(job_progress_percent(99.7, false), 99);
    ck_assert_int_eq(job_progress_percent(100, false), 99);
    ck_assert_int_eq(job_progress_percent(100, true), 100);
    ck_assert_int_eq(job_progress_percent(-1, false), 0);
    json_t *o = job_progress_payload("local", "test.gcode", 0, 1795272086);
    char *s = pyjson_dumps(o);
    ck_assert_str_eq(s, "{\"location\": \"local\", \"path\": \"test.gcode\", \"progress\": 0, \"_timestamp\": 1795272086}");
    free(s);
    json_decref(o);
    double left;
    const char *origin;
    ck_assert(!job_time_left(0, 0, -1, &left, &origin));
    ck_assert(job_time_left(0, 0, 100, &left, &origin));
    ck_assert_str_eq(origin, "analysis");
    ck_assert_double_eq(left, 100);
    ck_assert(job_time_left(60, 0.5, -1, &left, &origin));
    ck_assert_str_eq(origin, "linear");
    ck_assert_double_eq(left, 60);
    ck_assert(job_time_left(30, 0.25, 200, &left, &origin));
    ck_assert_str_eq(origin, "mixed-analysis");
    ck_assert_double_eq(left, 0.5 * 200 + 0.5 * 120 - 30);
}
END_TEST

Suite *job_sim_suite(void)
{
    Suite *s = suite_create("job_sim");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_pure_progress_rules);
    suite_add_tcase(s, tc);
    tc = tcase_create("sim");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_upload_print_pause_resume_done);
    tcase_add_test(tc, test_cancel_mid_print_runs_the_cancel_script);
    tcase_add_test(tc, test_sd_print_and_sd_upload);
    tcase_add_test(tc, test_sd_start_by_path_selects_then_starts_with_the_size);
    tcase_add_test(tc, test_restart_during_a_print_keeps_it_for_the_next_handshake);
    suite_add_tcase(s, tc);
    return s;
}
