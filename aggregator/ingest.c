/*
 * ingest.c — nng REP server with one context per worker (the nng "async
 * server" pattern): each worker loops recv → handle → send in aio callbacks,
 * so batches from several agents are committed concurrently.
 */
#include "aggregator/ingest.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "proto/wire.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct worker {
    enum { W_RECV, W_SEND } state;
    nng_aio *aio;
    nng_ctx ctx;
    struct ingest *in;
} worker;

struct ingest {
    nng_socket sock;
    tsdb *db;
    worker *workers;
    int nworkers;
    atomic_uint_fast64_t batches_ok, batches_duplicate, batches_rejected, batches_failed, hellos,
        samples, samples_rejected, bytes;
};

static void reply(ebuf *out, uint64_t seq, Ember__Ack__Status st, const char *reason,
                  uint64_t applied)
{
    wire_encode_ack(out, seq, st, reason, applied);
}

static void handle_batch(ingest *in, const Ember__Batch *b, ebuf *out)
{
    tsdb_appender *app = tsdb_appender_new(in->db);
    labelset ls;
    labels_init(&ls);
    for (size_t i = 0; i < b->n_series; i++) {
        labels_clear(&ls);
        wire_series_labels(b, i, &ls);
        for (size_t k = 0; k < b->series[i]->n_samples; k++) {
            const Ember__Sample *s = b->series[i]->samples[k];
            tsdb_append(app, &ls, s->timestamp_ms, s->value);
        }
    }
    labels_free(&ls);
    tsdb_commit_result res;
    char err[256], q[300];
    if (tsdb_commit(app, b->agent_id, b->seq, &res, err, sizeof err) != 0) {
        atomic_fetch_add(&in->batches_failed, 1);
        log_error("batch commit failed", "agent=%s seq=%llu err=%s", b->agent_id,
                  (unsigned long long)b->seq, log_quote(q, sizeof q, err));
        reply(out, b->seq, EMBER__ACK__STATUS__RETRY, err, 0);
    } else if (res.duplicate) {
        atomic_fetch_add(&in->batches_duplicate, 1);
        log_debug("duplicate batch acknowledged", "agent=%s seq=%llu", b->agent_id,
                  (unsigned long long)b->seq);
        reply(out, b->seq, EMBER__ACK__STATUS__OK, "duplicate", 0);
    } else {
        /* Refused samples (bad labels, out of retention, series limit) are
         * not retryable; the rest of the batch is durable: OK with the reason. */
        atomic_fetch_add(&in->batches_ok, 1);
        atomic_fetch_add(&in->samples, res.applied);
        atomic_fetch_add(&in->samples_rejected, res.rejected);
        if (res.rejected)
            log_warn("samples rejected", "agent=%s seq=%llu rejected=%llu reason=%s", b->agent_id,
                     (unsigned long long)b->seq, (unsigned long long)res.rejected,
                     log_quote(q, sizeof q, res.reason));
        reply(out, b->seq, EMBER__ACK__STATUS__OK, res.rejected ? res.reason : NULL, res.applied);
    }
}

static void handle_message(ingest *in, const void *data, size_t len, ebuf *out)
{
    char err[256], q[300];
    atomic_fetch_add(&in->bytes, len);
    Ember__Envelope *env = wire_decode_envelope(data, len, err, sizeof err);
    if (!env) {
        atomic_fetch_add(&in->batches_rejected, 1);
        log_warn("rejected message", "bytes=%zu err=%s", len, log_quote(q, sizeof q, err));
        reply(out, 0, EMBER__ACK__STATUS__REJECTED, err, 0);
        return;
    }
    if (env->body_case == EMBER__ENVELOPE__BODY_HELLO) {
        atomic_fetch_add(&in->hellos, 1);
        log_info("agent hello", "agent=%s version=%s", env->hello->agent_id, env->hello->version);
        reply(out, 0, EMBER__ACK__STATUS__OK, NULL, 0);
    } else {
        handle_batch(in, env->batch, out);
    }
    wire_envelope_free(env);
}

static void worker_cb(void *arg)
{
    worker *w = arg;
    int rv = nng_aio_result(w->aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (w->state == W_RECV && rv == 0) {
        nng_msg *msg = nng_aio_get_msg(w->aio);
        ebuf out;
        ebuf_init(&out);
        handle_message(w->in, nng_msg_body(msg), nng_msg_len(msg), &out);
        nng_msg_clear(msg);
        nng_msg_append(msg, out.data, out.len);
        ebuf_free(&out);
        nng_aio_set_msg(w->aio, msg);
        w->state = W_SEND;
        nng_ctx_send(w->ctx, w->aio);
        return;
    }
    if (w->state == W_SEND && rv != 0)
        nng_msg_free(nng_aio_get_msg(w->aio));
    w->state = W_RECV;
    nng_ctx_recv(w->ctx, w->aio);
}

int ingest_start(const char *url, tsdb *db, int workers, ingest **out, char *err, size_t errlen)
{
    ingest *in = em_calloc(1, sizeof *in);
    in->db = db;
    int rv = nng_rep0_open(&in->sock);
    if (rv == 0)
        nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, 256u << 20);
    if (rv != 0 || (rv = nng_listen(in->sock, url, NULL, 0)) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
        if (nng_socket_id(in->sock) > 0)
            nng_close(in->sock);
        free(in);
        return -1;
    }
    in->nworkers = workers > 0 ? workers : 1;
    in->workers = em_calloc((size_t)in->nworkers, sizeof(worker));
    for (int i = 0; i < in->nworkers; i++) {
        worker *w = &in->workers[i];
        w->in = in;
        nng_aio_alloc(&w->aio, worker_cb, w);
        nng_ctx_open(&w->ctx, in->sock);
        w->state = W_RECV;
        nng_ctx_recv(w->ctx, w->aio);
    }
    *out = in;
    return 0;
}

void ingest_stop(ingest *in)
{
    if (!in)
        return;
    for (int i = 0; i < in->nworkers; i++)
        nng_aio_stop(in->workers[i].aio);
    for (int i = 0; i < in->nworkers; i++) {
        nng_ctx_close(in->workers[i].ctx);
        nng_aio_free(in->workers[i].aio);
    }
    nng_close(in->sock);
    free(in->workers);
    free(in);
}

void ingest_get_stats(ingest *in, ingest_stats *st)
{
    st->batches_ok = atomic_load(&in->batches_ok);
    st->batches_duplicate = atomic_load(&in->batches_duplicate);
    st->batches_rejected = atomic_load(&in->batches_rejected);
    st->batches_failed = atomic_load(&in->batches_failed);
    st->hellos = atomic_load(&in->hellos);
    st->samples = atomic_load(&in->samples);
    st->samples_rejected = atomic_load(&in->samples_rejected);
    st->bytes = atomic_load(&in->bytes);
}
