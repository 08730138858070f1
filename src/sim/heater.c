/* heater.c: the thermal model of one simulated heater (see heater.h). Deterministic on
 * purpose, with no noise, so tests can predict every reported value. */
#include "heater.h"

#include <math.h>

void sim_heater_init(struct sim_heater *h)
{
    h->actual = SIM_AMBIENT_C;
    h->target = 0;
    h->pinned = false;
    h->pin = 0;
}

static double heater_goal(const struct sim_heater *h)
{
    return h->target > 0 ? h->target : SIM_AMBIENT_C;
}

void sim_heater_step(struct sim_heater *h, double dt)
{
    if (h->pinned) {
        h->actual = h->pin;
        return;
    }
    if (dt <= 0)
        return;
    double goal = heater_goal(h);
    double diff = goal - h->actual;
    if (diff == 0)
        return;
    double rate = SIM_COOL_RATE;
    if (diff > 0 && h->target > 0) {
        /* Proportional over the last band so the curve flattens like a PID settling, with a
         * floor so the target is reached in finite time. */
        rate = diff > SIM_HEAT_SLOW_BAND ? SIM_HEAT_RATE
                                         : fmax(0.5, SIM_HEAT_RATE * diff / SIM_HEAT_SLOW_BAND);
    }
    double step = rate * dt;
    if (step >= fabs(diff))
        h->actual = goal;
    else
        h->actual += diff > 0 ? step : -step;
}

void sim_heater_settle(struct sim_heater *h)
{
    h->actual = h->pinned ? h->pin : heater_goal(h);
}

bool sim_heater_reached(const struct sim_heater *h, bool cooling_too)
{
    if (h->target <= 0)
        return true;
    if (!cooling_too && h->actual >= h->target)
        return true;
    return fabs(h->actual - h->target) <= SIM_WAIT_WINDOW;
}

int sim_heater_power(const struct sim_heater *h)
{
    if (h->target <= 0 || h->actual >= h->target)
        return 0;
    double diff = h->target - h->actual;
    if (diff > SIM_HEAT_SLOW_BAND)
        return 127;
    return 20 + (int)lround(107.0 * diff / SIM_HEAT_SLOW_BAND);
}
