/*
 * simclock.c — lazy stepping of a simulator's model (see simclock.h).
 */
#include "simulators/simclock.h"

#include "common/etime.h"
#include "common/log.h"

void simclock_init(simclock *c, simclock_step_fn step, void *model, int64_t interval_ms,
                   uint64_t max_steps)
{
    *c = (simclock){step, model, mono_ms(), interval_ms, max_steps ? max_steps : 1, 0};
}

void simclock_catch_up(simclock *c, int64_t now_ms)
{
    if (now_ms < c->start_ms)
        return;
    uint64_t due = (uint64_t)((now_ms - c->start_ms) / c->interval_ms);
    double dt = (double)c->interval_ms / 1000.0;
    if (due - c->done > c->max_steps) {
        uint64_t folded = due - c->done - c->max_steps;
        c->step(c->model, (double)folded * dt);
        c->done += folded;
        log_debug("folded backlog into one step", "steps=%llu", (unsigned long long)folded);
    }
    for (; c->done < due; c->done++)
        c->step(c->model, dt);
}
