/*
 * httpd.h — Ember's one HTTP server (libmicrohttpd underneath), used by the
 * aggregator's API and by the simulators.
 *
 * A server is a route table filled before start: an exact path, one or more
 * methods, and a handler that reads a request and fills a response.
 *
 *   httpd *h = httpd_new(&(httpd_options){.threads = 2, .error = json_error});
 *   httpd_route(h, "GET,POST", "/api/v1/query", handle_query, agg);
 * A route path ending in '*' is a prefix: "/api/v1/label/" then '*' serves
 * every /api/v1/label/<name>/values.
 *   if (httpd_start(h, "127.0.0.1:9090", err, sizeof err) != 0) ...
 *   ...
 *   httpd_free(h);
 *
 * Requests: params holds the URL query and, for a POST/PUT/PATCH with
 * Content-Type application/x-www-form-urlencoded, the body's fields, body
 * fields first, as Go's r.Form orders them (so httpd_param_get is
 * Prometheus's r.FormValue); repeated names such as match[] stay in order.
 * The raw body is there as well, NUL-terminated.
 *
 * Replies the server makes itself: 404 "404 page not found\n" in plain text
 * for an unknown path (as Prometheus); 405 with an Allow header for a known
 * path and another method; 413 for a body over max_body; 400 for a form body
 * with a bad %-escape.  The 405/413/400 bodies come from the error
 * formatter: "<status> <message>\n" by default, Prometheus's JSON error
 * envelope in the aggregator.  HEAD is served by the GET handler; MHD drops
 * the body.
 *
 * Guards, all decided before a body is read (see httpd_guard.c): the auth
 * hook sees every request's headers and the access level of its route
 * (httpd_route_access) and may refuse it (401/403); a Content-Length over
 * max_body is answered 413 at once and the connection closed, and a
 * chunked body that grows past it closes the connection.  A client must
 * deliver a whole request within read_timeout_s of the connection opening
 * (or of its previous reply) or the connection is shut: MHD's own timeout
 * (timeout_s) only measures idleness, so a client sending a byte every few
 * seconds (slowloris) would otherwise hold a connection for ever.  With
 * tls_cert_file and tls_key_file set the server speaks HTTPS only (GnuTLS
 * under libmicrohttpd); httpd_reload_tls reads both files again.  What the
 * guards turn away is counted by reason (httpd_refused), for /metrics.
 *
 * Streaming: a handler whose answer is large sets it with
 * httpd_response_stream instead of filling body.  The server then sends it
 * with chunked transfer encoding, asking the producer for the next piece
 * each time the socket can take more, so the whole body is never held in
 * memory.  The producer runs on the server's threads after the handler has
 * returned, outside the serialize mutex, so it must only read state the
 * stream owns.
 *
 * Threading: libmicrohttpd's internal thread (or a pool of them) runs the
 * handlers.  With serialize set every handler runs under the server's mutex,
 * so a model that is not thread-safe needs no locking of its own; other
 * threads touching that model take the same mutex with httpd_lock/unlock.
 */
#ifndef EMBER_COMMON_HTTPD_H
#define EMBER_COMMON_HTTPD_H

#include "common/buf.h"
#include "common/expfmt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPD_CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
#define HTTPD_CONTENT_TYPE_JSON "application/json"
/* Prometheus text exposition format 0.0.4. */
#define HTTPD_CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

#define HTTPD_DEFAULT_MAX_BODY (1u << 20) /* bytes */
#define HTTPD_DEFAULT_TIMEOUT_S 30u       /* idle connection timeout */
#define HTTPD_DEFAULT_MAX_CONNECTIONS 1024u
#define HTTPD_DEFAULT_READ_TIMEOUT_S 300u /* whole request, as Prometheus's --web.read-timeout */

typedef struct httpd httpd;

typedef struct httpd_param {
    char *name;
    char *value;
} httpd_param;

typedef struct httpd_request {
    const char *method; /* "GET", "POST", ...; a HEAD request shows up as "GET" */
    const char *path;   /* without the query string */
    httpd_param *params;
    size_t nparams, capparams;
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    const char *content_type; /* NULL when absent */
    void *conn;               /* internal: for httpd_header */
} httpd_request;

/*
 * A streamed body's producer: append the next piece of the body to out
 * (any size; the server sends it before asking again) and return true, or
 * return false once the body is complete (what it appended on that call is
 * still sent).  Called until it returns false or the client goes away.
 */
typedef bool (*httpd_produce_fn)(void *cls, ebuf *out);
/* Frees cls: called exactly once, when the stream is done or abandoned. */
typedef void (*httpd_stream_free_fn)(void *cls);

typedef struct httpd_response {
    int status;               /* preset to 200 */
    const char *content_type; /* must outlive the request; preset to TEXT; NULL: none */
    ebuf body;                /* preset empty */
    httpd_param *headers;     /* added with httpd_response_header */
    size_t nheaders, capheaders;
    /* Set by httpd_response_stream: the body comes from produce, not body. */
    httpd_produce_fn produce;
    httpd_stream_free_fn stream_free;
    void *stream_cls;
} httpd_response;

typedef void (*httpd_handler)(void *ctx, const httpd_request *req, httpd_response *resp);
/* Fill resp (status, content type, body) for an error the server answers. */
typedef void (*httpd_error_fn)(httpd_response *resp, int status, const char *msg);

/*
 * Access control, called once a request's headers are in and before its
 * body is read, with the access level its route was given (0 for
 * httpd_route and for unknown paths).  req has method, path and headers
 * (httpd_header) but no params and an empty body.  Return true to go on, or
 * false with resp filled (401, 403, ...): the server sends it at once and,
 * for a request with a body, closes the connection without reading it.
 */
typedef bool (*httpd_auth_fn)(void *ctx, const httpd_request *req, int access,
                              httpd_response *resp);

typedef struct httpd_options {
    size_t max_body;          /* request body limit; 0: HTTPD_DEFAULT_MAX_BODY */
    unsigned threads;         /* serving threads; 0 or 1: one */
    /* A thread for each connection instead (threads is then ignored): a
     * handler that blocks (a long query, one waiting for a query slot)
     * holds up no other connection, as with Go's goroutine per request;
     * with a pool, the connections its thread had accepted wait behind it. */
    bool thread_per_connection;
    unsigned max_connections; /* open connections; 0: HTTPD_DEFAULT_MAX_CONNECTIONS */
    unsigned timeout_s;       /* idle connection timeout; 0: HTTPD_DEFAULT_TIMEOUT_S */
    bool serialize;           /* run every handler under the server's mutex */
    httpd_error_fn error;     /* 405/413/400 bodies; NULL: "<status> <msg>\n" */
    unsigned read_timeout_s;  /* a whole request must arrive within; 0: default */
    httpd_auth_fn auth;       /* NULL: every request is let in */
    void *auth_ctx;
    const char *tls_cert_file; /* PEM certificate (chain) and key: HTTPS; copied */
    const char *tls_key_file;
} httpd_options;

/* A server with no routes; opts may be NULL for the defaults. */
httpd *httpd_new(const httpd_options *opts);
/* Stops the server if running, then frees it. */
void httpd_free(httpd *h);

/*
 * Serve path for methods ("GET", "POST", or several: "GET,POST"); GET also
 * answers HEAD.  A (method, path) already routed gets the new handler.
 * Routes are added before httpd_start.
 */
void httpd_route(httpd *h, const char *methods, const char *path, httpd_handler fn, void *ctx);
/* As httpd_route, with the access level the auth hook is given. */
void httpd_route_access(httpd *h, const char *methods, const char *path, httpd_handler fn,
                        void *ctx, int access);

/*
 * Listen on "HOST:PORT" ("127.0.0.1:9090", "[::1]:0", "localhost:9400",
 * ":9090" for all interfaces) and start serving; port 0 takes a free one
 * (see httpd_port).  Returns 0, or -1 with a reason in err, e.g.
 * "cannot listen on 127.0.0.1:9090: Address already in use".
 */
int httpd_start(httpd *h, const char *addr, char *err, size_t errlen);
/*
 * HTTPS: read the certificate and key files again and serve with them.
 * libmicrohttpd cannot swap credentials in place, so a new server starts
 * on the same listening socket before the old one stops (in-flight
 * handlers finish; its open connections are closed, clients reconnect).
 * Returns 0 (also when not serving HTTPS), or -1 with a reason in err and
 * the old server still serving, e.g. when a file is missing or bad.
 */
int httpd_reload_tls(httpd *h, char *err, size_t errlen);
/* The bound port once started, else 0. */
uint16_t httpd_port(const httpd *h);
/* Stop serving: waits for running handlers, closes connections and socket. */
void httpd_stop(httpd *h);

void httpd_lock(httpd *h);
void httpd_unlock(httpd *h);

/* First value of a parameter, or NULL. */
const char *httpd_param_get(const httpd_request *r, const char *name);
/* A request header (name case-insensitive), or NULL. */
const char *httpd_header(const httpd_request *r, const char *name);
/* Add a header to the reply (Allow, Content-Encoding, ...); both copied. */
void httpd_response_header(httpd_response *resp, const char *name, const char *value);

/*
 * Answer with a body made by produce(cls, ...) piece by piece (see
 * "Streaming" above); status, content type and headers are sent as set.
 * The server owns cls from now on and releases it with free_fn (may be
 * NULL) whatever happens to the connection.  Replaces an earlier stream.
 */
void httpd_response_stream(httpd_response *resp, httpd_produce_fn produce,
                           httpd_stream_free_fn free_fn, void *cls);

/*
 * Append the fields of application/x-www-form-urlencoded text (also a URL
 * query string) to r's params: '+' is a space, %XX a byte, "flag" alone an
 * empty value.  Returns false on a bad %-escape.
 */
bool httpd_parse_form(httpd_request *r, const char *s, size_t len);
/* Free r's params (those httpd_parse_form added). */
void httpd_params_free(httpd_request *r);

/*
 * What the guards turned away, by reason.  Counted per process over every
 * server in it (as Go's promhttp counters are), since start.
 */
typedef enum httpd_refusal {
    HTTPD_REFUSED_UNAUTHORIZED,         /* the auth hook answered 401 */
    HTTPD_REFUSED_FORBIDDEN,            /* the auth hook answered anything else (403) */
    HTTPD_REFUSED_TOO_LARGE,            /* a body over max_body: 413, or a chunked body cut */
    HTTPD_REFUSED_TOO_MANY_CONNECTIONS, /* a connection over max_connections, shut at once */
    HTTPD_REFUSED_READ_TIMEOUT,         /* a connection cut at the read deadline (also an
                                           idle keep-alive one, see read_timeout_s) */
    HTTPD_REFUSED_COUNT
} httpd_refusal;

uint64_t httpd_refused(httpd_refusal r);
/* "unauthorized", "forbidden", "too_large", "too_many_connections", "read_timeout". */
const char *httpd_refusal_name(httpd_refusal r);
/* Append ember_http_requests_refused_total{reason} (every reason, zeros too) to ms. */
void httpd_refused_metrics(metric_set *ms);

/*
 * Split "HOST:PORT" into its parts (brackets removed from an IPv6 host; an
 * empty host stays empty).  Returns 0, or -1 if malformed or a part does
 * not fit.
 */
int httpd_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

#endif
