/*
 * stale.c — staleness markers for series that vanished between two rounds
 * of one source (see stale.h).
 */
#include "agent/collect/stale.h"

#include "common/buf.h"
#include "common/mem.h"
#include "common/strmap.h"

#include <stdlib.h>
#include <string.h>

void stale_tracker_init(stale_tracker *t)
{
    memset(t, 0, sizeof *t);
}

static void forget(stale_tracker *t)
{
    for (size_t i = 0; i < t->nprev; i++)
        labels_free(&t->prev[i]);
    t->nprev = 0;
}

void stale_tracker_free(stale_tracker *t)
{
    forget(t);
    free(t->prev);
    memset(t, 0, sizeof *t);
}

static void add_marker(metric_set *out, const labelset *ls, int64_t ts_ms)
{
    labelset copy;
    labels_copy(&copy, ls);
    metric_set_add(out, &copy, stale_nan(), true, ts_ms);
}

size_t stale_tracker_update(stale_tracker *t, metric_set *out, size_t from, int64_t ts_ms)
{
    size_t end = out->n;
    strmap now;
    strmap_init(&now);
    strmap_reserve(&now, (end - from) * 2);
    ebuf key;
    ebuf_init(&key);
    for (size_t i = from; i < end; i++) {
        if (is_stale_nan(out->samples[i].value))
            continue;
        ebuf_reset(&key);
        labels_format(&key, &out->samples[i].labels);
        strmap_put(&now, key.data, key.len, i);
    }
    uint64_t unused;
    size_t kept = 0;
    for (size_t i = 0; i < t->nprev; i++) {
        ebuf_reset(&key);
        labels_format(&key, &t->prev[i]);
        if (strmap_get(&now, key.data, key.len, &unused))
            kept++;
        else
            add_marker(out, &t->prev[i], ts_ms);
    }
    size_t added = now.len - kept;
    ebuf_free(&key);
    forget(t);
    if (now.len > t->cap) {
        t->cap = now.len;
        t->prev = em_realloc(t->prev, t->cap * sizeof *t->prev);
    }
    for (size_t i = 0; i < now.cap; i++)
        if (now.slots[i].key != NULL)
            labels_copy(&t->prev[t->nprev++], &out->samples[now.slots[i].value].labels);
    strmap_free(&now);
    return added;
}

void stale_tracker_end(stale_tracker *t, metric_set *out, int64_t ts_ms)
{
    for (size_t i = 0; i < t->nprev; i++)
        add_marker(out, &t->prev[i], ts_ms);
    forget(t);
}
