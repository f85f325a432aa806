/*
 * api.h — the Prometheus-compatible HTTP API of the aggregator:
 * /api/v1/query, /api/v1/status/buildinfo, /metrics, /-/healthy, /-/ready.
 * Responses and errors use Prometheus's JSON envelope
 * ({"status":"success","data":...} / {"status":"error","errorType",...}).
 */
#ifndef EMBER_AGGREGATOR_HTTP_API_H
#define EMBER_AGGREGATOR_HTTP_API_H

#include "aggregator/http/server.h"

#include <stddef.h>

/* The route table; handlers expect an aggregator * as their context. */
const http_route *api_routes(size_t *n);

#endif
