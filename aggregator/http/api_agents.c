/*
 * api_agents.c — GET /api/v1/agents: the agents the ingest endpoint has
 * heard from since start (id, instance, version, address, last seen, last
 * and persisted seq, batches, samples, errors, lag), in Prometheus's JSON
 * envelope, sorted by id.
 */
#include "aggregator/aggregator.h"

#include "common/etime.h"
#include "common/json.h"

#include <inttypes.h>
#include <stdlib.h>

static void agent_json(ebuf *b, const ingest_agent *a, uint64_t persisted_seq, int64_t now)
{
    char seen[40];
    format_rfc3339_ms(seen, sizeof seen, a->last_seen_ms);
    ebuf_puts(b, "{\"id\":");
    json_string(b, a->agent_id);
    ebuf_puts(b, ",\"instance\":");
    json_string(b, a->instance);
    ebuf_puts(b, ",\"version\":");
    json_string(b, a->version);
    ebuf_puts(b, ",\"address\":");
    json_string(b, a->address);
    ebuf_printf(b,
                ",\"lastSeen\":\"%s\",\"lastSeq\":%" PRIu64 ",\"persistedSeq\":%" PRIu64
                ",\"batches\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"errors\":%" PRIu64,
                seen, a->last_seq, persisted_seq, a->batches, a->samples, a->errors);
    /* Lag: how old the newest sample received is; null before any sample. */
    if (a->newest_sample_ms)
        ebuf_printf(b, ",\"lagSeconds\":%.3f}", (double)(now - a->newest_sample_ms) / 1000.0);
    else
        ebuf_puts(b, ",\"lagSeconds\":null}");
}

void api_handle_agents(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)req;
    aggregator *agg = ctx;
    ingest_agent *v;
    size_t n = ingest_agents(agg->in, &v);
    int64_t now = now_ms();
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(&resp->body, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ebuf_putc(&resp->body, ',');
        agent_json(&resp->body, &v[i], tsdb_agent_seq(agg->db, v[i].agent_id), now);
    }
    ebuf_puts(&resp->body, "]}");
    free(v);
}
