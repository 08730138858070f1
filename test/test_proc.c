/* test_proc.c: the child-process runner on a real loop: exit status, captured output cut at
 * the buffer's limit, lines, the timeout and proc_kill taking the whole process group, a
 * command's leftover children killed at exit unless keep_children, a missing tool, the
 * fire-and-forget shell run and releasing a run; plus the argv template filling. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "printbridge/base.h"

START_TEST(test_proc_fill_replaces_known_placeholders_only)
{
    const char *names[] = { "file", "input" };
    const char *values[] = { "/tmp/a b.jpg", "x{file}y" };
    char *one = proc_fill_one("-o{file}{other}{input}{", names, values, 2);
    ck_assert_str_eq(one, "-o/tmp/a b.jpg{other}x{file}y{");
    free(one);
    char *tmpl[] = { "curl", "-o", "{file}", NULL };
    char **argv = proc_fill(tmpl, names, values, 2);
    ck_assert_str_eq(argv[2], "/tmp/a b.jpg");
    ck_assert_ptr_null(argv[3]);
    proc_argv_free(argv);
    char *empty[] = { NULL };
    ck_assert_ptr_null(proc_fill(empty, names, values, 2));
}
END_TEST

struct run_seen {
    int done;
    bool ok, timed_out;
    long long status;
    int spawn_error;
    char last_err[128];
    char out[128];
};

static void on_done(void *ctx, const struct proc_result *r)
{
    struct run_seen *s = ctx;
    s->done++;
    s->ok = proc_ok(r);
    s->timed_out = r->timed_out;
    s->status = r->exit_status;
    s->spawn_error = r->spawn_error;
    snprintf(s->last_err, sizeof s->last_err, "%s", r->last_err);
}

static void run(char *const *argv, double timeout, struct run_seen *s)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(s, 0, sizeof *s);
    struct strbuf out = { .max = 64 };
    struct proc_options o = { .timeout = timeout, .out = &out, .on_done = on_done, .ctx = s };
    struct proc *p = NULL;
    ck_assert_int_eq(proc_start(&p, &loop, argv, &o), 0);
    ck_assert_ptr_nonnull(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    snprintf(s->out, sizeof s->out, "%s", out.s ? out.s : "");
    strbuf_free(&out);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s->done, 1);
}

START_TEST(test_proc_reports_status_output_timeout_and_missing_tool)
{
    struct run_seen s;
    char *ok[] = { "/bin/sh", "-c", "printf hello; echo oops >&2; echo last words >&2", NULL };
    run(ok, 5, &s);
    ck_assert(s.ok);
    ck_assert_str_eq(s.out, "hello");
    ck_assert_str_eq(s.last_err, "last words");

    char *bad[] = { "/bin/sh", "-c", "exit 3", NULL };
    run(bad, 5, &s);
    ck_assert(!s.ok);
    ck_assert_int_eq(s.status, 3);

    /* a hanging tool with a child that keeps the pipes open: the whole group goes */
    char *hang[] = { "/bin/sh", "-c", "sleep 30 & sleep 30", NULL };
    time_t t0 = time(NULL);
    run(hang, 0.3, &s);
    ck_assert(s.timed_out);
    ck_assert_int_le(time(NULL) - t0, 5);

    char *missing[] = { "/nonexistent/camera-tool", NULL };
    run(missing, 5, &s);
    ck_assert_int_ne(s.spawn_error, 0);
    ck_assert(!s.ok);
    ck_assert(strstr(s.last_err, "cannot run /nonexistent/camera-tool") != NULL);
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

static bool gone(int pid)
{
    for (int i = 0; i < 100 && alive(pid); i++)
        usleep(20000);
    return !alive(pid);
}

static char pidfile[64];

/* The pid a test command wrote into pidfile. */
static int read_pid(void)
{
    int pid = 0;
    FILE *f = fopen(pidfile, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    unlink(pidfile);
    return pid;
}

struct full_seen {
    int done;
    struct proc_result r;
    char lines[256];
};

static void on_full_done(void *ctx, const struct proc_result *r)
{
    struct full_seen *s = ctx;
    s->done++;
    s->r = *r;
    s->r.last_err = NULL;
}

static void on_line(void *ctx, const char *line, bool is_stderr)
{
    struct full_seen *s = ctx;
    snprintf(s->lines + strlen(s->lines), sizeof s->lines - strlen(s->lines), "%s%s|", is_stderr ? "E:" : "O:", line);
}

static void run_full(char *const *argv, const struct proc_options *o_in, struct full_seen *s)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(s, 0, sizeof *s);
    struct proc_options o = *o_in;
    o.on_done = on_full_done;
    o.ctx = s;
    ck_assert_int_eq(proc_start(NULL, &loop, argv, &o), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s->done, 1);
}

START_TEST(test_proc_captures_both_streams_cut_at_the_limit_and_in_lines)
{
    struct full_seen s;
    struct strbuf out = { .max = 3 }, err = { .max = 100 };
    struct proc_options o = { .timeout = 5, .out = &out, .err = &err, .on_line = on_line };
    char *argv[] = { "/bin/sh", "-c", "printf 'a\\nbb\\n'; printf 'e1\\r\\ne2' >&2", NULL };
    run_full(argv, &o, &s);
    ck_assert(proc_ok(&s.r));
    ck_assert_str_eq(out.s, "a\nb");
    ck_assert(s.r.out_cut);
    ck_assert_str_eq(err.s, "e1\r\ne2");
    ck_assert(!s.r.err_cut);
    /* the two streams interleave as the pipes deliver them, each in its own order; a CR before
     * the line break and an unterminated last line are handled */
    const char *o1 = strstr(s.lines, "O:a|"), *o2 = strstr(s.lines, "O:bb|");
    const char *e1 = strstr(s.lines, "E:e1|"), *e2 = strstr(s.lines, "E:e2|");
    ck_assert_msg(o1 && o2 && o1 < o2 && e1 && e2 && e1 < e2, "lines: %s", s.lines);
    ck_assert(s.r.duration >= 0 && s.r.duration < 5);
    strbuf_free(&out);
    strbuf_free(&err);

    char *empty[] = { NULL };
    ck_assert_int_eq(proc_start(NULL, uv_default_loop(), empty, &o), -EINVAL);
}
END_TEST

START_TEST(test_proc_kills_leftovers_at_exit_unless_keep_children)
{
    struct full_seen s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "sleep 30 >/dev/null 2>&1 & echo $! > %s", pidfile);
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };

    struct proc_options o = { .timeout = 5 };
    run_full(argv, &o, &s);
    ck_assert(proc_ok(&s.r));
    int pid = read_pid();
    ck_assert_msg(gone(pid), "the tool's leftover child %d survived its exit", pid);

    o.keep_children = true;
    run_full(argv, &o, &s);
    ck_assert(proc_ok(&s.r));
    pid = read_pid();
    ck_assert_msg(alive(pid), "keep_children: the child %d was killed", pid);
    kill(pid, SIGKILL);

    /* a leftover that holds the pipes keeps the run going until the timeout, which kills it */
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s", pidfile);
    o.timeout = 0.3;
    time_t t0 = time(NULL);
    run_full(argv, &o, &s);
    ck_assert(s.r.timed_out);
    ck_assert_int_eq(s.r.exit_status, 0);
    ck_assert_int_eq(s.r.term_signal, 0);
    ck_assert_int_le(time(NULL) - t0, 5);
    pid = read_pid();
    ck_assert_msg(gone(pid), "the child %d holding the pipes survived the timeout", pid);
}
END_TEST

static void kill_soon(uv_timer_t *t)
{
    proc_kill(t->data);
    proc_kill(t->data);     /* a second kill changes nothing */
    uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_proc_kill_takes_the_group)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct full_seen s = { 0 };
    char cmd[128];
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; sleep 30", pidfile);
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    struct proc_options o = { .on_done = on_full_done, .ctx = &s };
    struct proc *p;
    ck_assert_int_eq(proc_start(&p, &loop, argv, &o), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = p;
    uv_timer_start(&t, kill_soon, 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s.done, 1);
    ck_assert(s.r.killed);
    ck_assert(!s.r.timed_out);
    ck_assert_int_eq(s.r.term_signal, SIGKILL);
    int pid = read_pid();
    ck_assert_msg(gone(pid), "the killed command's child %d survived", pid);
}
END_TEST

START_TEST(test_proc_shell_and_release)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct full_seen s = { 0 };
    struct proc *p = NULL;
    ck_assert_int_eq(proc_shell(&p, &loop, "echo to nowhere; echo also >&2; exit 7", "test: shell", on_full_done, &s), 0);
    ck_assert_ptr_nonnull(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(s.done, 1);
    ck_assert_int_eq(s.r.exit_status, 7);
    ck_assert(!s.r.out_cut && !s.r.err_cut);

    /* fire and forget: no pointer, no callback */
    ck_assert_int_eq(proc_shell(NULL, &loop, "exit 0", "test: forgotten", NULL, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* released: the loop ends at once, no callback, and the command runs on */
    memset(&s, 0, sizeof s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "echo $$ > %s; exec sleep 30", pidfile);
    ck_assert_int_eq(proc_shell(&p, &loop, cmd, "test: released", on_full_done, &s), 0);
    for (int i = 0; i < 100 && access(pidfile, F_OK) != 0; i++)
        usleep(20000);
    usleep(50000);
    proc_release(p);
    time_t t0 = time(NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_le(time(NULL) - t0, 2);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s.done, 0);
    int pid = read_pid();
    ck_assert_msg(alive(pid), "the released command %d was killed", pid);
    kill(pid, SIGKILL);
}
END_TEST

static void setup(void)
{
    snprintf(pidfile, sizeof pidfile, "/tmp/pb-proc-%ld.pid", (long)getpid());
    unlink(pidfile);
}

Suite *proc_suite(void);
Suite *proc_suite(void)
{
    Suite *s = suite_create("proc");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_proc_fill_replaces_known_placeholders_only);
    tcase_add_test(tc, test_proc_reports_status_output_timeout_and_missing_tool);
    tcase_add_test(tc, test_proc_captures_both_streams_cut_at_the_limit_and_in_lines);
    tcase_add_test(tc, test_proc_kills_leftovers_at_exit_unless_keep_children);
    tcase_add_test(tc, test_proc_kill_takes_the_group);
    tcase_add_test(tc, test_proc_shell_and_release);
    suite_add_tcase(s, tc);
    return s;
}
