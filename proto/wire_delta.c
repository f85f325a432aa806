/*
 * wire_delta.c — the skippable-frame header and compression against a base
 * (see wire_delta.h).
 */
#include "proto/wire_delta.h"

#include "common/mem.h"
#include "proto/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIPPABLE_MAGIC 0x184D2A5Eu
#define HEADER_PAYLOAD 12u

void wire_base_set(wire_base *b, uint64_t seq, const uint8_t *raw, size_t len)
{
    wire_base_clear(b);
    b->raw = em_malloc(len ? len : 1);
    memcpy(b->raw, raw, len);
    b->len = len;
    b->seq = seq;
}

void wire_base_clear(wire_base *b)
{
    free(b->raw);
    *b = (wire_base){0};
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Envelope field 3 (after_seq, varint) appended: protobuf merges it. */
static size_t append_after_seq(uint8_t *p, uint64_t seq)
{
    size_t n = 0;
    p[n++] = 3 << 3;
    do {
        p[n++] = (uint8_t)((seq & 0x7f) | (seq > 0x7f ? 0x80 : 0));
        seq >>= 7;
    } while (seq);
    return n;
}

void wire_delta_encode(ebuf *out, const uint8_t *raw, size_t rawlen, const wire_base *base,
                       uint32_t flags, uint64_t after_seq, wire_base *sent)
{
    bool with_base = base && base->seq;
    if (with_base || flags) {
        uint8_t h[WIRE_DELTA_HEADER];
        put_le(h, SKIPPABLE_MAGIC, 4);
        put_le(h + 4, HEADER_PAYLOAD, 4);
        put_le(h + 8, with_base ? base->seq : 0, 8);
        put_le(h + 16, flags, 4);
        ebuf_append(out, h, sizeof h);
    }
    const uint8_t *src = raw;
    uint8_t *tmp = NULL;
    if (after_seq) {
        tmp = em_malloc(rawlen + 11);
        memcpy(tmp, raw, rawlen);
        rawlen += append_after_seq(tmp + rawlen, after_seq);
        src = tmp;
    }
    wire_compress(out, src, rawlen, with_base ? base->raw : NULL, with_base ? base->len : 0);
    if (sent) /* exactly what the receiver decompresses: its base if kept */
        wire_base_set(sent, sent->seq, src, rawlen);
    free(tmp);
}

int wire_delta_header(const void *msg, size_t len, uint64_t *base_seq, uint32_t *flags,
                      size_t *frame, char *err, size_t errlen)
{
    const uint8_t *p = msg;
    *base_seq = 0;
    *flags = 0;
    *frame = 0;
    if (len < 4 || get_le(p, 4) != SKIPPABLE_MAGIC)
        return 0;
    if (len < WIRE_DELTA_HEADER || get_le(p + 4, 4) != HEADER_PAYLOAD) {
        snprintf(err, errlen, "truncated or unknown delta header (%zu bytes)", len);
        return -1;
    }
    *base_seq = get_le(p + 8, 8);
    *flags = (uint32_t)get_le(p + 16, 4);
    *frame = WIRE_DELTA_HEADER;
    return 1;
}
