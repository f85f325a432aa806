/*
 * loadgen_main.c — ember-loadgen: traffic for the demo app (and nginx), so
 * the application dashboards have requests, errors and latency to show.
 *
 *   ember-loadgen --app http://127.0.0.1:8000 --nginx http://127.0.0.1:8080 \
 *                 --interval 5s [--count N] [--duration DUR] [--listen ADDR]
 *
 * Runs until --count requests were sent, --duration passed, or SIGTERM /
 * SIGINT; then logs the totals.  With --listen it serves its own counts as
 * loadgen_requests_total on /metrics.
 */
#include "common/log.h"
#include "common/options.h"
#include "common/runtime.h"
#include "simulators/loadgen.h"
#include "simulators/simhttp.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct settings {
    char *app;
    char *nginx;
    char *listen;
    char *log_level;
    int64_t interval_ms;
    int64_t count;
    int64_t duration_ms;
    int64_t timeout_ms;
    int64_t seed;
} settings;

typedef struct app_ctx {
    loadgen lg;
    simhttp sh; /* server NULL without --listen */
} app_ctx;

/* The stop signals are blocked (runtime_block_stop_signals): one that
 * arrived is pending until runtime_wait_stop takes it. */
static bool stop_pending(void *ctx)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIGTERM) || sigismember(&p, SIGINT);
}

static void lock(void *ctx)
{
    app_ctx *a = ctx;
    if (a->sh.server)
        httpd_lock(a->sh.server);
}

static void unlock(void *ctx)
{
    app_ctx *a = ctx;
    if (a->sh.server)
        httpd_unlock(a->sh.server);
}

static void render_metrics(ebuf *out, void *ctx)
{
    metric_set ms;
    metric_set_init(&ms);
    loadgen_collect(ctx, &ms);
    expfmt_write(out, &ms);
    metric_set_free(&ms);
}

static void log_totals(const loadgen *lg)
{
    for (size_t i = 0; i < lg->nrows; i++)
        log_info("requests", "target=%s status=%ld count=%llu", lg->rows[i].target,
                 lg->rows[i].status, (unsigned long long)lg->rows[i].count);
    log_info("done", "sent=%llu", (unsigned long long)lg->sent);
}

static int run(const settings *s, app_ctx *a)
{
    char err[512], quoted[600];
    if (s->listen[0]) {
        simhttp_init(&a->sh, render_metrics, &a->lg);
        if (httpd_start(a->sh.server, s->listen, err, sizeof err) != 0) {
            log_error("cannot serve", "err=%s", log_quote(quoted, sizeof quoted, err));
            simhttp_free(&a->sh);
            return 1;
        }
        log_info("listening", "addr=%s port=%u", s->listen, httpd_port(a->sh.server));
    }
    log_info("sending", "app=%s nginx=%s interval_ms=%lld count=%lld duration_ms=%lld", s->app,
             s->nginx[0] ? s->nginx : "none", (long long)s->interval_ms, (long long)s->count,
             (long long)s->duration_ms);
    loadgen_run_opts o = {(uint64_t)s->count, s->duration_ms, stop_pending, lock, unlock, a};
    loadgen_run(&a->lg, &o);
    if (stop_pending(NULL))
        runtime_wait_stop(); /* takes the signal and logs it */
    log_totals(&a->lg);
    if (a->sh.server)
        simhttp_free(&a->sh);
    return 0;
}

int main(int argc, char **argv)
{
    settings s = {0};
    opt_spec specs[] = {
        {"app", OPT_STRING, &s.app, "http://127.0.0.1:8000", "demo app base URL", "URL"},
        {"nginx", OPT_STRING, &s.nginx, "", "nginx base URL (none when empty)", "URL"},
        {"interval", OPT_DURATION, &s.interval_ms, "5s", "mean time between requests", "DUR"},
        {"count", OPT_INT, &s.count, "0", "stop after N requests (0: no limit)", "N"},
        {"duration", OPT_DURATION, &s.duration_ms, "0s", "stop after DUR (0s: no limit)", "DUR"},
        {"timeout", OPT_DURATION, &s.timeout_ms, "10s", "timeout of one request", "DUR"},
        {"seed", OPT_INT, &s.seed, "1", "PRNG seed for targets and gaps", "N"},
        {"listen", OPT_STRING, &s.listen, "", "serve own /metrics here (none when empty)",
         "HOST:PORT"},
        {"log.level", OPT_STRING, &s.log_level, "info", "debug, info, warn or error", "LEVEL"},
    };
    size_t nspecs = sizeof specs / sizeof specs[0];
    opt_program prog = {"ember-loadgen", EMBER_VERSION,
                        "Sends requests to the demo app (and nginx) at a steady random pace."};
    int rc = runtime_start(&prog, specs, nspecs, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    const char *bad = NULL;
    if (strncmp(s.app, "http://", 7) != 0)
        bad = "--app: must be an http:// URL";
    else if (s.nginx[0] && strncmp(s.nginx, "http://", 7) != 0)
        bad = "--nginx: must be an http:// URL or empty";
    else if (s.count < 0)
        bad = "--count: must be 0 or more";
    else if (s.timeout_ms < 1)
        bad = "--timeout: must be at least 1ms";
    if (bad) {
        fprintf(stderr, "ember-loadgen: %s\n", bad);
        opts_free(specs, nspecs);
        return 2;
    }
    runtime_block_stop_signals(); /* before curl or the server start threads */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static app_ctx a;
    loadgen_config cfg = {s.app, s.nginx, s.interval_ms, s.timeout_ms, (uint64_t)s.seed};
    loadgen_init(&a.lg, &cfg);
    rc = run(&s, &a);
    loadgen_free(&a.lg);
    curl_global_cleanup();
    opts_free(specs, nspecs);
    return rc;
}
