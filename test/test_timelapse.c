/* test_timelapse.c: the pure parts of timelapse: the layer filter (Z-hops ignored), frame
 * and movie paths, ffmpeg's argv. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    ck_assert_int_eq(timelapse_frame_path(p, 8, "/tmp/f", "png", 1), -ENAMETOOLONG);

    struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 21, .tm_hour = 16, .tm_min = 5, .tm_sec = 9,
                     .tm_isdst = -1 };
    long long t = (long long)mktime(&tm);
    ck_assert_int_gt(timelapse_movie_path(p, sizeof p, "/out", "sub/cube.v2.gcode", "mp4", t), 0);
    ck_assert_str_eq(p, "/out/cube.v2_20261121160509.mp4");

    char *args[] = { "-c:v", "mpeg4", "-metadata", "title={movie}", NULL };
    char **argv = timelapse_ffmpeg_argv("/usr/bin/ffmpeg", 30, "/f/frame-%05d.jpg", args, "/out/m.mp4");
    ck_assert_ptr_nonnull(argv);
    char joined[512];
    proc_describe(joined, sizeof joined, argv);
    ck_assert_str_eq(joined, "/usr/bin/ffmpeg -y -loglevel error -framerate 30 -i /f/frame-%05d.jpg "
                             "-c:v mpeg4 -metadata title=/out/m.mp4 /out/m.mp4");
    proc_argv_free(argv);
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
    suite_add_tcase(s, tc);
    return s;
}
