/*
 * simhttp.c — the simulators' standard endpoints on common/httpd (see
 * simhttp.h): /metrics as Prometheus text, the health checks as plain text.
 */
#include "simulators/simhttp.h"

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
    s->server = httpd_new(&(httpd_options){.serialize = true});
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
