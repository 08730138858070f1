/* progressnotify.h: when to publish PrintProgress while printing: every N percent, every N
 * minutes of print time and every N layers, with Z-hops not counted as layers (a layer
 * begins when material is extruded at a Z above the current layer's). Pure: the job module
 * (not written yet) feeds it progress and moves and fires the event it returns. */
#ifndef PRINTBRIDGE_PROGRESSNOTIFY_H
#define PRINTBRIDGE_PROGRESSNOTIFY_H

#include <jansson.h>
#include <stdbool.h>

#define EVENT_PRINT_PROGRESS "PrintProgress"

struct progressnotify_settings {
    double percent;             /* 0: off */
    double minutes;             /* 0: off */
    int layers;                 /* 0: off */
};

struct progressnotify {
    struct progressnotify_settings s;
    bool active;
    char name[256], path[1024];
    double next_percent;
    double next_time;           /* s of print time */
    int next_layer;
    int layer;                  /* layers begun so far (1 = the first) */
    double layer_z;
};

/* A job starts: resets every step. name/path as in the job's events (NULL: ""). */
void progressnotify_start(struct progressnotify *pn, const struct progressnotify_settings *s, const char *name,
                          const char *path);

/* The job ended (done, failed, cancelled): nothing fires until the next start. */
void progressnotify_stop(struct progressnotify *pn);

/* A move was sent: z after it, and whether it extruded. True when it began a new layer. */
bool progressnotify_move(struct progressnotify *pn, double z, bool extruding);

/* Progress now: completion in percent, print time and time left in seconds (time_left < 0:
 * unknown). Returns the PrintProgress payload {progress, time, timeLeft, layer, name, path}
 * (a new reference) when a step is due, else NULL. 100 % never fires: PrintDone does. */
json_t *progressnotify_update(struct progressnotify *pn, double progress, double print_time, double time_left);

#endif
