/*
 * simhttp.h — the simulators' tiny HTTP server (libmicrohttpd underneath).
 *
 * A server is a route table, filled before start: exact paths, each with a
 * method ("GET", "POST", ...) and a handler that fills a response.  Metrics
 * endpoints are a special route whose callback renders exposition text; the
 * server sends it with the Prometheus text Content-Type.  /-/healthy and
 * /health answer 200 out of the box.
 *
 *   simhttp *h = simhttp_new();
 *   simhttp_metrics(h, "/metrics", render_gpus, sim);
 *   simhttp_route(h, "POST", "/predict", handle_predict, app);
 *   if (simhttp_start(h, "127.0.0.1:9400", err, sizeof err) != 0) ...
 *
 * Replies: 404 for an unknown path, 405 (with Allow) for a known path and
 * another method, 413 for a body over SIMHTTP_MAX_BODY.  HEAD is answered as
 * GET without the body.
 *
 * Threading: one internal libmicrohttpd thread accepts and serves requests;
 * every handler runs with the server's mutex held, so a model that is not
 * thread-safe needs no locking of its own.  Code that touches the same model
 * from another thread takes the same mutex with simhttp_lock/simhttp_unlock.
 * Routes must be added before simhttp_start.
 */
#ifndef EMBER_SIMULATORS_SIMHTTP_H
#define EMBER_SIMULATORS_SIMHTTP_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define SIMHTTP_CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define SIMHTTP_CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
#define SIMHTTP_MAX_BODY (1u << 20) /* request bodies, bytes */

typedef struct simhttp simhttp;

typedef struct simhttp_request {
    const char *method; /* "GET"; HEAD requests show up as "GET" */
    const char *path;   /* without the query string */
    const char *body;   /* NUL-terminated; "" when none */
    size_t body_len;
    void *conn; /* for simhttp_request_arg */
} simhttp_request;

typedef struct simhttp_response {
    int status;               /* preset to 200 */
    const char *content_type; /* static string; preset to SIMHTTP_CONTENT_TYPE_TEXT */
    ebuf body;                /* preset empty */
} simhttp_response;

typedef void (*simhttp_handler)(const simhttp_request *req, simhttp_response *resp, void *ctx);
/* Append exposition text for one scrape to out. */
typedef void (*simhttp_render_fn)(ebuf *out, void *ctx);

simhttp *simhttp_new(void);
/* Stops the server if running, then frees it. */
void simhttp_free(simhttp *h);

/* Add a route, or replace the handler of an existing (method, path). */
void simhttp_route(simhttp *h, const char *method, const char *path, simhttp_handler fn, void *ctx);
/* GET path answers 200 with render's output as Prometheus text. */
void simhttp_metrics(simhttp *h, const char *path, simhttp_render_fn render, void *ctx);

/*
 * Listen on "HOST:PORT" ("127.0.0.1:9400", "[::1]:0", "localhost:9400",
 * ":9400" for all interfaces, "0.0.0.0:9400" for all IPv4 ones) and start
 * serving.
 * Port 0 takes an ephemeral port (see simhttp_port).  Returns 0, or -1 with a
 * reason in err, e.g. "listen 127.0.0.1:9400: Address already in use".
 */
int simhttp_start(simhttp *h, const char *addr, char *err, size_t errlen);
/* The bound port once started, else 0. */
uint16_t simhttp_port(const simhttp *h);
/* Stop serving: waits for a running handler, closes connections and socket. */
void simhttp_stop(simhttp *h);

void simhttp_lock(simhttp *h);
void simhttp_unlock(simhttp *h);

/* Query-string argument of the request, or NULL. */
const char *simhttp_request_arg(const simhttp_request *req, const char *name);

/*
 * Split "HOST:PORT" into its parts (brackets removed from IPv6 hosts; an empty
 * host stays empty).  Returns 0, or -1 if malformed or a part does not fit.
 */
int simhttp_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

#endif
