/*
 * storage.h — the only view the query engine has of storage.
 *
 * The engine asks for the series matching a set of matchers that have
 * samples in [mint, maxt] (both inclusive, in ms), and gets each series'
 * label set and its samples in that range in ascending timestamp order, one
 * sample per timestamp (storage resolves duplicates: last write wins).
 * Staleness markers are returned as samples with the stale NaN value.
 *
 * The storage implementation (aggregator/tsdb) fills a query_storage with its
 * context and select function; the engine never sees RocksDB.
 */
#ifndef EMBER_QUERY_STORAGE_H
#define EMBER_QUERY_STORAGE_H

#include "common/labels.h"
#include "query/matcher.h"

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

typedef struct query_storage {
    void *ctx;
    /* Returns 0, or -1 with err set. Appends to out. */
    int (*select)(void *ctx, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                  qseries_set *out, char *err, size_t errlen);
} query_storage;

/* Prometheus's staleness marker: NaN with the bit pattern 0x7ff0000000000002. */
#define STALE_NAN_BITS 0x7ff0000000000002ULL
double stale_nan(void);
bool is_stale_nan(double v);

#endif
