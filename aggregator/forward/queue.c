/*
 * queue.c — one remote write destination: write_relabel on the commit
 * path, the backlog, a dispatcher thread that deals samples to shards by
 * series, and shard threads that batch (max_samples_per_send, or
 * batch_send_deadline after the oldest waiting sample) and send with
 * retries.
 *
 * A shard sends one batch at a time and removes it from its ring only when
 * it was answered (sent, or refused with a 4xx), so a series' samples go
 * out in commit order even across retries.  While the receiver is down the
 * shards' rings fill (capacity each), the dispatcher waits, and the
 * backlog grows: in memory, then on disk.
 */
#include "aggregator/forward/forward_int.h"

#include "aggregator/tsdb/index.h"
#include "common/etime.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DISPATCH_WAIT_MS 200

/* ---- the commit path ---- */

static void close_open_block(fwd_dest *d)
{
    if (!d->nopen)
        return;
    size_t len;
    char *data = ebuf_steal(&d->open, &len);
    backlog_push(d->bl, data, len, d->nopen);
    ebuf_init(&d->open);
    d->nopen = 0;
}

static void put_sample(fwd_dest *d, const char *key, uint32_t klen, int64_t t, double v)
{
    fwd_block_put(&d->open, key, klen, t, v);
    atomic_fetch_add(&d->k.in, 1);
    if (++d->nopen >= (uint32_t)d->c.q.max_samples_per_send)
        close_open_block(d);
}

/* Hook calls never overlap (tsdb.h), so the open block needs no lock. */
void fwd_dest_enqueue(fwd_dest *d, const tsdb_written *v, size_t n)
{
    if (atomic_load(&d->stopping))
        return;
    labelset ls;
    ebuf key;
    labels_init(&ls);
    ebuf_init(&key);
    for (size_t i = 0; i < n; i++) {
        if (d->c.relabel.n == 0) {
            put_sample(d, v[i].key, (uint32_t)v[i].key_len, v[i].t, v[i].v);
            continue;
        }
        labels_clear(&ls);
        labels_from_key(v[i].key, v[i].key_len, &ls);
        if (!relabel_apply(&d->c.relabel, &ls)) {
            atomic_fetch_add(&d->k.dropped_relabel, 1);
            continue;
        }
        ebuf_reset(&key);
        labels_key(&key, &ls);
        put_sample(d, key.data, (uint32_t)key.len, v[i].t, v[i].v);
    }
    close_open_block(d);
    labels_free(&ls);
    ebuf_free(&key);
}

/* ---- dispatcher ---- */

/* Queue s on its shard, waiting for room; false when aborting first. */
static bool shard_push(fwd_shard *sh, const fwd_sample *s)
{
    pthread_mutex_lock(&sh->mu);
    while (sh->n == sh->cap && !atomic_load(&sh->d->aborting))
        pthread_cond_wait(&sh->cond, &sh->mu);
    if (sh->n == sh->cap) {
        pthread_mutex_unlock(&sh->mu);
        return false;
    }
    if (sh->n == 0)
        sh->oldest_ms = mono_ms();
    sh->ring[(sh->head + sh->n++) % sh->cap] = *s;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->mu);
    return true;
}

static void *dispatch(void *arg)
{
    fwd_dest *d = arg;
    for (;;) {
        fwd_block *blk = backlog_pop(d->bl, DISPATCH_WAIT_MS);
        if (!blk) {
            if (atomic_load(&d->stopping))
                break;
            continue;
        }
        size_t off = 0, at = 0;
        uint32_t dealt = 0;
        fwd_sample s;
        while (dealt < blk->n && fwd_block_next(blk, &off, &s)) {
            uint64_t h = hash_finish(hash_bytes(HASH_SEED, s.key, s.klen));
            if (!shard_push(&d->shards[h % d->nshards], &s)) {
                d->partial = blk; /* stopped: the rest is kept by fwd_dest_stop */
                d->partial_off = at;
                return NULL;
            }
            at = off;
            dealt++;
        }
        if (dealt < blk->n) /* a torn record: the rest is unreadable */
            backlog_release(d->bl, blk, blk->n - dealt);
    }
    return NULL;
}

/* ---- shards ---- */

/* Exponential backoff with jitter in [b/2, b]; stops early when aborting. */
static void backoff(fwd_dest *d, int64_t *b)
{
    int64_t wait = *b / 2 + (int64_t)(rand() % (int)(*b / 2 + 1));
    for (int64_t slept = 0; slept < wait && !atomic_load(&d->aborting); slept += 50)
        sleep_ms(wait - slept < 50 ? wait - slept : 50);
    *b = *b * 2 > d->c.q.max_backoff_ms ? d->c.q.max_backoff_ms : *b * 2;
}

static void note_sent(fwd_dest *d, const fwd_sample *v, size_t n, size_t bytes)
{
    int64_t hi = atomic_load(&d->k.highest_sent_ms);
    for (size_t i = 0; i < n; i++)
        if (v[i].t > hi)
            hi = v[i].t;
    atomic_store(&d->k.highest_sent_ms, hi);
    atomic_fetch_add(&d->k.sent, n);
    atomic_fetch_add(&d->k.bytes, bytes);
}

/* Send batch until answered; false when aborted (the batch stays queued). */
static bool send_batch(fwd_shard *sh, const fwd_sample *v, size_t n)
{
    fwd_dest *d = sh->d;
    int64_t b = d->c.q.min_backoff_ms > 0 ? d->c.q.min_backoff_ms : 1;
    char why[768], q[800];
    for (;;) {
        size_t bytes;
        fwd_send_result r = fwd_send(sh->sender, v, n, &bytes, why, sizeof why);
        if (r == FWD_SENT) {
            note_sent(d, v, n, bytes);
            return true;
        }
        if (r == FWD_FAIL) {
            atomic_fetch_add(&d->k.failed, n);
            log_error("remote write: batch refused, dropped", "remote_name=%s samples=%zu err=%s",
                      d->remote_name, n, log_quote(q, sizeof q, why));
            return true;
        }
        atomic_fetch_add(&d->k.retried, n);
        log_warn("remote write: send failed, retrying", "remote_name=%s samples=%zu err=%s",
                 d->remote_name, n, log_quote(q, sizeof q, why));
        if (atomic_load(&d->aborting))
            return false;
        backoff(d, &b);
        if (atomic_load(&d->aborting))
            return false;
    }
}

/* Under sh->mu: is a batch due? */
static bool batch_due(fwd_shard *sh)
{
    fwd_dest *d = sh->d;
    if (sh->n == 0)
        return false;
    return sh->n >= (size_t)d->c.q.max_samples_per_send || atomic_load(&d->stopping) ||
           mono_ms() - sh->oldest_ms >= d->c.q.batch_send_deadline_ms;
}

static void wait_for_batch(fwd_shard *sh)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&sh->cond, &sh->mu, &ts);
}

static void *shard_run(void *arg)
{
    fwd_shard *sh = arg;
    fwd_dest *d = sh->d;
    size_t max = (size_t)d->c.q.max_samples_per_send;
    fwd_sample *batch = em_malloc(max * sizeof *batch);
    pthread_mutex_lock(&sh->mu);
    while (!atomic_load(&d->aborting)) {
        if (!batch_due(sh)) {
            wait_for_batch(sh);
            continue;
        }
        size_t n = sh->n < max ? sh->n : max;
        for (size_t i = 0; i < n; i++)
            batch[i] = sh->ring[(sh->head + i) % sh->cap];
        pthread_mutex_unlock(&sh->mu);
        bool answered = send_batch(sh, batch, n);
        pthread_mutex_lock(&sh->mu);
        if (!answered)
            break;
        sh->head = (sh->head + n) % sh->cap;
        sh->n -= n;
        sh->oldest_ms = mono_ms();
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->mu);
        for (size_t i = 0; i < n; i++)
            backlog_release(d->bl, batch[i].blk, 1);
        pthread_mutex_lock(&sh->mu);
    }
    pthread_mutex_unlock(&sh->mu);
    free(batch);
    return NULL;
}

/* ---- lifecycle ---- */

static size_t shard_count(const fwd_queue_config *q)
{
    int64_t n = q->min_shards > 1 ? q->min_shards : (q->max_shards < 4 ? q->max_shards : 4);
    return n < 1 ? 1 : (size_t)n;
}

int fwd_dest_start(fwd_dest *d, const fwd_dest_config *c, const char *dir, char *err, size_t errlen)
{
    d->c = *c;
    if (backlog_open(dir, c->backlog_memory_bytes, c->backlog_disk_bytes, &d->bl, err, errlen) != 0)
        return -1;
    ebuf_init(&d->open);
    atomic_init(&d->k.highest_sent_ms, 0);
    d->nshards = shard_count(&c->q);
    d->shards = em_calloc(d->nshards, sizeof *d->shards);
    for (size_t i = 0; i < d->nshards; i++) {
        fwd_shard *sh = &d->shards[i];
        sh->d = d;
        sh->cap = (size_t)c->q.capacity;
        sh->ring = em_malloc(sh->cap * sizeof *sh->ring);
        pthread_mutex_init(&sh->mu, NULL);
        pthread_cond_init(&sh->cond, NULL);
        sh->sender = fwd_sender_new(&d->c);
        pthread_create(&sh->th, NULL, shard_run, sh);
    }
    pthread_create(&d->dispatcher, NULL, dispatch, d);
    return 0;
}

uint64_t fwd_dest_pending(fwd_dest *d)
{
    uint64_t n = 0;
    for (size_t i = 0; i < d->nshards; i++) {
        pthread_mutex_lock(&d->shards[i].mu);
        n += d->shards[i].n;
        pthread_mutex_unlock(&d->shards[i].mu);
    }
    return n;
}

/* What the shards still hold from memory blocks, as one block for the
 * disk (spool blocks are replayed from the spool itself). */
static char *unsent_from_memory(fwd_dest *d, size_t *len, uint32_t *n)
{
    ebuf b;
    ebuf_init(&b);
    *n = 0;
    for (size_t i = 0; i < d->nshards; i++) {
        fwd_shard *sh = &d->shards[i];
        for (size_t j = 0; j < sh->n; j++) {
            const fwd_sample *s = &sh->ring[(sh->head + j) % sh->cap];
            if (!s->blk->from_spool) {
                fwd_block_put(&b, s->key, s->klen, s->t, s->v);
                (*n)++;
            }
        }
    }
    fwd_sample s;
    for (size_t off = d->partial_off;
         d->partial && !d->partial->from_spool && fwd_block_next(d->partial, &off, &s); (*n)++)
        fwd_block_put(&b, s.key, s.klen, s.t, s.v);
    return ebuf_steal(&b, len);
}

void fwd_dest_stop(fwd_dest *d, int64_t flush_ms)
{
    atomic_store(&d->stopping, true);
    backlog_shutdown(d->bl);
    int64_t until = mono_ms() + flush_ms;
    backlog_stats bs;
    do {
        backlog_get_stats(d->bl, &bs);
        if (fwd_dest_pending(d) == 0 && bs.memory_blocks == 0)
            break;
        sleep_ms(20);
    } while (mono_ms() < until);
    atomic_store(&d->aborting, true);
    for (size_t i = 0; i < d->nshards; i++) { /* wakes the dispatcher too */
        pthread_mutex_lock(&d->shards[i].mu);
        pthread_cond_broadcast(&d->shards[i].cond);
        pthread_mutex_unlock(&d->shards[i].mu);
    }
    pthread_join(d->dispatcher, NULL);
    for (size_t i = 0; i < d->nshards; i++)
        pthread_join(d->shards[i].th, NULL);
    size_t len;
    uint32_t n;
    char *data = unsent_from_memory(d, &len, &n);
    if (n)
        log_warn("remote write: unsent samples kept on disk for the next start",
                 "remote_name=%s samples=%u", d->remote_name, n);
    backlog_close(d->bl, data, len, n);
    for (size_t i = 0; i < d->nshards; i++) {
        fwd_shard *sh = &d->shards[i];
        fwd_sender_free(sh->sender);
        free(sh->ring);
        pthread_mutex_destroy(&sh->mu);
        pthread_cond_destroy(&sh->cond);
    }
    free(d->shards);
    ebuf_free(&d->open);
}
