/* slicing.h: OctoPrint's slicing events from an ordinary slicer. An STL dropped into the
 * storage folder (top level) is sliced by a configured command line (argv with {input},
 * {output}, {profile}; no shell; a timeout) with the configured profile; the slicer writes a
 * hidden temporary file that is renamed to <name>.gcode when it succeeds, so the storage
 * module announces and analyses it like any other file. Events: SlicingStarted, SlicingDone
 * {time}, SlicingFailed {reason}, SlicingCancelled (a newer job for the same G-code started);
 * <base>progress/slicing from the slicer's "NN%" output lines, else 0 then 100. Profiles are
 * the files of a folder: SlicingProfileAdded / Modified / Deleted {slicer, profile}. */
#ifndef PRINTBRIDGE_SLICING_H
#define PRINTBRIDGE_SLICING_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "printbridge/events.h"

/* Strings are borrowed (configuration). */
struct slicing_options {
    const char *slicer;                 /* name in the payloads: "prusaslicer", "curaengine" */
    char *const *command;               /* argv template */
    const char *folder;                 /* watched for *.stl: the storage folder */
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

/* Slices rel (an .stl inside folder) now; a running job for the same output is cancelled. */
int slicing_start(struct slicing *s, const char *rel);

/* Kills running slicers; frees s once every handle is closed. */
void slicing_destroy(struct slicing *s);

/* ---- pure helpers ------------------------------------------------------------------------ */

/* The progress a slicer's output line shows ("70 => Infilling layers" from PrusaSlicer and
 * Slic3r, "... 45%", or CuraEngine's "Progress: 0.45"), 0..100, or -1. */
int slicing_parse_progress(const char *line);

/* "cube.stl" -> "cube.gcode"; -1 if name is not an .stl (case-insensitive) or does not fit. */
int slicing_gcode_name(char *out, size_t outsz, const char *stl);

#endif
