/*
 * simhttp.h — what every simulator serves, on common/httpd: /metrics
 * rendered from the model, and /-/healthy and /health answering 200.
 *
 * Handlers run under the server's mutex (httpd_options.serialize), so a
 * model that is not thread-safe needs no locking of its own; a thread that
 * touches the model from outside takes httpd_lock/httpd_unlock on server.
 *
 *   simhttp sh;
 *   simhttp_init(&sh, render_gpus, sim);
 *   httpd_route(sh.server, "POST", "/predict", handle_predict, app); // more routes
 *   if (httpd_start(sh.server, "127.0.0.1:9400", err, sizeof err) != 0) ...
 *   simhttp_free(&sh);
 */
#ifndef EMBER_SIMULATORS_SIMHTTP_H
#define EMBER_SIMULATORS_SIMHTTP_H

#include "common/buf.h"
#include "common/httpd.h"

/* Append exposition text for one scrape to out. */
typedef void (*simhttp_render_fn)(ebuf *out, void *ctx);

typedef struct simhttp {
    httpd *server; /* not started; add routes, then httpd_start */
    simhttp_render_fn render;
    void *ctx;
} simhttp;

/* Fill s with a new server; s must stay where it is until simhttp_free. */
void simhttp_init(simhttp *s, simhttp_render_fn render, void *ctx);
/* Stop the server if running and free it. */
void simhttp_free(simhttp *s);

#endif
