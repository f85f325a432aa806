/*
 * main.c — ember-aggregator: settings, start-up order, signal handling and
 * clean shutdown.  Start order is store → ingest → HTTP; shutdown is the
 * reverse, so nothing is acknowledged or served by a closed store.
 */
#include "aggregator/aggregator.h"
#include "aggregator/http/api.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/options.h"
#include "common/runtime.h"
#include "query/promql.h"

#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct settings {
    char *data_dir;
    char *http_listen;
    char *ingest_listen;
    int64_t ingest_workers;
    int64_t max_message_bytes, max_series_per_batch, max_label_count, max_label_length;
    strlist tokens;
    char *tls_cert, *tls_key, *tls_ca;
    int64_t lookback_ms;
    bool sync;
    int64_t sync_interval_ms;
    int64_t retention_ms;
    int64_t max_series_per_agent;
    int64_t head_max_age_ms;
    char *log_level;
} settings;

static settings cfg;

static const opt_spec specs[] = {
    {"data-dir", OPT_DIR, &cfg.data_dir, "data", "directory of the RocksDB store", "DIR"},
    {"http-listen", OPT_STRING, &cfg.http_listen, "0.0.0.0:9090",
     "address of the HTTP API (Prometheus-compatible)", "HOST:PORT"},
    {"ingest-listen", OPT_STRING, &cfg.ingest_listen, "tcp://0.0.0.0:7070",
     "nng address agents push batches to", "URL"},
    {"ingest-workers", OPT_INT, &cfg.ingest_workers, "4", "batches handled in parallel", "N"},
    {"ingest.max-message-bytes", OPT_BYTES, &cfg.max_message_bytes, "64MiB",
     "largest (compressed) agent message accepted", "BYTES"},
    {"ingest.max-series-per-batch", OPT_INT, &cfg.max_series_per_batch, "0",
     "series one batch may carry (0: no limit)", "N"},
    {"ingest.max-label-count", OPT_INT, &cfg.max_label_count, "0",
     "labels one series may carry, name included (0: no limit)", "N"},
    {"ingest.max-label-length", OPT_INT, &cfg.max_label_length, "0",
     "bytes of one label name or value (0: no limit)", "N"},
    {"auth.token-sha256", OPT_STRLIST, &cfg.tokens, NULL,
     "SHA-256 (hex) of a token agents must present in Hello, optionally bound to the only "
     "instance label it may write (repeatable; none: no authentication)",
     "HEX[=INSTANCE]"},
    {"ingest.tls-cert", OPT_FILE, &cfg.tls_cert, NULL, "certificate (PEM) of a tls+tcp:// ingest",
     "FILE"},
    {"ingest.tls-key", OPT_FILE, &cfg.tls_key, NULL, "private key (PEM) of the certificate",
     "FILE"},
    {"ingest.tls-ca", OPT_FILE, &cfg.tls_ca, NULL,
     "CA (PEM) agents' certificates must be signed by (mutual TLS)", "FILE"},
    {"query.lookback-delta", OPT_DURATION, &cfg.lookback_ms, "5m",
     "how far back an instant selector looks for a sample", "DUR"},
    {"storage.sync", OPT_BOOL, &cfg.sync, "true",
     "fsync every commit before acknowledging it (false: fsync every storage.sync-interval)", NULL},
    {"storage.sync-interval", OPT_DURATION, &cfg.sync_interval_ms, "1s",
     "with --no-storage.sync: how often the log is fsynced (acked data at risk)", "DUR"},
    {"retention", OPT_DURATION, &cfg.retention_ms, "30d",
     "how long samples are kept; older time partitions are dropped whole", "DUR"},
    {"storage.head-max-age", OPT_DURATION, &cfg.head_max_age_ms, "1h",
     "head chunks older than this are cut to disk (and the head log truncated)", "DUR"},
    {"storage.max-series-per-agent", OPT_INT, &cfg.max_series_per_agent, "0",
     "active series one agent may write; the excess is rejected (0: no limit)", "N"},
    {"log.level", OPT_STRING, &cfg.log_level, "info", "debug, info, warn or error", "LEVEL"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const opt_program program = {
    "ember-aggregator", EMBER_VERSION,
    "Ember aggregator: stores agent batches in RocksDB and answers PromQL over Prometheus's "
    "HTTP API."};

/* Ingest settings from the flags; tokens is the caller's (free()). */
static int ingest_settings(ingest_options *o, ingest_token **tokens, char *err, size_t errlen)
{
    *tokens = em_calloc(cfg.tokens.n ? cfg.tokens.n : 1, sizeof **tokens);
    *o = (ingest_options){.workers = (int)cfg.ingest_workers,
                          .max_message_bytes = (uint64_t)cfg.max_message_bytes,
                          .max_series_per_batch = (uint64_t)cfg.max_series_per_batch,
                          .max_label_count = (uint64_t)cfg.max_label_count,
                          .max_label_length = (uint64_t)cfg.max_label_length,
                          .tokens = *tokens,
                          .ntokens = cfg.tokens.n,
                          .tls_cert = cfg.tls_cert,
                          .tls_key = cfg.tls_key,
                          .tls_ca = cfg.tls_ca};
    for (size_t i = 0; i < cfg.tokens.n; i++)
        if (ingest_token_parse(cfg.tokens.v[i], &(*tokens)[i], err, errlen) != 0)
            return -1;
    if (cfg.max_series_per_batch < 0 || cfg.max_label_count < 0 || cfg.max_label_length < 0) {
        snprintf(err, errlen, "ingest limits must not be negative");
        return -1;
    }
    return 0;
}

static int start_ingest(aggregator *agg, char *err, size_t errlen)
{
    ingest_options io;
    ingest_token *tokens;
    int rc = ingest_settings(&io, &tokens, err, errlen);
    if (rc == 0)
        rc = ingest_start(cfg.ingest_listen, agg->db, &io, &agg->in, err, errlen);
    free(tokens);
    if (rc == 0 && cfg.tokens.n)
        log_info("agent authentication on", "tokens=%zu", cfg.tokens.n);
    return rc;
}

static int run(void)
{
    char err[512], q[600];
    aggregator agg = {.lookback_ms = cfg.lookback_ms};
    tsdb_options topts = {.sync = cfg.sync,
                          .sync_interval_ms = cfg.sync_interval_ms,
                          .retention_ms = cfg.retention_ms,
                          .head_max_age_ms = cfg.head_max_age_ms,
                          .max_series_per_agent = (uint64_t)cfg.max_series_per_agent};
    if (tsdb_open(cfg.data_dir, &topts, &agg.db, err, sizeof err) != 0) {
        log_error("cannot open storage", "err=%s", log_quote(q, sizeof q, err));
        return 1;
    }
    if (start_ingest(&agg, err, sizeof err) != 0) {
        log_error("cannot start ingest", "err=%s", log_quote(q, sizeof q, err));
        tsdb_close(agg.db);
        return 1;
    }
    httpd *http = api_server_new(&agg);
    if (httpd_start(http, cfg.http_listen, err, sizeof err) != 0) {
        log_error("cannot start HTTP server", "err=%s", log_quote(q, sizeof q, err));
        httpd_free(http);
        ingest_stop(agg.in);
        tsdb_close(agg.db);
        return 1;
    }
    log_info("aggregator ready", "http=%s ingest=%s data_dir=%s", cfg.http_listen,
             cfg.ingest_listen, cfg.data_dir);
    runtime_wait_stop();
    httpd_free(http);
    ingest_stop(agg.in);
    tsdb_close(agg.db);
    log_info("stopped", "data_dir=%s", cfg.data_dir);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = runtime_start(&program, specs, NSPECS, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    runtime_block_stop_signals();
    rc = run();
    opts_free(specs, NSPECS);
    nng_fini();
    return rc;
}
