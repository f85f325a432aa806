/*
 * demoapp.h — the demo web application's request model and its metrics:
 * what an instrumented service exports, fed by real requests.
 *
 * /api/test answers after a random latency (lognormal around the median,
 * sigma 0.5, with 3 % slow requests 5-10x longer, capped at 5 s) and with
 * HTTP 500 for a configurable share of requests; /health answers 200 at
 * once.  Every finished request is counted in
 * app_requests_total{endpoint,status} and observed in
 * app_request_duration_seconds{endpoint}; app_active_connections is the
 * number of requests in flight.
 *
 * Thread-safe: the HTTP server runs handlers concurrently (they sleep), so
 * every call takes the app's mutex.  Draws come from one seeded stream, so
 * a given seed and sequence of calls gives the same plans.
 */
#ifndef EMBER_SIMULATORS_DEMOAPP_H
#define EMBER_SIMULATORS_DEMOAPP_H

#include "common/buf.h"
#include "common/expfmt.h"
#include "common/httpd.h"
#include "simulators/simhist.h"

#include <stdint.h>

#define DEMOAPP_MAX_LATENCY_S 5.0

typedef struct demoapp_config {
    double error_share;      /* 0..1: share of /api/test answered 500 */
    double latency_median_s; /* > 0 */
    uint64_t seed;
} demoapp_config;

typedef struct demoapp demoapp;

/* NULL when the config is out of range. */
demoapp *demoapp_new(const demoapp_config *cfg);
void demoapp_free(demoapp *app);

/* How the next /api/test request will go. */
typedef struct demoapp_plan {
    double latency_s;
    int status; /* 200 or 500 */
} demoapp_plan;

demoapp_plan demoapp_plan_test(demoapp *app);
/* A request to endpoint arrived (app_active_connections + 1). */
void demoapp_begin(demoapp *app);
/* It finished with status after secs (active - 1, counted, observed). */
void demoapp_end(demoapp *app, const char *endpoint, int status, double secs);

/* Requests counted for (endpoint, status) so far. */
uint64_t demoapp_requests(demoapp *app, const char *endpoint, int status);
int64_t demoapp_active(demoapp *app);

/* Serve GET /api/test (sleeps the planned latency) and GET /health on h,
 * counting both; h must run handlers concurrently (not serialized). */
void demoapp_route(demoapp *app, httpd *h);

void demoapp_collect(demoapp *app, metric_set *ms);
void demoapp_render(demoapp *app, ebuf *out);

#endif
