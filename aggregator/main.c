/*
 * main.c — ember-aggregator: settings, start-up order, signal handling and
 * clean shutdown.  Start order is store → ingest → HTTP; shutdown is the
 * reverse, so nothing is acknowledged or served by a closed store.
 */
#include "aggregator/aggregator.h"
#include "aggregator/forward/forward.h"
#include "aggregator/http/api.h"
#include "aggregator/http/auth.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/options.h"
#include "common/etime.h"
#include "common/runtime.h"
#include "proto/wire_close.h"
#include "query/promql.h"

#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

typedef struct settings {
    char *data_dir;
    char *http_listen;
    int64_t http_max_connections, http_read_timeout_ms, http_idle_timeout_ms, http_max_body;
    char *web_file;        /* the config file, when it has web: (TLS, users, tokens) */
    char *web_config_file; /* --web.config.file: the same in exporter-toolkit's format */
    bool enable_admin_api;
    char *ingest_listen;
    int64_t ingest_workers;
    int64_t max_message_bytes, max_series_per_batch, max_label_count, max_label_length;
    strlist tokens;
    char *tls_cert, *tls_key, *tls_ca;
    int64_t lookback_ms;
    int64_t query_timeout_ms, query_max_samples, query_max_concurrency;
    bool sync;
    int64_t sync_interval_ms;
    int64_t retention_ms;
    int64_t max_series_per_agent;
    int64_t head_max_age_ms;
    char *log_level;
    strlist remote_write_urls;
    char *remote_write_file; /* the config file, when it has remote_write */
    int64_t remote_flush_ms;
    int64_t self_scrape_ms;
} settings;

static settings cfg;

static const opt_spec specs[] = {
    {"data-dir", OPT_DIR, &cfg.data_dir, "data", "directory of the RocksDB store", "DIR"},
    {"http-listen", OPT_STRING, &cfg.http_listen, "0.0.0.0:9090",
     "address of the HTTP API (Prometheus-compatible)", "HOST:PORT"},
    {"http.max-connections", OPT_INT, &cfg.http_max_connections, "1024",
     "HTTP connections open at once; further ones are closed as they open", "N"},
    {"http.read-timeout", OPT_DURATION, &cfg.http_read_timeout_ms, "5m",
     "longest a client may take to send a whole request, headers and body (slower ones are "
     "cut off)",
     "DUR"},
    {"http.idle-timeout", OPT_DURATION, &cfg.http_idle_timeout_ms, "1m",
     "an HTTP connection with no traffic for this long is closed", "DUR"},
    {"http.max-request-bytes", OPT_BYTES, &cfg.http_max_body, "64MiB",
     "largest request body (remote write, import); a larger Content-Length gets 413 before "
     "any of it is read",
     "BYTES"},
    {"web", OPT_SECTION, &cfg.web_file, NULL, NULL, NULL},
    {"web.config.file", OPT_FILE, &cfg.web_config_file, NULL,
     "Prometheus web configuration file (tls_server_config, basic_auth_users with bcrypt "
     "hashes: readers), instead of the config file's web: section; re-read on SIGHUP",
     "FILE"},
    {"web.enable-admin-api", OPT_BOOL, &cfg.enable_admin_api, "false",
     "enable the admin endpoints (/api/v1/admin/tsdb/...: snapshot, delete_series)", NULL},
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
    {"query.timeout", OPT_DURATION, &cfg.query_timeout_ms, "2m",
     "longest a query may run (or wait for a slot); a shorter timeout parameter wins", "DUR"},
    {"query.max-samples", OPT_INT, &cfg.query_max_samples, "50000000",
     "samples a query may hold in memory at once; more ends it with an error", "N"},
    {"query.max-concurrency", OPT_INT, &cfg.query_max_concurrency, "20",
     "queries evaluated at once; more wait for a slot", "N"},
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
    {"remote-write.url", OPT_STRLIST, &cfg.remote_write_urls, NULL,
     "remote write 1.0 receiver every committed sample is sent to, with default settings "
     "(repeatable; more settings: remote_write in the config file, as Prometheus's)",
     "URL"},
    {"remote_write", OPT_SECTION, &cfg.remote_write_file, NULL, NULL, NULL},
    {"storage.remote.flush-deadline", OPT_DURATION, &cfg.remote_flush_ms, "5s",
     "at shutdown, how long to keep sending remote write queues (the rest waits on disk)", "DUR"},
    {"self-scrape.interval", OPT_DURATION, &cfg.self_scrape_ms, "15s",
     "how often the aggregator stores its own /metrics (job=\"ember-aggregator\"); 0: never",
     "DUR"},
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

/* Remote write out from the config file and flags; no destination: off.
 * Returns 0, or -1 with err set (bad configuration). */
static int start_forwarder(aggregator *agg, char *err, size_t errlen)
{
    fwd_config fc = {0};
    int rc = cfg.remote_write_file ? fwd_config_load(&fc, cfg.remote_write_file, err, errlen) : 0;
    for (size_t i = 0; rc == 0 && i < cfg.remote_write_urls.n; i++)
        rc = fwd_config_add_url(&fc, cfg.remote_write_urls.v[i], err, errlen);
    if (rc == 0 && fc.n)
        rc = forwarder_start(&fc, cfg.data_dir, &agg->fwd, err, errlen);
    fwd_config_free(&fc);
    if (rc == 0 && agg->fwd)
        tsdb_set_commit_hook(agg->db, forwarder_commit_hook, agg->fwd);
    return rc;
}

static void stop_forwarder(aggregator *agg)
{
    tsdb_set_commit_hook(agg->db, NULL, NULL);
    forwarder_stop(agg->fwd, cfg.remote_flush_ms);
}

/* The HTTP server's settings from the flags and the web: section; *auth
 * is the caller's (web_auth_free). */
static int http_settings(httpd_options *o, web_auth **auth, char *err, size_t errlen)
{
    web_config wc;
    if (web_config_from(&wc, cfg.web_file, cfg.web_config_file, err, errlen) != 0)
        return -1;
    if (cfg.http_max_connections <= 0 || cfg.http_max_body <= 0 ||
        cfg.http_read_timeout_ms < 1000 || cfg.http_idle_timeout_ms < 1000) {
        snprintf(err, errlen, "http limits must be positive, timeouts at least 1s");
        web_config_free(&wc);
        return -1;
    }
    *o = (httpd_options){.max_connections = (unsigned)cfg.http_max_connections,
                         .max_body = (size_t)cfg.http_max_body,
                         .read_timeout_s = (unsigned)(cfg.http_read_timeout_ms / 1000),
                         .timeout_s = (unsigned)(cfg.http_idle_timeout_ms / 1000),
                         .tls_cert_file = wc.tls_cert_file,
                         .tls_key_file = wc.tls_key_file,
                         .auth = web_auth_check};
    if (wc.nusers || wc.ntokens)
        log_info("API authentication on", "users=%zu tokens=%zu", wc.nusers, wc.ntokens);
    *auth = web_auth_new(&wc, api_error); /* keeps the TLS file names o points at */
    o->auth_ctx = *auth;
    return 0;
}

/* Every connection is a descriptor: lift the soft limit to the hard one,
 * as Go (and so Prometheus) does at start. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* SIGHUP: read the web: section again; new credentials apply to the next
 * request, a new certificate to the next connection.  A bad section keeps
 * the old settings.  (Turning TLS on or off, or moving its files, needs a
 * restart.) */
static void reload_web(httpd *http, web_auth *auth)
{
    char err[512], q[600];
    web_config wc;
    if (web_config_from(&wc, cfg.web_file, cfg.web_config_file, err, sizeof err) != 0) {
        log_error("web config not reloaded", "err=%s", log_quote(q, sizeof q, err));
        return;
    }
    size_t users = wc.nusers, tokens = wc.ntokens;
    web_auth_replace(auth, &wc);
    if (httpd_reload_tls(http, err, sizeof err) != 0)
        log_error("TLS certificate not reloaded", "err=%s", log_quote(q, sizeof q, err));
    else
        log_info("web config reloaded", "users=%zu tokens=%zu", users, tokens);
}

/* Until SIGTERM or SIGINT, reloading the web config on each SIGHUP. */
static void serve_until_stopped(httpd *http, web_auth *auth)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP) {
            log_info("shutting down", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        reload_web(http, auth);
    }
}

static int run(void)
{
    char err[512], q[600];
    aggregator agg = {.lookback_ms = cfg.lookback_ms,
                      .query_timeout_ms = cfg.query_timeout_ms,
                      .query_max_samples = (uint64_t)cfg.query_max_samples,
                      .start_time_ms = now_ms(),
                      .retention_ms = cfg.retention_ms,
                      .enable_admin_api = cfg.enable_admin_api,
                      .data_dir = cfg.data_dir,
                      .flags = specs,
                      .nflags = NSPECS};
    if (cfg.query_max_samples <= 0 || cfg.query_max_concurrency <= 0) {
        log_error("bad query limits", "err=\"query.max-samples and query.max-concurrency must be "
                                      "positive\"");
        return 2;
    }
    httpd_options ho;
    web_auth *auth = NULL;
    if (http_settings(&ho, &auth, err, sizeof err) != 0) {
        log_error("bad web configuration", "err=%s", log_quote(q, sizeof q, err));
        return 2;
    }
    tsdb_options topts = {.sync = cfg.sync,
                          .sync_interval_ms = cfg.sync_interval_ms,
                          .retention_ms = cfg.retention_ms,
                          .head_max_age_ms = cfg.head_max_age_ms,
                          .max_series_per_agent = (uint64_t)cfg.max_series_per_agent};
    if (tsdb_open(cfg.data_dir, &topts, &agg.db, err, sizeof err) != 0) {
        log_error("cannot open storage", "err=%s", log_quote(q, sizeof q, err));
        web_auth_free(auth);
        return 1;
    }
    if (start_forwarder(&agg, err, sizeof err) != 0) {
        log_error("bad remote write configuration", "err=%s", log_quote(q, sizeof q, err));
        web_auth_free(auth);
        tsdb_close(agg.db);
        return 2;
    }
    if (start_ingest(&agg, err, sizeof err) != 0) {
        log_error("cannot start ingest", "err=%s", log_quote(q, sizeof q, err));
        web_auth_free(auth);
        stop_forwarder(&agg);
        tsdb_close(agg.db);
        return 1;
    }
    raise_fd_limit();
    agg.gate = query_gate_new((int)cfg.query_max_concurrency);
    httpd *http = api_server_new_with(&agg, &ho);
    if (httpd_start(http, cfg.http_listen, err, sizeof err) != 0) {
        log_error("cannot start HTTP server", "err=%s", log_quote(q, sizeof q, err));
        httpd_free(http);
        web_auth_free(auth);
        query_gate_free(agg.gate);
        ingest_stop(agg.in);
        stop_forwarder(&agg);
        tsdb_close(agg.db);
        return 1;
    }
    log_info("aggregator ready", "http=%s ingest=%s data_dir=%s", cfg.http_listen,
             cfg.ingest_listen, cfg.data_dir);
    selfscrape *self = selfscrape_start(&agg, cfg.self_scrape_ms, cfg.http_listen);
    serve_until_stopped(http, auth);
    selfscrape_stop(self);
    httpd_free(http);
    web_auth_free(auth);
    query_gate_free(agg.gate);
    ingest_stop(agg.in);
    stop_forwarder(&agg);
    tsdb_close(agg.db);
    log_info("stopped", "data_dir=%s", cfg.data_dir);
    return 0;
}

int main(int argc, char **argv)
{
    runtime_block_stop_signals(); /* first: a SIGTERM during start-up is a clean stop too */
    int rc = runtime_start(&program, specs, NSPECS, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    sigset_t hup; /* SIGHUP reloads the web config (serve_until_stopped) */
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    rc = run();
    opts_free(specs, NSPECS);
    wire_fini();
    return rc;
}
