/*
 * demoapp.c — the demo application's request model and metrics (see
 * demoapp.h).  Counters live in a small table of (endpoint, status) rows:
 * the app has two endpoints and two outcomes, so a scan beats a map.
 */
#include "simulators/demoapp.h"

#include "common/etime.h"
#include "common/mem.h"
#include "simulators/simrng.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 32
#define MAX_ENDPOINTS 8
#define LATENCY_SIGMA 0.5
#define SLOW_CHANCE 0.03

static const double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

typedef struct status_row {
    char endpoint[64];
    int status;
    uint64_t count;
} status_row;

typedef struct endpoint_hist {
    char endpoint[64];
    simhist h;
} endpoint_hist;

struct demoapp {
    pthread_mutex_t mu;
    demoapp_config cfg;
    simrng rng;
    int64_t active;
    status_row rows[MAX_ROWS];
    size_t nrows;
    endpoint_hist hists[MAX_ENDPOINTS];
    size_t nhists;
};

demoapp *demoapp_new(const demoapp_config *cfg)
{
    if (!(cfg->error_share >= 0 && cfg->error_share <= 1) || !(cfg->latency_median_s > 0))
        return NULL;
    demoapp *app = em_calloc(1, sizeof *app);
    pthread_mutex_init(&app->mu, NULL);
    app->cfg = *cfg;
    simrng_seed(&app->rng, cfg->seed);
    return app;
}

void demoapp_free(demoapp *app)
{
    if (!app)
        return;
    pthread_mutex_destroy(&app->mu);
    free(app);
}

demoapp_plan demoapp_plan_test(demoapp *app)
{
    pthread_mutex_lock(&app->mu);
    double t = simrng_lognormal(&app->rng, log(app->cfg.latency_median_s), LATENCY_SIGMA);
    if (simrng_chance(&app->rng, SLOW_CHANCE)) /* lock contention, a slow query */
        t *= simrng_range(&app->rng, 5, 10);
    int status = simrng_chance(&app->rng, app->cfg.error_share) ? 500 : 200;
    pthread_mutex_unlock(&app->mu);
    return (demoapp_plan){fmin(t, DEMOAPP_MAX_LATENCY_S), status};
}

void demoapp_begin(demoapp *app)
{
    pthread_mutex_lock(&app->mu);
    app->active++;
    pthread_mutex_unlock(&app->mu);
}

/* The row of (endpoint, status), added if new; NULL when the table is full. */
static status_row *row_of(demoapp *app, const char *endpoint, int status, int add)
{
    for (size_t i = 0; i < app->nrows; i++)
        if (app->rows[i].status == status && strcmp(app->rows[i].endpoint, endpoint) == 0)
            return &app->rows[i];
    if (!add || app->nrows == MAX_ROWS)
        return NULL;
    status_row *r = &app->rows[app->nrows++];
    snprintf(r->endpoint, sizeof r->endpoint, "%s", endpoint);
    r->status = status;
    return r;
}

static simhist *hist_of(demoapp *app, const char *endpoint)
{
    for (size_t i = 0; i < app->nhists; i++)
        if (strcmp(app->hists[i].endpoint, endpoint) == 0)
            return &app->hists[i].h;
    if (app->nhists == MAX_ENDPOINTS)
        return NULL;
    endpoint_hist *e = &app->hists[app->nhists++];
    snprintf(e->endpoint, sizeof e->endpoint, "%s", endpoint);
    simhist_init(&e->h, duration_bounds, sizeof duration_bounds / sizeof duration_bounds[0]);
    return &e->h;
}

void demoapp_end(demoapp *app, const char *endpoint, int status, double secs)
{
    pthread_mutex_lock(&app->mu);
    app->active--;
    status_row *r = row_of(app, endpoint, status, 1);
    if (r)
        r->count++;
    simhist *h = hist_of(app, endpoint);
    if (h)
        simhist_observe(h, secs);
    pthread_mutex_unlock(&app->mu);
}

uint64_t demoapp_requests(demoapp *app, const char *endpoint, int status)
{
    pthread_mutex_lock(&app->mu);
    const status_row *r = row_of(app, endpoint, status, 0);
    uint64_t n = r ? r->count : 0;
    pthread_mutex_unlock(&app->mu);
    return n;
}

int64_t demoapp_active(demoapp *app)
{
    pthread_mutex_lock(&app->mu);
    int64_t n = app->active;
    pthread_mutex_unlock(&app->mu);
    return n;
}

void demoapp_collect(demoapp *app, metric_set *ms)
{
    pthread_mutex_lock(&app->mu);
    metric_set_meta(ms, "app_requests_total", METRIC_COUNTER, "HTTP requests served.");
    for (size_t i = 0; i < app->nrows; i++) {
        char status[16];
        snprintf(status, sizeof status, "%d", app->rows[i].status);
        metric_set_addl(ms, "app_requests_total", (double)app->rows[i].count, "endpoint",
                        app->rows[i].endpoint, "status", status, NULL);
    }
    metric_set_meta(ms, "app_request_duration_seconds", METRIC_HISTOGRAM,
                    "Time to serve an HTTP request.");
    for (size_t i = 0; i < app->nhists; i++) {
        labelset base;
        labels_init(&base);
        labels_add(&base, "endpoint", app->hists[i].endpoint);
        simhist_collect(&app->hists[i].h, ms, "app_request_duration_seconds", &base);
        labels_free(&base);
    }
    metric_set_meta(ms, "app_active_connections", METRIC_GAUGE, "HTTP requests in flight.");
    metric_set_addl(ms, "app_active_connections", (double)app->active, NULL);
    pthread_mutex_unlock(&app->mu);
}

void demoapp_render(demoapp *app, ebuf *out)
{
    metric_set ms;
    metric_set_init(&ms);
    demoapp_collect(app, &ms);
    expfmt_write(out, &ms);
    metric_set_free(&ms);
}

/* ---- HTTP ---- */

static void serve_test(void *ctx, const httpd_request *req, httpd_response *resp)
{
    demoapp *app = ctx;
    int64_t start = mono_ms();
    demoapp_begin(app);
    demoapp_plan plan = demoapp_plan_test(app);
    sleep_ms((int64_t)(plan.latency_s * 1000));
    resp->status = plan.status;
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(&resp->body, plan.status == 200 ? "{\"status\":\"ok\"}\n"
                                              : "{\"status\":\"error\",\"error\":\"simulated\"}\n");
    demoapp_end(app, "/api/test", plan.status, (double)(mono_ms() - start) / 1000.0);
}

static void serve_health(void *ctx, const httpd_request *req, httpd_response *resp)
{
    demoapp *app = ctx;
    int64_t start = mono_ms();
    demoapp_begin(app);
    ebuf_puts(&resp->body, "Healthy.\n");
    demoapp_end(app, "/health", 200, (double)(mono_ms() - start) / 1000.0);
}

void demoapp_route(demoapp *app, httpd *h)
{
    httpd_route(h, "GET", "/api/test", serve_test, app);
    httpd_route(h, "GET", "/health", serve_health, app);
}
