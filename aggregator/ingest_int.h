/*
 * ingest_int.h — what ingest.c (messages, authentication, limits, agents,
 * commits, the workers) and ingest_session.c (each connection's state, the
 * bases batches are compressed against, and the order of pipelined batches)
 * share: the endpoint's state and the calls each makes into the other.  Not
 * for use outside aggregator/ingest*.c.
 */
#ifndef EMBER_AGGREGATOR_INGEST_INT_H
#define EMBER_AGGREGATOR_INGEST_INT_H

#include "aggregator/ingest.h"
#include "common/buf.h"
#include "common/strmap.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* A request being handled, kept while it waits for its predecessor. */
typedef struct incoming {
    nng_msg *msg; /* reused for the reply */
    Ember__Envelope *env;
    uint8_t *raw; /* the raw Envelope: kept as a base when flags ask */
    size_t rawlen;
    uint32_t flags, pipe;
} incoming;

typedef struct worker {
    enum { W_RECV, W_SEND, W_PARKED } state;
    nng_aio *aio;
    nng_ctx ctx;
    struct ingest *in;
    incoming cur;      /* W_PARKED: the batch waiting */
    bool woken;        /* W_PARKED: its predecessor is committed (under in->mu) */
    int64_t parked_ms; /* W_PARKED: since when (mono_ms) */
} worker;

/* What one connection has proven. */
typedef enum { P_NO_HELLO, P_AUTHENTICATED, P_BAD_TOKEN } pipe_auth;

typedef struct pipe_state {
    uint32_t id;
    pipe_auth auth;
    int token; /* index of the token it proved, -1: none */
    char address[128];
    uint32_t features;  /* WIRE_FEATURE_* agreed in its Hello */
    wire_base bases[2]; /* batches kept for delta decoding (wire_delta.h) */
} pipe_state;

struct ingest {
    nng_socket sock;
    nng_listener listener;
    tsdb *db;
    worker *workers;
    int nworkers;
    ingest_options opt;
    ingest_token *tokens;
    pthread_mutex_t mu; /* pipes and agents */
    pipe_state *pipes;
    size_t npipes, pipes_cap;
    ingest_agent *agents;
    size_t nagents, agents_cap;
    strmap agent_index;      /* agent_id → index in agents */
    struct ref_cache **refc; /* by index in agents, made on first batch */
    size_t nrefc;
    atomic_uint_fast64_t batches_ok, batches_duplicate, batches_rejected, batches_failed, hellos,
        samples, samples_rejected, bytes;
    atomic_uint_fast64_t rejected_by[INGEST_REJ_COUNT];
    atomic_uint_fast64_t unknown_base, parked, park_timeouts, parked_ms_total;
};

/* ---- ingest.c ---- */

/* Count the refusal and answer REJECTED with the reason. */
void ingest_refuse(ingest *in, ingest_reject why, uint64_t seq, const char *agent_id,
                   const char *reason, ebuf *out);
/* Commit the batch and answer; a batch marked keep becomes a base, and the
 * batches waiting for it are woken. */
void ingest_commit_batch(ingest *in, incoming *m, ebuf *out);

/* ---- ingest_session.c (callers of the pipe functions hold mu) ---- */

pipe_state *ingest_pipe_find(ingest *in, uint32_t id);
/* The pipe's state, made when new. */
pipe_state *ingest_pipe_get(ingest *in, nng_pipe p);
/* nng's pipe callback: a connection comes or goes (arg: the ingest). */
void ingest_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg);
void ingest_pipes_free(ingest *in);
/* Decompress m's message (against the base it names) and decode it; false
 * with the reply in out. */
bool ingest_decode(ingest *in, incoming *m, ebuf *out);
/* A committed batch marked keep becomes a base of its connection. */
void ingest_base_keep(ingest *in, const incoming *m, uint64_t seq);
/* Under mu: wake the batches of agent_id waiting for a seq up to seq. */
void ingest_wake_parked(ingest *in, const char *agent_id, uint64_t seq);
/* Park w's batch when its predecessor is not committed yet; true if parked
 * (no reply yet: ingest_resume_parked answers when its wait is over). */
bool ingest_park_if_early(ingest *in, worker *w);
void ingest_resume_parked(ingest *in, worker *w, ebuf *out);
/* The sessions' counters (UNKNOWN_BASE replies, parked batches). */
void ingest_session_metrics(ingest *in, metric_set *ms);

#endif
