/*
 * sender.h — delivers encoded batches to the aggregator over nng REQ/REP.
 *
 * First cut of the delivery path: batches wait in a bounded in-memory queue,
 * are sent strictly in seq order, one at a time, and leave the queue only on
 * an Ack (OK, or REJECTED which is logged and counted: resending cannot
 * help).  When the aggregator is unreachable the queue holds the batches
 * until it is back; when the queue is full the oldest batch is dropped and
 * counted.  The disk spool (delivery issue) replaces the in-memory queue.
 */
#ifndef EMBER_AGENT_SENDER_H
#define EMBER_AGENT_SENDER_H

#include "common/buf.h"
#include "common/labels.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sender sender;

typedef struct sender_stats {
    uint64_t acked;
    uint64_t rejected;
    uint64_t failed_attempts;
    uint64_t dropped;
    uint64_t queued;
} sender_stats;

/* Dials url in the background (the aggregator may be down at start). */
int sender_open(const char *url, const char *agent_id, const labelset *static_labels,
                int64_t timeout_ms, size_t max_queue, sender **out, char *err, size_t errlen);
void sender_close(sender *s);
/* Take ownership of an encoded Envelope with the given seq. */
void sender_enqueue(sender *s, ebuf *msg, uint64_t seq);
/* Send queued batches in order until the queue is empty or a send fails.
 * Returns the number of batches still queued. */
size_t sender_flush(sender *s);
void sender_get_stats(sender *s, sender_stats *st);

#endif
