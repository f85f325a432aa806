/*
 * backlog.c — a destination's queue of blocks, bounded in memory, spilling
 * to an on-disk spool (common/spool.h) so a long receiver outage loses
 * nothing.
 *
 * Order is what matters: receivers refuse a series' samples older than its
 * newest.  So the backlog keeps one invariant: blocks are either all in
 * memory or, once memory is full, all on disk.  When a block does not fit,
 * every memory block is written to the spool first, then the new one, and
 * while the spool has unread records new blocks follow them there.  Reading
 * takes memory blocks first, else the spool's oldest unread record; when
 * the spool is drained, memory takes over again.  Blocks already handed
 * out from memory and not yet sent are older than what spills, so at a
 * spill they are written to the spool first (as read), keeping the order
 * on disk whole.
 *
 * Spool records are acknowledged (and their segments deleted) only when all
 * their samples were sent or failed, in order, so after a crash the spool
 * replays from the first block not fully sent.  At a clean stop the samples
 * still in memory go to the spool as well.
 */
#include "aggregator/forward/forward_int.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct backlog {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    spool *sp;
    int64_t mem_limit;
    fwd_block *mhead, *mtail; /* memory blocks not yet handed out */
    uint64_t mbytes, mblocks;
    fwd_block *fhead, *ftail; /* handed out, in order, until released */
    uint64_t next_seq;        /* next spool seq */
    uint64_t read_after;      /* spool records up to this seq are handed out */
    uint64_t spool_last;      /* last seq appended to the spool */
    bool shut;
    uint64_t spilled, dropped;
};

void fwd_block_put(ebuf *b, const char *key, uint32_t klen, int64_t t, double v)
{
    ebuf_append(b, &klen, sizeof klen);
    ebuf_append(b, key, klen);
    ebuf_append(b, &t, sizeof t);
    ebuf_append(b, &v, sizeof v);
}

bool fwd_block_next(const fwd_block *b, size_t *off, fwd_sample *s)
{
    uint32_t klen;
    if (*off + sizeof klen > b->len)
        return false;
    memcpy(&klen, b->data + *off, sizeof klen);
    if (b->len - *off - sizeof klen < (size_t)klen + 16)
        return false;
    s->klen = klen;
    s->key = b->data + *off + sizeof klen;
    memcpy(&s->t, s->key + klen, 8);
    memcpy(&s->v, s->key + klen + 8, 8);
    s->blk = (fwd_block *)b;
    *off += sizeof klen + klen + 16;
    return true;
}

int backlog_open(const char *dir, int64_t memory_bytes, int64_t disk_bytes, backlog **out,
                 char *err, size_t errlen)
{
    spool_options so = {.max_bytes = disk_bytes,
                        .sync = SPOOL_SYNC_INTERVAL,
                        .sync_interval_ms = 1000,
                        .full = SPOOL_FULL_DROP_OLDEST};
    spool *sp;
    if (spool_open(dir, &so, &sp, err, errlen) != SPOOL_OK)
        return -1;
    backlog *b = em_calloc(1, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cond, NULL);
    b->sp = sp;
    b->mem_limit = memory_bytes;
    spool_stats st;
    spool_get_stats(sp, &st);
    b->read_after = st.acked_seq;
    b->spool_last = st.last_seq;
    b->next_seq = st.last_seq + 1;
    *out = b;
    return 0;
}

static bool spool_unread(const backlog *b)
{
    return b->read_after < b->spool_last;
}

/* Append one block's bytes to the spool (under the lock): its seq, or 0
 * when the disk refused it. */
static uint64_t spool_put(backlog *b, const char *data, size_t len, uint32_t n)
{
    char err[256];
    uint64_t seq = b->next_seq++;
    if (spool_append(b->sp, seq, n, data, len, err, sizeof err) != SPOOL_OK) {
        log_error("remote write backlog: cannot write to disk", "samples=%u err=%s", n, err);
        return 0;
    }
    b->spool_last = seq;
    b->spilled++;
    return seq;
}

/*
 * Blocks handed out from memory and not yet released are older than
 * anything about to be spilled.  They become spool records too, already
 * read, so that the spool holds the whole order: acknowledged when they
 * are sent, replayed after a stop or crash if they were not.  Left in
 * memory, their unsent samples could only be written at close, after the
 * newer records, and a receiver would refuse them as out of order.
 */
static void spool_in_flight(backlog *b)
{
    for (fwd_block *f = b->fhead; f; f = f->next) {
        if (f->from_spool || f->done)
            continue;
        uint64_t seq = spool_put(b, f->data, f->len, f->n);
        if (!seq)
            return; /* stays a memory block: kept at close, if out of order */
        f->seq = seq;
        f->from_spool = true;
        b->read_after = seq;
    }
}

/* Memory is full: every memory block goes to disk, oldest first. */
static void spill_memory(backlog *b)
{
    while (b->mhead) {
        fwd_block *blk = b->mhead;
        b->mhead = blk->next;
        if (!spool_put(b, blk->data, blk->len, blk->n))
            b->dropped += blk->n;
        free(blk->data);
        free(blk);
    }
    b->mtail = NULL;
    b->mbytes = b->mblocks = 0;
}

void backlog_push(backlog *b, char *data, size_t len, uint32_t n)
{
    pthread_mutex_lock(&b->mu);
    if (spool_unread(b) || b->mbytes + len > (uint64_t)b->mem_limit) {
        if (!spool_unread(b))
            spool_in_flight(b);
        spill_memory(b);
        if (!spool_put(b, data, len, n))
            b->dropped += n;
        free(data);
    } else {
        fwd_block *blk = em_calloc(1, sizeof *blk);
        *blk = (fwd_block){.n = n, .data = data, .len = len};
        if (b->mtail)
            b->mtail->next = blk;
        else
            b->mhead = blk;
        b->mtail = blk;
        b->mbytes += len;
        b->mblocks++;
    }
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

/* The next block to hand out (under the lock), or NULL. */
static fwd_block *take(backlog *b)
{
    fwd_block *blk = b->mhead;
    if (blk) {
        b->mhead = blk->next;
        if (!b->mhead)
            b->mtail = NULL;
        b->mbytes -= blk->len;
        b->mblocks--;
        return blk;
    }
    while (spool_unread(b)) {
        spool_record rec;
        char err[256];
        int rc = spool_read_after(b->sp, b->read_after, &rec, err, sizeof err);
        if (rc <= 0) {
            if (rc < 0)
                log_error("remote write backlog: cannot read from disk", "err=%s", err);
            b->read_after = b->spool_last;
            return NULL;
        }
        b->read_after = rec.seq;
        blk = em_calloc(1, sizeof *blk);
        *blk = (fwd_block){.seq = rec.seq,
                           .n = rec.nsamples,
                           .data = rec.data,
                           .len = rec.len,
                           .from_spool = true};
        return blk;
    }
    return NULL;
}

fwd_block *backlog_pop(backlog *b, int64_t wait_ms)
{
    pthread_mutex_lock(&b->mu);
    fwd_block *blk = take(b);
    if (!blk && !b->shut && wait_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (wait_ms % 1000) * 1000000;
        ts.tv_sec += wait_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&b->cond, &b->mu, &ts);
        blk = take(b);
    }
    if (blk) {
        atomic_init(&blk->remaining, blk->n);
        blk->next = NULL;
        if (b->ftail)
            b->ftail->next = blk;
        else
            b->fhead = blk;
        b->ftail = blk;
    }
    pthread_mutex_unlock(&b->mu);
    return blk;
}

void backlog_release(backlog *b, fwd_block *blk, uint32_t n)
{
    if (atomic_fetch_sub(&blk->remaining, n) != n)
        return;
    pthread_mutex_lock(&b->mu);
    blk->done = true;
    uint64_t ack = 0;
    while (b->fhead && b->fhead->done) {
        fwd_block *f = b->fhead;
        b->fhead = f->next;
        if (f->from_spool)
            ack = f->seq;
        free(f->data);
        free(f);
    }
    if (!b->fhead)
        b->ftail = NULL;
    if (ack) {
        char err[256];
        if (spool_ack(b->sp, ack, err, sizeof err) != SPOOL_OK)
            log_error("remote write backlog: cannot record progress", "err=%s", err);
    }
    pthread_mutex_unlock(&b->mu);
}

void backlog_shutdown(backlog *b)
{
    pthread_mutex_lock(&b->mu);
    b->shut = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

void backlog_close(backlog *b, char *data, size_t len, uint32_t n)
{
    pthread_mutex_lock(&b->mu);
    if (n && !spool_put(b, data, len, n))
        b->dropped += n;
    spill_memory(b);
    while (b->fhead) { /* spool blocks stay unacknowledged: replayed */
        fwd_block *f = b->fhead;
        b->fhead = f->next;
        free(f->data);
        free(f);
    }
    pthread_mutex_unlock(&b->mu);
    free(data);
    spool_close(b->sp);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void backlog_get_stats(backlog *b, backlog_stats *st)
{
    spool_stats ss;
    spool_get_stats(b->sp, &ss);
    pthread_mutex_lock(&b->mu);
    *st = (backlog_stats){.memory_bytes = b->mbytes,
                          .memory_blocks = b->mblocks,
                          .disk_bytes = ss.bytes,
                          .disk_pending_samples = ss.pending_samples,
                          .spilled_blocks = b->spilled,
                          .dropped_samples = b->dropped + ss.dropped_samples,
                          .corrupt_records = ss.corrupt_records};
    pthread_mutex_unlock(&b->mu);
}
