/*
 * wire.h — the agent ↔ aggregator messages on the wire (proto/ember.proto).
 *
 * A request is an Envelope (Hello or Batch), protobuf-packed then
 * zstd-compressed.  A reply is an Ack, protobuf-packed, uncompressed.  The
 * encoder builds the Batch symbol table so each distinct string is sent once
 * per batch; the decoder refuses anything malformed with a reason the
 * aggregator can put in a REJECTED Ack: it never trusts sizes, indexes or
 * strings from the network.
 */
#ifndef EMBER_PROTO_WIRE_H
#define EMBER_PROTO_WIRE_H

#include "common/buf.h"
#include "common/expfmt.h"
#include "common/labels.h"
#include "proto/ember.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest decompressed Envelope we accept (a batch of ~1M samples). */
#define WIRE_MAX_MESSAGE (64u << 20)

/* Encode a Batch of all samples in ms.  Samples without a timestamp get
 * default_ts_ms.  Appends the compressed Envelope to out. */
void wire_encode_batch(ebuf *out, const char *agent_id, uint64_t seq, const metric_set *ms,
                       int64_t default_ts_ms);
/* Encode a Hello. static_labels may be NULL. */
void wire_encode_hello(ebuf *out, const char *agent_id, const char *version,
                       const labelset *static_labels, const char *token);
/* The same, offering the WIRE_FEATURE_* bits (wire_delta.h) the agent can use. */
void wire_encode_hello_features(ebuf *out, const char *agent_id, const char *version,
                                const labelset *static_labels, const char *token,
                                uint32_t features);

/*
 * Decompress and unpack an Envelope and check it is well-formed (known body,
 * symbol references in range, label pairs complete, valid names, UTF-8,
 * no duplicate labels).  Returns the Envelope (free with
 * wire_envelope_free) or NULL with err set.
 */
Ember__Envelope *wire_decode_envelope(const void *msg, size_t len, char *err, size_t errlen);
void wire_envelope_free(Ember__Envelope *env);
/* The same from the raw (decompressed) protobuf. */
Ember__Envelope *wire_decode_raw(const uint8_t *raw, size_t rawlen, char *err, size_t errlen);

/* zstd of raw appended to out.  prefix (may be NULL): content both ends
 * hold, which matches may refer to (wire_delta.h). */
void wire_compress(ebuf *out, const void *raw, size_t rawlen, const void *prefix, size_t prefixlen);
/* One zstd frame decompressed (malloc'd; *outlen set), with the same
 * prefix as its compression, within WIRE_MAX_MESSAGE; NULL with err set. */
uint8_t *wire_decompress(const void *msg, size_t len, const void *prefix, size_t prefixlen,
                         size_t *outlen, char *err, size_t errlen);
/* Label set of series i of a decoded (checked) batch, sorted. */
void wire_series_labels(const Ember__Batch *b, size_t i, labelset *out);

void wire_encode_ack(ebuf *out, uint64_t seq, Ember__Ack__Status status, const char *reason,
                     uint64_t samples_applied);
/* The same with features: the aggregator's reply to a Hello says which of
 * the offered WIRE_FEATURE_* bits both ends use. */
void wire_encode_ack_features(ebuf *out, uint64_t seq, Ember__Ack__Status status,
                              const char *reason, uint64_t samples_applied, uint32_t features);
/* Returns the Ack (free with ember__ack__free_unpacked(a, NULL)) or NULL. */
Ember__Ack *wire_decode_ack(const void *msg, size_t len);

/* True for a tls+tcp:// URL. */
bool wire_url_is_tls(const char *url);

/*
 * TLS settings of one end of a tls+tcp:// connection, from PEM files.
 * Server: cert and key required; with ca, clients must present a
 * certificate it signed (mutual TLS).  Client: ca verifies the server
 * (required), server_name is the DNS name checked against its certificate
 * (mbed TLS ignores IP SANs), cert and key are optional (mutual TLS).
 */
typedef struct wire_tls {
    const char *ca, *cert, *key, *server_name;
} wire_tls;
/* Build an nng_tls_config (an opaque pointer, free with
 * nng_tls_config_free) or NULL with err set. */
void *wire_tls_config(const wire_tls *t, bool server, char *err, size_t errlen);

#endif
