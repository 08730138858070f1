/* analysis.h: G-code metadata analysis. A pure, streaming analyser: feed it bytes in any
 * chunking, then read the result: an acceleration-aware print time estimate, the slicer's own
 * estimate when the file carries one, filament per tool, the printing and travel areas,
 * layer count and height. No I/O except analysis_file, which reads a file in fixed-size
 * chunks (meant for a worker thread: it touches no shared state). */
#ifndef PRINTBRIDGE_ANALYSIS_H
#define PRINTBRIDGE_ANALYSIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ANALYSIS_MAX_TOOLS 16
#define ANALYSIS_MAX_LINE 512

struct analysis_options {
    double filament_diameter;       /* mm, for volumes (default 1.75) */
    double acceleration;            /* mm/s^2 until the file sets one with M204 (default 1500) */
    double junction_deviation;      /* mm, cornering speed model (default 0.05) */
    double max_feedrate;            /* mm/s, cap for any move (default 500) */
};

struct analysis_box { double min[3], max[3]; bool valid; };

struct analysis_result {
    double estimated_time;          /* s, this analyser's own estimate */
    double slicer_time;             /* s, the slicer's estimate; < 0 when the file has none */
    int ntools;                     /* tools that extruded (highest index + 1) */
    double filament_length[ANALYSIS_MAX_TOOLS];   /* mm */
    double filament_volume[ANALYSIS_MAX_TOOLS];   /* cm^3 */
    struct analysis_box printing;   /* bounds of extruding moves */
    struct analysis_box travel;     /* bounds of every move */
    int layers;
    double layer_height;            /* mm; 0 when unknown */
    double first_layer_height;      /* mm */
    unsigned long lines;
};

/* The analyser's running state. Plain data: embed it anywhere; ~1 KB. */
struct analysis_move { double d[4]; double len, v, a; bool valid; };

struct analysis {
    struct analysis_options opt;
    double pos[4];                  /* X Y Z E (E relative to the tool's running total) */
    double e_total[ANALYSIS_MAX_TOOLS], e_max[ANALYSIS_MAX_TOOLS];
    double offset[4];               /* G92 */
    bool relative, e_relative, inches;
    double feed;                    /* mm/s */
    double acc_print, acc_travel;
    int tool, max_tool;
    double time, dwell;
    struct analysis_move pending;   /* one move of look-ahead for the exit speed */
    double pending_vin;
    struct analysis_box printing, travel;
    double layer_z;                 /* z of the current layer, < -1e8 before the first */
    int layers;
    double first_layer_z;
    double slicer_time;
    char carry[ANALYSIS_MAX_LINE + 1];
    size_t ncarry;
    bool overlong;
    unsigned long lines;
};

/* Defaults as documented in etc/printbridge.conf. */
void analysis_options_default(struct analysis_options *o);

void analysis_init(struct analysis *a, const struct analysis_options *o);
/* Feeds bytes; lines may span calls. Over-long lines are skipped whole. */
void analysis_feed(struct analysis *a, const char *buf, size_t len);
/* Ends the input (a last line without newline counts) and fills r. */
void analysis_finish(struct analysis *a, struct analysis_result *r);

/* Analyses one line (without its newline). Exposed for tests. */
void analysis_line(struct analysis *a, const char *line, size_t len);

/* Parses a slicer's own estimate from one comment line: PrusaSlicer's
 * "; estimated printing time (normal mode) = 1d 2h 3m 4s" and Cura's ";TIME:3723".
 * Returns seconds, or -1 when the line is no estimate. */
double analysis_parse_slicer_time(const char *line, size_t len);

/* Reads path in 64 KiB chunks and analyses it. Returns 0 or a negative errno. */
int analysis_file(const char *path, const struct analysis_options *o, struct analysis_result *r);

/* OctoPrint's metadata shape: {"printingArea", "dimensions", "travelArea", "travelDimensions",
 * "estimatedPrintTime", "filament": {"tool0": {"length", "volume"}}} plus printbridge's
 * "analysisPrintTime", "slicerPrintTime" (when known) and "layers": {"count", "height"}.
 * estimatedPrintTime is the slicer's estimate when the file carries one, else ours.
 * New reference. */
json_t *analysis_to_json(const struct analysis_result *r);

/* The inverse, for the cache; returns 0 or -1 when the object lacks a field. */
int analysis_from_json(const json_t *o, struct analysis_result *r);

#endif
