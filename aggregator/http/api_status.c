/*
 * api_status.c — the store's figures: /api/v1/status/tsdb in Prometheus's
 * shape (head stats and top-10 cardinality lists) and the ember_tsdb_*
 * self metrics of /metrics.
 */
#include "aggregator/http/api.h"

#include "common/json.h"

#include <inttypes.h>

#define STATUS_TOP 10

static void card_list(ebuf *out, const char *key, const tsdb_card_entry *v, size_t n)
{
    ebuf_printf(out, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        ebuf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        json_string(out, v[i].name);
        ebuf_printf(out, ",\"value\":%" PRIu64 "}", v[i].value);
    }
    ebuf_putc(out, ']');
}

void api_handle_status_tsdb(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)req;
    aggregator *agg = ctx;
    tsdb_cardinality c;
    tsdb_get_cardinality(agg->db, STATUS_TOP, &c);
    tsdb_stats st;
    tsdb_get_stats(agg->db, &st);
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf *b = &resp->body;
    ebuf_printf(b,
                "{\"status\":\"success\",\"data\":{\"headStats\":{\"numSeries\":%" PRIu64
                ",\"numLabelPairs\":%" PRIu64 ",\"chunkCount\":%" PRIu64 ",\"minTime\":%" PRId64
                ",\"maxTime\":%" PRId64 "}",
                c.head_series, c.label_pairs, st.head_series, st.head_min_t, st.head_max_t);
    card_list(b, "seriesCountByMetricName", c.by_metric, c.n_metric);
    card_list(b, "labelValueCountByLabelName", c.by_label_values, c.n_label_values);
    card_list(b, "seriesCountByLabelValuePair", c.by_pair, c.n_pair);
    ebuf_puts(b, "}}");
    tsdb_cardinality_free(&c);
}

void api_tsdb_metrics(aggregator *agg, metric_set *ms)
{
    tsdb_stats s;
    tsdb_get_stats(agg->db, &s);
    const struct {
        metric_type type;
        const char *name, *help;
        uint64_t v;
    } m[] = {
        {METRIC_GAUGE, "ember_tsdb_series", "Series in the store.", s.series},
        {METRIC_GAUGE, "ember_tsdb_head_series", "Series with an open head chunk.", s.head_series},
        {METRIC_GAUGE, "ember_tsdb_head_chunk_bytes", "Memory held by head chunks.",
         s.head_chunks_bytes},
        {METRIC_GAUGE, "ember_tsdb_partitions", "Time partitions holding chunks.", s.partitions},
        {METRIC_GAUGE, "ember_tsdb_disk_bytes", "Bytes used by the store (SST files, memtables).",
         s.disk_bytes},
        {METRIC_COUNTER, "ember_tsdb_series_created_total", "Series created.", s.series_created},
        {METRIC_COUNTER, "ember_tsdb_samples_appended_total", "Samples written.",
         s.samples_appended},
        {METRIC_COUNTER, "ember_tsdb_out_of_order_samples_total",
         "Samples accepted out of order (written as their own chunks).", s.ooo_samples},
        {METRIC_COUNTER, "ember_tsdb_chunks_cut_total", "Head chunks cut to RocksDB.",
         s.chunks_cut},
        {METRIC_COUNTER, "ember_tsdb_commits_total", "Atomic commits to the store.", s.commits},
        {METRIC_COUNTER, "ember_tsdb_compactions_total", "Compaction runs.", s.compactions},
        {METRIC_COUNTER, "ember_tsdb_chunks_compacted_total", "Chunks rewritten by compaction.",
         s.chunks_compacted},
        {METRIC_COUNTER, "ember_tsdb_retention_runs_total", "Retention runs.", s.retention_runs},
        {METRIC_COUNTER, "ember_tsdb_partitions_dropped_total", "Partitions dropped by retention.",
         s.partitions_dropped},
        {METRIC_COUNTER, "ember_tsdb_series_dropped_total",
         "Series dropped by retention once none of their data was left.", s.series_dropped},
        {METRIC_COUNTER, "ember_tsdb_log_truncations_total", "Head log truncations.",
         s.log_truncations},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        metric_set_meta(ms, m[i].name, m[i].type, m[i].help);
        metric_set_addl(ms, m[i].name, (double)m[i].v, NULL);
    }
    const char *r = "ember_tsdb_samples_rejected_total";
    metric_set_meta(ms, r, METRIC_COUNTER, "Samples refused by the store, by reason.");
    for (int i = 0; i < TSDB_REJ_COUNT; i++)
        metric_set_addl(ms, r, (double)s.rejected[i], "reason", tsdb_reject_name(i), NULL);
}
