/*
 * demoapp_main.c — ember-demoapp: a small instrumented web service to
 * monitor, with latency and errors worth looking at.
 *
 *   ember-demoapp --listen 127.0.0.1:8000 --error-rate 0.1 --latency-median 50ms
 *
 *   GET /api/test   {"status":"ok"} after a random latency, or HTTP 500
 *   GET /health     200 "Healthy."
 *   GET /metrics    app_requests_total, app_request_duration_seconds,
 *                   app_active_connections
 *
 * Handlers sleep to simulate work, so the server runs a pool of threads
 * and the app model does its own locking (demoapp.h).
 */
#include "common/log.h"
#include "common/options.h"
#include "common/runtime.h"
#include "simulators/demoapp.h"
#include "simulators/simhttp.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct settings {
    char *listen;
    char *error_rate;
    char *log_level;
    int64_t median_ms;
    int64_t seed;
    int64_t threads;
} settings;

static void render_metrics(ebuf *out, void *ctx)
{
    demoapp_render(ctx, out);
}

static int parse_share(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    settings s = {0};
    opt_spec specs[] = {
        {"listen", OPT_STRING, &s.listen, "127.0.0.1:8000", "address to serve on", "HOST:PORT"},
        {"error-rate", OPT_STRING, &s.error_rate, "0.1", "share of /api/test answered 500", "0..1"},
        {"latency-median", OPT_DURATION, &s.median_ms, "50ms", "median /api/test latency", "DUR"},
        {"threads", OPT_INT, &s.threads, "16", "requests served at once", "N"},
        {"seed", OPT_INT, &s.seed, "1", "PRNG seed for latencies and errors", "N"},
        {"log.level", OPT_STRING, &s.log_level, "info", "debug, info, warn or error", "LEVEL"},
    };
    size_t nspecs = sizeof specs / sizeof specs[0];
    opt_program prog = {"ember-demoapp", EMBER_VERSION,
                        "A demo web service with /metrics, random latency and errors."};
    int rc = runtime_start(&prog, specs, nspecs, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    demoapp_config cfg = {0, (double)s.median_ms / 1000.0, (uint64_t)s.seed};
    const char *bad = NULL;
    if (parse_share(s.error_rate, &cfg.error_share) != 0)
        bad = "--error-rate: must be a number from 0 to 1";
    else if (s.median_ms < 1)
        bad = "--latency-median: must be at least 1ms";
    else if (s.threads < 1 || s.threads > 256)
        bad = "--threads: must be 1..256";
    if (bad) {
        fprintf(stderr, "ember-demoapp: %s\n", bad);
        opts_free(specs, nspecs);
        return 2;
    }
    demoapp *app = demoapp_new(&cfg);
    simhttp sh;
    simhttp_init_opts(&sh, &(httpd_options){.threads = (unsigned)s.threads}, render_metrics, app);
    demoapp_route(app, sh.server);
    log_info("serving", "error_rate=%s latency_median_ms=%lld seed=%lld", s.error_rate,
             (long long)s.median_ms, (long long)s.seed);
    rc = simhttp_run(&sh, s.listen);
    demoapp_free(app);
    opts_free(specs, nspecs);
    return rc;
}
