/*
 * simhttp.c — the simulators' standard endpoints on common/httpd (see
 * simhttp.h): /metrics as Prometheus text, the health checks as plain text,
 * and the serve-until-stopped loop.
 */
#include "simulators/simhttp.h"

#include "common/log.h"
#include "common/runtime.h"

static void serve_metrics(void *ctx, const httpd_request *req, httpd_response *resp)
{
    const simhttp *s = ctx;
    resp->content_type = HTTPD_CONTENT_TYPE_METRICS;
    s->render(&resp->body, s->ctx);
}

static void serve_healthy(void *ctx, const httpd_request *req, httpd_response *resp)
{
    ebuf_puts(&resp->body, "Healthy.\n");
}

void simhttp_init(simhttp *s, simhttp_render_fn render, void *ctx)
{
    simhttp_init_opts(s, NULL, render, ctx);
}

void simhttp_init_opts(simhttp *s, const httpd_options *opts, simhttp_render_fn render, void *ctx)
{
    s->server = httpd_new(opts ? opts : &(httpd_options){.serialize = true});
    s->render = render;
    s->ctx = ctx;
    httpd_route(s->server, "GET", "/metrics", serve_metrics, s);
    httpd_route(s->server, "GET", "/-/healthy", serve_healthy, NULL);
    httpd_route(s->server, "GET", "/health", serve_healthy, NULL);
}

void simhttp_free(simhttp *s)
{
    httpd_free(s->server);
    s->server = NULL;
}

int simhttp_run(simhttp *s, const char *listen)
{
    char err[512], quoted[600];
    runtime_block_stop_signals(); /* before httpd_start creates threads */
    if (httpd_start(s->server, listen, err, sizeof err) != 0) {
        log_error("cannot serve", "err=%s", log_quote(quoted, sizeof quoted, err));
        simhttp_free(s);
        return 1;
    }
    log_info("listening", "addr=%s port=%u", listen, httpd_port(s->server));
    runtime_wait_stop();
    simhttp_free(s);
    log_info("stopped", "addr=%s", listen);
    return 0;
}
