/*
 * loadgen.h — the load generator: GET requests at random to the demo app
 * (/api/test three times in four, else /health) and, when given, to nginx
 * (a third of the requests: / or a missing page), one every interval on
 * average (uniform between half and one and a half intervals), counting
 * the answers by target and status.  The demo app's /api/test supplies the
 * mix of 200 and 500.
 *
 * The plan (which URL, how long to wait) comes from a seeded stream and is
 * testable without a network; loadgen_send does the real request (libcurl).
 */
#ifndef EMBER_SIMULATORS_LOADGEN_H
#define EMBER_SIMULATORS_LOADGEN_H

#include "common/expfmt.h"
#include "simulators/simrng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOADGEN_MAX_ROWS 32

typedef struct loadgen_config {
    const char *app_url;   /* base, e.g. "http://127.0.0.1:8000" */
    const char *nginx_url; /* base or NULL/"" for none */
    int64_t interval_ms;   /* mean gap between requests, >= 0 */
    int64_t timeout_ms;    /* per request */
    uint64_t seed;
} loadgen_config;

typedef struct loadgen_row {
    const char *target; /* "app" or "nginx" */
    long status;        /* 0: no answer */
    uint64_t count;
} loadgen_row;

typedef struct loadgen {
    loadgen_config cfg;
    simrng rng;
    void *curl; /* CURL *, reused: keeps connections alive */
    loadgen_row rows[LOADGEN_MAX_ROWS];
    size_t nrows;
    uint64_t sent;
} loadgen;

typedef struct loadgen_request {
    const char *target; /* "app" or "nginx" */
    char url[512];
} loadgen_request;

void loadgen_init(loadgen *lg, const loadgen_config *cfg);
void loadgen_free(loadgen *lg);
/* Milliseconds to wait before the next request. */
int64_t loadgen_next_delay_ms(loadgen *lg);
/* The next request to make. */
void loadgen_pick(loadgen *lg, loadgen_request *rq);
/* Do it; returns the HTTP status, 0 when there was no answer.  Counted. */
long loadgen_send(loadgen *lg, const loadgen_request *rq);
/* Answers counted for (target, status). */
uint64_t loadgen_count(const loadgen *lg, const char *target, long status);

/* loadgen_requests_total{target,status} */
void loadgen_collect(const loadgen *lg, metric_set *ms);

/*
 * Send requests until count requests were sent (0: no limit), duration_ms
 * passed (0: no limit) or stop() returns true (checked at least every
 * 50 ms; may be NULL).  lock/unlock (may be NULL) are held around each
 * update of the counts, for a thread rendering them meanwhile.
 */
typedef struct loadgen_run_opts {
    uint64_t count;
    int64_t duration_ms;
    bool (*stop)(void *ctx);
    void (*lock)(void *ctx);
    void (*unlock)(void *ctx);
    void *ctx;
} loadgen_run_opts;
void loadgen_run(loadgen *lg, const loadgen_run_opts *o);

#endif
