/*
 * fn_quantile.c — quantile() and bucketQuantile() of Prometheus 2.42's
 * promql/quantile.go: the φ-quantile of raw values (quantile_over_time,
 * the quantile aggregation) and of classic histogram buckets
 * (histogram_quantile).
 */
#include "query/functions.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * Go sorts with "NaN is less than everything", so NaNs come first and the
 * rest ascend; values that compare equal are indistinguishable, so any
 * stable or unstable order gives the same array.
 */
static void sort_nan_first(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            double t = v[k];
            v[k++] = v[i];
            v[i] = t;
        }
    }
    qsort(v + k, n - k, sizeof(*v), cmp_double);
}

double promql_quantile(double q, double *values, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    sort_nan_first(values, n);
    double fn = (double)n;
    double rank = q * (fn - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin(fn - 1, lower + 1);
    double weight = rank - floor(rank);
    return values[(size_t)lower] * (1 - weight) + values[(size_t)upper] * weight;
}

static int cmp_bucket(const void *a, const void *b)
{
    double x = ((const promql_bucket *)a)->upper, y = ((const promql_bucket *)b)->upper;
    return (x > y) - (x < y);
}

/* coalesceBuckets(): merge buckets of equal bound (input sorted). */
static size_t coalesce(promql_bucket *b, size_t n)
{
    promql_bucket last = b[0];
    size_t i = 0;
    for (size_t j = 1; j < n; j++) {
        if (b[j].upper == last.upper) {
            last.count += b[j].count;
        } else {
            b[i++] = last;
            last = b[j];
        }
    }
    b[i] = last;
    return i + 1;
}

/* ensureMonotonic(): the envelope of the counts, so that a bucket never
 * counts less than one below it (non-atomic scrapes, rate() of buckets). */
static void ensure_monotonic(promql_bucket *b, size_t n)
{
    double max = b[0].count;
    for (size_t i = 1; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
}

double promql_bucket_quantile(double q, promql_bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (n == 0)
        return NAN; /* Prometheus never calls it without buckets */
    qsort(b, n, sizeof(*b), cmp_bucket);
    if (!(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
        return NAN;
    n = coalesce(b, n);
    ensure_monotonic(b, n);
    if (n < 2)
        return NAN;
    double observations = b[n - 1].count;
    if (observations == 0)
        return NAN;
    double rank = q * observations;
    /* sort.Search over the first n-1 buckets: the first with count >= rank */
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].count >= rank)
            hi = mid;
        else
            lo = mid + 1;
    }
    size_t i = lo;
    if (i == n - 1)
        return b[n - 2].upper;
    if (i == 0 && b[0].upper <= 0)
        return b[0].upper;
    double start = 0, end = b[i].upper, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].upper;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}
