/*
 * api.c — the aggregator's HTTP server: its route table, the error
 * envelope, and the small handlers (buildinfo, health, /metrics); the
 * larger endpoints have their own api_*.c files (see api.h).
 *
 * JSON is written by hand into an ebuf: the shapes are fixed, and the
 * number formatting must be Prometheus's to the digit (fmtfloat.h).
 */
#include "aggregator/http/api.h"

#include "aggregator/forward/forward.h"
#include "aggregator/http/auth.h"
#include "aggregator/http/params.h"
#include "common/etime.h"
#include "common/expfmt.h"
#include "common/json.h"
#include "common/procstats.h"

#include <stdio.h>
#include <string.h>

#define API_MAX_BODY (64u << 20)
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

void api_self_metrics(aggregator *agg, metric_set *ms)
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
    add_counter(ms, "ember_aggregator_ingest_samples_rejected_total",
                "Samples of accepted batches the store refused (reason in the Ack).",
                (double)is.samples_rejected);
    ingest_reject_metrics(agg->in, ms);
    api_tsdb_metrics(agg, ms);
    api_write_metrics(ms);
    forwarder_metrics(agg->fwd, ms);
    api_query_metrics(agg, ms);
    httpd_refused_metrics(ms);
    procstats_collect(ms);
}

static void handle_metrics(void *ctx, const httpd_request *req, httpd_response *resp)
{
    metric_set ms;
    metric_set_init(&ms);
    api_self_metrics(ctx, &ms);
    resp->content_type = HTTPD_CONTENT_TYPE_METRICS;
    expfmt_write(&resp->body, &ms);
    metric_set_free(&ms);
}

/* Errors the server answers itself (405, 413, 400) in Prometheus's envelope. */
static void server_error(httpd_response *resp, int status, const char *msg)
{
    api_error(resp, status, "bad_data", msg);
}

/* The role column is what web authentication (auth.h) asks of a client:
 * routes that change stored data need the write role, the rest read. */
static const struct {
    const char *methods;
    const char *path;
    httpd_handler fn;
    web_role role;
} routes[] = {
    {"GET,POST", "/api/v1/query", api_handle_query, WEB_READ},
    {"GET,POST", "/api/v1/query_range", api_handle_query_range, WEB_READ},
    {"GET,POST", "/api/v1/series", api_handle_series, WEB_READ},
    {"GET,POST", "/api/v1/labels", api_handle_labels, WEB_READ},
    /* /api/v1/label/<name>/values */
    {"GET", "/api/v1/label/*", api_handle_label_values, WEB_READ},
    {"GET", "/api/v1/metadata", api_handle_metadata, WEB_READ},
    {"GET", "/api/v1/status/buildinfo", handle_buildinfo, WEB_READ},
    {"GET", "/api/v1/status/runtimeinfo", api_handle_runtimeinfo, WEB_READ},
    {"GET", "/api/v1/status/flags", api_handle_flags, WEB_READ},
    {"GET", "/api/v1/status/tsdb", api_handle_status_tsdb, WEB_READ},
    {"GET", "/api/v1/agents", api_handle_agents, WEB_READ},
    {"POST", "/api/v1/import/prometheus", api_handle_import, WEB_WRITE},
    {"POST", "/api/v1/write", api_handle_write, WEB_WRITE},
    {"POST,PUT", "/api/v1/admin/tsdb/snapshot", api_handle_admin_snapshot, WEB_WRITE},
    {"POST,PUT", "/api/v1/admin/tsdb/delete_series", api_handle_admin_delete_series, WEB_WRITE},
    {"POST,PUT", "/api/v1/admin/tsdb/clean_tombstones", api_handle_admin_clean_tombstones,
     WEB_WRITE},
    {"GET,POST", "/federate", api_handle_federate, WEB_READ},
    {"GET", "/metrics", handle_metrics, WEB_READ},
    {"GET", "/-/healthy", handle_healthy, WEB_READ},
    {"GET", "/-/ready", handle_ready, WEB_READ},
};

httpd *api_server_new_with(aggregator *agg, const httpd_options *given)
{
    httpd_options o = given ? *given : (httpd_options){0};
    o.thread_per_connection = true; /* queries wait in the gate, not for a thread */
    o.error = server_error;
    o.serialize = false;
    if (!o.max_body)
        o.max_body = API_MAX_BODY;
    if (!o.max_connections)
        o.max_connections = API_MAX_CONNECTIONS;
    if (!o.timeout_s)
        o.timeout_s = API_TIMEOUT_S;
    httpd *h = httpd_new(&o);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        httpd_route_access(h, routes[i].methods, routes[i].path, routes[i].fn, agg,
                           (int)routes[i].role);
    return h;
}

httpd *api_server_new(aggregator *agg)
{
    return api_server_new_with(agg, NULL);
}
