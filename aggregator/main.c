/*
 * main.c — ember-aggregator: settings, start-up order, signal handling and
 * clean shutdown.  Start order is store → ingest → HTTP; shutdown is the
 * reverse, so nothing is acknowledged or served by a closed store.
 */
#include "aggregator/aggregator.h"
#include "aggregator/http/api.h"
#include "aggregator/http/server.h"
#include "common/log.h"
#include "common/options.h"
#include "query/promql.h"

#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct settings {
    char *data_dir;
    char *http_listen;
    char *ingest_listen;
    int64_t ingest_workers;
    int64_t lookback_ms;
    bool sync;
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
    {"query.lookback-delta", OPT_DURATION, &cfg.lookback_ms, "5m",
     "how far back an instant selector looks for a sample", "DUR"},
    {"storage.sync", OPT_BOOL, &cfg.sync, "true",
     "fsync every commit before acknowledging it", NULL},
    {"log.level", OPT_STRING, &cfg.log_level, "info", "debug, info, warn or error", "LEVEL"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const opt_program program = {
    "ember-aggregator", EMBER_VERSION,
    "Ember aggregator: stores agent batches in RocksDB and answers PromQL over Prometheus's "
    "HTTP API."};

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

static void block_signals(void)
{
    /* Blocked before any thread starts, so every thread inherits the mask
     * and only sigwait() in main sees SIGTERM/SIGINT. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run(void)
{
    char err[512];
    aggregator agg = {.lookback_ms = cfg.lookback_ms};
    tsdb_options topts = {.sync = cfg.sync};
    if (tsdb_open(cfg.data_dir, &topts, &agg.db, err, sizeof err) != 0) {
        log_error("cannot open storage", "err=\"%s\"", err);
        return 1;
    }
    if (ingest_start(cfg.ingest_listen, agg.db, (int)cfg.ingest_workers, &agg.in, err,
                     sizeof err) != 0) {
        log_error("cannot start ingest", "err=\"%s\"", err);
        tsdb_close(agg.db);
        return 1;
    }
    size_t nroutes;
    const http_route *routes = api_routes(&nroutes);
    http_server *http;
    if (http_server_start(cfg.http_listen, routes, nroutes, &agg, &http, err, sizeof err) != 0) {
        log_error("cannot start HTTP server", "err=\"%s\"", err);
        ingest_stop(agg.in);
        tsdb_close(agg.db);
        return 1;
    }
    log_info("aggregator ready", "http=%s ingest=%s data_dir=%s", cfg.http_listen,
             cfg.ingest_listen, cfg.data_dir);
    int sig = wait_for_signal();
    log_info("shutting down", "signal=%d", sig);
    http_server_stop(http);
    ingest_stop(agg.in);
    tsdb_close(agg.db);
    log_info("stopped", "%s", "");
    return 0;
}

int main(int argc, char **argv)
{
    char err[512];
    int rc = opts_load(&program, specs, NSPECS, argc, argv, err, sizeof err);
    if (rc == OPTS_EXIT)
        return 0;
    if (rc == OPTS_ERROR) {
        fprintf(stderr, "ember-aggregator: %s\n", err);
        return 2;
    }
    log_level lvl;
    if (!log_parse_level(cfg.log_level, &lvl)) {
        fprintf(stderr, "ember-aggregator: --log.level: unknown level \"%s\"\n", cfg.log_level);
        opts_free(specs, NSPECS);
        return 2;
    }
    log_set_level(lvl);
    block_signals();
    rc = run();
    opts_free(specs, NSPECS);
    nng_fini();
    return rc;
}
