/* heater.h: the simulated heaters' thermal model. Pure functions over one heater.
 *
 * Heating moves towards the target at 10 C/s and slows down over the last 5 C (proportional,
 * at least 0.5 C/s), landing exactly on the target: never an overshoot. With no target, or
 * a target below the actual value, the heater cools at 2 C/s towards the target or ambient.
 * A pinned heater stays at its pinned value whatever the target. */
#ifndef PRINTBRIDGE_SIM_HEATER_H
#define PRINTBRIDGE_SIM_HEATER_H

#include <stdbool.h>

#define SIM_AMBIENT_C      21.3
#define SIM_HEAT_RATE      10.0    /* C/s while far from the target */
#define SIM_HEAT_SLOW_BAND 5.0     /* C before the target where heating slows down */
#define SIM_COOL_RATE      2.0     /* C/s */
#define SIM_WAIT_WINDOW    1.0     /* M109/M190/M191 are done within this many C */

struct sim_heater {
    double actual;
    double target;       /* 0: off */
    bool pinned;         /* actual is held at pin */
    double pin;
};

void sim_heater_init(struct sim_heater *h);
/* Advances h by dt seconds. */
void sim_heater_step(struct sim_heater *h, double dt);
/* --fast: jump to where the model would end (the target, or ambient when off). */
void sim_heater_settle(struct sim_heater *h);
/* True when an M109-style wait is over: within SIM_WAIT_WINDOW of the target, or (unless
 * cooling_too, M109 R) already above it. A target of 0 never waits. */
bool sim_heater_reached(const struct sim_heater *h, bool cooling_too);
/* Heater power for the @: field, 0..127 like Marlin's PWM. */
int sim_heater_power(const struct sim_heater *h);

#endif
