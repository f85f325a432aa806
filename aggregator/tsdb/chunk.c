/*
 * chunk.c — Gorilla encoder and iterator (format in chunk.h).
 *
 * Bits are written most significant first into bytes.  The reader checks
 * every read against the chunk's length: chunks come from disk and from the
 * fuzzer, and a bad one must end iteration, not read past the buffer.
 */
#include "aggregator/tsdb/chunk.h"

#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

#define HEADER_BITS 16

void chunk_enc_init(chunk_enc *e)
{
    memset(e, 0, sizeof *e);
    e->cap = 32;
    e->b = em_calloc(1, e->cap);
    e->nbits = HEADER_BITS; /* the count, kept in the accumulator until full */
    e->accbits = HEADER_BITS;
}

void chunk_enc_free(chunk_enc *e)
{
    free(e->b);
    memset(e, 0, sizeof *e);
}

/* Bits collect in a 64-bit accumulator inside the encoder (in the series'
 * cache lines already); a full word goes to the buffer with one store, no
 * load: the head's buffer, touched once per 64 bits, is seldom in cache.
 * The bytes of the partial word are written out by chunk_bytes. */
static void flush_word(chunk_enc *e, size_t at, uint64_t w)
{
    if (at + 16 > e->cap) { /* this word and the partial one after it */
        e->cap = (at + 16) * 3 / 2;
        e->b = em_realloc(e->b, e->cap);
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(e->b + at, &w, 8);
}

/* The low nbits (1..64) of v. */
static inline void put_bits(chunk_enc *e, uint64_t v, unsigned nbits)
{
    if (nbits < 64)
        v &= (1ULL << nbits) - 1;
    unsigned room = 64u - e->accbits;
    e->nbits += nbits;
    if (nbits < room) {
        e->acc = (e->acc << nbits) | v;
        e->accbits = (uint8_t)(e->accbits + nbits);
        return;
    }
    unsigned rest = nbits - room; /* bits left over for the next word */
    size_t at = (e->nbits - rest) / 8 - 8;
    flush_word(e, at, room == 64 ? v : (e->acc << room) | (v >> rest));
    e->acc = rest ? v & ((1ULL << rest) - 1) : 0;
    e->accbits = (uint8_t)rest;
}

static void put_varint(chunk_enc *e, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zig-zag */
    do {
        uint8_t byte = (uint8_t)(z & 0x7f);
        z >>= 7;
        put_bits(e, byte | (z ? 0x80u : 0u), 8);
    } while (z);
}

/* Delta-of-delta buckets: prefix bits, then a two's-complement field. */
static void put_dod(chunk_enc *e, uint64_t dod)
{
    int64_t d = (int64_t)dod;
    if (d == 0)
        put_bits(e, 0, 1);
    else if (d >= -(1 << 13) && d < (1 << 13))
        put_bits(e, 0x2, 2), put_bits(e, dod & 0x3fff, 14);
    else if (d >= -(1 << 16) && d < (1 << 16))
        put_bits(e, 0x6, 3), put_bits(e, dod & 0x1ffff, 17);
    else if (d >= -(1 << 19) && d < (1 << 19))
        put_bits(e, 0xe, 4), put_bits(e, dod & 0xfffff, 20);
    else
        put_bits(e, 0xf, 4), put_bits(e, dod, 64);
}

static void put_xor(chunk_enc *e, uint64_t vbits)
{
    uint64_t x = vbits ^ e->v;
    if (x == 0) {
        put_bits(e, 0, 1);
        return;
    }
    unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
    if (lead > 31)
        lead = 31; /* 5 bits */
    if (e->n > 1 && lead >= e->lead && trail >= e->trail) {
        put_bits(e, 0x2, 2);
        put_bits(e, x >> e->trail, 64 - e->lead - e->trail);
        return;
    }
    unsigned sig = 64 - lead - trail;
    put_bits(e, 0x3, 2);
    put_bits(e, lead, 5);
    put_bits(e, sig & 63, 6); /* 64 is written as 0 */
    put_bits(e, x >> trail, sig);
    e->lead = (uint8_t)lead;
    e->trail = (uint8_t)trail;
}

void chunk_append(chunk_enc *e, int64_t t, double v)
{
    uint64_t vbits;
    memcpy(&vbits, &v, 8);
    if (e->n == 0) {
        put_varint(e, t);
        put_bits(e, vbits, 64);
        e->mint = t;
    } else {
        uint64_t delta = (uint64_t)t - (uint64_t)e->t;
        put_dod(e, delta - e->delta);
        e->delta = delta;
        put_xor(e, vbits);
    }
    e->t = t;
    e->v = vbits;
    e->n++;
}

const uint8_t *chunk_bytes(chunk_enc *e, size_t *len)
{
    size_t at = (e->nbits - e->accbits) / 8;
    *len = (e->nbits + 7) / 8;
    if (e->accbits) { /* the partial word, left-aligned (its own bytes only) */
        uint8_t w[8];
        uint64_t v = e->acc << (64 - e->accbits);
        for (unsigned i = 0; i < 8; i++)
            w[i] = (uint8_t)(v >> (56 - 8 * i));
        memcpy(e->b + at, w, *len - at); /* flush_word keeps 8 bytes of room */
    }
    e->b[0] = (uint8_t)(e->n >> 8);
    e->b[1] = (uint8_t)e->n;
    return e->b;
}

uint16_t chunk_count(const uint8_t *b, size_t len)
{
    return len < 2 ? 0 : (uint16_t)((b[0] << 8) | b[1]);
}

void chunk_iter_init(chunk_iter *it, const uint8_t *b, size_t len)
{
    memset(it, 0, sizeof *it);
    it->b = b;
    it->nbits = len * 8;
    it->pos = HEADER_BITS;
    it->n = chunk_count(b, len);
}

static bool get_bits(chunk_iter *it, unsigned nbits, uint64_t *out)
{
    if (it->pos + nbits > it->nbits) {
        it->err = true;
        return false;
    }
    uint64_t v = 0;
    while (nbits > 0) {
        size_t byte = it->pos / 8;
        unsigned avail = 8 - (unsigned)(it->pos % 8);
        unsigned take = nbits < avail ? nbits : avail;
        uint8_t bits = (uint8_t)((it->b[byte] >> (avail - take)) & ((1u << take) - 1));
        v = (take == 64 ? 0 : v << take) | bits;
        it->pos += take;
        nbits -= take;
    }
    *out = v;
    return true;
}

static bool get_varint(chunk_iter *it, int64_t *out)
{
    uint64_t z = 0, byte;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (!get_bits(it, 8, &byte))
            return false;
        z |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return true;
        }
    }
    it->err = true;
    return false;
}

static uint64_t sign_extend(uint64_t v, unsigned bits)
{
    uint64_t m = 1ULL << (bits - 1);
    return (v ^ m) - m;
}

static bool get_dod(chunk_iter *it, uint64_t *dod)
{
    static const unsigned widths[] = {14, 17, 20, 64};
    uint64_t bit;
    unsigned bucket = 0;
    for (; bucket < 4; bucket++) {
        if (!get_bits(it, 1, &bit))
            return false;
        if (!bit)
            break;
    }
    if (bucket == 0) {
        *dod = 0;
        return true;
    }
    unsigned w = widths[bucket - 1];
    if (!get_bits(it, w, dod))
        return false;
    if (w < 64)
        *dod = sign_extend(*dod, w);
    return true;
}

static bool get_xor(chunk_iter *it)
{
    uint64_t bit, x;
    if (!get_bits(it, 1, &bit))
        return false;
    if (!bit)
        return true;
    if (!get_bits(it, 1, &bit))
        return false;
    if (bit) {
        uint64_t lead, sig;
        if (!get_bits(it, 5, &lead) || !get_bits(it, 6, &sig))
            return false;
        if (sig == 0)
            sig = 64;
        if (lead + sig > 64) {
            it->err = true;
            return false;
        }
        it->lead = (uint8_t)lead;
        it->trail = (uint8_t)(64 - lead - sig);
    }
    unsigned sig = 64u - it->lead - it->trail;
    if (sig == 0 || !get_bits(it, sig, &x)) {
        it->err = true;
        return false;
    }
    it->v ^= x << it->trail;
    return true;
}

bool chunk_iter_next(chunk_iter *it)
{
    if (it->err || it->i >= it->n)
        return false;
    if (it->i == 0) {
        if (!get_varint(it, &it->t) || !get_bits(it, 64, &it->v))
            return false;
    } else {
        uint64_t dod;
        if (!get_dod(it, &dod))
            return false;
        it->delta += dod;
        it->t = (int64_t)((uint64_t)it->t + it->delta);
        if (!get_xor(it))
            return false;
    }
    it->i++;
    return true;
}

bool chunk_iter_seek(chunk_iter *it, int64_t t)
{
    if (it->i > 0 && it->t >= t)
        return true;
    while (chunk_iter_next(it))
        if (it->t >= t)
            return true;
    return false;
}

int64_t chunk_iter_t(const chunk_iter *it)
{
    return it->t;
}

double chunk_iter_v(const chunk_iter *it)
{
    double d;
    memcpy(&d, &it->v, 8);
    return d;
}
