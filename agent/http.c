/*
 * http.c — the agent's self metrics and the HTTP server that serves them.
 *
 * The same families go into every batch the agent sends (so the
 * aggregator stores the agent's health next to its data) and to /metrics,
 * where they can be read while the aggregator is unreachable — exactly
 * when they matter.  Counters come from the sender and the spool, which
 * lock their own state, so a handler never blocks the collection loop.
 * The server's guards (TLS, credentials, limits) are common/httpd.c's and
 * common/web_auth.c's, the same code as the aggregator's API.
 */
#include "agent/http.h"

#include "common/etime.h"
#include "common/httpd.h"
#include "common/mem.h"
#include "common/procstats.h"

#include <stdatomic.h>
#include <stdlib.h>

struct agent_http {
    httpd *srv;
    web_auth *auth; /* lets everything in while no credentials are configured */
};

static void gauge(metric_set *ms, const char *name, const char *help, double v)
{
    metric_set_meta(ms, name, METRIC_GAUGE, help);
    metric_set_addl(ms, name, v, NULL);
}

static void counter(metric_set *ms, const char *name, const char *help, double v)
{
    metric_set_meta(ms, name, METRIC_COUNTER, help);
    metric_set_addl(ms, name, v, NULL);
}

static void delivery_metrics(const sender_stats *st, metric_set *ms)
{
    const char *b = "ember_agent_batches_total";
    metric_set_meta(ms, b, METRIC_COUNTER, "Batches by delivery result.");
    metric_set_addl(ms, b, (double)st->acked, "result", "acked", NULL);
    metric_set_addl(ms, b, (double)st->rejected, "result", "rejected", NULL);
    metric_set_addl(ms, b, (double)st->spool.dropped_records, "result", "dropped", NULL);
    metric_set_addl(ms, b, (double)st->spool_errors, "result", "not_spooled", NULL);
    const char *e = "ember_agent_send_errors_total";
    metric_set_meta(ms, e, METRIC_COUNTER, "Failed delivery attempts by reason.");
    for (int r = 0; r < SEND_ERR_COUNT; r++)
        metric_set_addl(ms, e, (double)st->errors[r], "reason", sender_error_name((send_error)r),
                        NULL);
    counter(ms, "ember_agent_auth_rejected_total",
            "Hellos the aggregator refused (invalid token); batches stay spooled.",
            (double)st->auth_rejected);
    counter(ms, "ember_agent_send_failures_total", "Failed attempts to deliver a batch.",
            (double)st->failed_attempts);
    counter(ms, "ember_agent_resends_total", "Batches sent again after a failed attempt.",
            (double)st->resends);
    counter(ms, "ember_agent_failovers_total", "Switches to the next aggregator address.",
            (double)st->failovers);
    counter(ms, "ember_agent_unknown_base_total",
            "Batches sent again whole: the aggregator no longer held the connection's base.",
            (double)st->unknown_base);
    gauge(ms, "ember_agent_batches_in_flight", "Batches sent and waiting for their Ack.",
          (double)st->in_flight);
    gauge(ms, "ember_agent_batches_in_flight_max",
          "The window: batches sent before the oldest is acknowledged (--sender.max-in-flight).",
          (double)st->max_in_flight);
    gauge(ms, "ember_agent_aggregator_reachable",
          "1 when the last attempt got an answer, 0 when not, -1 before the first.",
          (double)st->reachable);
    gauge(ms, "ember_agent_last_send_success_timestamp_seconds",
          "When the aggregator last acknowledged a batch (0: never).",
          (double)st->last_success_ms / 1000.0);
}

static void spool_metrics(const spool_stats *sp, metric_set *ms)
{
    gauge(ms, "ember_agent_spool_bytes", "Bytes of the spool on disk.", (double)sp->bytes);
    gauge(ms, "ember_agent_spool_pending_batches", "Batches waiting for the aggregator's Ack.",
          (double)sp->pending);
    gauge(ms, "ember_agent_spool_oldest_pending_age_seconds",
          "Age of the oldest batch waiting for the aggregator.",
          sp->oldest_pending_ms ? (double)(now_ms() - sp->oldest_pending_ms) / 1000.0 : 0.0);
    counter(ms, "ember_agent_spool_dropped_samples_total",
            "Samples dropped because the spool was full (oldest first).",
            (double)sp->dropped_samples);
    counter(ms, "ember_agent_spool_corrupt_records_total",
            "Spool records skipped because they were torn or failed their checksum.",
            (double)sp->corrupt_records);
}

void agent_self_metrics(agent_self *self, metric_set *ms)
{
    sender_stats st;
    sender_get_stats(self->snd, &st);
    delivery_metrics(&st, ms);
    spool_metrics(&st.spool, ms);
    gauge(ms, "ember_agent_collect_duration_seconds", "Duration of the previous collection round.",
          (double)atomic_load(&self->collect_ms) / 1000.0);
    counter(ms, "ember_agent_collections_total", "Collection rounds since start.",
            (double)atomic_load(&self->collected));
    httpd_refused_metrics(ms);
    procstats_collect(ms);
}

static void serve_metrics(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)req;
    metric_set ms;
    metric_set_init(&ms);
    agent_self_metrics(ctx, &ms);
    expfmt_write(&resp->body, &ms);
    metric_set_free(&ms);
    resp->content_type = HTTPD_CONTENT_TYPE_METRICS;
}

static void serve_healthy(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    (void)req;
    ebuf_puts(&resp->body, "Ember agent is Healthy.\n");
}

int agent_http_start(const char *addr, agent_self *self, agent_http **out, char *err, size_t errlen)
{
    web_config none;
    web_config_init(&none);
    return agent_http_start_with(addr, self, &none, out, err, errlen);
}

int agent_http_start_with(const char *addr, agent_self *self, web_config *wc, agent_http **out,
                          char *err, size_t errlen)
{
    agent_http *h = em_calloc(1, sizeof *h);
    /* The file names stay valid in the web_auth that takes them over. */
    httpd_options o = {.threads = 1,
                       .max_connections = 64,
                       .tls_cert_file = wc->tls_cert_file,
                       .tls_key_file = wc->tls_key_file,
                       .auth = web_auth_check};
    h->auth = web_auth_new(wc, NULL);
    o.auth_ctx = h->auth;
    h->srv = httpd_new(&o);
    httpd_route_access(h->srv, "GET", "/metrics", serve_metrics, self, WEB_READ);
    httpd_route_access(h->srv, "GET", "/-/healthy", serve_healthy, self, WEB_READ);
    if (httpd_start(h->srv, addr, err, errlen) != 0) {
        agent_http_stop(h);
        return -1;
    }
    *out = h;
    return 0;
}

int agent_http_reload(agent_http *h, web_config *wc, char *err, size_t errlen)
{
    web_auth_replace(h->auth, wc);
    return httpd_reload_tls(h->srv, err, errlen);
}

uint16_t agent_http_port(const agent_http *h)
{
    return httpd_port(h->srv);
}

void agent_http_stop(agent_http *h)
{
    if (!h)
        return;
    httpd_free(h->srv); /* stops the server before its auth context goes */
    web_auth_free(h->auth);
    free(h);
}
