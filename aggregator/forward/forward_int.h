/*
 * forward_int.h — remote write out's internals shared by its files (not for
 * users of forward.h): blocks of samples, the backlog, a destination with
 * its shards, and the sender.
 *
 * A block is the unit the backlog keeps (in memory or in a spool record):
 * records of [u32 key length][canonical label key][i64 t][f64 v], native
 * byte order (the backlog is this machine's own).  Shards hold samples that
 * point into their block; a block is freed, and its spool record
 * acknowledged, once all its samples are sent or failed.
 */
#ifndef EMBER_AGGREGATOR_FORWARD_INT_H
#define EMBER_AGGREGATOR_FORWARD_INT_H

#include "aggregator/forward/forward.h"
#include "common/buf.h"
#include "common/spool.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- blocks (backlog.c) ---- */

typedef struct fwd_block {
    uint64_t seq;
    uint32_t n; /* samples */
    char *data;
    size_t len;
    bool from_spool;
    atomic_uint remaining; /* samples not yet sent or failed */
    bool done;
    struct fwd_block *next;
} fwd_block;

typedef struct fwd_sample {
    const char *key;
    uint32_t klen;
    int64_t t;
    double v;
    fwd_block *blk;
} fwd_sample;

/* Append one record to a block under construction. */
void fwd_block_put(ebuf *b, const char *key, uint32_t klen, int64_t t, double v);
/* Decode the record at *off of b (advancing *off); false at the end or on
 * a torn record. */
bool fwd_block_next(const fwd_block *b, size_t *off, fwd_sample *s);

/* ---- backlog (backlog.c) ---- */

typedef struct backlog backlog;
typedef struct backlog_stats {
    uint64_t memory_bytes, memory_blocks;
    uint64_t disk_bytes, disk_pending_samples;
    uint64_t spilled_blocks;  /* written to disk since start */
    uint64_t dropped_samples; /* disk full: oldest dropped */
    uint64_t corrupt_records; /* skipped when reading the disk */
} backlog_stats;

int backlog_open(const char *dir, int64_t memory_bytes, int64_t disk_bytes, backlog **out,
                 char *err, size_t errlen);
/* Queue one block of n samples (data is taken over). */
void backlog_push(backlog *b, char *data, size_t len, uint32_t n);
/* The oldest block, waiting up to wait_ms; NULL when none (or closing). */
fwd_block *backlog_pop(backlog *b, int64_t wait_ms);
/* n samples of blk are sent or failed; frees it once all are. */
void backlog_release(backlog *b, fwd_block *blk, uint32_t n);
/* Wake backlog_pop waiters: no more blocks will be handed out. */
void backlog_shutdown(backlog *b);
/* Keep data (unsent samples of in-flight memory blocks) and every block
 * still in memory on disk, in order, then close. */
void backlog_close(backlog *b, char *data, size_t len, uint32_t n);
void backlog_get_stats(backlog *b, backlog_stats *st);

/* ---- sending (send.c) ---- */

typedef struct fwd_sender fwd_sender;
typedef enum fwd_send_result {
    FWD_SENT,  /* 2xx */
    FWD_RETRY, /* 5xx, 429, network: try again */
    FWD_FAIL,  /* other 4xx: dropping the batch */
} fwd_send_result;

fwd_sender *fwd_sender_new(const fwd_dest_config *c);
void fwd_sender_free(fwd_sender *s);
/* Encode (prometheus.WriteRequest, snappy) and POST n samples once;
 * *bytes gets the body size, why the reason of a failure. */
fwd_send_result fwd_send(fwd_sender *s, const fwd_sample *v, size_t n, size_t *bytes, char *why,
                         size_t whylen);
/* The encoded, compressed body of n samples into out (for tests and the bench). */
void fwd_encode(const fwd_sample *v, size_t n, ebuf *out);

/* ---- a destination (queue.c) ---- */

typedef struct fwd_dest fwd_dest;

typedef struct fwd_shard {
    fwd_dest *d;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    fwd_sample *ring;
    size_t cap, head, n;
    int64_t oldest_ms; /* when the oldest pending sample was queued */
    fwd_sender *sender;
} fwd_shard;

typedef struct fwd_counters {
    atomic_uint_fast64_t in, dropped_relabel, sent, failed, retried, bytes;
    atomic_int_fast64_t highest_sent_ms;
} fwd_counters;

struct fwd_dest {
    fwd_dest_config c;
    char *remote_name;
    backlog *bl;
    ebuf open; /* block under construction (commit hook) */
    uint32_t nopen;
    fwd_shard *shards;
    size_t nshards;
    pthread_t dispatcher;
    fwd_block *partial; /* the block the dispatcher stopped in, and where */
    size_t partial_off;
    atomic_bool stopping; /* no new blocks; shards flush */
    atomic_bool aborting; /* shards give up the batch in hand */
    fwd_counters k;
};

int fwd_dest_start(fwd_dest *d, const fwd_dest_config *c, const char *dir, char *err,
                   size_t errlen);
void fwd_dest_enqueue(fwd_dest *d, const tsdb_written *v, size_t n);
void fwd_dest_stop(fwd_dest *d, int64_t flush_ms);
uint64_t fwd_dest_pending(fwd_dest *d);

#endif
