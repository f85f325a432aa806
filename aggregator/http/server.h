/*
 * server.h — the aggregator's HTTP server (libmicrohttpd) and its request
 * model.  Handlers see one request with its parameters already merged from
 * the URL query and, for POST with application/x-www-form-urlencoded, the
 * body, exactly as Prometheus's API reads r.FormValue; they fill a response.
 */
#ifndef EMBER_AGGREGATOR_HTTP_SERVER_H
#define EMBER_AGGREGATOR_HTTP_SERVER_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct http_param {
    char *name;
    char *value;
} http_param;

typedef struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;
    http_param *params;
    size_t nparams, capparams;
    const char *body; /* raw body (POST) */
    size_t body_len;
    const char *content_type; /* NULL when absent */
} http_request;

typedef struct http_response {
    int status;
    const char *content_type;
    ebuf body;
} http_response;

/* First value of a parameter, or NULL. */
const char *http_param_get(const http_request *r, const char *name);

typedef void (*http_handler)(void *ctx, const http_request *req, http_response *resp);

typedef struct http_route {
    const char *path; /* exact path */
    http_handler fn;
    bool allow_post; /* GET is always allowed */
} http_route;

typedef struct http_server http_server;

#define HTTP_MAX_BODY (64u << 20)

/*
 * Listen on "HOST:PORT" (port 0 picks a free one) and serve routes, which
 * must outlive the server.  Returns 0, or -1 with err set.
 */
int http_server_start(const char *listen, const http_route *routes, size_t nroutes, void *ctx,
                      http_server **out, char *err, size_t errlen);
unsigned http_server_port(const http_server *s);
void http_server_stop(http_server *s);

/*
 * Parse application/x-www-form-urlencoded text (also a URL query string)
 * into r's parameters.  Returns false on a bad %-escape.
 */
bool http_parse_form(http_request *r, const char *s, size_t len);

#endif
