/*
 * sender.c — nng REQ client draining the spool in order (see sender.h):
 * the connection, Hello, reachability and counters, the sending thread and
 * the sender's life; the batches in flight are sender_window.c's.
 *
 * A Hello goes first on every new connection, so the aggregator learns who
 * is talking whenever the path comes back, and both ends agree whether
 * batches travel against a base (wire_delta.h).  One nng_aio carries each
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
#include "agent/sender_int.h"

#include "common/err.h"
#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"
#include "proto/wire_close.h"

#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MIN_BACKOFF_MS 100
#define DEFAULT_MAX_BACKOFF_MS 5000
#define STILL_DOWN_LOG_MS 60000 /* while unreachable, say so again this often */

enum { ATTEMPT_SENT, ATTEMPT_EMPTY, ATTEMPT_FAILED };

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
    atomic_int *pipes = arg;
    atomic_fetch_add(pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
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

/* Close the socket in the background (wire_close.h: nng 1.5 may never
 * return from it); its pipe counter goes when the close is done, as nng's
 * callbacks may count on it until then. */
static void close_socket(sender *s)
{
    wire_close_detached(s->sock, s->pipes);
    s->pipes = NULL;
}

/* Open a REQ socket dialing the address in use, in the background. */
static int connect_current(sender *s, char *err, size_t errlen)
{
    const char *url = s->urls.v[s->cur];
    s->pipes = em_calloc(1, sizeof *s->pipes);
    int rv = nng_req0_open(&s->sock);
    if (rv == 0) {
        /* nng redials a refused or lost connection by itself within an
         * attempt; its doubling delay stays inside our backoff bounds. */
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, (nng_duration)s->bo.min_ms);
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, (nng_duration)s->bo.max_ms);
        nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, on_pipe, s->pipes);
        nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, on_pipe, s->pipes);
        rv = dial(s, url, err, errlen);
    }
    if (rv == 0)
        rv = window_open_contexts(s);
    if (rv != 0) {
        if (rv > 0)
            err_set(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
        close_socket(s);
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

void sender_abandon_connection(sender *s)
{
    window_drop(s);
    if (s->connected) {
        close_socket(s);
        s->connected = false;
    }
    pthread_mutex_lock(&s->mu);
    if (s->urls.n < 2 || s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    size_t from = s->cur;
    s->cur = (s->cur + 1) % s->urls.n;
    s->stats.failovers++;
    pthread_mutex_unlock(&s->mu);
    log_warn("aggregator not answering, failing over", "from=%s to=%s", s->urls.v[from],
             s->urls.v[s->cur]);
}

bool sender_start_op(sender *s, slot *sl, bool recv, int64_t deadline, int *rv)
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
    if (!sender_start_op(s, sl, recv, deadline, &rv))
        return rv;
    nng_aio *aio = sl ? sl->aio : s->aio;
    nng_aio_wait(aio);
    return nng_aio_result(aio);
}

int sender_send_request(sender *s, slot *sl, const void *data, size_t len, int64_t deadline)
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

send_error sender_classify(sender *s, int rv)
{
    if (rv == NNG_ETIMEDOUT)
        return s->pipes && atomic_load(s->pipes) > 0 ? SEND_ERR_TIMEOUT : SEND_ERR_UNREACHABLE;
    return SEND_ERR_CONNECTION;
}

/* One request/reply within the per-batch timeout.  Returns the Ack (the
 * caller frees) or NULL with the reason in *why. */
static Ember__Ack *exchange(sender *s, const void *data, size_t len, send_error *why)
{
    int64_t deadline = mono_ms() + s->timeout_ms;
    int rv = sender_send_request(s, NULL, data, len, deadline);
    if (rv == 0)
        rv = run_op(s, NULL, true, deadline);
    return sender_take_ack(s, s->aio, rv, why);
}

Ember__Ack *sender_take_ack(sender *s, nng_aio *aio, int rv, send_error *why)
{
    if (rv != 0) {
        log_debug("no ack", "err=%s", nng_strerror(rv));
        *why = sender_classify(s, rv);
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

void sender_count_failure(sender *s, send_error why)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping) { /* our own cancel at shutdown, not the aggregator's fault */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->stats.failed_attempts++;
    s->stats.errors[why]++;
    if (why == SEND_ERR_UNREACHABLE || why == SEND_ERR_TIMEOUT || why == SEND_ERR_CONNECTION)
        mark_down(s, why);
    else if (why != SEND_ERR_SPOOL)
        mark_up(s);
    pthread_mutex_unlock(&s->mu);
}

void sender_count_done(sender *s, bool acked)
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
    sender_count_failure(s, why);
    if (!ack) {
        s->auth_failing = false; /* unreachable: say it again if refused later */
        sender_abandon_connection(s);
    }
    return false;
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

/* One step: fill the window, then wait for the oldest Ack. */
static int attempt(sender *s)
{
    if (s->nfl == 0 && pending(s) == 0)
        return ATTEMPT_EMPTY;
    if (!ensure_connected(s)) {
        sender_count_failure(s, SEND_ERR_UNREACHABLE);
        return ATTEMPT_FAILED;
    }
    if (s->nfl == 0 && s->need_hello && !send_hello(s))
        return ATTEMPT_FAILED;
    if (!window_fill(s))
        return ATTEMPT_FAILED;
    if (s->nfl == 0)
        return ATTEMPT_EMPTY;
    return window_await_oldest(s) ? ATTEMPT_SENT : ATTEMPT_FAILED;
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
    window_free(s);
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
    int rv = s->urls.n ? nng_aio_alloc(&s->aio, NULL, NULL) : 0;
    int wrv = window_alloc(s, o->max_in_flight, rv == 0 && s->urls.n);
    rv = rv ? rv : wrv;
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
    window_cancel(s);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->running)
        pthread_join(s->thread, NULL);
    window_drop(s); /* their batches stay spooled */
    if (s->connected)
        close_socket(s); /* the caller decides how long to wait for it */
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
