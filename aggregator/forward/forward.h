/*
 * forward.h — remote write out: every sample the store commits is sent,
 * with Prometheus's remote write 1.0 (snappy-compressed
 * prometheus.WriteRequest), to one or more destinations (Thanos, Mimir,
 * VictoriaMetrics, Prometheus).
 *
 * Configured as Prometheus's remote_write section, in the aggregator's
 * config file, or one destination per --remote-write.url:
 *
 *   remote_write:
 *     - url: http://mimir:9009/api/v1/push
 *       name: mimir                    # remote_name label; default: a hash
 *       remote_timeout: 30s
 *       headers: {X-Scope-OrgID: gpu}
 *       basic_auth: {username: u, password: p}   # or password_file
 *       authorization: {type: Bearer, credentials: t}  # or credentials_file
 *       bearer_token: t                # or bearer_token_file
 *       tls_config: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem,
 *                    insecure_skip_verify: false}
 *       write_relabel_configs: [...]   # as relabel_configs
 *       queue_config: {capacity: 2500, max_shards: 200, min_shards: 1,
 *                      max_samples_per_send: 500, batch_send_deadline: 5s,
 *                      min_backoff: 30ms, max_backoff: 5s,
 *                      retry_on_http_429: true}
 *       backlog: {memory: 64MiB, disk: 8GiB}   # ember's own
 *
 * Defaults are Prometheus 2.42's.  Shards are fixed, not resharded:
 * min_shards if set above 1, else min(max_shards, 4).  Other Prometheus
 * keys (sigv4, oauth2, proxy_url, metadata_config, ...) are errors.
 *
 * Data path per destination: commit hook → write_relabel → backlog
 * (memory, spilling to segment files under DATA_DIR/remote_write/) →
 * dispatcher → shard by series → batch → POST with retries (5xx, 429,
 * network: exponential backoff with jitter, forever; other 4xx: dropped
 * and counted as failed).  Samples of one series stay in one shard and are
 * sent in commit order, as receivers reject out-of-order samples.
 */
#ifndef EMBER_AGGREGATOR_FORWARD_H
#define EMBER_AGGREGATOR_FORWARD_H

#include "aggregator/tsdb/tsdb.h"
#include "common/expfmt.h"
#include "common/relabel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fwd_queue_config {
    int64_t capacity; /* samples buffered per shard */
    int64_t max_shards, min_shards;
    int64_t max_samples_per_send;
    int64_t batch_send_deadline_ms;
    int64_t min_backoff_ms, max_backoff_ms;
    bool retry_on_http_429;
} fwd_queue_config;

typedef struct fwd_dest_config {
    char *url, *name;
    int64_t remote_timeout_ms;
    char **headers; /* "Name: value" */
    size_t nheaders;
    char *username, *password; /* basic auth (password_file read at load) */
    char *authorization;       /* "Bearer TOKEN" (credentials_file read at load) */
    char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
    relabel_rules relabel;
    fwd_queue_config q;
    int64_t backlog_memory_bytes, backlog_disk_bytes;
} fwd_dest_config;

typedef struct fwd_config {
    fwd_dest_config *v;
    size_t n;
} fwd_config;

/* A destination with the defaults (Prometheus 2.42's). */
void fwd_dest_defaults(fwd_dest_config *d);
/*
 * Read the remote_write section of a YAML config file's text (other top-level
 * keys are left to common/options.c) and append its destinations to c.
 * Errors read "NAME:LINE:COL: reason".
 */
int fwd_config_parse(fwd_config *c, const char *name, const char *buf, size_t len, char *err,
                     size_t errlen);
int fwd_config_load(fwd_config *c, const char *path, char *err, size_t errlen);
/* Append a destination with default settings (--remote-write.url). */
int fwd_config_add_url(fwd_config *c, const char *url, char *err, size_t errlen);
void fwd_config_free(fwd_config *c);

typedef struct forwarder forwarder;

/* Open every destination's backlog under data_dir/remote_write and start
 * its threads; c is taken over (left empty).  0, or -1 with err set. */
int forwarder_start(fwd_config *c, const char *data_dir, forwarder **out, char *err, size_t errlen);
/* The store's commit hook (tsdb_set_commit_hook): queue the samples. */
void forwarder_commit_hook(void *arg, const tsdb_written *v, size_t n);
/* Send what is queued for up to flush_ms, then stop; what is left is kept
 * in the on-disk backlog for the next start. */
void forwarder_stop(forwarder *f, int64_t flush_ms);
/* prometheus_remote_storage_* and ember_remote_write_* (labels remote_name, url). */
void forwarder_metrics(forwarder *f, metric_set *ms);

#endif
