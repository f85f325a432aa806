/*
 * simhist.h — a Prometheus histogram inside a simulator: fixed upper
 * bounds, per-bucket counts, sum and count, written into a metric_set as
 * the cumulative _bucket{le=...} series (with le="+Inf"), _sum and _count.
 */
#ifndef EMBER_SIMULATORS_SIMHIST_H
#define EMBER_SIMULATORS_SIMHIST_H

#include "common/expfmt.h"
#include "common/labels.h"

#include <stddef.h>
#include <stdint.h>

#define SIMHIST_MAX_BUCKETS 16

typedef struct simhist {
    const double *bounds;                     /* increasing upper bounds, without +Inf; not owned */
    size_t nbounds;                           /* <= SIMHIST_MAX_BUCKETS */
    uint64_t counts[SIMHIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t count;
    double sum;
} simhist;

void simhist_init(simhist *h, const double *bounds, size_t nbounds);
void simhist_observe(simhist *h, double v);
/*
 * Append the family's samples: family_bucket{<base>,le="..."} for every
 * bound and +Inf (cumulative), family_sum and family_count, each with the
 * labels of base (not consumed; may be NULL).  The caller declares the
 * family's metadata (METRIC_HISTOGRAM) once.
 */
void simhist_collect(const simhist *h, metric_set *ms, const char *family, const labelset *base);

#endif
