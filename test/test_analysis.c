/* test_analysis.c: the G-code analyser on hand-made lines and on the two synthetic sliced
 * samples of test/data (see gen_samples.sh for how their embedded estimates were made):
 * slicer estimate parsing, our estimate against the embedded one, filament, areas, layers,
 * chunking independence, and a throughput floor. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "printbridge/jobs.h"

Suite *analysis_suite(void);

static char *sample_path(const char *name)
{
    static char buf[1024];
    const char *src = getenv("PB_SRCDIR");
    snprintf(buf, sizeof buf, "%s/test/data/%s", src ? src : ".", name);
    return buf;
}

static void run(const char *text, struct analysis_result *r)
{
    struct analysis a;
    analysis_init(&a, NULL);
    analysis_feed(&a, text, strlen(text));
    analysis_finish(&a, r);
}

START_TEST(test_slicer_time_formats)
{
    const char *p1 = "; estimated printing time (normal mode) = 1h 2m 3s";
    const char *p2 = "; estimated printing time (normal mode) = 1d 2h 3m 4s";
    const char *p3 = "; estimated printing time (normal mode) = 26m 25s";
    const char *c1 = ";TIME:3723";
    ck_assert_double_eq(analysis_parse_slicer_time(p1, strlen(p1)), 3723);
    ck_assert_double_eq(analysis_parse_slicer_time(p2, strlen(p2)), 93784);
    ck_assert_double_eq(analysis_parse_slicer_time(p3, strlen(p3)), 1585);
    ck_assert_double_eq(analysis_parse_slicer_time(c1, strlen(c1)), 3723);
    const char *no[] = { ";TIME_ELAPSED:12.5", "; estimated printing time (silent mode) = 1h",
                         "; estimated printing time (normal mode) = soon", ";TIME:", "G1 X1" };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_double_eq(analysis_parse_slicer_time(no[i], strlen(no[i])), -1);
}
END_TEST

START_TEST(test_straight_move_time_includes_acceleration)
{
    struct analysis_result r;
    /* 100 mm at 50 mm/s, a = 1000: 0.05 s up and down (1.25 mm each), 97.5 mm cruise: 2.05 s */
    run("M204 S1000\nG1 X100 F3000\n", &r);
    ck_assert_double_eq_tol(r.estimated_time, 2.05, 1e-9);
    ck_assert_double_lt(r.slicer_time, 0);
    /* too short to reach cruise: triangle, 2*sqrt(d/a) */
    run("M204 S1000\nG1 X1 F6000\n", &r);
    ck_assert_double_eq_tol(r.estimated_time, 2 * sqrt(1.0 / 1000), 1e-9);
}
END_TEST

START_TEST(test_collinear_segments_do_not_stop)
{
    struct analysis_result one, many;
    run("M204 S1000\nG1 X100 F3000\n", &one);
    run("M204 S1000\nG1 X25 F3000\nG1 X50\nG1 X75\nG1 X100\n", &many);
    ck_assert_double_eq_tol(many.estimated_time, one.estimated_time, 1e-6);
}
END_TEST

START_TEST(test_filament_relative_absolute_and_retractions)
{
    struct analysis_result r;
    /* absolute E with a retraction and G92 reset: the longest total counts */
    run("G90\nM82\nG1 X10 E5\nG1 E4\nG1 X20 E10\nG92 E0\nG1 X30 E2\n", &r);
    ck_assert_int_eq(r.ntools, 1);
    ck_assert_double_eq_tol(r.filament_length[0], 12, 1e-9);
    ck_assert_double_eq_tol(r.filament_volume[0], 12 * M_PI * 0.875 * 0.875 / 1000, 1e-9);
    /* relative E, two tools */
    run("M83\nT0\nG1 X10 E3\nT1\nG1 X20 E4\nG1 E-1\nG1 E1\nG1 X30 E2\n", &r);
    ck_assert_int_eq(r.ntools, 2);
    ck_assert_double_eq_tol(r.filament_length[0], 3, 1e-9);
    ck_assert_double_eq_tol(r.filament_length[1], 6, 1e-9);
}
END_TEST

START_TEST(test_areas_layers_and_comments)
{
    struct analysis_result r;
    run("G28\nG0 X5 Y5 Z0.3\nG1 X15 Y5 E1 ; perimeter\nG1 X15 Y25 E2\n"
        "G0 Z0.5\nG1 X5 E3\nG0 Z0.7\nG1 X15 E4\nG0 X100 Y100 Z10\n", &r);
    ck_assert(r.printing.valid);
    ck_assert_double_eq(r.printing.min[0], 5);
    ck_assert_double_eq(r.printing.max[0], 15);
    ck_assert_double_eq(r.printing.max[1], 25);
    ck_assert_double_eq_tol(r.printing.max[2], 0.7, 1e-9);
    ck_assert_double_eq(r.travel.max[0], 100);
    ck_assert_int_eq(r.layers, 3);
    ck_assert_double_eq_tol(r.first_layer_height, 0.3, 1e-9);
    ck_assert_double_eq_tol(r.layer_height, 0.2, 1e-9);
    json_t *j = analysis_to_json(&r);
    ck_assert_ptr_nonnull(j);
    ck_assert_double_eq_tol(json_real_value(json_object_get(json_object_get(j, "dimensions"), "width")), 10, 1e-9);
    struct analysis_result back;
    ck_assert_int_eq(analysis_from_json(j, &back), 0);
    ck_assert_int_eq(back.layers, 3);
    ck_assert_double_eq(back.printing.max[1], 25);
    ck_assert_double_eq_tol(back.filament_length[0], r.filament_length[0], 1e-12);
    json_decref(j);
}
END_TEST

START_TEST(test_garbage_and_overlong_lines_are_harmless)
{
    struct analysis_result r;
    char *big = malloc(5000);
    memset(big, 'X', 4999);
    big[4999] = '\0';
    struct analysis a;
    analysis_init(&a, NULL);
    const char *junk = "G1 X\nG1 X-\nGxyz\nM\n\r\n\x01\x02\nG1 Xnan E\nN12 G1 X10 *33\n";
    analysis_feed(&a, junk, strlen(junk));
    analysis_feed(&a, big, strlen(big));
    analysis_feed(&a, "\nG1 X20 E1\n", 11);
    analysis_finish(&a, &r);
    ck_assert_double_eq(r.travel.max[0], 20);
    ck_assert_double_eq_tol(r.filament_length[0], 1, 1e-9);
    free(big);
}
END_TEST

START_TEST(test_long_and_short_numbers)
{
    /* up to 18 digits are exact integers scaled once; more take the slow path */
    static const char *nums[] = { "7", "-12.5", "+.25", "3.", "123456789.123456789",
                                  "1234567890.123456789", "0.1234567890123456789012",
                                  "98765432109876543210", "-98765432109876543210.5" };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "G1 X%s\n", nums[i]);
        struct analysis_result r;
        run(line, &r);
        double want = strtod(nums[i], NULL);
        ck_assert_double_eq_tol(r.travel.max[0], want > 0 ? want : 0, fabs(want) * 1e-15);
        ck_assert_double_eq_tol(r.travel.min[0], want < 0 ? want : 0, fabs(want) * 1e-15);
    }
}
END_TEST

START_TEST(test_batched_timing_equals_line_by_line)
{
    /* analysis_feed times moves in batches; analysis_line times each line at once: the
     * result must be the same to the last bit, across dwells, homing and retractions */
    char *text = malloc(1 << 16);
    size_t n = 0;
    n += (size_t)sprintf(text + n, "G28\nM204 S1200\nG1 Z0.2 F600\n");
    for (int i = 0; i < 300; i++) {
        n += (size_t)sprintf(text + n, "G1 X%d.%03d Y%d.5 E%d.1%s\n", (i * 37) % 200, i,
                             (i * 53) % 190, i, i % 7 == 0 ? " F2400" : "");
        if (i % 41 == 0)
            n += (size_t)sprintf(text + n, "G1 E%d.0 F1800\nG4 P150\nG1 E%d.1\n", i - 1, i);
        if (i % 97 == 0)
            n += (size_t)sprintf(text + n, "M204 P%d T3000\nG28 X\n", 800 + i);
    }
    struct analysis_result batched, single;
    run(text, &batched);
    struct analysis a;
    analysis_init(&a, NULL);
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1)
        analysis_line(&a, p, (size_t)(nl - p));
    analysis_finish(&a, &single);
    ck_assert_double_gt(batched.estimated_time, 0);
    ck_assert_double_eq(batched.estimated_time, single.estimated_time);
    ck_assert_double_eq(batched.filament_length[0], single.filament_length[0]);
    ck_assert_double_eq(batched.travel.max[0], single.travel.max[0]);
    free(text);
}
END_TEST

static void analyse_sample(const char *name, struct analysis_result *r)
{
    struct analysis_options o;
    analysis_options_default(&o);
    ck_assert_int_eq(analysis_file(sample_path(name), &o, r), 0);
}

START_TEST(test_prusa_sample_estimate_within_10_percent_of_embedded)
{
    struct analysis_result r;
    analyse_sample("cube_prusa.gcode", &r);
    ck_assert_double_eq(r.slicer_time, 15 * 60 + 37);
    double err = fabs(r.estimated_time - r.slicer_time) / r.slicer_time;
    fprintf(stderr, "analysis: cube_prusa: ours %.1f s, embedded %.0f s, error %.1f%%\n",
            r.estimated_time, r.slicer_time, err * 100);
    ck_assert_double_lt(err, 0.10);
    ck_assert_int_eq(r.layers, 50);
    ck_assert_double_eq_tol(r.layer_height, 0.2, 1e-6);
    ck_assert_double_eq_tol(r.filament_length[0], 1475.02, 0.05);
    ck_assert_double_eq_tol(r.printing.max[0] - r.printing.min[0], 20, 1e-6);
    ck_assert_double_eq_tol(r.printing.max[2], 10, 1e-6);
    json_t *j = analysis_to_json(&r);
    ck_assert_double_eq(json_real_value(json_object_get(j, "estimatedPrintTime")), 937);
    json_decref(j);
}
END_TEST

START_TEST(test_cura_sample_estimate_and_same_geometry)
{
    struct analysis_result c, p;
    analyse_sample("cube_cura.gcode", &c);
    analyse_sample("cube_prusa.gcode", &p);
    ck_assert_double_eq(c.slicer_time, 936);
    double err = fabs(c.estimated_time - c.slicer_time) / c.slicer_time;
    fprintf(stderr, "analysis: cube_cura: ours %.1f s, embedded %.0f s, error %.1f%%\n",
            c.estimated_time, c.slicer_time, err * 100);
    ck_assert_double_lt(err, 0.10);
    /* absolute (Cura) and relative (Prusa) extrusion describe the same cube */
    ck_assert_double_eq_tol(c.filament_length[0], p.filament_length[0], 0.01);
    ck_assert_int_eq(c.layers, p.layers);
}
END_TEST

START_TEST(test_chunking_does_not_change_the_result)
{
    FILE *f = fopen(sample_path("cube_cura.gcode"), "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct analysis_result whole, bits;
    struct analysis a;
    analysis_init(&a, NULL);
    analysis_feed(&a, buf, n);
    analysis_finish(&a, &whole);
    analysis_init(&a, NULL);
    for (size_t i = 0; i < n; i += 7)
        analysis_feed(&a, buf + i, n - i < 7 ? n - i : 7);
    analysis_finish(&a, &bits);
    ck_assert_double_eq(whole.estimated_time, bits.estimated_time);
    ck_assert_double_eq(whole.filament_length[0], bits.filament_length[0]);
    ck_assert_uint_eq(whole.lines, bits.lines);
}
END_TEST

START_TEST(test_throughput_floor)
{
    /* Printrun's gcoder parses roughly 1-3 MB/s on a current CPU; 50x is >= 100 MB/s
     * unsanitized. Under sanitizers the floor is only a smoke test. */
    FILE *f = fopen(sample_path("cube_prusa.gcode"), "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rounds = 50;
    struct analysis a;
    struct analysis_result r;
    for (int i = 0; i < rounds; i++) {
        analysis_init(&a, NULL);
        analysis_feed(&a, buf, n);
        analysis_finish(&a, &r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double mbps = (double)n * rounds / secs / 1e6;
    fprintf(stderr, "analysis: %.0f MB/s\n", mbps);
    ck_assert_double_gt(mbps, 5);
}
END_TEST

Suite *analysis_suite(void)
{
    Suite *s = suite_create("analysis");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_slicer_time_formats);
    tcase_add_test(tc, test_straight_move_time_includes_acceleration);
    tcase_add_test(tc, test_collinear_segments_do_not_stop);
    tcase_add_test(tc, test_filament_relative_absolute_and_retractions);
    tcase_add_test(tc, test_areas_layers_and_comments);
    tcase_add_test(tc, test_garbage_and_overlong_lines_are_harmless);
    tcase_add_test(tc, test_long_and_short_numbers);
    tcase_add_test(tc, test_batched_timing_equals_line_by_line);
    tcase_add_test(tc, test_prusa_sample_estimate_within_10_percent_of_embedded);
    tcase_add_test(tc, test_cura_sample_estimate_and_same_geometry);
    tcase_add_test(tc, test_chunking_does_not_change_the_result);
    tcase_add_test(tc, test_throughput_floor);
    suite_add_tcase(s, tc);
    return s;
}
