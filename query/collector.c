/*
 * collector.c — the output of an evaluation node (engine_int.h): series
 * found by label set through an open-addressing index of their hashes,
 * points appended per step in any series order, checked at the end for
 * two points of one series at one step ("vector cannot contain metrics
 * with the same labelset", which Prometheus checks per step).
 */
#include "query/engine_int.h"

#include "common/mem.h"

#include <stdlib.h>

struct out_index {
    size_t *slots; /* series index + 1; 0 = empty */
    uint64_t *hashes;
    size_t cap;
};

static void index_grow(collector *c);

void collector_init(collector *c, qseries_set *set)
{
    c->set = set;
    c->idx = em_calloc(1, sizeof *c->idx);
    c->points = 0;
    index_grow(c);
}

static void index_put(out_index *ix, uint64_t h, size_t series)
{
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask)
        if (!ix->slots[i]) {
            ix->slots[i] = series + 1;
            ix->hashes[i] = h;
            return;
        }
}

static void index_grow(collector *c)
{
    out_index *ix = c->idx;
    size_t *old = ix->slots;
    uint64_t *oldh = ix->hashes;
    size_t oldcap = ix->cap;
    ix->cap = oldcap ? oldcap * 2 : 64;
    ix->slots = em_calloc(ix->cap, sizeof *ix->slots);
    ix->hashes = em_calloc(ix->cap, sizeof *ix->hashes);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            index_put(ix, oldh[i], old[i] - 1);
    free(old);
    free(oldh);
}

size_t collector_series(collector *c, const labelset *ls)
{
    uint64_t h = labels_hash(ls);
    out_index *ix = c->idx;
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask; ix->slots[i]; i = (i + 1) & mask)
        if (ix->hashes[i] == h && labels_equal(&c->set->v[ix->slots[i] - 1].labels, ls))
            return ix->slots[i] - 1;
    if ((c->set->n + 1) * 2 > ix->cap)
        index_grow(c);
    qseries_set_add(c->set, ls);
    index_put(ix, h, c->set->n - 1);
    return c->set->n - 1;
}

void collector_add(collector *c, size_t series, int64_t t, double v)
{
    qseries_push(&c->set->v[series], t, v);
    c->points++;
}

static int cmp_sample_time(const void *a, const void *b)
{
    const qsample *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

int collector_finish(evaluator *ev, collector *c)
{
    collector_free(c);
    for (size_t i = 0; i < c->set->n; i++) {
        qseries *s = &c->set->v[i];
        bool sorted = true;
        for (size_t j = 1; j < s->n && sorted; j++)
            sorted = s->samples[j - 1].t < s->samples[j].t;
        if (sorted)
            continue;
        /* qsort is not stable, but equal times are an error anyway. */
        qsort(s->samples, s->n, sizeof *s->samples, cmp_sample_time);
        for (size_t j = 1; j < s->n; j++)
            if (s->samples[j - 1].t == s->samples[j].t)
                return ev_fail(ev, PROMQL_ERR_EXECUTION,
                               "vector cannot contain metrics with the same labelset");
    }
    return ev_take_samples(ev, c->points) ? 0 : -1;
}

void collector_free(collector *c)
{
    if (!c->idx)
        return;
    free(c->idx->slots);
    free(c->idx->hashes);
    free(c->idx);
    c->idx = NULL;
}
