/*
 * api_query.c — GET/POST /api/v1/query and /api/v1/query_range, with
 * web/api/v1's parameter handling, error texts, error types and HTTP codes
 * (Prometheus 2.42), evaluation by query/engine.h and the answer streamed
 * (api_json.c).  Also the query figures of /metrics.
 *
 * Limits, every one ending the query with an error and never the process:
 *  - timeout: the smaller of the timeout parameter and --query.timeout,
 *    as Prometheus's context deadline; a query still waiting for a slot at
 *    its deadline gets "query timed out in query queue" (503 timeout);
 *  - --query.max-concurrency: the gate (query_gate.c) a query waits at;
 *  - --query.max-samples: passed to the engine (422 execution);
 *  - at most 11,000 steps per range query (400 bad_data);
 *  - the client going away (common/httpd_watch.h): as Go's request context
 *    in Prometheus, the query stops, waiting for a slot or evaluating,
 *    and gives its slot back at once; it is answered 503 "canceled" (the
 *    code 2.42's returnAPIError gives; 2.43 moved to 499, prometheus#11897)
 *    in case anyone still reads, logged at debug and counted in
 *    ember_aggregator_query_errors_total{type="canceled"}.
 */
#include "aggregator/http/api.h"

#include "aggregator/http/params.h"
#include "common/etime.h"
#include "common/fmtfloat.h"
#include "common/httpd_watch.h"
#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { KIND_INSTANT, KIND_RANGE };
static const char *const kind_names[AGG_QUERY_KINDS] = {"instant", "range"};
/* Upper bounds (seconds) of the duration histogram's buckets. */
static const double bucket_le[AGG_QUERY_BUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                    1,     5,     10,   30,   60,  120};

/* How often a query waiting for a slot looks whether its client went. */
#define QUEUE_CHECK_MS 100

/* One query being answered. */
typedef struct query_call {
    aggregator *agg;
    int kind;
    int64_t started_us; /* mono clock */
    atomic_bool gone;   /* set by the watcher when the client has gone */
    uint64_t watch;     /* the watcher's handle; 0: not watched */
} query_call;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void count_failure(const query_call *c, promql_errtype t)
{
    atomic_fetch_add(&c->agg->query_errors, 1);
    if ((int)t >= 0 && t < AGG_QUERY_ERRTYPES)
        atomic_fetch_add(&c->agg->qstats.failed[t], 1);
}

static void fail(const query_call *c, httpd_response *resp, promql_errtype t, const char *msg)
{
    count_failure(c, t);
    api_error(resp, promql_errtype_http_status(t), promql_errtype_name(t), msg);
}

static void observe_duration(const query_call *c)
{
    int64_t us = mono_us() - c->started_us;
    double secs = (double)us / 1e6;
    int b = 0;
    while (b < AGG_QUERY_BUCKETS && secs > bucket_le[b])
        b++;
    atomic_fetch_add(&c->agg->qstats.in_bucket[c->kind][b], 1);
    atomic_fetch_add(&c->agg->qstats.sum_us[c->kind], (uint64_t)(us > 0 ? us : 0));
}

/*
 * The query's deadline (now_ms() clock; 0: none) from the timeout
 * parameter and --query.timeout; false with msg set for a bad parameter.
 */
static bool query_deadline(const aggregator *agg, const httpd_request *req, int64_t *deadline,
                           char *msg, size_t msglen)
{
    int64_t timeout_ms = agg->query_timeout_ms > 0 ? agg->query_timeout_ms : INT64_MAX;
    const char *to = httpd_param_get(req, "timeout");
    if (to && to[0]) {
        int64_t ns;
        char err[300];
        if (!api_parse_duration(to, &ns, err, sizeof err)) {
            snprintf(msg, msglen, "invalid parameter \"timeout\": %s", err);
            return false;
        }
        if (ns / 1000000 < timeout_ms)
            timeout_ms = ns / 1000000;
    }
    int64_t now = now_ms();
    *deadline = 0;
    if (timeout_ms != INT64_MAX)
        *deadline = timeout_ms > INT64_MAX - now ? INT64_MAX : now + timeout_ms;
    if (*deadline == 0) /* 0 means "none" to the engine; this one has passed */
        *deadline = -1;
    return true;
}

/*
 * Wait for a slot until the deadline or the client's going (Prometheus's
 * GetSpaceForNextQuery(ctx)): the gate is entered in short slices so the
 * gone flag is seen.  Returns PROMQL_ERR_NONE with a slot taken, else
 * TIMEOUT or CANCELED.
 */
static promql_errtype wait_for_slot(query_call *c, int64_t deadline)
{
    for (;;) {
        int64_t now = now_ms();
        if (atomic_load(&c->gone))
            return PROMQL_ERR_CANCELED;
        if (deadline && now >= deadline)
            return PROMQL_ERR_TIMEOUT;
        int64_t until = now + QUEUE_CHECK_MS;
        if (deadline && deadline < until)
            until = deadline;
        if (query_gate_enter(c->agg->gate, until))
            return PROMQL_ERR_NONE;
    }
}

/* Answer a query that ended early; a canceled one is logged (debug). */
static void fail_query(query_call *c, const httpd_request *req, httpd_response *resp,
                       promql_errtype t, const char *msg)
{
    if (t == PROMQL_ERR_CANCELED) {
        char why[160], qtext[256];
        const char *q = httpd_param_get(req, "query");
        log_debug("query canceled, client gone", "kind=%s reason=%s query=%s", kind_names[c->kind],
                  log_quote(why, sizeof why, msg), log_quote(qtext, sizeof qtext, q ? q : ""));
    }
    fail(c, resp, t, msg);
}

/*
 * Wait for a slot, evaluate, answer.  range: evaluate over [start, end]
 * by step; else at start.  A parse error of an instant query gets the
 * `invalid parameter "query": ` prefix, as NewInstantQuery's does.
 */
static void evaluate(query_call *c, const httpd_request *req, int64_t deadline, int64_t start,
                     int64_t end, int64_t step, httpd_response *resp)
{
    aggregator *agg = c->agg;
    promql_errtype queued = wait_for_slot(c, deadline);
    if (queued != PROMQL_ERR_NONE) {
        fail_query(c, req, resp, queued,
                   queued == PROMQL_ERR_CANCELED ? "query was canceled in query queue"
                                                 : "query timed out in query queue");
        return;
    }
    const char *q = httpd_param_get(req, "query");
    char qtext[256];
    log_debug("query started", "kind=%s query=%s", kind_names[c->kind],
              log_quote(qtext, sizeof qtext, q ? q : ""));
    query_storage st = tsdb_query_storage(agg->db);
    promql_engine_options o = {.lookback_ms = agg->lookback_ms,
                               .max_samples = agg->query_max_samples,
                               .deadline_ms = deadline,
                               .cancel = &c->gone};
    promql_result res;
    promql_result_init(&res);
    promql_failure f = {PROMQL_ERR_NONE, ""};
    int rc = c->kind == KIND_RANGE
                 ? promql_query_range(&st, &o, q ? q : "", start, end, step, &res, &f)
                 : promql_query_instant(&st, &o, q ? q : "", start, &res, &f);
    query_gate_leave(agg->gate);
    observe_duration(c);
    if (rc == 0) {
        api_stream_result(resp, &res);
    } else if (c->kind == KIND_INSTANT && f.type == PROMQL_ERR_BAD_DATA) {
        char msg[600];
        snprintf(msg, sizeof msg, "invalid parameter \"query\": %s", f.msg);
        fail(c, resp, f.type, msg);
    } else {
        fail_query(c, req, resp, f.type, f.msg);
    }
    promql_result_free(&res);
}

static void begin(query_call *c, aggregator *agg, int kind, const httpd_request *req)
{
    atomic_fetch_add(&agg->queries, 1);
    atomic_fetch_add(&agg->qstats.by_kind[kind], 1);
    *c = (query_call){.agg = agg, .kind = kind, .started_us = mono_us()};
    atomic_init(&c->gone, false);
    c->watch = httpd_watch_add(httpd_watch_shared(), httpd_request_fd(req), &c->gone);
}

/* The handler is done with the client's connection. */
static void finish(query_call *c)
{
    httpd_watch_remove(httpd_watch_shared(), c->watch);
}

void api_handle_query(void *ctx, const httpd_request *req, httpd_response *resp)
{
    query_call c;
    begin(&c, ctx, KIND_INSTANT, req);
    char msg[700];
    int64_t t, deadline;
    if (!api_time_param(req, "time", now_ms(), &t, msg, sizeof msg) ||
        !query_deadline(c.agg, req, &deadline, msg, sizeof msg))
        fail(&c, resp, PROMQL_ERR_BAD_DATA, msg);
    else
        evaluate(&c, req, deadline, t, t, 0, resp);
    finish(&c);
}

/* A required time parameter (parseTime, no default). */
static bool required_time(const httpd_request *req, const char *name, int64_t *ms, char *msg,
                          size_t msglen)
{
    const char *s = httpd_param_get(req, name);
    char err[300];
    if (api_parse_time(s ? s : "", ms, err, sizeof err))
        return true;
    snprintf(msg, msglen, "invalid parameter \"%s\": %s", name, err);
    return false;
}

/* end.Sub(start) / step > 11000, with Go's saturating Duration. */
static bool too_many_steps(int64_t start, int64_t end, int64_t step_ns)
{
    int64_t diff_ms;
    int64_t diff_ns = INT64_MAX;
    if (!__builtin_sub_overflow(end, start, &diff_ms) && diff_ms <= INT64_MAX / 1000000)
        diff_ns = diff_ms * 1000000;
    return diff_ns / step_ns > PROMQL_MAX_STEPS;
}

/* start, end and step of a range query; false with msg set. */
static bool range_params(const httpd_request *req, int64_t *start, int64_t *end, int64_t *step_ns,
                         char *msg, size_t msglen)
{
    char err[300];
    if (!required_time(req, "start", start, msg, msglen) ||
        !required_time(req, "end", end, msg, msglen))
        return false;
    if (*end < *start) {
        snprintf(msg, msglen,
                 "invalid parameter \"end\": end timestamp must not be before start "
                 "time");
        return false;
    }
    const char *s = httpd_param_get(req, "step");
    if (!api_parse_duration(s ? s : "", step_ns, err, sizeof err)) {
        snprintf(msg, msglen, "invalid parameter \"step\": %s", err);
        return false;
    }
    if (*step_ns <= 0) {
        snprintf(msg, msglen,
                 "invalid parameter \"step\": zero or negative query resolution step "
                 "widths are not accepted. Try a positive integer");
        return false;
    }
    if (too_many_steps(*start, *end, *step_ns)) {
        snprintf(msg, msglen,
                 "exceeded maximum resolution of 11,000 points per timeseries. Try "
                 "decreasing the query resolution (?step=XX)");
        return false;
    }
    return true;
}

void api_handle_query_range(void *ctx, const httpd_request *req, httpd_response *resp)
{
    query_call c;
    begin(&c, ctx, KIND_RANGE, req);
    char msg[700];
    int64_t start, stop, step_ns, deadline;
    if (!range_params(req, &start, &stop, &step_ns, msg, sizeof msg) ||
        !query_deadline(c.agg, req, &deadline, msg, sizeof msg)) {
        fail(&c, resp, PROMQL_ERR_BAD_DATA, msg);
    } else {
        /* Steps are whole milliseconds in the engine; a finer step (which
         * Prometheus accepts, then divides by zero) is taken as 1 ms. */
        int64_t step_ms = step_ns / 1000000 > 0 ? step_ns / 1000000 : 1;
        evaluate(&c, req, deadline, start, stop, step_ms, resp);
    }
    finish(&c);
}

static void query_histogram(const aggregator *agg, metric_set *ms)
{
    const char *h = "ember_aggregator_query_duration_seconds";
    metric_set_meta(ms, h, METRIC_HISTOGRAM,
                    "Time to evaluate PromQL queries (waiting for a slot included), by kind.");
    for (int k = 0; k < AGG_QUERY_KINDS; k++) {
        uint64_t cum = 0;
        char le[FMT_FLOAT_MAX];
        for (int b = 0; b <= AGG_QUERY_BUCKETS; b++) {
            cum += atomic_load(&agg->qstats.in_bucket[k][b]);
            if (b < AGG_QUERY_BUCKETS)
                fmt_float_text(le, bucket_le[b]);
            metric_set_addl(ms, "ember_aggregator_query_duration_seconds_bucket", (double)cum,
                            "type", kind_names[k], "le", b < AGG_QUERY_BUCKETS ? le : "+Inf", NULL);
        }
        metric_set_addl(ms, "ember_aggregator_query_duration_seconds_sum",
                        (double)atomic_load(&agg->qstats.sum_us[k]) / 1e6, "type", kind_names[k],
                        NULL);
        metric_set_addl(ms, "ember_aggregator_query_duration_seconds_count", (double)cum, "type",
                        kind_names[k], NULL);
    }
}

void api_query_metrics(aggregator *agg, metric_set *ms)
{
    const char *q = "ember_aggregator_queries_total";
    metric_set_meta(ms, q, METRIC_COUNTER, "PromQL queries received, by kind.");
    for (int k = 0; k < AGG_QUERY_KINDS; k++)
        metric_set_addl(ms, q, (double)atomic_load(&agg->qstats.by_kind[k]), "type", kind_names[k],
                        NULL);
    const char *e = "ember_aggregator_query_errors_total";
    metric_set_meta(ms, e, METRIC_COUNTER, "PromQL queries that failed, by error type.");
    for (int t = PROMQL_ERR_BAD_DATA; t < AGG_QUERY_ERRTYPES; t++)
        metric_set_addl(ms, e, (double)atomic_load(&agg->qstats.failed[t]), "type",
                        promql_errtype_name((promql_errtype)t), NULL);
    query_histogram(agg, ms);
    int active, waiting, max;
    query_gate_counts(agg->gate, &active, &waiting, &max);
    const char *g[3] = {"ember_aggregator_queries_active", "ember_aggregator_queries_waiting",
                        "ember_aggregator_queries_concurrent_max"};
    const char *help[3] = {"PromQL queries being evaluated (with a limit set).",
                           "PromQL queries waiting for a slot.",
                           "--query.max-concurrency (0: no limit)."};
    int v[3] = {active, waiting, max};
    for (int i = 0; i < 3; i++) {
        metric_set_meta(ms, g[i], METRIC_GAUGE, help[i]);
        metric_set_addl(ms, g[i], (double)v[i], NULL);
    }
}
