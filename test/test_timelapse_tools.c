/* test_timelapse_tools.c: the timelapse module on a real loop with real tools: frames taken by
 * a snapshot command that is ffmpeg's own testsrc, a movie rendered by ffmpeg, and the failure
 * paths (a camera that fails, one that hangs, ffmpeg failing, no frames). Events are checked
 * as a subscriber sees them: publisher_event_json's bytes. Skips with a message when ffmpeg
 * is missing (`make check-tools` installs it). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "printbridge/base.h"
#include "printbridge/wire.h"
#include "printbridge/tools.h"

struct seen {
    char log[16384];
    int done;                   /* MovieDone or MovieFailed seen */
    char movie[1024];
};

static void sink(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ts;
    struct seen *s = ctx;
    char *j = publisher_event_json(payload, name, "_timestamp", 0);
    snprintf(s->log + strlen(s->log), sizeof s->log - strlen(s->log), "%s %s\n", name, j);
    free(j);
    if (strcmp(name, "MovieDone") == 0 || strcmp(name, "MovieFailed") == 0) {
        s->done++;
        const char *m = json_string_value(json_object_get(payload, "movie"));
        snprintf(s->movie, sizeof s->movie, "%s", m ? m : "");
    }
}

struct scenario {
    uv_loop_t loop;
    uv_timer_t t;
    struct events ev;
    struct timelapse *tl;
    struct seen seen;
    int step;
    double print_s;
};

static void on_step(uv_timer_t *t)
{
    struct scenario *sc = t->data;
    if (sc->step == 0) {
        events_fire(&sc->ev, "PrintStarted", json_pack("{s:s, s:s}", "name", "cube.gcode", "path", "cube.gcode"));
        sc->step = 1;
        uv_timer_start(t, on_step, (uint64_t)(sc->print_s * 1000), 0);
    } else if (sc->step == 1) {
        events_fire(&sc->ev, "PrintDone", json_pack("{s:s}", "name", "cube.gcode"));
        sc->step = 2;
        uv_timer_start(t, on_step, 100, 100);
    } else if (sc->seen.done || ++sc->step > 300) {
        uv_timer_stop(t);
        timelapse_destroy(sc->tl);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static char tmpdir[256];

static void run_scenario(struct scenario *sc, struct timelapse_options *o, double print_s)
{
    memset(sc, 0, sizeof *sc);
    uv_loop_init(&sc->loop);
    events_init(&sc->ev);
    events_add_sink(&sc->ev, sink, &sc->seen);
    ck_assert_int_eq(timelapse_create(&sc->tl, &sc->loop, &sc->ev, o), 0);
    events_add_sink(&sc->ev, timelapse_on_event, sc->tl);
    sc->print_s = print_s;
    uv_timer_init(&sc->loop, &sc->t);
    sc->t.data = sc;
    uv_timer_start(&sc->t, on_step, 0, 0);
    uv_run(&sc->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&sc->loop), 0);
}

static bool have_ffmpeg(void)
{
    return system("ffmpeg -version >/dev/null 2>&1") == 0;
}

static void base_options(struct timelapse_options *o, char *frames, char *out)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pbtl.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(frames, 300, "%s/frames", tmpdir);
    snprintf(out, 300, "%s/movies", tmpdir);
    *o = (struct timelapse_options){ .mode = TIMELAPSE_TIMED, .interval = 0.4, .snapshot_timeout = 5,
                                     .frame_extension = "jpg", .frames_folder = frames, .output_folder = out,
                                     .ffmpeg = "ffmpeg", .fps = 5, .movie_extension = "mp4",
                                     .render_timeout = 60 };
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *const camera_ok[] = { "ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=1",
                                   "-frames:v", "1", "-y", "{file}", NULL };

START_TEST(test_timelapse_frames_by_ffmpeg_testsrc_render_a_movie)
{
    if (!have_ffmpeg()) {
        fprintf(stderr, "SKIP test_timelapse_frames_by_ffmpeg_testsrc_render_a_movie: ffmpeg missing (make check-tools installs it)\n");
        return;
    }
    char frames[300], out[300];
    struct timelapse_options o;
    base_options(&o, frames, out);
    o.snapshot_command = camera_ok;
    struct scenario sc;
    run_scenario(&sc, &o, 1.5);
    const char *log = sc.seen.log;
    ck_assert_msg(strstr(log, "CaptureStart {\"file\": \"") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "/frame-00000.jpg\", \"_event\": \"CaptureDone\", \"_timestamp\": 0}") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "MovieRendering {\"gcode\": \"cube.gcode\", \"movie\": \"") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "MovieDone {\"gcode\": \"cube.gcode\", \"movie\": \"") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "\"movie_basename\": \"cube_") != NULL, "%s", log);
    struct stat st;
    ck_assert_int_eq(stat(sc.seen.movie, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    /* the frames are gone once the movie is made */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", frames);
    ck_assert_msg(system(cmd) == 0, "frames left in %s", frames);
    cleanup();
}
END_TEST

START_TEST(test_timelapse_failing_then_hanging_camera_gives_no_frames)
{
    char frames[300], out[300];
    struct timelapse_options o;
    base_options(&o, frames, out);
    char *const fails[] = { "/bin/sh", "-c", "echo 'camera offline' >&2; exit 7", NULL };
    o.snapshot_command = fails;
    struct scenario sc;
    run_scenario(&sc, &o, 0.2);
    ck_assert_msg(strstr(sc.seen.log, "\", \"error\": \"exit status 7: camera offline\", \"_event\": \"CaptureFailed\"") != NULL,
                  "%s", sc.seen.log);
    ck_assert_msg(strstr(sc.seen.log, "\"returncode\": 0, \"reason\": \"no_frames\", \"_event\": \"MovieFailed\"") != NULL,
                  "%s", sc.seen.log);
    ck_assert(strstr(sc.seen.log, "MovieRendering") == NULL);
    cleanup();

    base_options(&o, frames, out);
    char *const hangs[] = { "/bin/sh", "-c", "sleep 30 & sleep 30", NULL };
    o.snapshot_command = hangs;
    o.snapshot_timeout = 0.3;
    run_scenario(&sc, &o, 0.1);
    ck_assert_msg(strstr(sc.seen.log, "\"error\": \"timed out after 0.3 s\", \"_event\": \"CaptureFailed\"") != NULL,
                  "%s", sc.seen.log);
    ck_assert_msg(strstr(sc.seen.log, "\"reason\": \"no_frames\"") != NULL, "%s", sc.seen.log);
    cleanup();
}
END_TEST

START_TEST(test_timelapse_ffmpeg_failing_gives_movie_failed_returncode)
{
    if (!have_ffmpeg()) {
        fprintf(stderr, "SKIP test_timelapse_ffmpeg_failing_gives_movie_failed_returncode: ffmpeg missing\n");
        return;
    }
    char frames[300], out[300];
    struct timelapse_options o;
    base_options(&o, frames, out);
    o.snapshot_command = camera_ok;
    char *const bad_args[] = { "-c:v", "no-such-codec", NULL };
    o.ffmpeg_args = bad_args;
    struct scenario sc;
    run_scenario(&sc, &o, 0.2);
    ck_assert_msg(strstr(sc.seen.log, "MovieRendering {") != NULL, "%s", sc.seen.log);
    ck_assert_msg(strstr(sc.seen.log, "\"returncode\": 1, \"reason\": \"returncode\", \"_event\": \"MovieFailed\"") != NULL,
                  "%s", sc.seen.log);
    cleanup();
}
END_TEST

/* zchange mode through the event bus: layers 0.2, 0.4 (with Z-hops to 0.6 and 0.8 between)
 * and 0.6 give three frames; a camera that is a one-line shell writer, no ffmpeg needed
 * (ffmpeg here is "false": MovieFailed with its returncode) */
static void on_zsteps(uv_timer_t *t)
{
    struct scenario *sc = t->data;
    static const double zs[] = { 0.2, 0.6, 0.2, 0.4, 0.8, 0.4, 0.6 };
    if (sc->step == 0)
        events_fire(&sc->ev, "PrintStarted", json_pack("{s:s}", "name", "layers.gcode"));
    if (sc->step < 7) {
        double old = sc->step ? zs[sc->step - 1] : 0;
        events_fire(&sc->ev, "ZChange", json_pack("{s:f, s:f}", "new", zs[sc->step], "old", old));
    } else if (sc->step == 7) {
        events_fire(&sc->ev, "PrintDone", json_pack("{s:s}", "name", "layers.gcode"));
    } else if (sc->seen.done || sc->step > 300) {
        uv_timer_stop(t);
        timelapse_destroy(sc->tl);
        uv_close((uv_handle_t *)t, NULL);
    }
    sc->step++;
}

START_TEST(test_timelapse_zchange_takes_one_frame_per_layer_ignoring_hops)
{
    char frames[300], out[300];
    struct timelapse_options o;
    base_options(&o, frames, out);
    o.mode = TIMELAPSE_ZCHANGE;
    char *const writer[] = { "/bin/sh", "-c", "echo frame > \"$0\"", "{file}", NULL };
    o.snapshot_command = writer;
    o.ffmpeg = "false";
    struct scenario sc;
    memset(&sc, 0, sizeof sc);
    uv_loop_init(&sc.loop);
    events_init(&sc.ev);
    events_add_sink(&sc.ev, sink, &sc.seen);
    ck_assert_int_eq(timelapse_create(&sc.tl, &sc.loop, &sc.ev, &o), 0);
    events_add_sink(&sc.ev, timelapse_on_event, sc.tl);
    uv_timer_init(&sc.loop, &sc.t);
    sc.t.data = &sc;
    uv_timer_start(&sc.t, on_zsteps, 100, 100);    /* a frame takes a few ms */
    uv_run(&sc.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&sc.loop), 0);
    int done = 0;
    for (const char *p = sc.seen.log; (p = strstr(p, "CaptureDone ")); p++)
        done++;
    ck_assert_msg(done == 3, "%d frames:\n%s", done, sc.seen.log);
    ck_assert_msg(strstr(sc.seen.log, "/frame-00002.jpg\", \"_event\": \"CaptureDone\"") != NULL, "%s", sc.seen.log);
    ck_assert_msg(strstr(sc.seen.log, "MovieRendering {\"gcode\": \"layers.gcode\"") != NULL, "%s", sc.seen.log);
    ck_assert_msg(strstr(sc.seen.log, "\"returncode\": 1, \"reason\": \"returncode\", \"_event\": \"MovieFailed\"") != NULL,
                  "%s", sc.seen.log);
    cleanup();
}
END_TEST

Suite *timelapse_tools_suite(void);
Suite *timelapse_tools_suite(void)
{
    Suite *s = suite_create("timelapse_tools");
    TCase *tc = tcase_create("tools");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_timelapse_frames_by_ffmpeg_testsrc_render_a_movie);
    tcase_add_test(tc, test_timelapse_failing_then_hanging_camera_gives_no_frames);
    tcase_add_test(tc, test_timelapse_ffmpeg_failing_gives_movie_failed_returncode);
    tcase_add_test(tc, test_timelapse_zchange_takes_one_frame_per_layer_ignoring_hops);
    suite_add_tcase(s, tc);
    return s;
}
