/*
 * wire_delta.h — batches compressed against a base batch both ends of a
 * connection hold: the shared symbol table of the wire.
 *
 * An agent sends much the same batch every interval: the same label sets,
 * symbols and metadata, often the same values.  Within one connection the
 * agent marks a batch "keep"; once the aggregator has acknowledged it, both
 * ends hold its raw (uncompressed) Envelope as the base, and later batches
 * are zstd-compressed with the base as prefix, so everything they repeat
 * costs a few bytes of match instead of its spelling.
 *
 * On the wire such a message is a zstd skippable frame (magic 0x184D2A5E,
 * 12 bytes: base seq u64 LE, flags u32 LE) followed by the zstd frame; a
 * message without it is self-contained, as every batch in the spool is:
 * bases live only in memory, per connection.  A reconnect or an aggregator
 * restart starts a connection without bases (Hello negotiates the feature
 * again); a batch naming a base the aggregator does not hold gets an Ack
 * UNKNOWN_BASE, and the agent resends it self-contained.
 */
#ifndef EMBER_PROTO_WIRE_DELTA_H
#define EMBER_PROTO_WIRE_DELTA_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_FEATURE_DELTA 1u    /* Hello/Ack features: bases understood */
#define WIRE_DELTA_KEEP 1u       /* flags: keep this batch as a base */
#define WIRE_MAX_BASE (4u << 20) /* a larger batch is never kept */
#define WIRE_DELTA_HEADER 20     /* bytes of the skippable frame */
#define WIRE_BASE_EVERY 32       /* the agent keeps a new base this many seqs on */

/* A base: one batch's raw Envelope, seq 0 = none. */
typedef struct wire_base {
    uint64_t seq;
    uint8_t *raw;
    size_t len;
} wire_base;

void wire_base_set(wire_base *b, uint64_t seq, const uint8_t *raw, size_t len);
void wire_base_clear(wire_base *b);

/*
 * Encode a raw Envelope for the wire: compressed against base (NULL or
 * seq 0: self-contained), flags WIRE_DELTA_KEEP or 0, and after_seq (0:
 * none) added to the Envelope.  Without base, flags and after_seq the
 * result is exactly a self-contained message.  sent (may be NULL) gets the
 * raw bytes compressed, after_seq included: what the receiver keeps as its
 * base (its seq is left as the caller set it).
 */
void wire_delta_encode(ebuf *out, const uint8_t *raw, size_t rawlen, const wire_base *base,
                       uint32_t flags, uint64_t after_seq, wire_base *sent);

/* The header of a message: 1 (base_seq and flags set; *frame = offset of
 * the zstd frame), 0 (self-contained: base_seq = flags = 0, *frame = 0) or
 * -1 (a truncated header, err set). */
int wire_delta_header(const void *msg, size_t len, uint64_t *base_seq, uint32_t *flags,
                      size_t *frame, char *err, size_t errlen);

#endif
