/*
 * simhttp.h — what every simulator serves, on common/httpd: /metrics
 * rendered from the model, and /-/healthy and /health answering 200; and
 * the serve-until-SIGTERM loop their mains share.
 *
 * By default handlers run one at a time under the server's mutex
 * (httpd_options.serialize), so a model that is not thread-safe needs no
 * locking of its own; a thread that touches the model from outside takes
 * httpd_lock/httpd_unlock on server.  A simulator whose handlers block
 * (the demo app sleeps to simulate latency) passes its own options.
 *
 *   simhttp sh;
 *   simhttp_init(&sh, render_gpus, sim);
 *   httpd_route(sh.server, "GET", "/api/test", handle_test, app); // more routes
 *   return simhttp_run(&sh, "127.0.0.1:9400");
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

/* Fill s with a new server (one thread, handlers serialized); s must stay
 * where it is until simhttp_free. */
void simhttp_init(simhttp *s, simhttp_render_fn render, void *ctx);
/* The same with the server's options (NULL: as simhttp_init). */
void simhttp_init_opts(simhttp *s, const httpd_options *opts, simhttp_render_fn render, void *ctx);
/* Stop the server if running and free it. */
void simhttp_free(simhttp *s);

/*
 * Block the stop signals, start serving on listen, log "listening", wait
 * for SIGTERM/SIGINT, then stop and free the server (simhttp_free) and log
 * "stopped".  Returns main's exit code: 0, or 1 (logged) when the address
 * cannot be served.
 */
int simhttp_run(simhttp *s, const char *listen);

#endif
