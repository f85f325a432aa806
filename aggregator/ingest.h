/*
 * ingest.h — the aggregator's nng REP endpoint for agent batches.
 *
 * Several nng contexts receive in parallel; each decodes an Envelope,
 * commits a Batch to the tsdb (atomically with the agent's seq) and only
 * then replies Ack OK.  Samples the store refuses (invalid labels, outside
 * retention, the agent's series limit) are counted and named in the OK
 * Ack's reason; the rest of the batch is kept.  Malformed messages get a REJECTED Ack with the
 * reason and are counted; storage failures get RETRY.  Nothing a client sends
 * can stop the endpoint.
 */
#ifndef EMBER_AGGREGATOR_INGEST_H
#define EMBER_AGGREGATOR_INGEST_H

#include "aggregator/tsdb/tsdb.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ingest ingest;

typedef struct ingest_stats {
    uint64_t batches_ok;
    uint64_t batches_duplicate;
    uint64_t batches_rejected;
    uint64_t batches_failed; /* storage errors, answered with RETRY */
    uint64_t hellos;
    uint64_t samples;
    uint64_t samples_rejected; /* refused samples of accepted batches (reason in the Ack) */
    uint64_t bytes;
} ingest_stats;

/* Listen on url (e.g. "tcp://127.0.0.1:7070") with `workers` contexts. */
int ingest_start(const char *url, tsdb *db, int workers, ingest **out, char *err, size_t errlen);
void ingest_stop(ingest *in);
void ingest_get_stats(ingest *in, ingest_stats *st);

#endif
