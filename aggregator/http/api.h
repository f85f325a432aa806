/*
 * api.h — the Prometheus-compatible HTTP API of the aggregator:
 * /api/v1/query, /api/v1/query_range, /api/v1/series, /api/v1/labels,
 * /api/v1/label/<name>/values, /api/v1/metadata, /api/v1/status/buildinfo,
 * /api/v1/status/runtimeinfo, /api/v1/status/flags, /api/v1/status/tsdb,
 * /api/v1/import/prometheus, /api/v1/write, /api/v1/admin/tsdb/..., /federate,
 * /metrics, /-/healthy, /-/ready.
 * Responses and errors use Prometheus's JSON envelope
 * ({"status":"success","data":...} / {"status":"error","errorType",...}).
 */
#ifndef EMBER_AGGREGATOR_HTTP_API_H
#define EMBER_AGGREGATOR_HTTP_API_H

#include "aggregator/aggregator.h"
#include "common/expfmt.h"
#include "common/httpd.h"
#include "query/engine.h"
#include "query/promql.h"

#include <stdbool.h>

/*
 * A server (not yet started) with the API's routes and settings: a pool of
 * two threads (the handlers are thread-safe), 64 MiB bodies, and
 * Prometheus's JSON error envelope for 400/405/413.  Handlers read agg,
 * which must outlive the server.
 */
httpd *api_server_new(aggregator *agg);

/* Shared by the api_*.c files. */
void api_error(httpd_response *resp, int status, const char *type, const char *msg);
void api_handle_import(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_status_tsdb(void *ctx, const httpd_request *req, httpd_response *resp);
void api_tsdb_metrics(aggregator *agg, metric_set *ms);
/* Everything /metrics shows about this process (also the self-scrape's). */
void api_self_metrics(aggregator *agg, metric_set *ms);
/* /api/v1/labels, /api/v1/label/<name>/values (the name from the path)
 * and /api/v1/series (api_labels.c). */
void api_handle_labels(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_label_values(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_series(void *ctx, const httpd_request *req, httpd_response *resp);

/* /api/v1/query and /api/v1/query_range (api_query.c), their figures in
 * /metrics. */
void api_handle_query(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_query_range(void *ctx, const httpd_request *req, httpd_response *resp);
void api_query_metrics(aggregator *agg, metric_set *ms);

/* --query.max-concurrency (query_gate.c).  new(max <= 0) is NULL, and a
 * NULL gate admits everything.  enter waits for a slot until deadline_ms
 * (now_ms() clock; 0: forever) and returns false if it passed first. */
query_gate *query_gate_new(int max);
void query_gate_free(query_gate *g);
bool query_gate_enter(query_gate *g, int64_t deadline_ms);
void query_gate_leave(query_gate *g);
void query_gate_counts(query_gate *g, int *active, int *waiting, int *max);

/* Prometheus's JSON (api_json.c): label sets as objects, and a query
 * result streamed as the success answer (takes *res, leaving it empty;
 * sample times as seconds with three decimals at most). */
void api_json_labels(ebuf *out, const labelset *ls);
void api_stream_result(httpd_response *resp, promql_result *res);

/* /api/v1/metadata (api_metadata.c), /api/v1/status/runtimeinfo and
 * /api/v1/status/flags (api_runtime.c). */
void api_handle_metadata(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_runtimeinfo(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_flags(void *ctx, const httpd_request *req, httpd_response *resp);

/* /api/v1/admin/tsdb/{snapshot,delete_series,clean_tombstones}
 * (api_admin.c; off without agg->enable_admin_api). */
void api_handle_admin_snapshot(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_admin_delete_series(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_admin_clean_tombstones(void *ctx, const httpd_request *req, httpd_response *resp);

/* /federate (api_federate.c). */
void api_handle_federate(void *ctx, const httpd_request *req, httpd_response *resp);
/*
 * Write the federation text of the union of sels at now into body (gzip
 * stream when gzip): the latest sample in [now - lookback_ms, now] of each
 * series, stale ones left out, families sorted by name.  Returns 0, or -1
 * with err set (storage failure).
 */
int api_federate_write(const query_storage *st, const promql_selector *sels, size_t nsels,
                       int64_t now, int64_t lookback_ms, bool gzip, ebuf *body, char *err,
                       size_t errlen);
/* True when an Accept-Encoding header value allows gzip. */
bool api_accepts_gzip(const char *accept_encoding);

/* POST /api/v1/write (api_write.c). */
typedef enum api_write_reject {
    API_WRITE_REJ_BAD_LABELS,
    API_WRITE_REJ_TOO_OLD,
    API_WRITE_REJ_TOO_NEW,
    API_WRITE_REJ_COUNT
} api_write_reject;
typedef struct api_write_result {
    uint64_t received, applied, rejected;
    uint64_t rejected_by[API_WRITE_REJ_COUNT];
    char reason[512]; /* why the request failed, or the first refused sample */
} api_write_result;
struct Prometheus__WriteRequest;
/* Snappy-decode and unpack a body (size limit WIRE_MAX_MESSAGE); 0, or -1
 * with err set.  Free *out with prometheus__write_request__free_unpacked. */
int api_write_decode(const char *body, size_t len, struct Prometheus__WriteRequest **out, char *err,
                     size_t errlen);
/* Decode, validate, append and commit; the HTTP status: 204, 400 or 500. */
int api_remote_write(tsdb *db, const char *body, size_t len, api_write_result *res);
void api_handle_write(void *ctx, const httpd_request *req, httpd_response *resp);
void api_write_metrics(metric_set *ms);

#endif
