/*
 * sender.h — delivers the spooled batches to the aggregator over nng
 * REQ/REP, in seq order, several batches in flight.
 *
 * Batches go to the disk spool first (spool.h) and leave it only on an Ack:
 * OK, or REJECTED, which is logged and counted because resending cannot
 * help.  While the aggregator is unreachable they wait on disk, across agent
 * restarts too; the spool's bound decides what an endless outage costs.
 *
 * Two ways to drive it: sender_start() runs a sending thread that wakes on
 * every enqueue and, after a failed attempt, waits an exponential backoff
 * with full jitter (backoff.h) before the next; the collection loop never
 * waits for the network.  sender_flush() is the same work done once, in
 * the caller's thread, without waiting between attempts (tests, tools).
 * Up to max_in_flight batches are outstanding, each on its own REQ
 * context and naming the one sent before it (after_seq), so the aggregator
 * applies them in seq order; when the oldest is not acknowledged, all of
 * them are resent in seq order.  Batches travel compressed against a base
 * batch of the connection (proto/wire_delta.h) when the aggregator agrees.
 * Every batch is bounded by the per-batch timeout (connect, send and Ack
 * together).  A failed attempt abandons the connection: the next one dials
 * afresh, on the next address when there are several (failover), so a
 * half-dead TCP connection after a cut link is never waited on.
 */
#ifndef EMBER_AGENT_SENDER_H
#define EMBER_AGENT_SENDER_H

#include "common/buf.h"
#include "common/labels.h"
#include "common/spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sender sender;

/* Why an attempt failed; each reason is counted. */
typedef enum send_error {
    SEND_ERR_UNREACHABLE, /* no connection to the aggregator within the timeout */
    SEND_ERR_TIMEOUT,     /* connected, but no Ack within the timeout */
    SEND_ERR_CONNECTION,  /* the connection broke during the exchange */
    SEND_ERR_RETRY,       /* the aggregator could not commit the batch: resent */
    SEND_ERR_REJECTED,    /* the aggregator refused the batch for good: dropped */
    SEND_ERR_AUTH,        /* the aggregator refused the Hello (token) */
    SEND_ERR_BAD_ACK,     /* the reply was not an Ack */
    SEND_ERR_SPOOL,       /* the spool could not be read */
    SEND_ERR_COUNT
} send_error;

/* "unreachable", "timeout", ...: the reason label of the error counter. */
const char *sender_error_name(send_error e);

typedef struct sender_stats {
    uint64_t acked;
    uint64_t rejected;
    uint64_t failed_attempts;
    uint64_t resends;       /* batches sent again after a failed attempt */
    uint64_t spool_errors;  /* batches that could not be spooled (disk full, reject mode) */
    uint64_t failovers;     /* switches to the next aggregator address */
    uint64_t auth_rejected; /* Hellos the aggregator refused (invalid token) */
    uint64_t errors[SEND_ERR_COUNT];
    unsigned in_flight;      /* batches sent and not yet answered */
    unsigned max_in_flight;  /* the window: at most this many in flight */
    uint64_t unknown_base;   /* batches resent whole: the aggregator lost the session's base */
    int reachable;           /* 1 yes, 0 no, -1 not known yet */
    int64_t last_success_ms; /* wall clock of the last Ack OK; 0 = never */
    /* batches the spool dropped while they were on the wire, acknowledged
     * after all: not counted in spool.dropped_* (they were not lost) */
    uint64_t delivered_after_drop, delivered_after_drop_samples;
    spool_stats spool; /* dropped_*: what was really lost */
} sender_stats;

#define SENDER_MAX_IN_FLIGHT 64 /* a larger window is cut to this */

typedef struct sender_options {
    int64_t timeout_ms;     /* of one attempt: connect, send and Ack */
    int64_t min_backoff_ms; /* first wait after a failure; 0: 100 ms */
    int64_t max_backoff_ms; /* the wait's ceiling; 0: 5 s */
    uint64_t seed;          /* of the jitter; 0: from the clock */
    unsigned max_in_flight; /* batches sent before the oldest is answered; 0: 4,
                             * at most SENDER_MAX_IN_FLIGHT */
    const char *token;      /* sent in Hello; NULL: none */
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
/* Stops the sending thread if started (an exchange in progress is
 * abandoned; its batch stays spooled), then frees. */
void sender_close(sender *s);
/* Start the sending thread.  0, or -1 with err set. */
int sender_start(sender *s, char *err, size_t errlen);
/* Spool an encoded Envelope of nsamples samples with the given seq, and
 * wake the sending thread. */
int sender_enqueue(sender *s, const ebuf *msg, uint64_t seq, uint32_t nsamples);
/* Without the thread: send spooled batches in order until none is left or
 * an attempt fails.  Returns the number of batches still waiting. */
size_t sender_flush(sender *s);
void sender_get_stats(sender *s, sender_stats *st);
/* The aggregator address in use (valid until the next failover). */
const char *sender_current_url(sender *s);

#endif
