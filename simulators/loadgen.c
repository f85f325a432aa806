/*
 * loadgen.c — the load generator's plan, requests and counts (see
 * loadgen.h).
 */
#include "simulators/loadgen.h"

#include "common/etime.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define STOP_CHECK_MS 50

void loadgen_init(loadgen *lg, const loadgen_config *cfg)
{
    memset(lg, 0, sizeof *lg);
    lg->cfg = *cfg;
    if (lg->cfg.nginx_url && !lg->cfg.nginx_url[0])
        lg->cfg.nginx_url = NULL;
    simrng_seed(&lg->rng, cfg->seed);
}

void loadgen_free(loadgen *lg)
{
    if (lg->curl)
        curl_easy_cleanup(lg->curl);
    lg->curl = NULL;
}

int64_t loadgen_next_delay_ms(loadgen *lg)
{
    double d = (double)lg->cfg.interval_ms * simrng_range(&lg->rng, 0.5, 1.5);
    return (int64_t)(d + 0.5);
}

void loadgen_pick(loadgen *lg, loadgen_request *rq)
{
    if (lg->cfg.nginx_url && simrng_chance(&lg->rng, 1.0 / 3.0)) {
        rq->target = "nginx";
        const char *path = simrng_chance(&lg->rng, 0.8) ? "/" : "/no-such-page";
        snprintf(rq->url, sizeof rq->url, "%s%s", lg->cfg.nginx_url, path);
        return;
    }
    rq->target = "app";
    const char *path = simrng_chance(&lg->rng, 0.75) ? "/api/test" : "/health";
    snprintf(rq->url, sizeof rq->url, "%s%s", lg->cfg.app_url, path);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static void count(loadgen *lg, const char *target, long status)
{
    for (size_t i = 0; i < lg->nrows; i++)
        if (lg->rows[i].status == status && strcmp(lg->rows[i].target, target) == 0) {
            lg->rows[i].count++;
            return;
        }
    if (lg->nrows < LOADGEN_MAX_ROWS)
        lg->rows[lg->nrows++] = (loadgen_row){target, status, 1};
}

long loadgen_send(loadgen *lg, const loadgen_request *rq)
{
    if (!lg->curl)
        lg->curl = curl_easy_init();
    CURL *c = lg->curl;
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)lg->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    lg->sent++;
    return status;
}

uint64_t loadgen_count(const loadgen *lg, const char *target, long status)
{
    for (size_t i = 0; i < lg->nrows; i++)
        if (lg->rows[i].status == status && strcmp(lg->rows[i].target, target) == 0)
            return lg->rows[i].count;
    return 0;
}

void loadgen_collect(const loadgen *lg, metric_set *ms)
{
    metric_set_meta(ms, "loadgen_requests_total", METRIC_COUNTER,
                    "Requests sent, by target and HTTP status (0: no answer).");
    for (size_t i = 0; i < lg->nrows; i++) {
        char status[16];
        snprintf(status, sizeof status, "%ld", lg->rows[i].status);
        metric_set_addl(ms, "loadgen_requests_total", (double)lg->rows[i].count, "target",
                        lg->rows[i].target, "status", status, NULL);
    }
}

/* Sleep ms in slices, returning true early when asked to stop. */
static bool wait_or_stop(const loadgen_run_opts *o, int64_t ms, int64_t deadline)
{
    int64_t until = mono_ms() + ms;
    for (;;) {
        if (o->stop && o->stop(o->ctx))
            return true;
        int64_t now = mono_ms();
        if (deadline && now >= deadline)
            return true;
        if (now >= until)
            return false;
        int64_t left = until - now;
        sleep_ms(left < STOP_CHECK_MS ? left : STOP_CHECK_MS);
    }
}

void loadgen_run(loadgen *lg, const loadgen_run_opts *o)
{
    int64_t deadline = o->duration_ms > 0 ? mono_ms() + o->duration_ms : 0;
    for (uint64_t n = 0; o->count == 0 || n < o->count; n++) {
        if (wait_or_stop(o, n == 0 ? 0 : loadgen_next_delay_ms(lg), deadline))
            return;
        loadgen_request rq;
        loadgen_pick(lg, &rq);
        long status = loadgen_send(lg, &rq);
        if (o->lock)
            o->lock(o->ctx);
        count(lg, rq.target, status);
        if (o->unlock)
            o->unlock(o->ctx);
    }
}
