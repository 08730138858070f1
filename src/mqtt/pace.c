/* pace.c: owns the pace of Paho's idle sleeps, by giving the process its own usleep().
 *
 * Why: Paho MQTT C 1.3's receive thread polls. When it has no socket (before the first
 * connect has made one, and all the time the broker is down) it calls usleep(100 ms) in a
 * loop. That costs printbridge two things Paho offers no option for:
 *  - start-up was bimodal: when the receive thread looked before the connect command had
 *    created the socket, it slept 100 ms more before reading the CONNACK (25 or 125 ms);
 *  - while the broker is down, ten wake-ups a second, for nothing.
 * Paho reaches usleep through the dynamic linker, so the definition below (exported by the
 * executable, which the library's reference binds to) replaces glibc's for Paho's calls. It
 * behaves exactly like glibc's unless the broker connections say otherwise:
 *  - while a connect is on its way, sleeps are cut to BRISK_US, so the receive thread picks
 *    the new socket up within a millisecond;
 *  - while every connection only waits for our reconnect timer (client.c), a sleeping thread
 *    waits until a connection changes state (at most QUIET_MAX_S), instead of waking 10x/s.
 * printbridge itself never calls usleep; nothing else in the process does. */
#include "pace.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define BRISK_US 1000
#define QUIET_MAX_S 60

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned count[PACE_PARKED + 1];
static unsigned long generation;    /* bumped on every move: a quiet sleep ends */

static void init_cond(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&changed, &a);
    pthread_condattr_destroy(&a);
}

void pace_move(enum pace_state from, enum pace_state to)
{
    pthread_once(&once, init_cond);
    pthread_mutex_lock(&lock);
    if (from != PACE_NONE && count[from] > 0)
        count[from]--;
    if (to != PACE_NONE)
        count[to]++;
    generation++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* Waits until a connection changes state or QUIET_MAX_S pass; the lock is held. */
static void quiet_wait(void)
{
    unsigned long g = generation;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += QUIET_MAX_S;
    while (g == generation && pthread_cond_timedwait(&changed, &lock, &until) != ETIMEDOUT)
        ;
}

int usleep(useconds_t us)
{
    pthread_once(&once, init_cond);
    pthread_mutex_lock(&lock);
    if (count[PACE_CONNECTING] > 0) {
        if (us > BRISK_US)
            us = BRISK_US;
    } else if (count[PACE_PARKED] > 0 && count[PACE_UP] == 0) {
        quiet_wait();
        pthread_mutex_unlock(&lock);
        return 0;
    }
    pthread_mutex_unlock(&lock);
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };
    return nanosleep(&ts, NULL);
}
