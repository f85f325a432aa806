/*
 * stale.h — Prometheus's staleness markers on the agent side: a series that
 * was in the previous round of a source (a container collector, a scrape
 * target) and is missing from this one gets one sample with the stale NaN,
 * so queries stop returning it at once instead of 5 minutes later.
 *
 * The marker itself is common/stale.h's stale_nan().
 */
#ifndef EMBER_AGENT_STALE_H
#define EMBER_AGENT_STALE_H

#include "common/expfmt.h"
#include "common/labels.h"
#include "common/stale.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The series one source produced in its previous round. */
typedef struct stale_tracker {
    labelset *prev;
    size_t nprev, cap;
} stale_tracker;

void stale_tracker_init(stale_tracker *t);
void stale_tracker_free(stale_tracker *t);
/*
 * out->samples[from..n) is this round of the source: append a stale marker
 * at ts_ms for every series of the previous round not among them, then
 * remember this round.  Markers themselves are not remembered.  Returns
 * how many series of this round were not in the previous one
 * (scrape_series_added).
 */
size_t stale_tracker_update(stale_tracker *t, metric_set *out, size_t from, int64_t ts_ms);
/* Mark every remembered series stale (the source went away) and forget them. */
void stale_tracker_end(stale_tracker *t, metric_set *out, int64_t ts_ms);

#endif
