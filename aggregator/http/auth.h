/*
 * auth.h — the aggregator's API behind common/web_auth.h: the server with
 * TLS, the auth hook and limits given by main.c.  The web: section and the
 * credential check are common/web_auth.c's (the agent's HTTP port uses the
 * same); the aggregator passes api_error so refusals come in Prometheus's
 * JSON error envelope, and gives import, remote write and admin routes the
 * WEB_WRITE access level (api.c).
 */
#ifndef EMBER_AGGREGATOR_HTTP_AUTH_H
#define EMBER_AGGREGATOR_HTTP_AUTH_H

#include "aggregator/aggregator.h"
#include "common/httpd.h"
#include "common/web_auth.h"

/*
 * The API server with server settings from o (zero fields: the API's
 * defaults; TLS, auth hook and limits as given).  api_server_new(agg) is
 * this with no settings.
 */
httpd *api_server_new_with(aggregator *agg, const httpd_options *o);

#endif
