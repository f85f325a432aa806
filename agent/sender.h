/*
 * sender.h — delivers the spooled batches to the aggregator over nng
 * REQ/REP, strictly in seq order.
 *
 * Batches go to the disk spool first (spool.h) and leave it only on an Ack:
 * OK, or REJECTED, which is logged and counted because resending cannot
 * help.  While the aggregator is unreachable they wait on disk, across agent
 * restarts too; the spool's bound decides what an endless outage costs.
 */
#ifndef EMBER_AGENT_SENDER_H
#define EMBER_AGENT_SENDER_H

#include "agent/spool.h"
#include "common/buf.h"
#include "common/labels.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sender sender;

typedef struct sender_stats {
    uint64_t acked;
    uint64_t rejected;
    uint64_t failed_attempts;
    uint64_t spool_errors;  /* batches that could not be spooled (disk full, reject mode) */
    uint64_t failovers;     /* switches to the next aggregator address */
    uint64_t auth_rejected; /* Hellos the aggregator refused (invalid token) */
    spool_stats spool;
} sender_stats;

typedef struct sender_options {
    int64_t timeout_ms; /* of one exchange */
    const char *token;  /* sent in Hello; NULL: none */
    /* tls+tcp:// addresses: the CA that signed the aggregator's certificate,
     * the DNS name to verify it against, and our own certificate and key
     * for mutual TLS (optional). */
    const char *tls_ca, *tls_server_name, *tls_cert, *tls_key;
} sender_options;

/*
 * urls: one aggregator address, or several separated by commas in failover
 * order; when the one in use does not answer, the next is tried.  Dials in
 * the background (the aggregator may be down at start); the spool stays the
 * caller's.  A refused token (REJECTED Hello) is logged as an error and
 * counted; the batches stay spooled, since no other agent can send them.
 */
int sender_open(const char *urls, const char *agent_id, const labelset *static_labels,
                const sender_options *o, spool *sp, sender **out, char *err, size_t errlen);
void sender_close(sender *s);
/* Spool an encoded Envelope of nsamples samples with the given seq. */
int sender_enqueue(sender *s, const ebuf *msg, uint64_t seq, uint32_t nsamples);
/* Send spooled batches in order until none is left or a send fails.
 * Returns the number of batches still waiting. */
size_t sender_flush(sender *s);
void sender_get_stats(sender *s, sender_stats *st);
/* The aggregator address in use. */
const char *sender_current_url(const sender *s);

#endif
