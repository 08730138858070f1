/* progressnotify.c: PrintProgress steps (see progressnotify.h).
 *
 * One update fires at most one event even when several steps are crossed at once (a jump
 * from 9 % to 31 % is one message at 31 %, not three), and a step is never repeated: the
 * next mark is always beyond the current value. Octorant's "notify every 10 %" sends at
 * 10, 20, ... 90; so does this. */
#include "printbridge/jobs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define Z_EPSILON 0.001     /* mm: G-code Z values are written with 3 decimals at most */

void progressnotify_start(struct progressnotify *pn, const struct progressnotify_settings *s, const char *name,
                          const char *path)
{
    memset(pn, 0, sizeof *pn);
    pn->s = *s;
    pn->active = true;
    snprintf(pn->name, sizeof pn->name, "%s", name ? name : "");
    snprintf(pn->path, sizeof pn->path, "%s", path ? path : "");
    pn->next_percent = s->percent;
    pn->next_time = s->minutes * 60.0;
    pn->next_layer = s->layers;
    pn->layer_z = -INFINITY;
}

void progressnotify_stop(struct progressnotify *pn)
{
    pn->active = false;
}

bool progressnotify_move(struct progressnotify *pn, double z, bool extruding)
{
    /* a travel up and back down again (Z-hop) extrudes nothing up there: no layer */
    if (!pn->active || !extruding || !isfinite(z))
        return false;
    if (z > pn->layer_z + Z_EPSILON) {
        pn->layer++;
        pn->layer_z = z;
        return true;
    }
    if (z < pn->layer_z - Z_EPSILON)
        pn->layer_z = z;    /* printing lower again (one object after another): not a layer */
    return false;
}

/* The first multiple of step above value. */
static double next_mark(double value, double step)
{
    return (floor(value / step + 1e-9) + 1.0) * step;
}

json_t *progressnotify_update(struct progressnotify *pn, double progress, double print_time, double time_left)
{
    bool due = false;
    if (!pn->active || !isfinite(progress))
        return NULL;
    if (pn->s.percent > 0 && progress >= pn->next_percent - 1e-9) {
        pn->next_percent = next_mark(progress, pn->s.percent);
        due = progress < 100.0;
    }
    if (pn->s.minutes > 0 && isfinite(print_time) && print_time >= pn->next_time) {
        pn->next_time = next_mark(print_time, pn->s.minutes * 60.0);
        due = due || progress < 100.0;
    }
    if (pn->s.layers > 0 && pn->layer >= pn->next_layer) {
        pn->next_layer = (pn->layer / pn->s.layers + 1) * pn->s.layers;
        due = due || progress < 100.0;
    }
    if (!due)
        return NULL;
    return json_pack("{s:i, s:I, s:o, s:i, s:s, s:s}", "progress", (int)progress, "time",
                     (json_int_t)(isfinite(print_time) && print_time > 0 ? print_time : 0), "timeLeft",
                     isfinite(time_left) && time_left >= 0 ? json_integer((json_int_t)time_left) : json_null(), "layer",
                     pn->layer, "name", pn->name, "path", pn->path);
}
