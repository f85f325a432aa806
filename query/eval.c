/*
 * eval.c — evaluation of an instant vector selector at one time t.
 *
 * Prometheus's rule: a series is present at t if it has a sample in the
 * lookback window (t - lookback, t] (open on the left), and its value is the
 * newest such sample unless that sample is a staleness marker, which ends
 * the series.  The result sample carries t, not the sample's own timestamp,
 * exactly as Prometheus's instant query results do.  An ordinary NaN is a
 * value like any other.
 *
 * Result series are appended to out, then out is sorted by label set.  A
 * lookback of 0 or less means the default 5 minutes, as in Prometheus where
 * a zero lookback delta selects the default.
 */
#include "query/promql.h"

#include "common/mem.h"

#include <stdlib.h>

/* t - lookback + 1 without overflowing at the bottom of the int64 range. */
static int64_t window_start(int64_t t, int64_t lookback)
{
    if (t < INT64_MIN + lookback)
        return INT64_MIN;
    return t - lookback + 1;
}

/* Newest sample in [mint, t] into *last; false if none.  The seek skips
 * what lies before the window; the bound check costs nothing even though
 * storage iterates only inside the range it was asked for. */
static bool last_sample(qiter *it, int64_t mint, int64_t t, qsample *last)
{
    bool found = false;
    for (bool ok = qiter_seek(it, mint); ok && it->t <= t; ok = qiter_next(it)) {
        last->t = it->t;
        last->v = it->v;
        found = true;
    }
    return found;
}

/* Move q's labels into a new result series holding one sample. */
static void emit_series(qseries_set *out, qselected *q, int64_t t, double v)
{
    EM_GROW(out->v, out->cap, out->n + 1);
    qseries *r = &out->v[out->n++];
    r->labels = q->labels;
    labels_init(&q->labels);
    r->samples = NULL;
    r->n = r->cap = 0;
    qseries_push(r, t, v);
}

int promql_eval_selector(const query_storage *st, const promql_selector *s, int64_t t,
                         int64_t lookback_ms, qseries_set *out, char *err, size_t errlen)
{
    if (lookback_ms <= 0)
        lookback_ms = PROMQL_DEFAULT_LOOKBACK_MS;
    int64_t mint = window_start(t, lookback_ms);
    qselect_set found;
    qselect_set_init(&found);
    if (st->select(st->ctx, s->matchers, s->n, mint, t, &found, err, errlen) < 0) {
        qselect_set_free(&found);
        return -1;
    }
    for (size_t i = 0; i < found.n; i++) {
        qsample last;
        if (last_sample(found.v[i].it, mint, t, &last) && !is_stale_nan(last.v))
            emit_series(out, &found.v[i], t, last.v);
    }
    qselect_set_free(&found);
    qseries_set_sort(out);
    return 0;
}
