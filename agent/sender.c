/*
 * sender.c — nng REQ client draining the spool in order (see sender.h).
 *
 * A Hello goes first after start and after every failed exchange, so the
 * aggregator learns who is talking whenever the path comes back.  Send and
 * receive timeouts bound each exchange; an exchange that times out leaves the
 * batch at the head of the queue and it is sent again with the same seq,
 * which the aggregator acknowledges without applying twice.  Hello carries
 * the agent's token; tls+tcp:// addresses get the TLS settings on the dialer
 * before it starts (nng 1.5 takes them nowhere else).
 */
#include "agent/sender.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/options.h"
#include "proto/wire.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sender {
    nng_socket sock;
    strlist urls; /* failover order */
    size_t cur;   /* the address in use */
    int64_t timeout_ms;
    char *token;
    wire_tls tls;
    bool auth_failing; /* the last Hello was refused: log the next refusal quietly */
    char *agent_id;
    labelset static_labels;
    bool need_hello;
    spool *sp;
    sender_stats stats;
};

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

/* Open a REQ socket dialing urls[cur] in the background. */
static int connect_current(sender *s, char *err, size_t errlen)
{
    const char *url = s->urls.v[s->cur];
    int rv = nng_req0_open(&s->sock);
    if (rv == 0) {
        nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, (nng_duration)s->timeout_ms);
        nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, (nng_duration)s->timeout_ms);
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 100);
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 5000);
        rv = dial(s, url, err, errlen);
    }
    if (rv != 0) {
        if (rv > 0)
            err_set(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
        if (nng_socket_id(s->sock) > 0)
            nng_close(s->sock);
        return -1;
    }
    s->need_hello = true;
    return 0;
}

/* After a failed exchange, move to the next address (if there is one). */
static void fail_over(sender *s)
{
    if (s->urls.n < 2)
        return;
    char err[300];
    size_t from = s->cur;
    nng_close(s->sock);
    for (size_t k = 1; k <= s->urls.n; k++) {
        s->cur = (from + k) % s->urls.n;
        if (connect_current(s, err, sizeof err) == 0)
            break;
    }
    s->stats.failovers++;
    log_warn("aggregator unreachable, failing over", "from=%s to=%s", s->urls.v[from],
             s->urls.v[s->cur]);
}

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

static void free_security(sender *s)
{
    free(s->token);
    free((char *)s->tls.ca);
    free((char *)s->tls.server_name);
    free((char *)s->tls.cert);
    free((char *)s->tls.key);
}

static char *dup_opt(const char *s)
{
    return s ? em_strdup(s) : NULL;
}

int sender_open(const char *urls, const char *agent_id, const labelset *static_labels,
                const sender_options *o, spool *sp, sender **out, char *err, size_t errlen)
{
    sender *s = em_calloc(1, sizeof *s);
    split_urls(&s->urls, urls);
    s->timeout_ms = o->timeout_ms;
    s->token = dup_opt(o->token);
    s->tls = (wire_tls){.ca = dup_opt(o->tls_ca),
                        .server_name = dup_opt(o->tls_server_name),
                        .cert = dup_opt(o->tls_cert),
                        .key = dup_opt(o->tls_key)};
    if (s->urls.n == 0 || connect_current(s, err, errlen) != 0) {
        if (s->urls.n == 0)
            err_set(err, errlen, "no aggregator address in \"%s\"", urls);
        strlist_free(&s->urls);
        free_security(s);
        free(s);
        return -1;
    }
    s->agent_id = em_strdup(agent_id);
    if (static_labels)
        labels_copy(&s->static_labels, static_labels);
    else
        labels_init(&s->static_labels);
    s->sp = sp;
    *out = s;
    return 0;
}

void sender_close(sender *s)
{
    if (!s)
        return;
    nng_close(s->sock);
    strlist_free(&s->urls);
    labels_free(&s->static_labels);
    free(s->agent_id);
    free_security(s);
    free(s);
}

const char *sender_current_url(const sender *s)
{
    return s->urls.v[s->cur];
}

int sender_enqueue(sender *s, const ebuf *msg, uint64_t seq, uint32_t nsamples)
{
    char err[300], q[340];
    int rc = spool_append(s->sp, seq, nsamples, msg->data, msg->len, err, sizeof err);
    if (rc == SPOOL_EFULL) {
        s->stats.spool_errors++;
        log_error("spool full, batch NOT collected (spool.full=reject)", "seq=%llu err=%s",
                  (unsigned long long)seq, log_quote(q, sizeof q, err));
    } else if (rc != SPOOL_OK) {
        s->stats.spool_errors++;
        log_error("cannot spool batch", "seq=%llu err=%s", (unsigned long long)seq,
                  log_quote(q, sizeof q, err));
    }
    return rc;
}

/* One request/reply.  Returns the Ack (caller frees) or NULL on failure. */
static Ember__Ack *exchange(sender *s, const void *data, size_t len)
{
    int rv = nng_send(s->sock, (void *)data, len, 0);
    if (rv != 0) {
        log_debug("send failed", "err=%s", nng_strerror(rv));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0;
    rv = nng_recv(s->sock, &buf, &n, NNG_FLAG_ALLOC);
    if (rv != 0) {
        log_debug("no ack", "err=%s", nng_strerror(rv));
        return NULL;
    }
    Ember__Ack *ack = wire_decode_ack(buf, n);
    nng_free(buf, n);
    return ack;
}

/* Resending cannot help until the token is fixed: say so once as an error,
 * then quietly while it lasts; the batches wait in the spool. */
static void hello_rejected(sender *s, const char *reason)
{
    char q[300];
    s->stats.auth_rejected++;
    log_at(s->auth_failing ? LOG_DEBUG : LOG_ERROR,
           "aggregator refused this agent (check --token), batches stay spooled",
           "aggregator=%s reason=%s", s->urls.v[s->cur], log_quote(q, sizeof q, reason));
    s->auth_failing = true;
}

static bool send_hello(sender *s)
{
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello(&m, s->agent_id, EMBER_VERSION, &s->static_labels, s->token);
    Ember__Ack *ack = exchange(s, m.data, m.len);
    ebuf_free(&m);
    bool ok = ack && ack->status == EMBER__ACK__STATUS__OK;
    if (ack && ack->status == EMBER__ACK__STATUS__REJECTED)
        hello_rejected(s, ack->reason);
    else if (!ack)
        s->auth_failing = false; /* unreachable: fail over, say it again if refused */
    if (ack)
        ember__ack__free_unpacked(ack, NULL);
    if (ok) {
        s->need_hello = false;
        s->auth_failing = false;
    }
    return ok;
}

/* Send the oldest spooled batch; true if it left the spool. */
static bool send_oldest(sender *s, const spool_record *r)
{
    char q[300], err[300];
    Ember__Ack *ack = exchange(s, r->data, r->len);
    bool done = false;
    if (!ack) {
        /* unreachable or timed out: keep it, resend with the same seq */
    } else if (ack->status == EMBER__ACK__STATUS__REJECTED) {
        log_error("batch rejected by aggregator", "seq=%llu reason=%s", (unsigned long long)r->seq,
                  log_quote(q, sizeof q, ack->reason));
        s->stats.rejected++;
        done = true;
    } else if (ack->status == EMBER__ACK__STATUS__OK && ack->seq == r->seq) {
        s->stats.acked++;
        done = true;
    } else {
        log_warn("batch not committed, will retry", "seq=%llu reason=%s",
                 (unsigned long long)r->seq, log_quote(q, sizeof q, ack->reason));
    }
    if (ack)
        ember__ack__free_unpacked(ack, NULL);
    if (done && spool_ack(s->sp, r->seq, err, sizeof err) != SPOOL_OK)
        log_error("cannot record ack in spool", "seq=%llu err=%s", (unsigned long long)r->seq,
                  log_quote(q, sizeof q, err));
    if (!done) {
        s->stats.failed_attempts++;
        s->need_hello = true;
        if (!ack)
            fail_over(s); /* no answer at all: try the next aggregator */
    }
    return done;
}

static size_t pending(sender *s)
{
    spool_stats st;
    spool_get_stats(s->sp, &st);
    return st.pending;
}

size_t sender_flush(sender *s)
{
    char err[300], q[340];
    for (;;) {
        spool_record r;
        int got = spool_read_after(s->sp, 0, &r, err, sizeof err);
        if (got < 0)
            log_error("cannot read spool", "err=%s", log_quote(q, sizeof q, err));
        if (got <= 0)
            break;
        bool sent = false;
        if (s->need_hello && !send_hello(s)) {
            s->stats.failed_attempts++;
            if (!s->auth_failing) /* a refused token is not an unreachable aggregator */
                fail_over(s);
        } else
            sent = send_oldest(s, &r);
        free(r.data);
        if (!sent)
            break;
    }
    return pending(s);
}

void sender_get_stats(sender *s, sender_stats *st)
{
    *st = s->stats;
    spool_get_stats(s->sp, &st->spool);
}
