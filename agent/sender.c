/*
 * sender.c — nng REQ client with an in-memory FIFO (see sender.h).
 *
 * A Hello goes first after start and after every failed exchange, so the
 * aggregator learns who is talking whenever the path comes back.  Send and
 * receive timeouts bound each exchange; an exchange that times out leaves the
 * batch at the head of the queue and it is sent again with the same seq,
 * which the aggregator acknowledges without applying twice.
 */
#include "agent/sender.h"

#include "common/log.h"
#include "common/mem.h"
#include "proto/wire.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct queued {
    char *data;
    size_t len;
    uint64_t seq;
} queued;

struct sender {
    nng_socket sock;
    char *agent_id;
    labelset static_labels;
    bool need_hello;
    queued *q; /* ring buffer */
    size_t head, count, max;
    sender_stats stats;
};

int sender_open(const char *url, const char *agent_id, const labelset *static_labels,
                int64_t timeout_ms, size_t max_queue, sender **out, char *err, size_t errlen)
{
    sender *s = em_calloc(1, sizeof *s);
    int rv = nng_req0_open(&s->sock);
    if (rv == 0) {
        nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
        nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 100);
        nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 5000);
        rv = nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK);
    }
    if (rv != 0) {
        snprintf(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
        if (nng_socket_id(s->sock) > 0)
            nng_close(s->sock);
        free(s);
        return -1;
    }
    s->agent_id = em_strdup(agent_id);
    if (static_labels)
        labels_copy(&s->static_labels, static_labels);
    else
        labels_init(&s->static_labels);
    s->need_hello = true;
    s->max = max_queue ? max_queue : 1;
    s->q = em_calloc(s->max, sizeof(queued));
    *out = s;
    return 0;
}

void sender_close(sender *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->q[(s->head + i) % s->max].data);
    free(s->q);
    nng_close(s->sock);
    labels_free(&s->static_labels);
    free(s->agent_id);
    free(s);
}

static void drop_head(sender *s)
{
    free(s->q[s->head].data);
    s->head = (s->head + 1) % s->max;
    s->count--;
}

void sender_enqueue(sender *s, ebuf *msg, uint64_t seq)
{
    if (s->count == s->max) {
        log_warn("send queue full, dropping oldest batch", "seq=%llu",
                 (unsigned long long)s->q[s->head].seq);
        drop_head(s);
        s->stats.dropped++;
    }
    queued *e = &s->q[(s->head + s->count) % s->max];
    e->seq = seq;
    e->data = ebuf_steal(msg, &e->len);
    s->count++;
}

/* One request/reply.  Returns the Ack (caller frees) or NULL on failure. */
static Ember__Ack *exchange(sender *s, const void *data, size_t len)
{
    int rv = nng_send(s->sock, (void *)data, len, 0);
    if (rv != 0) {
        log_debug("send failed", "err=\"%s\"", nng_strerror(rv));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0;
    rv = nng_recv(s->sock, &buf, &n, NNG_FLAG_ALLOC);
    if (rv != 0) {
        log_debug("no ack", "err=\"%s\"", nng_strerror(rv));
        return NULL;
    }
    Ember__Ack *ack = wire_decode_ack(buf, n);
    nng_free(buf, n);
    return ack;
}

static bool send_hello(sender *s)
{
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello(&m, s->agent_id, EMBER_VERSION, &s->static_labels, NULL);
    Ember__Ack *ack = exchange(s, m.data, m.len);
    ebuf_free(&m);
    bool ok = ack && ack->status == EMBER__ACK__STATUS__OK;
    if (ack)
        ember__ack__free_unpacked(ack, NULL);
    if (ok)
        s->need_hello = false;
    return ok;
}

/* Send the head of the queue; true if it left the queue. */
static bool send_head(sender *s)
{
    queued *e = &s->q[s->head];
    char q[300];
    Ember__Ack *ack = exchange(s, e->data, e->len);
    bool done = false;
    if (!ack) {
        /* unreachable or timed out: keep it, resend with the same seq */
    } else if (ack->status == EMBER__ACK__STATUS__REJECTED) {
        log_error("batch rejected by aggregator", "seq=%llu reason=%s", (unsigned long long)e->seq,
                  log_quote(q, sizeof q, ack->reason));
        s->stats.rejected++;
        done = true;
    } else if (ack->status == EMBER__ACK__STATUS__OK && ack->seq == e->seq) {
        s->stats.acked++;
        done = true;
    } else {
        log_warn("batch not committed, will retry", "seq=%llu reason=%s",
                 (unsigned long long)e->seq, log_quote(q, sizeof q, ack->reason));
    }
    if (ack)
        ember__ack__free_unpacked(ack, NULL);
    if (done) {
        drop_head(s);
    } else {
        s->stats.failed_attempts++;
        s->need_hello = true;
    }
    return done;
}

size_t sender_flush(sender *s)
{
    if (s->count && s->need_hello && !send_hello(s)) {
        s->stats.failed_attempts++;
        return s->count;
    }
    while (s->count && send_head(s))
        ;
    return s->count;
}

void sender_get_stats(sender *s, sender_stats *st)
{
    *st = s->stats;
    st->queued = s->count;
}
