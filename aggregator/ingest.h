/*
 * ingest.h — the aggregator's nng REP endpoint for agent batches.
 *
 * Several nng contexts receive in parallel; each decodes an Envelope,
 * commits a Batch to the tsdb (atomically with the agent's seq) and only
 * then replies Ack OK.  Samples the store refuses (invalid labels, outside
 * retention, the agent's series limit) are counted and named in the OK
 * Ack's reason; the rest of the batch is kept.  Malformed messages and
 * batches over a limit get a REJECTED Ack with the reason and are counted by
 * reason; storage failures get RETRY.  Nothing a client sends can stop the
 * endpoint.
 *
 * Authentication: with tokens configured, each connection (nng pipe) must
 * Hello with a token whose SHA-256 is one of them before its batches are
 * accepted; a token may be bound to an instance label, and then its batches
 * may only carry that instance.  The endpoint also keeps what it knows of
 * each agent (ingest_agents) for /api/v1/agents.
 */
#ifndef EMBER_AGGREGATOR_INGEST_H
#define EMBER_AGGREGATOR_INGEST_H

#include "aggregator/tsdb/tsdb.h"
#include "common/expfmt.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ingest ingest;

/* Why a message was refused (the label of the rejected-batches counter). */
typedef enum ingest_reject {
    INGEST_REJ_MALFORMED,       /* undecodable Envelope */
    INGEST_REJ_INVALID_TOKEN,   /* Hello with a wrong or missing token, or a batch after it */
    INGEST_REJ_UNAUTHENTICATED, /* batch on a connection without Hello (answered RETRY) */
    INGEST_REJ_INSTANCE,        /* series with an instance the token is not bound to */
    INGEST_REJ_MESSAGE_BYTES,   /* --ingest.max-message-bytes */
    INGEST_REJ_SERIES,          /* --ingest.max-series-per-batch */
    INGEST_REJ_LABEL_COUNT,     /* --ingest.max-label-count */
    INGEST_REJ_LABEL_LENGTH,    /* --ingest.max-label-length */
    INGEST_REJ_COUNT
} ingest_reject;

const char *ingest_reject_name(ingest_reject r);

typedef struct ingest_stats {
    uint64_t batches_ok;
    uint64_t batches_duplicate;
    uint64_t batches_rejected;
    uint64_t batches_failed; /* storage errors, answered with RETRY */
    uint64_t hellos;
    uint64_t samples;
    uint64_t samples_rejected; /* refused samples of accepted batches (reason in the Ack) */
    uint64_t bytes;
    uint64_t rejected_by[INGEST_REJ_COUNT]; /* messages refused, by reason */
    uint64_t unknown_base;  /* batches answered UNKNOWN_BASE (resent whole by the agent) */
    uint64_t parked;        /* pipelined batches that waited for their predecessor */
    uint64_t park_timeouts; /* ... and did not see it committed in time (RETRY) */
    uint64_t parked_ms;     /* their total wait */
} ingest_stats;

/* A configured token: the SHA-256 of the secret, and the instance it may
 * write ("" when not bound). */
typedef struct ingest_token {
    uint8_t sha256[32];
    char instance[256];
} ingest_token;

/* Parse "HEX" or "HEX=INSTANCE" (64 hex digits of the token's SHA-256). */
int ingest_token_parse(const char *spec, ingest_token *t, char *err, size_t errlen);

typedef struct ingest_options {
    int workers;                   /* contexts receiving in parallel (0: 1) */
    uint64_t max_message_bytes;    /* compressed message; 0: 64 MiB */
    uint64_t max_series_per_batch; /* 0: no limit */
    uint64_t max_label_count;      /* labels per series; 0: no limit */
    uint64_t max_label_length;     /* bytes of a label name or value; 0: no limit */
    const ingest_token *tokens;    /* copied; none: no authentication */
    size_t ntokens;
    /* tls+tcp:// URLs: certificate and key files; with tls_ca, clients
     * must present a certificate signed by it (mutual TLS). */
    const char *tls_cert, *tls_key, *tls_ca;
} ingest_options;

/* Listen on url (e.g. "tcp://127.0.0.1:7070", "tls+tcp://0.0.0.0:7070"). */
int ingest_start(const char *url, tsdb *db, const ingest_options *o, ingest **out, char *err,
                 size_t errlen);
void ingest_stop(ingest *in);
void ingest_get_stats(ingest *in, ingest_stats *st);
/* The port bound (useful with port 0), or 0. */
int ingest_port(ingest *in);
/* Append the rejection counters by reason, and the sessions' (UNKNOWN_BASE
 * replies, parked batches and their wait), to ms. */
void ingest_reject_metrics(ingest *in, metric_set *ms);

/* What the endpoint knows of one agent since it started. */
typedef struct ingest_agent {
    char agent_id[256];
    char instance[256]; /* from Hello's static labels, else the batches' */
    char version[64];
    char address[128]; /* remote address of its latest connection */
    int64_t last_seen_ms;
    uint64_t last_seq;
    uint64_t batches, samples, errors;
    int64_t newest_sample_ms; /* newest sample timestamp received (0: none) */
} ingest_agent;

/* A copy of the known agents, sorted by id (free() it). */
size_t ingest_agents(ingest *in, ingest_agent **out);

#endif
