/*
 * storage.h — the only view the query engine has of storage.
 *
 * The engine asks for the series matching a set of matchers over the time
 * range [mint, maxt] (both inclusive, in ms), and gets each series' label
 * set with an iterator over its samples in that range: ascending timestamps,
 * one sample per timestamp (storage resolves duplicates: last write wins),
 * decoded lazily as the engine walks, and seekable so that an evaluation step
 * skips what it does not need.  A selected series may turn out to have no
 * sample in the range: the index selects, the iterator finds out.  Staleness
 * markers are returned as samples with the stale NaN value.
 *
 * The storage implementation (aggregator/tsdb) fills a query_storage with its
 * context and select function; the engine never sees RocksDB.
 */
#ifndef EMBER_QUERY_STORAGE_H
#define EMBER_QUERY_STORAGE_H

#include "common/labels.h"
#include "common/stale.h" /* staleness markers come back as samples */
#include "query/matcher.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qsample {
    int64_t t;
    double v;
} qsample;

typedef struct qseries {
    labelset labels;
    qsample *samples;
    size_t n, cap;
} qseries;

typedef struct qseries_set {
    qseries *v;
    size_t n, cap;
} qseries_set;

void qseries_set_init(qseries_set *s);
void qseries_set_free(qseries_set *s);
/* Append a series with a copy of ls and no samples; returns it. */
qseries *qseries_set_add(qseries_set *s, const labelset *ls);
void qseries_push(qseries *q, int64_t t, double v);
/* Sort series by label set (Prometheus's order for API results). */
void qseries_set_sort(qseries_set *s);

/* A sample iterator; implementations embed it as their first member. */
typedef struct qiter qiter;
typedef struct qiter_ops {
    bool (*next)(qiter *it);            /* advance; false at the end */
    bool (*seek)(qiter *it, int64_t t); /* first sample >= t, never backwards */
    void (*free)(qiter *it);
} qiter_ops;
struct qiter {
    const qiter_ops *ops;
    int64_t t; /* the current sample, valid after next/seek returned true */
    double v;
};

static inline bool qiter_next(qiter *it)
{
    return it->ops->next(it);
}
static inline bool qiter_seek(qiter *it, int64_t t)
{
    return it->ops->seek(it, t);
}
static inline void qiter_free(qiter *it)
{
    if (it)
        it->ops->free(it);
}

typedef struct qselected {
    labelset labels;
    qiter *it;
} qselected;

typedef struct qselect_set {
    qselected *v;
    size_t n, cap;
} qselect_set;

void qselect_set_init(qselect_set *s);
void qselect_set_free(qselect_set *s); /* frees labels and iterators */
/* Append a series with a copy of ls; the set takes ownership of it. */
void qselect_set_add(qselect_set *s, const labelset *ls, qiter *it);

typedef struct query_storage {
    void *ctx;
    /* Returns 0, or -1 with err set. Appends to out. */
    int (*select)(void *ctx, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                  qselect_set *out, char *err, size_t errlen);
} query_storage;

/*
 * Select and read every sample in [mint, maxt] into out (series without a
 * sample in the range are left out), sorted by label set.  For the API's
 * series listings and for tests; the evaluator walks iterators instead.
 */
int query_storage_read(const query_storage *st, const label_matcher *ms, size_t nms, int64_t mint,
                       int64_t maxt, qseries_set *out, char *err, size_t errlen);

#endif
