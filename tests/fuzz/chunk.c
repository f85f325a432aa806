/*
 * chunk.c — libFuzzer target for the Gorilla chunk codec.
 *
 * Properties checked on every input (abort() on a violation):
 *  - decoding arbitrary bytes as a chunk never reads out of bounds and
 *    yields at most the count in its header;
 *  - the input read as (timestamp, value) pairs, made strictly increasing,
 *    encodes and decodes back bit-exact, with seek landing on the first
 *    sample at or after its target.
 */
#include "aggregator/tsdb/chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_any(const uint8_t *data, size_t size)
{
    chunk_iter it;
    chunk_iter_init(&it, data, size);
    size_t n = 0;
    while (chunk_iter_next(&it))
        n++;
    if (n > chunk_count(data, size))
        abort();
}

static void roundtrip(const uint8_t *data, size_t size)
{
    int64_t ts[CHUNK_MAX_SAMPLES];
    uint64_t vs[CHUNK_MAX_SAMPLES];
    size_t n = 0;
    for (size_t off = 0; off + 16 <= size && n < CHUNK_MAX_SAMPLES; off += 16) {
        int64_t t;
        memcpy(&t, data + off, 8);
        memcpy(&vs[n], data + off + 8, 8);
        if (n > 0 && t <= ts[n - 1])
            continue; /* the head only appends increasing timestamps */
        ts[n++] = t;
    }
    chunk_enc e;
    chunk_enc_init(&e);
    for (size_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, &vs[i], 8);
        chunk_append(&e, ts[i], v);
    }
    size_t len;
    const uint8_t *b = chunk_bytes(&e, &len);
    chunk_iter it;
    chunk_iter_init(&it, b, len);
    for (size_t i = 0; i < n; i++) {
        if (!chunk_iter_next(&it) || chunk_iter_t(&it) != ts[i])
            abort();
        double v = chunk_iter_v(&it);
        if (memcmp(&v, &vs[i], 8) != 0)
            abort();
    }
    if (chunk_iter_next(&it) || it.err)
        abort();
    if (n > 1) {
        chunk_iter_init(&it, b, len);
        int64_t target = ts[n / 2 - 1] + 1; /* just after its predecessor */
        if (!chunk_iter_seek(&it, target) || chunk_iter_t(&it) != ts[n / 2])
            abort();
    }
    chunk_enc_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_any(data, size);
    roundtrip(data, size);
    return 0;
}
