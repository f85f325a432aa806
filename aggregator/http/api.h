/*
 * api.h — the Prometheus-compatible HTTP API of the aggregator:
 * /api/v1/query, /api/v1/labels, /api/v1/status/buildinfo, /api/v1/status/tsdb,
 * /api/v1/import/prometheus, /metrics, /-/healthy, /-/ready.
 * Responses and errors use Prometheus's JSON envelope
 * ({"status":"success","data":...} / {"status":"error","errorType",...}).
 */
#ifndef EMBER_AGGREGATOR_HTTP_API_H
#define EMBER_AGGREGATOR_HTTP_API_H

#include "aggregator/aggregator.h"
#include "common/expfmt.h"
#include "common/httpd.h"

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
/* /api/v1/labels and /api/v1/label/<name>/values (the name from the path). */
void api_handle_labels(void *ctx, const httpd_request *req, httpd_response *resp);
void api_handle_label_values(void *ctx, const httpd_request *req, httpd_response *resp);

#endif
