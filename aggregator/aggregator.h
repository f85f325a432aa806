/*
 * aggregator.h — what the aggregator's HTTP handlers share: the store, the
 * ingest endpoint (for its counters) and the query settings.
 */
#ifndef EMBER_AGGREGATOR_H
#define EMBER_AGGREGATOR_H

#include "aggregator/ingest.h"
#include "aggregator/tsdb/tsdb.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct aggregator {
    tsdb *db;
    ingest *in;
    int64_t lookback_ms;
    atomic_uint_fast64_t queries;
    atomic_uint_fast64_t query_errors;
} aggregator;

#endif
