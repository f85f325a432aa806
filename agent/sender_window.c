/*
 * sender_window.c — the sender's batches in flight (see sender.h): a ring
 * of slots, each a REQ context with its own aio.  The sending thread sends
 * spooled batches into free slots, each naming the one before it
 * (after_seq) so the aggregator applies them in order, compressed against
 * the session's base when Hello agreed on it (wire_delta.h); then it waits
 * for the oldest Ack.  An Ack OK or REJECTED takes the oldest batch out of
 * the spool; anything else drops the whole window, whose batches are sent
 * again in seq order.  Only the sending thread (or sender_flush's caller)
 * touches the window; stats are shared under mu.
 */
#include "agent/sender_int.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_IN_FLIGHT 4

int window_alloc(sender *s, unsigned max_in_flight, bool alloc_aios)
{
    s->nslots = max_in_flight ? max_in_flight : DEFAULT_IN_FLIGHT;
    if (s->nslots > SENDER_MAX_IN_FLIGHT)
        s->nslots = SENDER_MAX_IN_FLIGHT;
    s->stats.max_in_flight = s->nslots;
    s->slots = em_calloc(s->nslots, sizeof(slot));
    int rv = 0;
    for (unsigned i = 0; rv == 0 && alloc_aios && i < s->nslots; i++)
        rv = nng_aio_alloc(&s->slots[i].aio, NULL, NULL);
    return rv;
}

int window_open_contexts(sender *s)
{
    int rv = 0;
    for (unsigned i = 0; rv == 0 && i < s->nslots; i++)
        rv = nng_ctx_open(&s->slots[i].ctx, s->sock);
    return rv;
}

void window_cancel(sender *s)
{
    for (unsigned i = 0; i < s->nslots; i++)
        nng_aio_cancel(s->slots[i].aio);
}

void window_free(sender *s)
{
    for (unsigned i = 0; i < s->nslots; i++)
        if (s->slots[i].aio)
            nng_aio_free(s->slots[i].aio);
    free(s->slots);
    wire_base_clear(&s->base);
}

static void set_in_flight(sender *s, unsigned n)
{
    pthread_mutex_lock(&s->mu);
    s->stats.in_flight = n;
    pthread_mutex_unlock(&s->mu);
}

static uint64_t dropped_records(sender *s)
{
    spool_stats st;
    spool_get_stats(s->sp, &st);
    return st.dropped_records;
}

/*
 * A full spool may drop the oldest segment while its first batch is on the
 * wire; when that batch is acknowledged after all, it was not lost, and the
 * dropped counters must not say it was.
 */
static void note_delivered_after_drop(sender *s, const spool_record *r, uint64_t drops_before)
{
    char err[300];
    spool_record x;
    if (dropped_records(s) == drops_before)
        return;
    int got = spool_read_after(s->sp, r->seq - 1, &x, err, sizeof err);
    if (got > 0)
        free(x.data);
    if (got == 0 || (got > 0 && x.seq != r->seq)) {
        pthread_mutex_lock(&s->mu);
        s->stats.delivered_after_drop++;
        s->stats.delivered_after_drop_samples += r->nsamples;
        pthread_mutex_unlock(&s->mu);
    }
}

/*
 * The batch is delivered: record it in the spool.  When that fails (a full
 * disk cannot take the "acked" file) delivery goes on from memory; the
 * spool catches up with the next ack that can be recorded, and a restart
 * before that resends batches the aggregator acknowledges as duplicates.
 */
static void record_ack(sender *s, uint64_t seq)
{
    char q[300], err[300];
    s->delivered = seq;
    bool ok = spool_ack(s->sp, seq, err, sizeof err) == SPOOL_OK;
    if (!ok)
        log_at(s->ack_failing ? LOG_DEBUG : LOG_ERROR,
               "cannot record ack in spool, delivery goes on", "seq=%llu err=%s",
               (unsigned long long)seq, log_quote(q, sizeof q, err));
    else if (s->ack_failing)
        log_info("acks recorded in spool again", "seq=%llu", (unsigned long long)seq);
    s->ack_failing = !ok;
}

static slot *oldest(sender *s)
{
    return &s->slots[s->head];
}

static void slot_release(sender *s, slot *sl)
{
    if (sl->seq == s->keep_seq)
        s->keep_seq = 0;
    free(sl->raw);
    sl->raw = NULL;
    s->head = (s->head + 1) % s->nslots;
    s->nfl--;
    set_in_flight(s, s->nfl);
}

/* Forget every batch in flight (they are resent in seq order later). */
void window_drop(sender *s)
{
    window_cancel(s);
    while (s->nfl > 0) {
        slot *sl = oldest(s);
        nng_aio_wait(sl->aio);
        if (nng_aio_result(sl->aio) == 0)
            nng_msg_free(nng_aio_get_msg(sl->aio));
        slot_release(s, sl);
    }
    s->last_queued = 0;
}

/*
 * The spooled (self-contained) batch as it goes on the wire: compressed
 * against the session's base when Hello agreed on it, marked keep when a
 * new base is due, with after_seq when a batch before it is in flight.
 */
static void encode_for_wire(sender *s, const spool_record *r, slot *sl, ebuf *out)
{
    uint64_t after = s->nfl ? s->last_queued : 0;
    bool delta = s->features & WIRE_FEATURE_DELTA;
    char err[200];
    size_t rawlen = 0;
    uint8_t *raw = (delta || after)
                       ? wire_decompress(r->data, r->len, NULL, 0, &rawlen, err, sizeof err)
                       : NULL;
    if (!raw) { /* as spooled; a batch that does not decompress gets its reason back */
        ebuf_append(out, r->data, r->len);
        return;
    }
    bool keep = delta && !s->keep_seq && rawlen <= WIRE_MAX_BASE &&
                (!s->base.seq || r->seq - s->base.seq >= WIRE_BASE_EVERY);
    wire_base sent = {0};
    wire_delta_encode(out, raw, rawlen, delta ? &s->base : NULL, keep ? WIRE_DELTA_KEEP : 0, after,
                      keep ? &sent : NULL);
    free(raw);
    if (keep) {
        s->keep_seq = r->seq;
        sl->raw = sent.raw;
        sl->rawlen = sent.len;
    }
}

/* Send r in a free slot, its Ack awaited in the background; false (why
 * set) when it could not be sent. */
static bool send_in_slot(sender *s, const spool_record *r, uint64_t drops_before, send_error *why)
{
    slot *sl = &s->slots[(s->head + s->nfl) % s->nslots];
    *sl = (slot){.ctx = sl->ctx,
                 .aio = sl->aio,
                 .seq = r->seq,
                 .nsamples = r->nsamples,
                 .drops_before = drops_before,
                 .deadline = mono_ms() + s->timeout_ms};
    if (r->seq <= s->last_tried) {
        pthread_mutex_lock(&s->mu);
        s->stats.resends++;
        pthread_mutex_unlock(&s->mu);
    }
    s->last_tried = r->seq > s->last_tried ? r->seq : s->last_tried;
    ebuf m;
    ebuf_init(&m);
    encode_for_wire(s, r, sl, &m);
    int rv = sender_send_request(s, sl, m.data, m.len, sl->deadline);
    ebuf_free(&m);
    if (rv == 0 && sender_start_op(s, sl, true, sl->deadline, &rv)) {
        s->nfl++;
        s->last_queued = r->seq;
        set_in_flight(s, s->nfl);
        return true;
    }
    if (sl->seq == s->keep_seq)
        s->keep_seq = 0;
    free(sl->raw);
    sl->raw = NULL;
    *why = sender_classify(s, rv);
    return false;
}

/* Fill the window from the spool; false when sending failed. */
bool window_fill(sender *s)
{
    char err[300], q[340];
    while (s->nfl < s->nslots) {
        spool_record r;
        uint64_t drops_before = dropped_records(s);
        uint64_t after = s->nfl ? s->last_queued : s->delivered;
        int got = spool_read_after(s->sp, after, &r, err, sizeof err);
        if (got < 0) {
            log_error("cannot read spool", "err=%s", log_quote(q, sizeof q, err));
            sender_count_failure(s, SEND_ERR_SPOOL);
            return s->nfl > 0; /* what is in flight may still be answered */
        }
        if (got == 0)
            return true;
        send_error why = SEND_ERR_COUNT;
        bool sent = send_in_slot(s, &r, drops_before, &why);
        free(r.data);
        if (!sent) {
            sender_count_failure(s, why);
            sender_abandon_connection(s);
            return false;
        }
    }
    return true;
}

/* The oldest batch was answered OK or REJECTED: it leaves the spool. */
static void oldest_done(sender *s, slot *sl, const Ember__Ack *ack)
{
    char q[300];
    spool_record r = {.seq = sl->seq, .nsamples = sl->nsamples};
    if (ack->status == EMBER__ACK__STATUS__REJECTED) {
        log_error("batch rejected by aggregator", "seq=%llu reason=%s", (unsigned long long)sl->seq,
                  log_quote(q, sizeof q, ack->reason));
        sender_count_done(s, false);
    } else {
        sender_count_done(s, true);
        note_delivered_after_drop(s, &r, sl->drops_before);
        if (sl->raw) { /* marked keep: both ends hold it now */
            wire_base_clear(&s->base);
            s->base = (wire_base){.seq = sl->seq, .raw = sl->raw, .len = sl->rawlen};
            sl->raw = NULL;
        }
    }
    record_ack(s, sl->seq);
}

/* The oldest batch was not answered OK: everything in flight is dropped
 * and resent in seq order; a connection that did not answer is abandoned. */
static void oldest_failed(sender *s, const Ember__Ack *ack, send_error why)
{
    char q[300];
    if (ack && ack->status == EMBER__ACK__STATUS__UNKNOWN_BASE) {
        pthread_mutex_lock(&s->mu);
        s->stats.unknown_base++;
        pthread_mutex_unlock(&s->mu);
        log_info("aggregator lost the session's base, resending whole", "seq=%llu",
                 (unsigned long long)oldest(s)->seq);
        wire_base_clear(&s->base);
        window_drop(s);
        s->need_hello = true; /* nng may have reconnected by itself: a new session */
        return;               /* not a failure: resent at once */
    }
    if (ack) {
        log_warn("batch not committed, will retry", "seq=%llu reason=%s",
                 (unsigned long long)oldest(s)->seq, log_quote(q, sizeof q, ack->reason));
        why = SEND_ERR_RETRY;
    }
    sender_count_failure(s, why);
    s->need_hello = true;
    if (!ack)
        sender_abandon_connection(s); /* no answer at all: dial afresh, next address first */
    else
        window_drop(s);
}

/* Wait for the oldest batch's Ack; true if the next attempt may follow at once. */
bool window_await_oldest(sender *s)
{
    slot *sl = oldest(s);
    nng_aio_wait(sl->aio);
    send_error why = SEND_ERR_COUNT;
    Ember__Ack *ack = sender_take_ack(s, sl->aio, nng_aio_result(sl->aio), &why);
    bool ok = ack && (ack->status == EMBER__ACK__STATUS__REJECTED ||
                      (ack->status == EMBER__ACK__STATUS__OK && ack->seq == sl->seq));
    bool unknown_base = ack && ack->status == EMBER__ACK__STATUS__UNKNOWN_BASE;
    if (ok) { /* out of the window first: stats never show it acked and in flight */
        slot done = *sl;
        sl->raw = NULL;
        slot_release(s, sl);
        if (s->nfl == 0)
            s->last_queued = 0;
        oldest_done(s, &done, ack);
        free(done.raw);
    } else {
        oldest_failed(s, ack, why);
    }
    if (ack)
        ember__ack__free_unpacked(ack, NULL);
    return ok || unknown_base;
}
