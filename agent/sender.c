/*
 * sender.c — nng REQ client draining the spool in order (see sender.h).
 *
 * A Hello goes first on every new connection, so the aggregator learns who
 * is talking whenever the path comes back, and both ends agree whether
 * batches travel against a base (wire_delta.h).  The window is a ring of
 * slots, each a REQ context with its own aio; the thread sends into free
 * slots, then waits for the oldest Ack, since the aggregator applies them
 * in order (after_seq).  One nng_aio carries each
 * exchange with the time left of the attempt's deadline, so the per-batch
 * timeout covers the connection, the send and the Ack, and closing the
 * sender can cancel an exchange at once.  An attempt that gets no answer
 * leaves the batch at the head of the queue; it is sent again with the same
 * seq, which the aggregator acknowledges without applying twice.  Hello
 * carries the agent's token; tls+tcp:// addresses get the TLS settings on
 * the dialer before it starts (nng 1.5 takes them nowhere else).
 *
 * Threads: the sending thread (or sender_flush's caller) alone touches the
 * socket and the aio; stats and reachability are shared with the
 * collection loop and the HTTP server under mu.
 */
#include "agent/sender.h"

#include "agent/backoff.h"
#include "common/err.h"
#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/options.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MIN_BACKOFF_MS 100
#define DEFAULT_MAX_BACKOFF_MS 5000
#define STILL_DOWN_LOG_MS 60000 /* while unreachable, say so again this often */
#define DEFAULT_IN_FLIGHT 4

/* One batch in flight: its own REQ context, so several are outstanding. */
typedef struct slot {
    nng_ctx ctx;
    nng_aio *aio;
    uint64_t seq, drops_before;
    uint32_t nsamples;
    int64_t deadline;
    uint8_t *raw; /* a batch marked keep: the base once acknowledged */
    size_t rawlen;
} slot;

enum { ATTEMPT_SENT, ATTEMPT_EMPTY, ATTEMPT_FAILED };

struct sender {
    /* settings */
    strlist urls; /* failover order */
    int64_t timeout_ms;
    char *token;
    wire_tls tls;
    char *agent_id;
    labelset static_labels;
    spool *sp;
    /* the connection: the sending thread's alone */
    nng_socket sock;
    bool connected; /* sock is open and dialing */
    nng_aio *aio;
    atomic_int pipes; /* live connections of sock */
    bool need_hello;
    bool auth_failing;   /* the last Hello was refused: log the next refusal quietly */
    uint64_t last_tried; /* seq of the last batch sent: a second try is a resend */
    uint64_t delivered;  /* highest seq acknowledged, even if the spool could not record it */
    bool ack_failing;    /* the spool could not record the last ack */
    /* the window, a ring of slots, oldest at head */
    slot *slots;
    unsigned nslots, head, nfl;
    uint64_t last_queued; /* highest seq sent on this connection and not answered */
    /* the session (wire_delta.h): what Hello agreed, the base in use and
     * the seq of a batch marked keep and not answered yet */
    uint32_t features;
    wire_base base;
    uint64_t keep_seq;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* new batch, or stop */
    pthread_t thread;
    bool running, stopping, kicked;
    size_t cur; /* the address in use */
    backoff bo;
    int64_t down_since_ms, down_logged_ms;
    sender_stats stats;
};

static const char *const error_names[SEND_ERR_COUNT] = {
    "unreachable", "timeout", "connection", "retry", "rejected", "auth", "bad_ack", "spool",
};

const char *sender_error_name(send_error e)
{
    return (unsigned)e < SEND_ERR_COUNT ? error_names[e] : "unknown";
}

/* ---- the connection --------------------------------------------------- */

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    sender *s = arg;
    atomic_fetch_add(&s->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

/* Start a background dialer, with TLS settings for tls+tcp:// (before
 * the start, as nng 1.5 requires).  0, an nng error, or -1 with err set. */
static int dial(sender *s, const char *url, char *err, size_t errlen)
{
    nng_dialer d;
    int rv = nng_dialer_create(&d, s->sock, url);
    if (rv == 0 && wire_url_is_tls(url)) {
        /* Without --tls-server-name, verify against the address's host. */
        nng_url *u = NULL;
        wire_tls t = s->tls;
        if (!t.server_name && nng_url_parse(&u, url) == 0)
            t.server_name = u->u_hostname;
        nng_tls_config *c = wire_tls_config(&t, false, err, errlen);
        if (u)
            nng_url_free(u);
        if (!c)
            return -1;
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c);
        nng_tls_config_free(c); /* the dialer holds its own reference */
    }
    return rv == 0 ? nng_dialer_start(d, NNG_FLAG_NONBLOCK) : rv;
}

/* Open a REQ socket dialing the address in use, in the background. */
static int connect_current(sender *s, char *err, size_t errlen)
{
    const char *url = s->urls.v[s->cur];
    atomic_store(&s->pipes, 0);
    int rv = nng_req0_open(&s->sock);
    if (rv == 0) {
        /* nng redials a refused or lost connection by itself within an
         * attempt; its doubling delay stays inside our backoff bounds. */
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, (nng_duration)s->bo.min_ms);
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, (nng_duration)s->bo.max_ms);
        nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, on_pipe, s);
        nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, on_pipe, s);
        rv = dial(s, url, err, errlen);
    }
    for (unsigned i = 0; rv == 0 && i < s->nslots; i++)
        rv = nng_ctx_open(&s->slots[i].ctx, s->sock);
    if (rv != 0) {
        if (rv > 0)
            err_set(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
        if (nng_socket_id(s->sock) > 0)
            nng_close(s->sock);
        return -1;
    }
    s->connected = true;
    s->need_hello = true;
    s->features = 0;
    wire_base_clear(&s->base);
    return 0;
}

static bool ensure_connected(sender *s)
{
    char err[300], q[340];
    if (s->connected)
        return true;
    if (connect_current(s, err, sizeof err) == 0)
        return true;
    log_error("cannot dial aggregator", "aggregator=%s err=%s", s->urls.v[s->cur],
              log_quote(q, sizeof q, err));
    return false;
}

/* After an attempt without an answer: close the connection, and move to
 * the next address when there is one. */
static void drop_window(sender *s);

static void abandon_connection(sender *s)
{
    drop_window(s);
    if (s->connected) {
        nng_close(s->sock);
        s->connected = false;
    }
    if (s->urls.n < 2)
        return;
    pthread_mutex_lock(&s->mu);
    size_t from = s->cur;
    s->cur = (s->cur + 1) % s->urls.n;
    s->stats.failovers++;
    pthread_mutex_unlock(&s->mu);
    log_warn("aggregator not answering, failing over", "from=%s to=%s", s->urls.v[from],
             s->urls.v[s->cur]);
}

/* Start one aio operation, on the socket or on a slot's context, with the
 * time left until the deadline; false (rv set) when it could not start. */
static bool start_op(sender *s, slot *sl, bool recv, int64_t deadline, int *rv)
{
    int64_t left = deadline - mono_ms();
    nng_aio *aio = sl ? sl->aio : s->aio;
    *rv = left <= 0 ? NNG_ETIMEDOUT : 0;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) /* checked under mu: sender_close cancels under mu too */
        *rv = NNG_ECANCELED;
    if (*rv == 0) {
        nng_aio_set_timeout(aio, (nng_duration)left);
        if (sl)
            (recv ? nng_ctx_recv : nng_ctx_send)(sl->ctx, aio);
        else
            (recv ? nng_recv_aio : nng_send_aio)(s->sock, aio);
    }
    pthread_mutex_unlock(&s->mu);
    return *rv == 0;
}

/* Run one aio operation until done or the deadline; the nng result. */
static int run_op(sender *s, slot *sl, bool recv, int64_t deadline)
{
    int rv;
    if (!start_op(s, sl, recv, deadline, &rv))
        return rv;
    nng_aio *aio = sl ? sl->aio : s->aio;
    nng_aio_wait(aio);
    return nng_aio_result(aio);
}

/* Send data as a new request: 0 or the nng error. */
static int send_request(sender *s, slot *sl, const void *data, size_t len, int64_t deadline)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, len) != 0)
        return NNG_ENOMEM;
    memcpy(nng_msg_body(m), data, len);
    nng_aio_set_msg(sl ? sl->aio : s->aio, m);
    int rv = run_op(s, sl, false, deadline);
    if (rv != 0)
        nng_msg_free(m); /* a failed send leaves the message to us */
    return rv;
}

/* The Ack received by aio (the caller frees), or NULL with *why set. */
static Ember__Ack *take_ack(sender *s, nng_aio *aio, int rv, send_error *why);

static send_error classify(sender *s, int rv)
{
    if (rv == NNG_ETIMEDOUT)
        return atomic_load(&s->pipes) > 0 ? SEND_ERR_TIMEOUT : SEND_ERR_UNREACHABLE;
    return SEND_ERR_CONNECTION;
}

/* One request/reply within the per-batch timeout.  Returns the Ack (the
 * caller frees) or NULL with the reason in *why. */
static Ember__Ack *exchange(sender *s, const void *data, size_t len, send_error *why)
{
    int64_t deadline = mono_ms() + s->timeout_ms;
    int rv = send_request(s, NULL, data, len, deadline);
    if (rv == 0)
        rv = run_op(s, NULL, true, deadline);
    return take_ack(s, s->aio, rv, why);
}

static Ember__Ack *take_ack(sender *s, nng_aio *aio, int rv, send_error *why)
{
    if (rv != 0) {
        log_debug("no ack", "err=%s", nng_strerror(rv));
        *why = classify(s, rv);
        return NULL;
    }
    nng_msg *r = nng_aio_get_msg(aio);
    Ember__Ack *ack = wire_decode_ack(nng_msg_body(r), nng_msg_len(r));
    nng_msg_free(r);
    if (!ack)
        *why = SEND_ERR_BAD_ACK;
    return ack;
}

/* ---- reachability and counters ----------------------------------------- */

static void log_reachability(sender *s, bool up, send_error why)
{
    spool_stats st;
    spool_get_stats(s->sp, &st);
    int64_t now = now_ms();
    double age = st.oldest_pending_ms ? (double)(now - st.oldest_pending_ms) / 1000.0 : 0.0;
    const char *url = s->urls.v[s->cur];
    if (up)
        log_info("aggregator reachable",
                 "aggregator=%s spool_bytes=%llu spool_pending=%llu "
                 "spool_oldest_age_seconds=%.3f down_seconds=%.3f",
                 url, (unsigned long long)st.bytes, (unsigned long long)st.pending, age,
                 s->down_since_ms ? (double)(now - s->down_since_ms) / 1000.0 : 0.0);
    else
        log_warn(s->down_logged_ms == s->down_since_ms ? "aggregator unreachable, spooling"
                                                       : "aggregator still unreachable",
                 "aggregator=%s reason=%s spool_bytes=%llu spool_pending=%llu "
                 "spool_oldest_age_seconds=%.3f",
                 url, sender_error_name(why), (unsigned long long)st.bytes,
                 (unsigned long long)st.pending, age);
}

/* An answer came (any Ack): the path works.  Called under mu. */
static void mark_up(sender *s)
{
    if (s->stats.reachable != 1)
        log_reachability(s, true, SEND_ERR_COUNT);
    s->stats.reachable = 1;
    s->down_since_ms = 0;
}

/* No answer: log the change, and remind every minute.  Called under mu. */
static void mark_down(sender *s, send_error why)
{
    int64_t now = now_ms();
    if (s->stats.reachable != 0) {
        s->stats.reachable = 0;
        s->down_since_ms = s->down_logged_ms = now;
        log_reachability(s, false, why);
    } else if (now - s->down_logged_ms >= STILL_DOWN_LOG_MS) {
        s->down_logged_ms = now;
        log_reachability(s, false, why);
    }
}

static void count_failure(sender *s, send_error why)
{
    pthread_mutex_lock(&s->mu);
    s->stats.failed_attempts++;
    s->stats.errors[why]++;
    if (why == SEND_ERR_UNREACHABLE || why == SEND_ERR_TIMEOUT || why == SEND_ERR_CONNECTION)
        mark_down(s, why);
    else if (why != SEND_ERR_SPOOL)
        mark_up(s);
    pthread_mutex_unlock(&s->mu);
}

/* ---- Hello and batches ------------------------------------------------ */

/* Resending cannot help until the token is fixed: say so once as an error,
 * then quietly while it lasts; the batches wait in the spool. */
static void hello_rejected(sender *s, const char *reason)
{
    char q[300];
    pthread_mutex_lock(&s->mu);
    s->stats.auth_rejected++;
    pthread_mutex_unlock(&s->mu);
    log_at(s->auth_failing ? LOG_DEBUG : LOG_ERROR,
           "aggregator refused this agent (check --token), batches stay spooled",
           "aggregator=%s reason=%s", s->urls.v[s->cur], log_quote(q, sizeof q, reason));
    s->auth_failing = true;
}

static bool send_hello(sender *s)
{
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello_features(&m, s->agent_id, EMBER_VERSION, &s->static_labels, s->token,
                               WIRE_FEATURE_DELTA);
    send_error why = SEND_ERR_COUNT;
    Ember__Ack *ack = exchange(s, m.data, m.len, &why);
    ebuf_free(&m);
    bool ok = ack && ack->status == EMBER__ACK__STATUS__OK;
    uint32_t features = ack ? ack->features & WIRE_FEATURE_DELTA : 0;
    if (ack && ack->status == EMBER__ACK__STATUS__REJECTED) {
        hello_rejected(s, ack->reason);
        why = SEND_ERR_AUTH;
    } else if (ack && !ok) {
        why = SEND_ERR_RETRY;
    }
    if (ack)
        ember__ack__free_unpacked(ack, NULL);
    if (ok) { /* a new session: no base on either end */
        s->features = features;
        wire_base_clear(&s->base);
        s->need_hello = false;
        s->auth_failing = false;
        return true;
    }
    count_failure(s, why);
    if (!ack) {
        s->auth_failing = false; /* unreachable: say it again if refused later */
        abandon_connection(s);
    }
    return false;
}

static void set_in_flight(sender *s, unsigned n)
{
    pthread_mutex_lock(&s->mu);
    s->stats.in_flight = n;
    pthread_mutex_unlock(&s->mu);
}

static void count_done(sender *s, bool acked)
{
    pthread_mutex_lock(&s->mu);
    if (acked) {
        s->stats.acked++;
        s->stats.last_success_ms = now_ms();
    } else {
        s->stats.rejected++;
        s->stats.errors[SEND_ERR_REJECTED]++;
    }
    mark_up(s);
    backoff_reset(&s->bo);
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

/* ---- the window of batches in flight ---------------------------------- */

static size_t pending(sender *s);

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
static void drop_window(sender *s)
{
    for (unsigned i = 0; i < s->nslots; i++)
        nng_aio_cancel(s->slots[i].aio);
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
    int rv = send_request(s, sl, m.data, m.len, sl->deadline);
    ebuf_free(&m);
    if (rv == 0 && start_op(s, sl, true, sl->deadline, &rv)) {
        s->nfl++;
        s->last_queued = r->seq;
        set_in_flight(s, s->nfl);
        return true;
    }
    if (sl->seq == s->keep_seq)
        s->keep_seq = 0;
    free(sl->raw);
    sl->raw = NULL;
    *why = classify(s, rv);
    return false;
}

/* Fill the window from the spool; false when sending failed. */
static bool fill_window(sender *s)
{
    char err[300], q[340];
    while (s->nfl < s->nslots) {
        spool_record r;
        uint64_t drops_before = dropped_records(s);
        uint64_t after = s->nfl ? s->last_queued : s->delivered;
        int got = spool_read_after(s->sp, after, &r, err, sizeof err);
        if (got < 0) {
            log_error("cannot read spool", "err=%s", log_quote(q, sizeof q, err));
            count_failure(s, SEND_ERR_SPOOL);
            return s->nfl > 0; /* what is in flight may still be answered */
        }
        if (got == 0)
            return true;
        send_error why = SEND_ERR_COUNT;
        bool sent = send_in_slot(s, &r, drops_before, &why);
        free(r.data);
        if (!sent) {
            count_failure(s, why);
            abandon_connection(s);
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
        count_done(s, false);
    } else {
        count_done(s, true);
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
        drop_window(s);
        s->need_hello = true; /* nng may have reconnected by itself: a new session */
        return;               /* not a failure: resent at once */
    }
    if (ack) {
        log_warn("batch not committed, will retry", "seq=%llu reason=%s",
                 (unsigned long long)oldest(s)->seq, log_quote(q, sizeof q, ack->reason));
        why = SEND_ERR_RETRY;
    }
    count_failure(s, why);
    s->need_hello = true;
    if (!ack)
        abandon_connection(s); /* no answer at all: dial afresh, next address first */
    else
        drop_window(s);
}

/* Wait for the oldest batch's Ack; true if the next attempt may follow at once. */
static bool await_oldest(sender *s)
{
    slot *sl = oldest(s);
    nng_aio_wait(sl->aio);
    send_error why = SEND_ERR_COUNT;
    Ember__Ack *ack = take_ack(s, sl->aio, nng_aio_result(sl->aio), &why);
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

/* One step: fill the window, then wait for the oldest Ack. */
static int attempt(sender *s)
{
    if (s->nfl == 0 && pending(s) == 0)
        return ATTEMPT_EMPTY;
    if (!ensure_connected(s)) {
        count_failure(s, SEND_ERR_UNREACHABLE);
        return ATTEMPT_FAILED;
    }
    if (s->nfl == 0 && s->need_hello && !send_hello(s))
        return ATTEMPT_FAILED;
    if (!fill_window(s))
        return ATTEMPT_FAILED;
    if (s->nfl == 0)
        return ATTEMPT_EMPTY;
    return await_oldest(s) ? ATTEMPT_SENT : ATTEMPT_FAILED;
}

/* Batches waiting: those after the last delivered one. */
static size_t pending(sender *s)
{
    spool_stats st;
    spool_get_stats(s->sp, &st);
    if (s->delivered <= st.acked_seq)
        return st.pending;
    spool_record r; /* acks not recorded (full disk): count what is really left */
    char err[300];
    size_t n = 0;
    for (uint64_t after = s->delivered; spool_read_after(s->sp, after, &r, err, sizeof err) > 0;
         after = r.seq, n++)
        free(r.data);
    return n;
}

size_t sender_flush(sender *s)
{
    while (attempt(s) == ATTEMPT_SENT)
        ;
    return pending(s);
}

/* ---- the sending thread ------------------------------------------------ */

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Under mu: wait for a new batch, or the backoff after a failure. */
static void wait_for_work(sender *s, int outcome)
{
    if (outcome == ATTEMPT_EMPTY) {
        while (!s->stopping && !s->kicked)
            pthread_cond_wait(&s->wake, &s->mu);
    } else if (outcome == ATTEMPT_FAILED) {
        int64_t ms = backoff_next(&s->bo);
        log_debug("backing off", "wait_ms=%lld failures=%u", (long long)ms, s->bo.failures);
        struct timespec until;
        deadline_in(&until, ms);
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->mu, &until) == 0)
            ; /* enqueues do not cut a backoff short */
    }
    s->kicked = false;
}

static void *sending_thread(void *arg)
{
    sender *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->mu);
        int outcome = attempt(s);
        pthread_mutex_lock(&s->mu);
        wait_for_work(s, outcome);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sender_start(sender *s, char *err, size_t errlen)
{
    int rv = pthread_create(&s->thread, NULL, sending_thread, s);
    if (rv != 0) {
        err_set(err, errlen, "cannot start the sending thread: %s", strerror(rv));
        return -1;
    }
    s->running = true;
    return 0;
}

/* ---- open, close, stats ------------------------------------------------ */

static void split_urls(strlist *l, const char *urls)
{
    const char *p = urls;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n) {
            char *url = em_strndup(p, n);
            strlist_push(l, url);
            free(url);
        }
        p += n;
        p += strspn(p, ", ");
    }
}

static char *dup_opt(const char *s)
{
    return s ? em_strdup(s) : NULL;
}

static void free_sender(sender *s)
{
    if (s->aio)
        nng_aio_free(s->aio);
    for (unsigned i = 0; i < s->nslots; i++)
        if (s->slots[i].aio)
            nng_aio_free(s->slots[i].aio);
    free(s->slots);
    wire_base_clear(&s->base);
    strlist_free(&s->urls);
    labels_free(&s->static_labels);
    free(s->agent_id);
    free(s->token);
    free((char *)s->tls.ca);
    free((char *)s->tls.server_name);
    free((char *)s->tls.cert);
    free((char *)s->tls.key);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void init_sync(sender *s)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
}

int sender_open(const char *urls, const char *agent_id, const labelset *static_labels,
                const sender_options *o, spool *sp, sender **out, char *err, size_t errlen)
{
    sender *s = em_calloc(1, sizeof *s);
    init_sync(s);
    split_urls(&s->urls, urls);
    labels_init(&s->static_labels);
    if (static_labels)
        labels_copy(&s->static_labels, static_labels);
    s->agent_id = em_strdup(agent_id);
    s->timeout_ms = o->timeout_ms;
    s->token = dup_opt(o->token);
    s->tls = (wire_tls){.ca = dup_opt(o->tls_ca),
                        .server_name = dup_opt(o->tls_server_name),
                        .cert = dup_opt(o->tls_cert),
                        .key = dup_opt(o->tls_key)};
    backoff_init(&s->bo, o->min_backoff_ms ? o->min_backoff_ms : DEFAULT_MIN_BACKOFF_MS,
                 o->max_backoff_ms ? o->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS,
                 o->seed ? o->seed : (uint64_t)now_ms() ^ ((uint64_t)mono_ms() << 20));
    s->stats.reachable = -1;
    s->sp = sp;
    s->nslots = o->max_in_flight ? o->max_in_flight : DEFAULT_IN_FLIGHT;
    s->slots = em_calloc(s->nslots, sizeof(slot));
    int rv = s->urls.n ? nng_aio_alloc(&s->aio, NULL, NULL) : 0;
    for (unsigned i = 0; rv == 0 && s->urls.n && i < s->nslots; i++)
        rv = nng_aio_alloc(&s->slots[i].aio, NULL, NULL);
    if (s->urls.n == 0 || rv != 0 || connect_current(s, err, errlen) != 0) {
        if (s->urls.n == 0)
            err_set(err, errlen, "no aggregator address in \"%s\"", urls);
        else if (rv != 0)
            err_set(err, errlen, "cannot allocate an nng aio: %s", nng_strerror(rv));
        free_sender(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sender_close(sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    nng_aio_cancel(s->aio); /* an exchange in progress ends now */
    for (unsigned i = 0; i < s->nslots; i++)
        nng_aio_cancel(s->slots[i].aio);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->running)
        pthread_join(s->thread, NULL);
    drop_window(s); /* their batches stay spooled */
    if (s->connected)
        nng_close(s->sock);
    free_sender(s);
}

const char *sender_current_url(sender *s)
{
    pthread_mutex_lock(&s->mu);
    const char *url = s->urls.v[s->cur];
    pthread_mutex_unlock(&s->mu);
    return url;
}

int sender_enqueue(sender *s, const ebuf *msg, uint64_t seq, uint32_t nsamples)
{
    char err[300], q[340];
    int rc = spool_append(s->sp, seq, nsamples, msg->data, msg->len, err, sizeof err);
    pthread_mutex_lock(&s->mu);
    if (rc != SPOOL_OK)
        s->stats.spool_errors++;
    s->kicked = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (rc == SPOOL_EFULL)
        log_error("spool full, batch NOT collected (spool.full=reject)", "seq=%llu err=%s",
                  (unsigned long long)seq, log_quote(q, sizeof q, err));
    else if (rc != SPOOL_OK)
        log_error("cannot spool batch, it is lost; collection goes on", "seq=%llu err=%s",
                  (unsigned long long)seq, log_quote(q, sizeof q, err));
    return rc;
}

void sender_get_stats(sender *s, sender_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    spool_get_stats(s->sp, &st->spool);
    pthread_mutex_unlock(&s->mu);
    /* what the spool dropped but the aggregator got anyway was not lost */
    st->spool.dropped_records -= st->delivered_after_drop;
    st->spool.dropped_samples -= st->delivered_after_drop_samples;
}
