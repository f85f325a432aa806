/*
 * aggregator.h — what the aggregator's HTTP handlers share: the store, the
 * ingest endpoint (for its counters and known agents), remote write out
 * (for its metrics) and the query settings.
 */
#ifndef EMBER_AGGREGATOR_H
#define EMBER_AGGREGATOR_H

#include "aggregator/ingest.h"
#include "aggregator/tsdb/tsdb.h"
#include "common/httpd.h"
#include "common/options.h"

#include <stdatomic.h>
#include <stdint.h>

struct forwarder;

/* Query figures for /metrics (http/api_query.c). */
#define AGG_QUERY_KINDS 2    /* instant, range */
#define AGG_QUERY_ERRTYPES 6 /* by promql_errtype */
#define AGG_QUERY_BUCKETS 12 /* duration histogram */
typedef struct agg_query_stats {
    atomic_uint_fast64_t by_kind[AGG_QUERY_KINDS];
    atomic_uint_fast64_t failed[AGG_QUERY_ERRTYPES];
    atomic_uint_fast64_t in_bucket[AGG_QUERY_KINDS][AGG_QUERY_BUCKETS + 1]; /* last: +Inf */
    atomic_uint_fast64_t sum_us[AGG_QUERY_KINDS];
} agg_query_stats;

typedef struct query_gate query_gate; /* http/query_gate.c */

typedef struct aggregator {
    tsdb *db;
    ingest *in;
    struct forwarder *fwd; /* remote write out (forward/forward.h); NULL: none */
    int64_t lookback_ms;
    atomic_uint_fast64_t queries;      /* all kinds */
    atomic_uint_fast64_t query_errors; /* all types */
    /* Query limits (zero: none / the engine's default). */
    int64_t query_timeout_ms;
    uint64_t query_max_samples;
    query_gate *gate; /* --query.max-concurrency; NULL: no limit */
    agg_query_stats qstats;
    /* For /api/v1/status/runtimeinfo and /flags. */
    int64_t start_time_ms;
    int64_t retention_ms;
    /* The admin API (--web.enable-admin-api) and where snapshots go. */
    bool enable_admin_api;
    const char *data_dir;
    const opt_spec *flags;
    size_t nflags;
} aggregator;

/* GET /api/v1/agents (http/api_agents.c): the agents the ingest endpoint
 * has heard from since start, with their persisted seq and lag. */
void api_handle_agents(void *ctx, const httpd_request *req, httpd_response *resp);

/* The self-scrape (selfscrape.c): the aggregator's own /metrics stored
 * every interval_ms with job="ember-aggregator", instance and up.  Start
 * returns NULL when interval_ms <= 0 (disabled). */
typedef struct selfscrape selfscrape;
selfscrape *selfscrape_start(aggregator *agg, int64_t interval_ms, const char *instance);
void selfscrape_stop(selfscrape *s);
/* One scrape stored at now (ms); 0, or -1 with err set. */
int selfscrape_once(aggregator *agg, const char *instance, int64_t now, char *err, size_t errlen);

#endif
