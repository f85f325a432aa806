/*
 * query_gate.c — --query.max-concurrency: at most max queries evaluate at
 * once; the others wait for a slot, in no particular order, as behind
 * Prometheus's ActiveQueryTracker gate.  A waiting query gives up at its
 * deadline (the caller answers "query timed out in query queue").
 */
#include "aggregator/http/api.h"

#include "common/etime.h"
#include "common/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct query_gate {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    int max, active, waiting;
};

query_gate *query_gate_new(int max)
{
    if (max <= 0)
        return NULL;
    query_gate *g = em_calloc(1, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->freed, NULL); /* CLOCK_REALTIME: deadlines are now_ms() times */
    g->max = max;
    return g;
}

void query_gate_free(query_gate *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->freed);
    free(g);
}

bool query_gate_enter(query_gate *g, int64_t deadline_ms)
{
    if (!g)
        return true;
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    int rc = 0;
    while (g->active >= g->max && rc != ETIMEDOUT)
        rc = deadline_ms ? pthread_cond_timedwait(&g->freed, &g->mu, &until)
                         : pthread_cond_wait(&g->freed, &g->mu);
    g->waiting--;
    bool in = g->active < g->max;
    if (in)
        g->active++;
    pthread_mutex_unlock(&g->mu);
    return in;
}

void query_gate_leave(query_gate *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->active--;
    pthread_cond_signal(&g->freed);
    pthread_mutex_unlock(&g->mu);
}

void query_gate_counts(query_gate *g, int *active, int *waiting, int *max)
{
    *active = *waiting = *max = 0;
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    *active = g->active;
    *waiting = g->waiting;
    *max = g->max;
    pthread_mutex_unlock(&g->mu);
}
