/*
 * api.c — handlers of the aggregator's HTTP API (see api.h).
 *
 * JSON is written by hand into an ebuf: the shapes are fixed and small, and
 * the number formatting must be Prometheus's to the digit (fmtfloat.h).
 */
#include "aggregator/http/api.h"

#include "aggregator/http/params.h"
#include "common/etime.h"
#include "common/expfmt.h"
#include "common/fmtfloat.h"
#include "common/json.h"
#include "common/procstats.h"
#include "query/promql.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define API_MAX_BODY (64u << 20)
#define API_THREADS 2
#define API_MAX_CONNECTIONS 1024
#define API_TIMEOUT_S 60

void api_error(httpd_response *resp, int status, const char *type, const char *msg)
{
    resp->status = status;
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":", type);
    json_string(&resp->body, msg);
    ebuf_putc(&resp->body, '}');
}

/* Prometheus writes sample times as seconds with exactly three decimals
 * (omitted when zero): 1700000000.123, 1700000000.050, 1700000000. */
static void json_timestamp(ebuf *out, int64_t ms)
{
    if (ms < 0) {
        ebuf_putc(out, '-');
        ms = -ms;
    }
    ebuf_printf(out, "%" PRId64, ms / 1000);
    if (ms % 1000)
        ebuf_printf(out, ".%03d", (int)(ms % 1000));
}

static void json_labels(ebuf *out, const labelset *ls)
{
    ebuf_putc(out, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            ebuf_putc(out, ',');
        json_string(out, ls->v[i].name);
        ebuf_putc(out, ':');
        json_string(out, ls->v[i].value);
    }
    ebuf_putc(out, '}');
}

static void json_vector(ebuf *out, const qseries_set *result)
{
    char num[FMT_FLOAT_MAX];
    ebuf_puts(out, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
    for (size_t i = 0; i < result->n; i++) {
        const qseries *s = &result->v[i];
        if (i)
            ebuf_putc(out, ',');
        ebuf_puts(out, "{\"metric\":");
        json_labels(out, &s->labels);
        ebuf_puts(out, ",\"value\":[");
        json_timestamp(out, s->samples[0].t);
        fmt_float_json(num, s->samples[0].v);
        ebuf_printf(out, ",\"%s\"]}", num);
    }
    ebuf_puts(out, "]}}");
}

static void handle_query(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    char err[512];
    atomic_fetch_add(&agg->queries, 1);
    int64_t t = now_ms();
    const char *ts = httpd_param_get(req, "time");
    if (ts && ts[0] && !api_parse_time(ts, &t, err, sizeof err)) {
        char msg[600];
        snprintf(msg, sizeof msg, "invalid parameter \"time\": %s", err);
        atomic_fetch_add(&agg->query_errors, 1);
        api_error(resp, 400, "bad_data", msg);
        return;
    }
    const char *q = httpd_param_get(req, "query");
    promql_selector sel;
    promql_error perr;
    if (promql_parse_selector(q ? q : "", &sel, &perr) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "invalid parameter \"query\": %s", perr.msg);
        atomic_fetch_add(&agg->query_errors, 1);
        api_error(resp, 400, "bad_data", msg);
        return;
    }
    query_storage st = tsdb_query_storage(agg->db);
    qseries_set result;
    qseries_set_init(&result);
    if (promql_eval_selector(&st, &sel, t, agg->lookback_ms, &result, err, sizeof err) != 0) {
        atomic_fetch_add(&agg->query_errors, 1);
        api_error(resp, 422, "execution", err);
    } else {
        resp->content_type = HTTPD_CONTENT_TYPE_JSON;
        json_vector(&resp->body, &result);
    }
    qseries_set_free(&result);
    promql_selector_free(&sel);
}

static void handle_buildinfo(void *ctx, const httpd_request *req, httpd_response *resp)
{
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(&resp->body, "{\"status\":\"success\",\"data\":{\"version\":\"" EMBER_VERSION
                           "\",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\","
                           "\"buildDate\":\"\",\"goVersion\":\"ember (C11)\"}}");
}

static void text_reply(httpd_response *resp, const char *body)
{
    resp->content_type = HTTPD_CONTENT_TYPE_TEXT;
    ebuf_puts(&resp->body, body);
}

static void handle_healthy(void *ctx, const httpd_request *req, httpd_response *resp)
{
    text_reply(resp, "Ember aggregator is Healthy.\n");
}

static void handle_ready(void *ctx, const httpd_request *req, httpd_response *resp)
{
    text_reply(resp, "Ember aggregator is Ready.\n");
}

static void add_counter(metric_set *ms, const char *name, const char *help, double v)
{
    metric_set_meta(ms, name, METRIC_COUNTER, help);
    metric_set_addl(ms, name, v, NULL);
}

static void self_metrics(aggregator *agg, metric_set *ms)
{
    ingest_stats is;
    ingest_get_stats(agg->in, &is);
    const char *b = "ember_aggregator_ingest_batches_total";
    metric_set_meta(ms, b, METRIC_COUNTER, "Batches received from agents, by result.");
    metric_set_addl(ms, b, (double)is.batches_ok, "result", "ok", NULL);
    metric_set_addl(ms, b, (double)is.batches_duplicate, "result", "duplicate", NULL);
    metric_set_addl(ms, b, (double)is.batches_rejected, "result", "rejected", NULL);
    metric_set_addl(ms, b, (double)is.batches_failed, "result", "failed", NULL);
    add_counter(ms, "ember_aggregator_ingest_samples_total",
                "Samples committed from agent batches.", (double)is.samples);
    add_counter(ms, "ember_aggregator_ingest_bytes_total",
                "Compressed bytes received on the ingest endpoint.", (double)is.bytes);
    add_counter(ms, "ember_aggregator_agent_hellos_total", "Hello messages received from agents.",
                (double)is.hellos);
    add_counter(ms, "ember_aggregator_queries_total", "PromQL queries received.",
                (double)atomic_load(&agg->queries));
    add_counter(ms, "ember_aggregator_query_errors_total", "PromQL queries that failed.",
                (double)atomic_load(&agg->query_errors));
    add_counter(ms, "ember_aggregator_ingest_samples_rejected_total",
                "Samples of accepted batches the store refused (reason in the Ack).",
                (double)is.samples_rejected);
    ingest_reject_metrics(agg->in, ms);
    api_tsdb_metrics(agg, ms);
    api_write_metrics(ms);
    procstats_collect(ms);
}

static void handle_metrics(void *ctx, const httpd_request *req, httpd_response *resp)
{
    metric_set ms;
    metric_set_init(&ms);
    self_metrics(ctx, &ms);
    resp->content_type = HTTPD_CONTENT_TYPE_METRICS;
    expfmt_write(&resp->body, &ms);
    metric_set_free(&ms);
}

/* Errors the server answers itself (405, 413, 400) in Prometheus's envelope. */
static void server_error(httpd_response *resp, int status, const char *msg)
{
    api_error(resp, status, "bad_data", msg);
}

static const struct {
    const char *methods;
    const char *path;
    httpd_handler fn;
} routes[] = {
    {"GET,POST", "/api/v1/query", handle_query},
    {"GET,POST", "/api/v1/labels", api_handle_labels},
    {"GET", "/api/v1/label/*", api_handle_label_values}, /* /api/v1/label/<name>/values */
    {"GET", "/api/v1/status/buildinfo", handle_buildinfo},
    {"GET", "/api/v1/status/tsdb", api_handle_status_tsdb},
    {"GET", "/api/v1/agents", api_handle_agents},
    {"POST", "/api/v1/import/prometheus", api_handle_import},
    {"POST", "/api/v1/write", api_handle_write},
    {"GET,POST", "/federate", api_handle_federate},
    {"GET", "/metrics", handle_metrics},
    {"GET", "/-/healthy", handle_healthy},
    {"GET", "/-/ready", handle_ready},
};

httpd *api_server_new(aggregator *agg)
{
    httpd_options o = {.max_body = API_MAX_BODY,
                       .threads = API_THREADS,
                       .max_connections = API_MAX_CONNECTIONS,
                       .timeout_s = API_TIMEOUT_S,
                       .error = server_error};
    httpd *h = httpd_new(&o);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        httpd_route(h, routes[i].methods, routes[i].path, routes[i].fn, agg);
    return h;
}
