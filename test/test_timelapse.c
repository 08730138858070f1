/* test_timelapse.c: the pure parts of timelapse and toolrun: the layer filter (Z-hops
 * ignored), frame and movie paths, ffmpeg's argv and placeholder filling; plus toolrun on a
 * real loop (exit status, stderr, timeout killing the process group, missing tool). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "printbridge/tools.h"
#include "printbridge/base.h"

/* feeds zs and returns the layers a frame was taken for, space-separated */
static void feed_all(const double *zs, int n, char *out, size_t outsz)
{
    struct timelapse_layers l;
    timelapse_layers_reset(&l);
    out[0] = '\0';
    double z;
    for (int i = 0; i < n; i++)
        if (timelapse_layers_feed(&l, zs[i], &z))
            snprintf(out + strlen(out), outsz - strlen(out), "%.2f ", z);
    if (timelapse_layers_flush(&l, &z))
        snprintf(out + strlen(out), outsz - strlen(out), "%.2f ", z);
}

START_TEST(test_timelapse_layers_one_frame_per_layer_without_hops)
{
    const double zs[] = { 5.0, 0.2, 0.4, 0.6 };
    char got[128];
    feed_all(zs, 4, got, sizeof got);
    ck_assert_str_eq(got, "0.20 0.40 0.60 ");
}
END_TEST

START_TEST(test_timelapse_layers_ignore_z_hops)
{
    /* layer 0.2 with two hops of 0.4, layer 0.4 with one, then the last layer 0.6 */
    const double zs[] = { 0.2, 0.6, 0.2, 0.6, 0.2, 0.4, 0.8, 0.4, 0.6 };
    char got[128];
    feed_all(zs, 9, got, sizeof got);
    ck_assert_str_eq(got, "0.20 0.40 0.60 ");
}
END_TEST

START_TEST(test_timelapse_paths_and_ffmpeg_argv)
{
    char p[256];
    ck_assert_int_gt(timelapse_frame_path(p, sizeof p, "/tmp/f", "jpg", 7), 0);
    ck_assert_str_eq(p, "/tmp/f/frame-00007.jpg");
    ck_assert_int_gt(timelapse_frame_path(p, sizeof p, "/tmp/f", "png", -1), 0);
    ck_assert_str_eq(p, "/tmp/f/frame-%05d.png");
    ck_assert_int_lt(timelapse_frame_path(p, 8, "/tmp/f", "png", 1), 0);

    struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 21, .tm_hour = 16, .tm_min = 5, .tm_sec = 9,
                     .tm_isdst = -1 };
    long long t = (long long)mktime(&tm);
    ck_assert_int_gt(timelapse_movie_path(p, sizeof p, "/out", "sub/cube.v2.gcode", "mp4", t), 0);
    ck_assert_str_eq(p, "/out/cube.v2_20261121160509.mp4");

    char *args[] = { "-c:v", "mpeg4", "-metadata", "title={movie}", NULL };
    char **argv = timelapse_ffmpeg_argv("/usr/bin/ffmpeg", 30, "/f/frame-%05d.jpg", args, "/out/m.mp4");
    ck_assert_ptr_nonnull(argv);
    char joined[512];
    toolrun_describe(joined, sizeof joined, argv);
    ck_assert_str_eq(joined, "/usr/bin/ffmpeg -y -loglevel error -framerate 30 -i /f/frame-%05d.jpg "
                             "-c:v mpeg4 -metadata title=/out/m.mp4 /out/m.mp4");
    toolrun_argv_free(argv);
}
END_TEST

START_TEST(test_toolrun_fill_replaces_known_placeholders_only)
{
    const char *names[] = { "file", "input" };
    const char *values[] = { "/tmp/a b.jpg", "x{file}y" };
    char *one = toolrun_fill_one("-o{file}{other}{input}{", names, values, 2);
    ck_assert_str_eq(one, "-o/tmp/a b.jpg{other}x{file}y{");
    free(one);
    char *tmpl[] = { "curl", "-o", "{file}", NULL };
    char **argv = toolrun_fill(tmpl, names, values, 2);
    ck_assert_str_eq(argv[2], "/tmp/a b.jpg");
    ck_assert_ptr_null(argv[3]);
    toolrun_argv_free(argv);
    char *empty[] = { NULL };
    ck_assert_ptr_null(toolrun_fill(empty, names, values, 2));
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

static void on_done(void *ctx, const struct toolrun_result *r)
{
    struct run_seen *s = ctx;
    s->done++;
    s->ok = toolrun_ok(r);
    s->timed_out = r->timed_out;
    s->status = r->exit_status;
    s->spawn_error = r->spawn_error;
    snprintf(s->last_err, sizeof s->last_err, "%s", r->last_err);
    snprintf(s->out, sizeof s->out, "%s", r->out ? r->out : "");
}

static void run(char *const *argv, double timeout, struct run_seen *s)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(s, 0, sizeof *s);
    struct toolrun_options o = { .timeout = timeout, .capture = true, .max_out = 64, .on_done = on_done, .ctx = s };
    ck_assert_ptr_nonnull(toolrun_start(&loop, argv, &o));
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s->done, 1);
}

START_TEST(test_toolrun_reports_status_output_timeout_and_missing_tool)
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

Suite *timelapse_suite(void);
Suite *timelapse_suite(void)
{
    Suite *s = suite_create("timelapse");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_timelapse_layers_one_frame_per_layer_without_hops);
    tcase_add_test(tc, test_timelapse_layers_ignore_z_hops);
    tcase_add_test(tc, test_timelapse_paths_and_ffmpeg_argv);
    tcase_add_test(tc, test_toolrun_fill_replaces_known_placeholders_only);
    tcase_add_test(tc, test_toolrun_reports_status_output_timeout_and_missing_tool);
    suite_add_tcase(s, tc);
    return s;
}
