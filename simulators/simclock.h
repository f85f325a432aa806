/*
 * simclock.h — lazy, deterministic time for a simulator's model.
 *
 * The model is advanced on each scrape, not by a timer thread: it takes
 * floor(elapsed / interval) fixed steps of `interval` each since start,
 * catching up whatever is due when /metrics is read.  The readings at time
 * t are therefore exactly those of a timer-driven run, the sequence depends
 * only on the seed and the step count (never on how often anyone scrapes),
 * and there is no thread to stop.  After a very long pause the oldest part
 * of the backlog is folded into one large step, which the models' exact,
 * dt-invariant dynamics handle gracefully.
 */
#ifndef EMBER_SIMULATORS_SIMCLOCK_H
#define EMBER_SIMULATORS_SIMCLOCK_H

#include <stdint.h>

typedef void (*simclock_step_fn)(void *model, double dt_s);

typedef struct simclock {
    simclock_step_fn step;
    void *model;
    int64_t start_ms;    /* monotonic */
    int64_t interval_ms; /* simulated time per step, > 0 */
    uint64_t max_steps;  /* steps one catch-up may take before folding */
    uint64_t done;       /* steps' worth of time already simulated */
} simclock;

void simclock_init(simclock *c, simclock_step_fn step, void *model, int64_t interval_ms,
                   uint64_t max_steps);
/* Take the steps due at monotonic time now_ms. */
void simclock_catch_up(simclock *c, int64_t now_ms);

#endif
