/* test_slicing.c: the slicing module. Pure: progress lines of PrusaSlicer, CuraEngine and
 * plain percentages, G-code names (subfolders too). On a real loop, with the model reported
 * as the storage module reports it (slicing_notice): a cube STL written here (ASCII) dropped
 * into the folder is sliced by a real PrusaSlicer (skipped with a message when it is missing;
 * `make check-tools` installs it) into G-code beside it, with SlicingStarted, progress and
 * SlicingDone; one in a subfolder, reported twice, is sliced once into G-code beside it; a
 * failing slicer gives SlicingFailed; a newer job for the same output cancels
 * the running one (SlicingCancelled); profile files give the profile events. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "printbridge/wire.h"
#include "printbridge/tools.h"

START_TEST(test_slicing_parse_progress_of_known_slicers)
{
    ck_assert_int_eq(slicing_parse_progress("70 => Infilling layers"), 70);
    ck_assert_int_eq(slicing_parse_progress("Progress: 0.42"), 42);
    ck_assert_int_eq(slicing_parse_progress("[info] done 55% of layers"), 55);
    ck_assert_int_eq(slicing_parse_progress("Slicing result exported to /tmp/a.gcode"), -ENOENT);
    ck_assert_int_eq(slicing_parse_progress("1234% nonsense"), -ENOENT);
    char g[64];
    ck_assert_int_gt(slicing_gcode_name(g, sizeof g, "Cube.STL"), 0);
    ck_assert_str_eq(g, "Cube.gcode");
    ck_assert_int_eq(slicing_gcode_name(g, sizeof g, "cube.gcode"), -EINVAL);
    ck_assert_int_eq(slicing_gcode_name(g, sizeof g, ".hidden.stl"), -EINVAL);
    ck_assert_int_gt(slicing_gcode_name(g, sizeof g, "a/b/Cube.STL"), 0);
    ck_assert_str_eq(g, "a/b/Cube.gcode");
    ck_assert_int_eq(slicing_gcode_name(g, sizeof g, "a/.b/cube.stl"), -EINVAL);
    ck_assert_int_eq(slicing_gcode_name(g, sizeof g, "a//cube.stl"), -EINVAL);
    ck_assert_int_eq(slicing_gcode_name(g, sizeof g, "/a/cube.stl"), -EINVAL);
    ck_assert_int_eq(slicing_gcode_name(g, sizeof g, "../cube.stl"), -EINVAL);
}
END_TEST

struct seen {
    char log[32768];
    int finished;               /* SlicingDone / SlicingFailed */
    int progress_msgs;
    int last_progress;
};

static void sink(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ts;
    struct seen *s = ctx;
    char *j = publisher_event_json(payload, name, "_timestamp", 0);
    snprintf(s->log + strlen(s->log), sizeof s->log - strlen(s->log), "%s %s\n", name, j);
    free(j);
    if (strcmp(name, "SlicingDone") == 0 || strcmp(name, "SlicingFailed") == 0)
        s->finished++;
}

static void on_progress(void *ctx, const char *slicer, const char *stl, const char *gcode, int progress)
{
    (void)slicer, (void)stl, (void)gcode;
    struct seen *s = ctx;
    s->progress_msgs++;
    s->last_progress = progress;
}

struct scen {
    uv_loop_t loop;
    uv_timer_t t;
    struct events ev;
    struct slicing *sl;
    struct seen seen;
    int want_finished;
    int ticks;
    void (*step)(struct scen *sc, int tick);
    char dir[128];
};

static void on_tick(uv_timer_t *t)
{
    struct scen *sc = t->data;
    sc->ticks++;
    if (sc->step)
        sc->step(sc, sc->ticks);
    if (sc->seen.finished >= sc->want_finished || sc->ticks > 600) {
        uv_timer_stop(t);
        slicing_destroy(sc->sl);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static void write_cube(const char *path)
{
    /* a 20 mm cube, two triangles per side */
    static const int q[6][4][3] = {
        { { 0, 0, 0 }, { 0, 20, 0 }, { 20, 20, 0 }, { 20, 0, 0 } },
        { { 0, 0, 20 }, { 20, 0, 20 }, { 20, 20, 20 }, { 0, 20, 20 } },
        { { 0, 0, 0 }, { 20, 0, 0 }, { 20, 0, 20 }, { 0, 0, 20 } },
        { { 0, 20, 0 }, { 0, 20, 20 }, { 20, 20, 20 }, { 20, 20, 0 } },
        { { 0, 0, 0 }, { 0, 0, 20 }, { 0, 20, 20 }, { 0, 20, 0 } },
        { { 20, 0, 0 }, { 20, 20, 0 }, { 20, 20, 20 }, { 20, 0, 20 } },
    };
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "solid cube\n");
    for (int s = 0; s < 6; s++)
        for (int t = 0; t < 2; t++) {
            const int *v[3] = { q[s][0], q[s][1 + t], q[s][2 + t] };
            fprintf(f, "facet normal 0 0 0\n outer loop\n");
            for (int k = 0; k < 3; k++)
                fprintf(f, "  vertex %d %d %d\n", v[k][0], v[k][1], v[k][2]);
            fprintf(f, " endloop\nendfacet\n");
        }
    fprintf(f, "endsolid cube\n");
    fclose(f);
    ck_assert_int_eq(rename(tmp, path), 0);
}

static void run(struct scen *sc, char *const *command, const char *profiles, int want_finished)
{
    uv_loop_init(&sc->loop);
    events_init(&sc->ev);
    events_add_sink(&sc->ev, sink, &sc->seen);
    struct slicing_options o = { .slicer = "prusaslicer", .command = command, .folder = sc->dir,
                                 .profiles_folder = profiles, .profile = "", .timeout = 60, .settle_time = 0.2,
                                 .publish_progress = on_progress, .publish_ctx = &sc->seen };
    ck_assert_int_eq(slicing_create(&sc->sl, &sc->loop, &sc->ev, &o), 0);
    sc->want_finished = want_finished;
    uv_timer_init(&sc->loop, &sc->t);
    sc->t.data = sc;
    uv_timer_start(&sc->t, on_tick, 50, 50);
    uv_run(&sc->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&sc->loop), 0);
}

static void new_dir(struct scen *sc)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->dir, sizeof sc->dir, "/tmp/pbsl.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sc->dir));
}

static void rm_dir(struct scen *sc)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sc->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* what the storage module does for a dropped model: report it to the slicing module */
static void drop_cube(struct scen *sc, int tick)
{
    if (tick == 2) {
        char p[256];
        snprintf(p, sizeof p, "%s/cube.stl", sc->dir);
        write_cube(p);
        ck_assert_int_eq(slicing_notice(sc->sl, "cube.stl"), 0);
    }
}

static void drop_cube_in_subfolder(struct scen *sc, int tick)
{
    if (tick == 2) {
        char p[256];
        snprintf(p, sizeof p, "mkdir -p %s/models/big", sc->dir);
        ck_assert_int_eq(system(p), 0);
        snprintf(p, sizeof p, "%s/models/big/cube.stl", sc->dir);
        write_cube(p);
        ck_assert_int_eq(slicing_notice(sc->sl, "models/big/cube.stl"), 0);
        ck_assert_int_eq(slicing_notice(sc->sl, "models/big/cube.stl"), 0);   /* one run for both */
        ck_assert_int_eq(slicing_notice(sc->sl, "models/.hidden/cube.stl"), -EINVAL);
    }
}

static char *const prusa[] = { "prusa-slicer", "--export-gcode", "-o", "{output}", "{input}", NULL };

START_TEST(test_slicing_dropped_stl_is_sliced_by_prusaslicer)
{
    if (system("prusa-slicer --help >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP test_slicing_dropped_stl_is_sliced_by_prusaslicer: prusa-slicer missing (make check-tools installs it)\n");
        return;
    }
    struct scen sc;
    new_dir(&sc);
    sc.step = drop_cube;
    run(&sc, prusa, NULL, 1);
    const char *pl = "{\"slicer\": \"prusaslicer\", \"stl\": \"cube.stl\", \"stl_location\": \"local\", "
                     "\"gcode\": \"cube.gcode\", \"gcode_location\": \"local\"";
    char want[512];
    snprintf(want, sizeof want, "SlicingStarted %s, \"progressAvailable\": true, \"_event\": \"SlicingStarted\", \"_timestamp\": 0}\n", pl);
    ck_assert_msg(strstr(sc.seen.log, want) == sc.seen.log, "%s", sc.seen.log);
    snprintf(want, sizeof want, "SlicingDone %s, \"time\": ", pl);
    ck_assert_msg(strstr(sc.seen.log, want) != NULL, "%s", sc.seen.log);
    ck_assert_int_ge(sc.seen.progress_msgs, 3);     /* 0, the slicer's steps, 100 */
    ck_assert_int_eq(sc.seen.last_progress, 100);
    char g[256], cmd[600];
    snprintf(g, sizeof g, "%s/cube.gcode", sc.dir);
    snprintf(cmd, sizeof cmd, "grep -q '^G1 Z' %s && test -z \"$(ls -A %s | grep '^\\.slicing')\"", g, sc.dir);
    ck_assert_msg(system(cmd) == 0, "no G-code in %s or a temporary file left", g);
    rm_dir(&sc);
}
END_TEST

START_TEST(test_slicing_failing_slicer_gives_slicing_failed)
{
    struct scen sc;
    new_dir(&sc);
    char *const fails[] = { "/bin/sh", "-c", "echo '10 => Processing'; echo 'bad mesh' >&2; exit 2", "{input}", NULL };
    sc.step = drop_cube;
    run(&sc, fails, NULL, 1);
    ck_assert_msg(strstr(sc.seen.log, "\"reason\": \"exit status 2: bad mesh\", \"_event\": \"SlicingFailed\"") != NULL,
                  "%s", sc.seen.log);
    char g[256];
    snprintf(g, sizeof g, "%s/cube.gcode", sc.dir);
    ck_assert_int_ne(access(g, F_OK), 0);
    rm_dir(&sc);
}
END_TEST

START_TEST(test_slicing_stl_in_a_subfolder_gives_gcode_beside_it)
{
    struct scen sc;
    new_dir(&sc);
    char *const copy[] = { "/bin/sh", "-c", "cp \"$0\" \"$1\"", "{input}", "{output}", NULL };
    sc.step = drop_cube_in_subfolder;
    run(&sc, copy, NULL, 1);
    const char *pl = "{\"slicer\": \"prusaslicer\", \"stl\": \"models/big/cube.stl\", \"stl_location\": \"local\", "
                     "\"gcode\": \"models/big/cube.gcode\", \"gcode_location\": \"local\"";
    char want[512];
    snprintf(want, sizeof want, "SlicingDone %s, \"time\": ", pl);
    ck_assert_msg(strstr(sc.seen.log, want) != NULL, "%s", sc.seen.log);
    const char *first = strstr(sc.seen.log, "SlicingStarted");
    ck_assert_msg(first && !strstr(first, "\nSlicingStarted "), "sliced more than once: %s", sc.seen.log);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmp -s %s/models/big/cube.stl %s/models/big/cube.gcode && test -z \"$(ls -A %s %s/models/big | grep '^\\.slicing')\"",
             sc.dir, sc.dir, sc.dir, sc.dir);
    ck_assert_msg(system(cmd) == 0, "no G-code beside the STL in %s/models/big, or a temporary file left", sc.dir);
    rm_dir(&sc);
}
END_TEST

static void twice(struct scen *sc, int tick)
{
    if (tick == 1)
        ck_assert_int_eq(slicing_start(sc->sl, "cube.stl"), 0);
    if (tick == 3)
        ck_assert_int_eq(slicing_start(sc->sl, "cube.stl"), 0);
}

START_TEST(test_slicing_newer_job_cancels_the_running_one)
{
    struct scen sc;
    new_dir(&sc);
    char p[256];
    snprintf(p, sizeof p, "%s/cube.stl", sc.dir);
    write_cube(p);
    /* a slow "slicer": the first run is still going when the second starts */
    char *const slow[] = { "/bin/sh", "-c", "sleep 0.5; cp \"$0\" \"$1\"", "{input}", "{output}", NULL };
    sc.step = twice;
    run(&sc, slow, NULL, 1);
    const char *log = sc.seen.log;
    const char *c = strstr(log, "SlicingCancelled {\"slicer\": \"prusaslicer\", \"stl\": \"cube.stl\"");
    ck_assert_msg(c != NULL, "%s", log);
    ck_assert_msg(strstr(c, "SlicingStarted") && strstr(c, "SlicingDone"), "%s", log);
    ck_assert_msg(strstr(log, "SlicingFailed") == NULL, "%s", log);
    rm_dir(&sc);
}
END_TEST

static char profiles_dir[160];

static void profile_steps(struct scen *sc, int tick)
{
    char p[256];
    snprintf(p, sizeof p, "%s/fast.ini", profiles_dir);
    FILE *f;
    if (tick == 2 && (f = fopen(p, "w"))) {
        fputs("layer_height = 0.3\n", f);
        fclose(f);
    }
    if (tick == 8 && (f = fopen(p, "a"))) {
        fputs("fill_density = 10%\n", f);
        fclose(f);
    }
    if (tick == 14)
        unlink(p);
    if (tick == 20)
        sc->seen.finished = 1;
}

START_TEST(test_slicing_profile_files_give_profile_events)
{
    struct scen sc;
    new_dir(&sc);
    snprintf(profiles_dir, sizeof profiles_dir, "%s/profiles", sc.dir);
    sc.step = profile_steps;
    run(&sc, prusa, profiles_dir, 1);
    ck_assert_msg(strstr(sc.seen.log,
                         "SlicingProfileAdded {\"slicer\": \"prusaslicer\", \"profile\": \"fast.ini\", \"_event\": \"SlicingProfileAdded\", \"_timestamp\": 0}\n"
                         "SlicingProfileModified {\"slicer\": \"prusaslicer\", \"profile\": \"fast.ini\", \"_event\": \"SlicingProfileModified\", \"_timestamp\": 0}\n"
                         "SlicingProfileDeleted {\"slicer\": \"prusaslicer\", \"profile\": \"fast.ini\", \"_event\": \"SlicingProfileDeleted\", \"_timestamp\": 0}\n") != NULL,
                  "%s", sc.seen.log);
    rm_dir(&sc);
}
END_TEST

Suite *slicing_suite(void);
Suite *slicing_suite(void)
{
    Suite *s = suite_create("slicing");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_slicing_parse_progress_of_known_slicers);
    tcase_add_test(tc, test_slicing_dropped_stl_is_sliced_by_prusaslicer);
    tcase_add_test(tc, test_slicing_failing_slicer_gives_slicing_failed);
    tcase_add_test(tc, test_slicing_stl_in_a_subfolder_gives_gcode_beside_it);
    tcase_add_test(tc, test_slicing_newer_job_cancels_the_running_one);
    tcase_add_test(tc, test_slicing_profile_files_give_profile_events);
    suite_add_tcase(s, tc);
    return s;
}
