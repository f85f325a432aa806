/*
 * forward.c — remote write out's lifecycle and metrics (see forward.h):
 * one fwd_dest per configured destination, each with its backlog in
 * DATA_DIR/remote_write/<remote_name>-<hash of the url>, so two
 * destinations never share one and a renamed url starts afresh.
 */
#include "aggregator/forward/forward_int.h"

#include "common/err.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct forwarder {
    fwd_config c;
    fwd_dest *d;
    size_t n;
};

static char *remote_name(const fwd_dest_config *c)
{
    char buf[32];
    if (c->name)
        return em_strdup(c->name);
    /* Prometheus names an unnamed queue by a hash of its config: six hex digits. */
    snprintf(buf, sizeof buf, "%06" PRIx64,
             hash_finish(hash_bytes(HASH_SEED, c->url, strlen(c->url))) & 0xffffff);
    return em_strdup(buf);
}

static int backlog_dir(ebuf *dir, const char *data_dir, const fwd_dest *d, char *err, size_t errlen)
{
    uint64_t h = hash_finish(hash_bytes(HASH_SEED, d->c.url, strlen(d->c.url)));
    ebuf_printf(dir, "%s/remote_write/", data_dir);
    for (const char *p = d->remote_name; *p; p++) /* only safe characters in a path */
        ebuf_putc(dir, (char)(strchr("/.\\", *p) || *p < ' ' ? '_' : *p));
    ebuf_printf(dir, "-%08" PRIx64, h & 0xffffffff);
    if (fs_mkdir_p(dir->data) != 0) {
        err_set(err, errlen, "cannot create %s: %s", dir->data, strerror(errno));
        return -1;
    }
    return 0;
}

int forwarder_start(fwd_config *c, const char *data_dir, forwarder **out, char *err, size_t errlen)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    forwarder *f = em_calloc(1, sizeof *f);
    f->c = *c;
    memset(c, 0, sizeof *c);
    f->d = em_calloc(f->c.n ? f->c.n : 1, sizeof *f->d);
    for (; f->n < f->c.n; f->n++) {
        fwd_dest *d = &f->d[f->n];
        d->remote_name = remote_name(&f->c.v[f->n]);
        d->c = f->c.v[f->n];
        ebuf dir;
        ebuf_init(&dir);
        int rc = backlog_dir(&dir, data_dir, d, err, errlen);
        if (rc == 0)
            rc = fwd_dest_start(d, &f->c.v[f->n], dir.data, err, errlen);
        ebuf_free(&dir);
        if (rc != 0) {
            free(d->remote_name);
            forwarder_stop(f, 0);
            return -1;
        }
        log_info("remote write on", "remote_name=%s url=%s shards=%zu", d->remote_name, d->c.url,
                 d->nshards);
    }
    *out = f;
    return 0;
}

void forwarder_commit_hook(void *arg, const tsdb_written *v, size_t n)
{
    forwarder *f = arg;
    for (size_t i = 0; i < f->n; i++)
        fwd_dest_enqueue(&f->d[i], v, n);
}

void forwarder_stop(forwarder *f, int64_t flush_ms)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        fwd_dest_stop(&f->d[i], flush_ms);
        free(f->d[i].remote_name);
    }
    free(f->d);
    fwd_config_free(&f->c);
    free(f);
    curl_global_cleanup();
}

/* ---- /metrics ---- */

typedef struct metric_def {
    const char *name;
    metric_type type;
    const char *help;
} metric_def;

enum {
    M_SENT,
    M_FAILED,
    M_RETRIED,
    M_DROPPED,
    M_BYTES,
    M_PENDING,
    M_HIGHEST,
    M_SHARDS,
    M_IN,
    M_BL_BYTES,
    M_BL_PENDING,
    M_BL_DROPPED,
    M_COUNT
};

static const metric_def defs[M_COUNT] = {
    {"prometheus_remote_storage_samples_total", METRIC_COUNTER,
     "Total number of samples sent to remote storage."},
    {"prometheus_remote_storage_samples_failed_total", METRIC_COUNTER,
     "Total number of samples which failed on send to remote storage, non-recoverable errors."},
    {"prometheus_remote_storage_samples_retried_total", METRIC_COUNTER,
     "Total number of samples which failed on send to remote storage but were retried because "
     "the send error was recoverable."},
    {"prometheus_remote_storage_samples_dropped_total", METRIC_COUNTER,
     "Total number of samples which were dropped after being read from the WAL before being "
     "sent via remote write, either via relabelling or unintentionally because of an unknown "
     "reference ID."},
    {"prometheus_remote_storage_bytes_total", METRIC_COUNTER,
     "The total number of bytes of data (not metadata) sent by the queue after compression."},
    {"prometheus_remote_storage_samples_pending", METRIC_GAUGE,
     "The number of samples pending in the queues shards to be sent to the remote storage."},
    {"prometheus_remote_storage_queue_highest_sent_timestamp_seconds", METRIC_GAUGE,
     "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in "
     "seconds since epoch."},
    {"prometheus_remote_storage_shards", METRIC_GAUGE,
     "The number of shards used for parallel sending to the remote storage."},
    {"ember_remote_write_samples_in_total", METRIC_COUNTER,
     "Committed samples queued for this destination (after write_relabel_configs)."},
    {"ember_remote_write_backlog_bytes", METRIC_GAUGE,
     "Bytes of samples waiting in the backlog, in memory and on disk."},
    {"ember_remote_write_backlog_disk_samples", METRIC_GAUGE,
     "Samples in the on-disk backlog not yet sent."},
    {"ember_remote_write_backlog_dropped_samples_total", METRIC_COUNTER,
     "Samples lost because the on-disk backlog was full or could not be written."},
};

static void dest_metrics(fwd_dest *d, metric_set *ms)
{
    backlog_stats bs;
    backlog_get_stats(d->bl, &bs);
    const fwd_counters *k = &d->k;
    double v[M_COUNT] = {
        [M_SENT] = (double)atomic_load(&k->sent),
        [M_FAILED] = (double)atomic_load(&k->failed),
        [M_RETRIED] = (double)atomic_load(&k->retried),
        [M_DROPPED] = (double)atomic_load(&k->dropped_relabel),
        [M_BYTES] = (double)atomic_load(&k->bytes),
        [M_PENDING] = (double)fwd_dest_pending(d),
        [M_HIGHEST] = (double)atomic_load(&k->highest_sent_ms) / 1000.0,
        [M_SHARDS] = (double)d->nshards,
        [M_IN] = (double)atomic_load(&k->in),
        [M_BL_PENDING] = (double)bs.disk_pending_samples,
        [M_BL_DROPPED] = (double)bs.dropped_samples,
    };
    for (int i = 0; i < M_COUNT; i++) {
        if (i == M_BL_BYTES) {
            metric_set_addl(ms, defs[i].name, (double)bs.memory_bytes, "remote_name",
                            d->remote_name, "url", d->c.url, "where", "memory", NULL);
            metric_set_addl(ms, defs[i].name, (double)bs.disk_bytes, "remote_name", d->remote_name,
                            "url", d->c.url, "where", "disk", NULL);
            continue;
        }
        metric_set_addl(ms, defs[i].name, v[i], "remote_name", d->remote_name, "url", d->c.url,
                        NULL);
    }
}

void forwarder_metrics(forwarder *f, metric_set *ms)
{
    if (!f || f->n == 0)
        return;
    for (int i = 0; i < M_COUNT; i++)
        metric_set_meta(ms, defs[i].name, defs[i].type, defs[i].help);
    for (size_t i = 0; i < f->n; i++)
        dest_metrics(&f->d[i], ms);
}
