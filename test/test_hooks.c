/* test_hooks.c: the hook runner on a real libuv loop with real child processes: HookFinished
 * payloads, hostile placeholder values in no-shell and shell mode creating nothing, the
 * timeout killing a hook's whole process group, the concurrency limit and queue, bounded
 * output kept together over a chain of commands, background children outliving their hook,
 * stop-at-first-failure, spawn errors and G-code hooks without a printer. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/hooks.h"
#include "printbridge/base.h"

static uv_loop_t loop;
static struct events ev;
static struct hookconfig hc;
static struct hooks *hooks;
static json_t *finished;        /* every HookFinished payload, in order */
static int dones;
static char dir[64], cwd[4096];
static struct hooks_result last;
static char last_out[4096];

static void sink(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ctx;
    (void)ts;
    if (strcmp(name, EVENT_HOOK_FINISHED) == 0)
        json_array_append(finished, payload);
}

static void on_done(void *ctx, const struct hooks_result *r)
{
    (void)ctx;
    dones++;
    last = *r;
    snprintf(last_out, sizeof last_out, "%s", r->out ? r->out : "");
    last.out = last_out;
    last.name = last.err = last.error = NULL;
}

static void setup(void)
{
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(dir, sizeof dir, "/tmp/pb-hooks-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chdir(dir), 0);
    uv_loop_init(&loop);
    events_init(&ev);
    events_add_sink(&ev, sink, NULL);
    hc = *hookconfig_or_defaults(NULL);
    finished = json_array();
    dones = 0;
    ck_assert_int_eq(hooks_create(&hooks, &loop, &ev, &hc), 0);
}

static void teardown(void)
{
    hooks_stop(hooks);
    uv_run(&loop, UV_RUN_DEFAULT);
    hooks_free(hooks);
    hooks = NULL;
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    json_decref(finished);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(system(cmd), 0);
}

static struct hook_def def_of(const char *name, enum hook_type type, bool shell, char **commands, size_t n)
{
    struct hook_def d = { .name = (char *)name, .type = type, .shell = shell, .commands = commands, .ncommands = n,
                          .enabled = true };
    return d;
}

/* The only entries of the temp folder, space-separated ("" when empty). */
static const char *listing(void)
{
    static char out[1024];
    FILE *p = popen("ls -A", "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = '\0';
    for (char *c = out; *c; c++)
        if (*c == '\n')
            *c = ' ';
    return out;
}

static const char *fin_str(size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(finished, i), key));
}

static json_t *hostile_payload(void)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "a", "$(touch pwned1)", "b", "; touch pwned2; '", "c",
                     "x\"y'z`touch pwned3`\nsecond line", "d", "' && touch pwned4 && echo '");
}

START_TEST(test_no_shell_keeps_each_value_one_argument)
{
    char *cmds[] = { "printf '[%s]' {a} {b} \"{c}\" pre-{d}-post ~ '{__eventname}'" };
    struct hook_def d = def_of("argv", HOOK_SYSTEM, false, cmds, 1);
    json_t *p = hostile_payload();
    struct placeholders ph = { .eventname = "PrintDone", .payload = p };
    ck_assert_int_eq(hooks_run(hooks, &d, "PrintDone", &ph, on_done, NULL), 0);
    json_decref(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(dones, 1);
    char want[512];
    snprintf(want, sizeof want, "[$(touch pwned1)][; touch pwned2; '][x\"y'z`touch pwned3`\nsecond line]"
                                "[pre-' && touch pwned4 && echo '-post][%s][PrintDone]", getenv("HOME") ? getenv("HOME") : "~");
    ck_assert_str_eq(last.out, want);
    ck_assert_str_eq(listing(), "");
    /* HookFinished: name, trigger, type, returncode, stdout, stderr, duration, in that order */
    ck_assert_uint_eq(json_array_size(finished), 1);
    json_t *f = json_array_get(finished, 0);
    const char *keys[] = { "name", "trigger", "type", "returncode", "stdout", "stderr", "duration" };
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(f, k, v) {
        ck_assert_uint_lt(i, 7);
        ck_assert_str_eq(k, keys[i++]);
    }
    ck_assert_uint_eq(i, 7);
    ck_assert_str_eq(fin_str(0, "name"), "argv");
    ck_assert_str_eq(fin_str(0, "trigger"), "PrintDone");
    ck_assert_str_eq(fin_str(0, "type"), "system");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "returncode")), 0);
    ck_assert_str_eq(fin_str(0, "stdout"), want);
    ck_assert(json_is_real(json_object_get(f, "duration")));
}
END_TEST

START_TEST(test_shell_mode_quotes_every_value)
{
    char *cmds[] = { "printf '[%s]' {a} {b} {c} {d} > out.txt; echo done" };
    struct hook_def d = def_of("shell", HOOK_SYSTEM, true, cmds, 1);
    json_t *p = hostile_payload();
    struct placeholders ph = { .payload = p };
    ck_assert_int_eq(hooks_run(hooks, &d, "Test", &ph, on_done, NULL), 0);
    json_decref(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(last.returncode, 0);
    ck_assert_str_eq(last.out, "done\n");
    ck_assert_str_eq(listing(), "out.txt ");
    FILE *f = fopen("out.txt", "r");
    char buf[512] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "[$(touch pwned1)][; touch pwned2; '][x\"y'z`touch pwned3`\nsecond line]"
                          "[' && touch pwned4 && echo ']");
}
END_TEST

START_TEST(test_megabyte_value_runs_nothing)
{
    char *big = malloc(1 << 20);
    memset(big, 'x', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    json_t *p = json_pack("{s:s}", "name", big);
    free(big);
    char *cmds[] = { "touch created {name}" };
    struct placeholders ph = { .payload = p };
    for (int shell = 0; shell < 2; shell++) {
        struct hook_def d = def_of("big", HOOK_SYSTEM, shell, cmds, 1);
        ck_assert_int_eq(hooks_run(hooks, &d, "Test", &ph, on_done, NULL), -E2BIG);
    }
    json_decref(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(dones, 2);
    ck_assert_str_eq(listing(), "");
    ck_assert_uint_eq(json_array_size(finished), 2);
    ck_assert(strstr(fin_str(0, "error"), "longer than 131071 bytes after placeholder substitution"));
    ck_assert(json_is_null(json_object_get(json_array_get(finished, 0), "returncode")));
}
END_TEST

/* Running or sleeping; a zombie is dead (a container's init may be slow to reap it). */
static bool alive(int pid)
{
    char path[64], state = 'Z';
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
        state = 'Z';
    fclose(f);
    return state != 'Z' && state != 'X';
}

START_TEST(test_timeout_kills_the_process_group)
{
    char *cmds[] = { "sleep 30 & echo $! > child.pid; sleep 30" };
    struct hook_def d = def_of("hang", HOOK_SYSTEM, true, cmds, 1);
    d.timeout = 0.5;
    struct placeholders ph = { 0 };
    uint64_t t0 = uv_hrtime();
    ck_assert_int_eq(hooks_run(hooks, &d, "Test", &ph, on_done, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    double took = (double)(uv_hrtime() - t0) / 1e9;
    ck_assert_msg(took < 5, "took %.1f s", took);
    ck_assert_int_eq(last.returncode, -SIGKILL);
    ck_assert(strstr(fin_str(0, "error"), "timed out after 0.5 s"));
    FILE *f = fopen("child.pid", "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    /* the background child was in the group: it is gone (or a zombie nobody reaped yet) */
    for (int i = 0; i < 50 && alive(pid); i++)
        usleep(20000);
    ck_assert_msg(!alive(pid), "the hook's child %d survived the timeout", pid);
}
END_TEST

START_TEST(test_concurrency_limit_and_queue)
{
    hc.max_concurrent = 1;
    hc.max_queued = 1;
    char *cmds[] = { "sh -c 'echo $$ >> order.txt; sleep 0.2'" };
    struct hook_def d = def_of("slow", HOOK_SYSTEM, false, cmds, 1);
    struct placeholders ph = { 0 };
    ck_assert_int_eq(hooks_run(hooks, &d, "one", &ph, on_done, NULL), 0);
    ck_assert_int_eq(hooks_run(hooks, &d, "two", &ph, on_done, NULL), 0);
    ck_assert_uint_eq(hooks_active(hooks), 2);
    ck_assert_int_eq(hooks_run(hooks, &d, "three", &ph, on_done, NULL), -EBUSY);
    ck_assert(strstr(fin_str(0, "error"), "dropped: 1 hooks are running and 1 waiting"));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(dones, 3);
    ck_assert_str_eq(fin_str(1, "trigger"), "one");
    ck_assert_str_eq(fin_str(2, "trigger"), "two");
    ck_assert_uint_eq(hooks_active(hooks), 0);
}
END_TEST

START_TEST(test_output_is_bounded_and_drained)
{
    hc.max_output = 10;
    char *cmds[] = { "head -c 1000000 /dev/zero | tr '\\0' a; echo err >&2" };
    struct hook_def d = def_of("loud", HOOK_SYSTEM, true, cmds, 1);
    struct placeholders ph = { 0 };
    hooks_run(hooks, &d, "Test", &ph, on_done, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(last.returncode, 0);
    ck_assert_str_eq(last.out, "aaaaaaaaaa");
    ck_assert_str_eq(fin_str(0, "stderr"), "err\n");
}
END_TEST

START_TEST(test_output_of_a_chain_is_kept_together)
{
    hc.max_output = 10;
    char *cmds[] = { "echo one", "sh -c 'echo two; echo e >&2'", "echo three" };
    struct hook_def d = def_of("chain", HOOK_SYSTEM, false, cmds, 3);
    struct placeholders ph = { 0 };
    ck_assert_int_eq(hooks_run(hooks, &d, "Test", &ph, on_done, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(dones, 1);
    ck_assert_int_eq(last.returncode, 0);
    ck_assert_str_eq(last.out, "one\ntwo\nth");     /* max_output for the whole chain */
    ck_assert_str_eq(fin_str(0, "stderr"), "e\n");
}
END_TEST

/* A hook may start something that outlives it: the hook is done when it exits. */
START_TEST(test_background_child_outlives_its_hook)
{
    char *cmds[] = { "sleep 30 >/dev/null 2>&1 & echo $! > child.pid" };
    struct hook_def d = def_of("starter", HOOK_SYSTEM, true, cmds, 1);
    struct placeholders ph = { 0 };
    ck_assert_int_eq(hooks_run(hooks, &d, "Test", &ph, on_done, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(last.returncode, 0);
    ck_assert(fin_str(0, "error") == NULL);
    FILE *f = fopen("child.pid", "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    ck_assert_msg(alive(pid), "the hook's background child %d was killed", pid);
    kill(pid, SIGKILL);
}
END_TEST

START_TEST(test_commands_stop_at_first_failure)
{
    char *cmds[] = { "true", "sh -c 'exit 3'", "touch never" };
    struct hook_def d = def_of("seq", HOOK_SYSTEM, false, cmds, 3);
    struct placeholders ph = { 0 };
    hooks_run(hooks, &d, "Test", &ph, on_done, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(dones, 1);
    ck_assert_int_eq(last.returncode, 3);
    ck_assert_str_eq(listing(), "");
}
END_TEST

START_TEST(test_spawn_error_and_gcode_without_printer)
{
    char *cmds[] = { "/nonexistent/hook --flag" };
    struct hook_def d = def_of("missing", HOOK_SYSTEM, false, cmds, 1);
    struct placeholders ph = { 0 };
    hooks_run(hooks, &d, "Test", &ph, on_done, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(dones, 1);
    ck_assert(!last.has_returncode);
    ck_assert_str_eq(fin_str(0, "error"), "cannot run '/nonexistent/hook': no such file or directory");
    char *g[] = { "M300 S440 P200" };
    struct hook_def gd = def_of("beep", HOOK_GCODE, false, g, 1);
    ck_assert_int_eq(hooks_run(hooks, &gd, "PrintDone", &ph, on_done, NULL), -ENOTCONN);
    ck_assert_int_eq(dones, 2);
    ck_assert_uint_eq(json_array_size(finished), 1);  /* no HookFinished for G-code hooks */
}
END_TEST

START_TEST(test_event_subscriptions_fire_with_placeholders)
{
    char *cmds[] = { "sh -c 'echo \"$1\" >> seen.txt' hook {__eventname}:{name}" };
    char *evs[] = { "PrintDone", "PrintFailed" };
    struct hook_def subs[2] = { def_of("notify", HOOK_SYSTEM, false, cmds, 1), def_of("off", HOOK_SYSTEM, false, cmds, 1) };
    subs[0].events = evs;
    subs[0].nevents = 2;
    subs[1].events = evs;
    subs[1].nevents = 1;
    subs[1].enabled = false;
    hc.subs = subs;
    hc.nsubs = 2;
    events_add_sink(&ev, hooks_on_event, hooks);
    events_fire(&ev, "PrintDone", json_pack("{s:s}", "name", "cube.gcode"));
    uv_run(&loop, UV_RUN_DEFAULT);
    events_fire(&ev, "PrintStarted", json_pack("{s:s}", "name", "cube.gcode"));
    events_fire(&ev, "PrintFailed", json_pack("{s:s}", "name", "x"));
    uv_run(&loop, UV_RUN_DEFAULT);
    FILE *f = fopen("seen.txt", "r");
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "PrintDone:cube.gcode\nPrintFailed:x\n");
    hc.events_enabled = false;
    events_fire(&ev, "PrintDone", NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_uint_eq(json_array_size(finished), 2);
    hc.subs = NULL;
    hc.nsubs = 0;
}
END_TEST

Suite *hooks_suite(void);
Suite *hooks_suite(void)
{
    Suite *s = suite_create("hooks");
    TCase *tc = tcase_create("runner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_no_shell_keeps_each_value_one_argument);
    tcase_add_test(tc, test_shell_mode_quotes_every_value);
    tcase_add_test(tc, test_megabyte_value_runs_nothing);
    tcase_add_test(tc, test_timeout_kills_the_process_group);
    tcase_add_test(tc, test_concurrency_limit_and_queue);
    tcase_add_test(tc, test_output_is_bounded_and_drained);
    tcase_add_test(tc, test_output_of_a_chain_is_kept_together);
    tcase_add_test(tc, test_background_child_outlives_its_hook);
    tcase_add_test(tc, test_commands_stop_at_first_failure);
    tcase_add_test(tc, test_spawn_error_and_gcode_without_printer);
    tcase_add_test(tc, test_event_subscriptions_fire_with_placeholders);
    suite_add_tcase(s, tc);
    return s;
}
