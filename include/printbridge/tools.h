/* printbridge/tools.h: the tools layer:
 * External tools: timelapse (camera snapshots and ffmpeg) and slicing. */
#ifndef PRINTBRIDGE_TOOLS_H
#define PRINTBRIDGE_TOOLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/base.h"

/* ---- timelapse: OctoPrint's timelapse events from ordinary tools. While a print runs, frames
 * are taken by a configured snapshot command (argv with {file}; no shell; asynchronous with a
 * timeout) either once per layer (mode "zchange", from the ZChange events, Z-hops ignored) or
 * every interval seconds (mode "timed"), plus an optional post-roll after the print. Each
 * frame fires CaptureStart, then CaptureDone or CaptureFailed {file, error}. When the print
 * ends the frames are rendered by ffmpeg: MovieRendering, then MovieDone or MovieFailed
 * {gcode, movie, movie_basename, returncode, reason}; the frames are removed afterwards. A
 * failing or hanging camera never touches the printer: the module only listens to events.
 * The same snapshot command serves snapshots on demand (timelapse_snapshot_now). */

enum timelapse_mode { TIMELAPSE_OFF, TIMELAPSE_ZCHANGE, TIMELAPSE_TIMED };

/* Strings and lists are borrowed (configuration): keep them alive. */
struct timelapse_options {
    enum timelapse_mode mode;           /* OFF: no timelapse (snapshots on demand still work) */
    double interval;                    /* s between frames, timed mode and post-roll (10) */
    double post_roll;                   /* s of frames after the print ends (0) */
    char *const *snapshot_command;      /* argv template with {file}; NULL: no camera */
    double snapshot_timeout;            /* s (10) */
    const char *frame_extension;        /* "jpg" */
    const char *frames_folder;          /* where frames are collected */
    const char *output_folder;          /* where movies go */
    const char *ffmpeg;                 /* "ffmpeg" */
    char *const *ffmpeg_args;           /* output options between the input and the movie */
    int fps;                            /* 25 */
    const char *movie_extension;        /* "mp4" */
    double render_timeout;              /* s (600) */
};

struct timelapse;

int timelapse_create(struct timelapse **out, uv_loop_t *loop, struct events *ev,
                     const struct timelapse_options *opt);

/* events sink: PrintStarted, ZChange, PrintDone, PrintFailed, PrintCancelled. */
void timelapse_on_event(void *ctx, const char *name, json_t *payload, long long timestamp);

/* A snapshot on demand: runs the snapshot command into a temporary file and hands its bytes
 * to cb (data NULL and err set on failure). Returns 0, -ENOENT when no snapshot command is
 * configured, -EBUSY when one is already running. */
typedef void (*timelapse_snapshot_fn)(void *ctx, const void *data, size_t len, const char *err);
int timelapse_snapshot_now(struct timelapse *tl, timelapse_snapshot_fn cb, void *ctx);

/* Kills running tools, stops timers; frees tl once everything is closed. */
void timelapse_destroy(struct timelapse *tl);

/* ---- pure helpers ------------------------------------------------------------------------ */

/* The layer filter behind mode "zchange": a Z that is later left downwards was a Z-hop. A
 * frame for a layer is due when the print moves up from it (the next layer or a hop); a hop's
 * own Z is forgotten when the print comes back down. */
struct timelapse_layers {
    bool has_pending;
    double pending;         /* the candidate layer */
    bool has_taken;
    double taken;           /* the highest layer a frame was taken for */
};

void timelapse_layers_reset(struct timelapse_layers *l);
/* Feeds the new Z of a ZChange; true when a frame is due now (for *layer_z). */
bool timelapse_layers_feed(struct timelapse_layers *l, double z, double *layer_z);
/* The print ended: true when the last layer still deserves a frame. */
bool timelapse_layers_flush(struct timelapse_layers *l, double *layer_z);

/* "<folder>/frame-%05d.<ext>" (ffmpeg's pattern) or with the number filled in (n >= 0). The
 * length written, or -ENAMETOOLONG if it does not fit. */
int timelapse_frame_path(char *out, size_t outsz, const char *folder, const char *ext, int n);

/* "<output>/<gcode name without extension>_<YYYYmmddHHMMSS>.<ext>" (local time of t). The
 * length written, -EINVAL for a time localtime cannot convert, -ENAMETOOLONG if it does not
 * fit. */
int timelapse_movie_path(char *out, size_t outsz, const char *output_folder, const char *gcode,
                         const char *ext, long long t);

/* ffmpeg argv: ffmpeg -y -loglevel error -framerate <fps> -i <pattern> <args...> <movie>.
 * Placeholders {fps}, {movie}, {frames} are filled in args too. NULL-terminated, malloc'd
 * (proc_argv_free), or NULL. */
char **timelapse_ffmpeg_argv(const char *ffmpeg, int fps, const char *pattern, char *const *args,
                             const char *movie);

/* ---- slicing: OctoPrint's slicing events from an ordinary slicer. An STL anywhere in the
 * storage folder (the storage module's watchers report it: dropped in, in a subfolder, or
 * uploaded) is sliced once it stayed still for settle_time, by a configured command line
 * (argv with {input}, {output}, {profile}; no shell; a timeout) with the configured profile;
 * the slicer writes a hidden temporary file beside the STL that is renamed to <name>.gcode
 * when it succeeds, so the storage module announces and analyses it like any other file. Events: SlicingStarted, SlicingDone
 * {time}, SlicingFailed {reason}, SlicingCancelled (a newer job for the same G-code started);
 * <base>progress/slicing from the slicer's "NN%" output lines, else 0 then 100. Profiles are
 * the files of a folder: SlicingProfileAdded / Modified / Deleted {slicer, profile}. */

/* Strings are borrowed (configuration). */
struct slicing_options {
    const char *slicer;                 /* name in the payloads: "prusaslicer", "curaengine" */
    char *const *command;               /* argv template */
    const char *folder;                 /* the storage folder the STL paths are relative to */
    const char *profiles_folder;        /* NULL: no profile events */
    const char *profile;                /* file name in profiles_folder used for {profile} */
    double timeout;                     /* s */
    double settle_time;                 /* s an STL must stay still (0.5) */
    /* progress/slicing: payload object (borrowed) to publish, or NULL */
    void (*publish_progress)(void *ctx, const char *slicer, const char *stl, const char *gcode, int progress);
    void *publish_ctx;
};

struct slicing;

int slicing_create(struct slicing **out, uv_loop_t *loop, struct events *ev, const struct slicing_options *opt);

/* An STL appeared or changed at rel (relative to folder): it is sliced once it stayed still
 * for settle_time (each notice restarts the wait) and is a non-empty file. Returns 0, or
 * -EINVAL when rel is not an .stl path slicing_gcode_name accepts. */
int slicing_notice(struct slicing *s, const char *rel);

/* Slices rel (an .stl inside folder) now; a running job for the same output is cancelled. */
int slicing_start(struct slicing *s, const char *rel);

/* Kills running slicers; frees s once every handle is closed. */
void slicing_destroy(struct slicing *s);

/* ---- pure helpers ------------------------------------------------------------------------ */

/* The progress a slicer's output line shows ("70 => Infilling layers" from PrusaSlicer and
 * Slic3r, "... 45%", or CuraEngine's "Progress: 0.45"), 0..100, or -ENOENT when it shows none. */
int slicing_parse_progress(const char *line);

/* "cube.stl" -> "cube.gcode", "a/b/cube.STL" -> "a/b/cube.gcode"; the length written,
 * -EINVAL if name is not an .stl (case-insensitive) or has an empty, hidden ('.') or absolute
 * component, -ENAMETOOLONG if it does not fit. */
int slicing_gcode_name(char *out, size_t outsz, const char *stl);

#endif
