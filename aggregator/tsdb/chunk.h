/*
 * chunk.h — Gorilla-style sample chunks: delta-of-delta timestamps and
 * XOR-compressed float values, as in Facebook's Gorilla paper and
 * Prometheus's XOR chunks.
 *
 * Layout: a 2-byte big-endian sample count, then a bit stream.  The first
 * timestamp is a zig-zag varint, every later one a delta of deltas in one of
 * five buckets ('0', '10'+14 bits, '110'+17, '1110'+20, '1111'+64).  The first
 * value is 64 raw bits; later ones are XORed with their predecessor: '0' when
 * equal, '10' + the meaningful bits when they fit the previous window, '11' +
 * 5 bits of leading zeros + 6 bits of length + the bits otherwise.  Values
 * are stored as bit patterns, so every NaN payload (the staleness marker
 * among them) and ±Inf come back exactly.  Timestamp arithmetic wraps
 * modulo 2^64, so any int64 sequence (negative, huge jumps) round-trips.
 *
 * A chunk holds at most CHUNK_MAX_SAMPLES samples and timestamps only grow
 * within it; the head cuts a new one when it is full.
 */
#ifndef EMBER_TSDB_CHUNK_H
#define EMBER_TSDB_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK_MAX_SAMPLES 120

typedef struct chunk_enc {
    uint8_t *b;     /* b[0..1] = count, bit stream after */
    size_t nbits;   /* bits written, counting the 16-bit header */
    size_t cap;     /* bytes allocated */
    uint16_t n;     /* samples */
    int64_t t;      /* last timestamp */
    uint64_t delta; /* last timestamp delta (mod 2^64) */
    uint64_t v;     /* last value bits */
    uint8_t lead, trail;
    uint8_t accbits; /* bits in acc, not yet in b (the last, partial word) */
    uint64_t acc;
    int64_t mint;
} chunk_enc;

void chunk_enc_init(chunk_enc *e);
void chunk_enc_free(chunk_enc *e);
/* Append a sample; t must be above the last one and n < CHUNK_MAX_SAMPLES. */
void chunk_append(chunk_enc *e, int64_t t, double v);
/* The chunk's bytes as they stand (valid until the next append): writes the
 * count and the bits still in the accumulator into the buffer. */
const uint8_t *chunk_bytes(chunk_enc *e, size_t *len);

typedef struct chunk_iter {
    const uint8_t *b;
    size_t nbits, pos;
    uint16_t n, i; /* samples in the chunk, samples read so far */
    int64_t t;
    uint64_t delta, v;
    uint8_t lead, trail;
    bool err; /* the chunk is malformed */
} chunk_iter;

/* Iterate over len bytes (not copied: they must outlive the iterator). */
void chunk_iter_init(chunk_iter *it, const uint8_t *b, size_t len);
/* Move to the next sample; false at the end or on malformed input (err). */
bool chunk_iter_next(chunk_iter *it);
/* Move to the first sample with timestamp >= t, never backwards; false if none. */
bool chunk_iter_seek(chunk_iter *it, int64_t t);
/* The current sample (after next/seek returned true). */
int64_t chunk_iter_t(const chunk_iter *it);
double chunk_iter_v(const chunk_iter *it);
/* Samples in a chunk's bytes (0 if too short). */
uint16_t chunk_count(const uint8_t *b, size_t len);

#endif
