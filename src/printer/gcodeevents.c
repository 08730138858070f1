/* gcodeevents.c: the G-code -> event table and ZChange tracking (see gcodeevents.h).
 *
 * ZChange copies OctoPrint exactly: the literal Z parameter of a sent G0/G1 is the new Z, no
 * G90/G91, G92 or G28 bookkeeping, and the line must contain an upper-case Z or F at all
 * (upstream's cheap pre-check). Two views of Z exist upstream (comm and printer layer); the
 * event fires when the comm view changes and differs from what subscribers saw last.
 *
 * The layer mode answers the Z-hop complaint (OctoPrint-MQTT #86, #144): a Z only counts once
 * material is extruded at it, so a hop up and back down before the next extrusion is silent.
 * The same rule finds the layer changes PrintProgress counts, whatever the ZChange mode. */
#include "gcodeevents.h"

#include <string.h>

#include "protocol.h"

static const struct { const char *gcode, *event; } table[] = {
    { "M226", "Waiting" }, { "M0", "Waiting" }, { "M1", "Waiting" },
    { "G4", "Dwelling" },
    { "M245", "Cooling" },
    { "M240", "Conveyor" },
    { "M40", "Eject" },
    { "M300", "Alert" },
    { "G28", "Home" },
    { "M80", "PowerOn" },
    { "M81", "PowerOff" },
    { "M600", "FilamentChange" }, { "M701", "FilamentChange" }, { "M702", "FilamentChange" },
};

const char *gcodeevents_for(const char *gcode)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].gcode, gcode) == 0)
            return table[i].event;
    return NULL;
}

void gcodeevents_z_init(struct gcodeevents_z *t, enum gcodeevents_zmode mode)
{
    memset(t, 0, sizeof *t);
    t->mode = mode;
}

void gcodeevents_z_forget(struct gcodeevents_z *t)
{
    t->has_z = false;
    t->layer_seen = false;      /* the next print's first layer counts, whatever its Z */
}

static bool report(struct gcodeevents_z *t, double z, double *new_z, double *old_z, bool *has_old)
{
    if (t->has_z && t->z == z)
        return false;
    *new_z = z;
    *has_old = t->has_z;
    *old_z = t->has_z ? t->z : 0.0;
    t->has_z = true;
    t->z = z;
    return true;
}

/* Layer mode: is this command an extruding move? */
static bool extrudes(struct gcodeevents_z *t, const char *cmd)
{
    double e;
    if (!protocol_param_float(cmd, 'E', &e))
        return false;
    if (t->relative_e)
        return e > 0.0;
    bool more = e > t->last_e;
    t->last_e = e;
    return more;
}

bool gcodeevents_z_sent(struct gcodeevents_z *t, const char *gcode, const char *cmd,
                        double *new_z, double *old_z, bool *has_old)
{
    double v;
    bool g0 = strcmp(gcode, "G0") == 0, g1 = strcmp(gcode, "G1") == 0;

    if (strcmp(gcode, "G28") == 0 && protocol_param_float(cmd, 'F', &v)) {
        t->has_f = true;
        t->f = v;
    }
    if (strcmp(gcode, "M82") == 0 || strcmp(gcode, "G90") == 0)
        t->relative_e = false;
    else if (strcmp(gcode, "M83") == 0 || strcmp(gcode, "G91") == 0)
        t->relative_e = true;
    else if (strcmp(gcode, "G92") == 0 && protocol_param_float(cmd, 'E', &v))
        t->last_e = v;
    if (!g0 && !g1)
        return false;

    bool z_changed = false;
    double z = 0.0;
    if (strchr(cmd, 'Z') || strchr(cmd, 'F')) {
        if (protocol_param_float(cmd, 'Z', &v) && (!t->comm_has_z || v != t->comm_z)) {
            t->comm_has_z = true;
            t->comm_z = v;
            z = v;
            z_changed = true;
        }
        if (protocol_param_float(cmd, 'F', &v)) {
            t->has_f = true;
            t->f = v;
        }
    }
    if (z_changed) {
        t->pending = true;
        t->pending_z = z;
    }
    bool layer = g1 && extrudes(t, cmd) && t->pending;
    if (layer) {
        t->pending = false;
        if (!t->layer_seen || t->layer_z != t->pending_z) {    /* back from a hop: same layer */
            t->layer_seen = t->layer_due = true;
            t->layer_z = t->pending_z;
        }
    }
    if (t->mode == GCODEEVENTS_Z_OCTOPRINT)
        return z_changed && report(t, z, new_z, old_z, has_old);
    return layer && report(t, t->pending_z, new_z, old_z, has_old);
}
