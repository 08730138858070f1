/* gcodeevents.h: what sending a G-code command means to subscribers (docs/protocol.md
 * 15): the event named after the command, and the Z-change tracking behind ZChange,
 * including an optional layer mode that ignores Z-hops. Pure: no I/O, no globals. */
#ifndef PRINTBRIDGE_GCODEEVENTS_H
#define PRINTBRIDGE_GCODEEVENTS_H

#include <stdbool.h>

#include "printbridge/printer.h"

/* The event fired when gcode ("G28", "M600", "T", ... as protocol_gcode_of returns it) is
 * queued for sending, or NULL. M112's EStop is fired by the emergency stop, not here. */
const char *gcodeevents_for(const char *gcode);


struct gcodeevents_z {
    enum gcodeevents_zmode mode;
    /* the comm layer's view: literal Z of the last G0/G1 that carried one */
    bool comm_has_z;
    double comm_z;
    /* the printer layer's view: what subscribers were last told ("old"); reset to unknown on
     * connect, cancel and close */
    bool has_z;
    double z;
    /* layers, in both modes: a new Z counts once material is extruded at it */
    bool pending;
    double pending_z;
    bool relative_e;
    double last_e;
    bool layer_due;                 /* set when an extrusion began at a new Z; the caller clears it */
    bool layer_seen;
    double layer_z;                 /* Z of the last layer */
    /* feed rate of the last G0/G1/G28 with F (PositionUpdate "f") */
    bool has_f;
    double f;
};

void gcodeevents_z_init(struct gcodeevents_z *t, enum gcodeevents_zmode mode);

/* Subscribers' Z becomes unknown (the next ZChange has "old": null). */
void gcodeevents_z_forget(struct gcodeevents_z *t);

/* Feeds one command that was just written to the printer (gcode as protocol_gcode_of).
 * Returns true when a ZChange is due: *new_z, and *old_z with *has_old (false: null).
 * Sets layer_due (with layer_z) when the command is the first extrusion at a new Z, in
 * either mode: the layer changes that PrintProgress counts. */
bool gcodeevents_z_sent(struct gcodeevents_z *t, const char *gcode, const char *cmd,
                        double *new_z, double *old_z, bool *has_old);

#endif
