/*
 * ingest_session.c — each connection's session on the ingest endpoint (see
 * ingest.h, proto/wire_delta.h): the table of nng pipes with what their
 * Hello agreed and the bases their batches are compressed against, the
 * decoding of a message against its base, and the order of pipelined
 * batches.  A batch naming a predecessor (after_seq) that is not committed
 * yet parks its worker on an nng_sleep_aio; the predecessor's commit wakes
 * it at once (nng_aio_abort), and after PARK_MS it is answered RETRY.
 */
#include "aggregator/ingest_int.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a pipelined batch waits for its predecessor before RETRY. */
#define PARK_MS 2000

/* ---- connections (callers hold mu) ---- */

pipe_state *ingest_pipe_find(ingest *in, uint32_t id)
{
    for (size_t i = 0; i < in->npipes; i++)
        if (in->pipes[i].id == id)
            return &in->pipes[i];
    return NULL;
}

static void format_addr(nng_pipe p, char *out, size_t len)
{
    nng_sockaddr sa;
    out[0] = '\0';
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0 || sa.s_family != NNG_AF_INET)
        return;
    const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
    const uint8_t *port = (const uint8_t *)&sa.s_in.sa_port;
    snprintf(out, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
             (unsigned)(port[0] << 8 | port[1]));
}

/* The pipe's state, made when new: the first message of a connection may be
 * handled before nng's ADD_POST event for it. */
pipe_state *ingest_pipe_get(ingest *in, nng_pipe p)
{
    uint32_t id = (uint32_t)nng_pipe_id(p);
    pipe_state *ps = ingest_pipe_find(in, id);
    if (ps)
        return ps;
    EM_GROW(in->pipes, in->pipes_cap, in->npipes + 1);
    ps = &in->pipes[in->npipes++];
    *ps = (pipe_state){.id = id, .auth = P_NO_HELLO, .token = -1};
    format_addr(p, ps->address, sizeof ps->address);
    return ps;
}

void ingest_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    ingest *in = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    pthread_mutex_lock(&in->mu);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        ingest_pipe_get(in, p);
    } else {
        pipe_state *ps = ingest_pipe_find(in, id);
        if (ps) {
            wire_base_clear(&ps->bases[0]);
            wire_base_clear(&ps->bases[1]);
            *ps = in->pipes[--in->npipes];
        }
    }
    pthread_mutex_unlock(&in->mu);
}

void ingest_pipes_free(ingest *in)
{
    for (size_t i = 0; i < in->npipes; i++) {
        wire_base_clear(&in->pipes[i].bases[0]);
        wire_base_clear(&in->pipes[i].bases[1]);
    }
    free(in->pipes);
}

/* ---- bases and the order of pipelined batches ---- */

/* A copy of the pipe's base seq, or false when it holds none such. */
static bool base_find(ingest *in, uint32_t pipe, uint64_t seq, wire_base *out)
{
    pthread_mutex_lock(&in->mu);
    pipe_state *ps = ingest_pipe_find(in, pipe);
    bool found = false;
    for (int i = 0; ps && i < 2 && !found; i++)
        if (ps->bases[i].seq == seq && (ps->features & WIRE_FEATURE_DELTA)) {
            wire_base_set(out, seq, ps->bases[i].raw, ps->bases[i].len);
            found = true;
        }
    pthread_mutex_unlock(&in->mu);
    return found;
}

/* A committed batch marked keep becomes a base, in place of the older one:
 * the agent marks a new one only once it uses the last, so the one in use
 * is never replaced. */
void ingest_base_keep(ingest *in, const incoming *m, uint64_t seq)
{
    if (!(m->flags & WIRE_DELTA_KEEP) || m->rawlen > WIRE_MAX_BASE)
        return;
    pthread_mutex_lock(&in->mu);
    pipe_state *ps = ingest_pipe_find(in, m->pipe);
    if (ps && (ps->features & WIRE_FEATURE_DELTA)) {
        wire_base *b = &ps->bases[ps->bases[0].seq > ps->bases[1].seq ? 1 : 0];
        wire_base_set(b, seq, m->raw, m->rawlen);
    }
    pthread_mutex_unlock(&in->mu);
}

/* Under in->mu: wake the batches of agent_id waiting for a seq up to seq. */
void ingest_wake_parked(ingest *in, const char *agent_id, uint64_t seq)
{
    for (int i = 0; i < in->nworkers; i++) {
        worker *w = &in->workers[i];
        if (w->state != W_PARKED || w->woken || w->cur.env->after_seq > seq ||
            strcmp(w->cur.env->batch->agent_id, agent_id) != 0)
            continue;
        w->woken = true;
        nng_aio_abort(w->aio, NNG_EINTR);
    }
}

/* A pipelined batch whose predecessor is not committed yet waits for it
 * (woken by its commit, or RETRY after PARK_MS); true if parked. */
bool ingest_park_if_early(ingest *in, worker *w)
{
    const Ember__Envelope *env = w->cur.env;
    if (!env->after_seq)
        return false;
    pthread_mutex_lock(&in->mu);
    bool early = tsdb_agent_seq(in->db, env->batch->agent_id) < env->after_seq;
    if (early) {
        w->state = W_PARKED;
        w->woken = false;
        w->parked_ms = mono_ms();
        atomic_fetch_add(&in->parked, 1);
        nng_sleep_aio(PARK_MS, w->aio);
    }
    pthread_mutex_unlock(&in->mu);
    return early;
}

/* The batch names a base this connection does not hold (any more): the
 * agent resends it whole. */
static void unknown_base(ingest *in, const char *reason, ebuf *out)
{
    atomic_fetch_add(&in->unknown_base, 1);
    wire_encode_ack(out, 0, EMBER__ACK__STATUS__UNKNOWN_BASE, reason, 0);
}

/* Decompress (against the named base) and decode; false with the reply in out. */
bool ingest_decode(ingest *in, incoming *m, ebuf *out)
{
    char err[256];
    const uint8_t *p = nng_msg_body(m->msg);
    size_t len = nng_msg_len(m->msg), frame;
    uint64_t base_seq;
    wire_base base = {0};
    if (wire_delta_header(p, len, &base_seq, &m->flags, &frame, err, sizeof err) < 0) {
        ingest_refuse(in, INGEST_REJ_MALFORMED, 0, NULL, err, out);
        return false;
    }
    if (base_seq && !base_find(in, m->pipe, base_seq, &base)) {
        snprintf(err, sizeof err, "unknown base %llu on this connection: resend it whole",
                 (unsigned long long)base_seq);
        log_debug("batch against an unknown base", "base=%llu", (unsigned long long)base_seq);
        unknown_base(in, err, out);
        return false;
    }
    m->raw =
        wire_decompress(p + frame, len - frame, base.raw, base.len, &m->rawlen, err, sizeof err);
    wire_base_clear(&base);
    m->env = m->raw ? wire_decode_raw(m->raw, m->rawlen, err, sizeof err) : NULL;
    if (!m->env && base_seq) /* never lose a batch to a base that differs: resend whole */
        unknown_base(in, err, out);
    else if (!m->env)
        ingest_refuse(in, INGEST_REJ_MALFORMED, 0, NULL, err, out);
    return m->env != NULL;
}

/* A parked batch's wait is over: committed predecessor, or time out. */
void ingest_resume_parked(ingest *in, worker *w, ebuf *out)
{
    pthread_mutex_lock(&in->mu);
    w->state = W_RECV; /* out of wake_parked's sight */
    pthread_mutex_unlock(&in->mu);
    atomic_fetch_add(&in->parked_ms_total, (uint64_t)(mono_ms() - w->parked_ms));
    const Ember__Envelope *env = w->cur.env;
    if (tsdb_agent_seq(in->db, env->batch->agent_id) >= env->after_seq) {
        ingest_commit_batch(in, &w->cur, out);
        return;
    }
    char err[200];
    snprintf(err, sizeof err, "out of order: seq %llu waits for seq %llu, not committed",
             (unsigned long long)env->batch->seq, (unsigned long long)env->after_seq);
    log_debug("pipelined batch timed out waiting", "agent=%s seq=%llu after=%llu",
              env->batch->agent_id, (unsigned long long)env->batch->seq,
              (unsigned long long)env->after_seq);
    atomic_fetch_add(&in->park_timeouts, 1);
    wire_encode_ack(out, env->batch->seq, EMBER__ACK__STATUS__RETRY, err, 0);
}

/* What the agents' sessions cost: bases lost, batches waiting for their
 * predecessor (a steady rise says the agents' window outruns the workers). */
void ingest_session_metrics(ingest *in, metric_set *ms)
{
    const struct {
        const char *name, *help;
        double v;
    } c[] = {
        {"ember_aggregator_ingest_unknown_base_total",
         "Batches answered UNKNOWN_BASE (their connection holds no such base): resent whole.",
         (double)atomic_load(&in->unknown_base)},
        {"ember_aggregator_ingest_parked_batches_total",
         "Pipelined batches that waited for their predecessor's commit.",
         (double)atomic_load(&in->parked)},
        {"ember_aggregator_ingest_parked_seconds_total",
         "Time pipelined batches spent waiting for their predecessor.",
         (double)atomic_load(&in->parked_ms_total) / 1000.0},
        {"ember_aggregator_ingest_park_timeouts_total",
         "Parked batches whose predecessor did not come in time (answered RETRY).",
         (double)atomic_load(&in->park_timeouts)},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        metric_set_meta(ms, c[i].name, METRIC_COUNTER, c[i].help);
        metric_set_addl(ms, c[i].name, c[i].v, NULL);
    }
}
