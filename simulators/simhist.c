/*
 * simhist.c — simulator histograms (see simhist.h).  Bucket counts are kept
 * per bucket and summed on output, so observing is one search and one
 * increment whatever the number of buckets.
 */
#include "simulators/simhist.h"

#include "common/fmtfloat.h"

#include <stdio.h>
#include <string.h>

void simhist_init(simhist *h, const double *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < SIMHIST_MAX_BUCKETS ? nbounds : SIMHIST_MAX_BUCKETS;
}

void simhist_observe(simhist *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i]) /* le: an observation equal to a bound is in it */
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

static void add_sample(metric_set *ms, const labelset *base, const char *family, const char *suffix,
                       const char *le, double v)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", family, suffix);
    labelset ls;
    if (base)
        labels_copy(&ls, base);
    else
        labels_init(&ls);
    labels_set(&ls, LABEL_METRIC_NAME, name);
    if (le)
        labels_set(&ls, "le", le);
    metric_set_add(ms, &ls, v, false, 0);
    labels_free(&ls);
}

void simhist_collect(const simhist *h, metric_set *ms, const char *family, const labelset *base)
{
    char le[FMT_FLOAT_MAX];
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cumulative += h->counts[i];
        fmt_float_text(le, h->bounds[i]);
        add_sample(ms, base, family, "_bucket", le, (double)cumulative);
    }
    add_sample(ms, base, family, "_bucket", "+Inf", (double)h->count);
    add_sample(ms, base, family, "_sum", NULL, h->sum);
    add_sample(ms, base, family, "_count", NULL, (double)h->count);
}
