/*
 * aggregator.h — what the aggregator's HTTP handlers share: the store, the
 * ingest endpoint (for its counters and known agents) and the query settings.
 */
#ifndef EMBER_AGGREGATOR_H
#define EMBER_AGGREGATOR_H

#include "aggregator/ingest.h"
#include "aggregator/tsdb/tsdb.h"
#include "common/httpd.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct aggregator {
    tsdb *db;
    ingest *in;
    int64_t lookback_ms;
    atomic_uint_fast64_t queries;
    atomic_uint_fast64_t query_errors;
} aggregator;

/* GET /api/v1/agents (http/api_agents.c): the agents the ingest endpoint
 * has heard from since start, with their persisted seq and lag. */
void api_handle_agents(void *ctx, const httpd_request *req, httpd_response *resp);

#endif
