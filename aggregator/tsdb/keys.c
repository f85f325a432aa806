/*
 * keys.c — encoding of the store's RocksDB keys (layout in tsdb_int.h) and
 * the sorted partition sets kept beside them.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/mem.h"

#include <string.h>

uint64_t be64_get(const void *p)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

void be64_put(void *p, uint64_t v)
{
    unsigned char *b = p;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
}

uint64_t flip64(int64_t v)
{
    return (uint64_t)v ^ (1ULL << 63);
}

int64_t unflip64(uint64_t v)
{
    return (int64_t)(v ^ (1ULL << 63));
}

int64_t partition_of(const tsdb *db, int64_t t)
{
    int64_t p = db->o.partition_ms;
    int64_t q = t / p;
    return (t % p < 0) ? q - 1 : q; /* floor, also for negative times */
}

void chunk_key(char out[CHUNK_KEY_LEN], int64_t part, uint64_t id, int64_t mint, uint64_t wseq)
{
    out[0] = KEY_CHUNK;
    be64_put(out + 1, flip64(part));
    be64_put(out + 9, id);
    be64_put(out + 17, flip64(mint));
    be64_put(out + 25, wseq);
}

void posting_key(ebuf *k, const label *l, uint64_t id)
{
    ebuf_reset(k);
    ebuf_putc(k, KEY_POSTING);
    ebuf_append(k, l->name, strlen(l->name) + 1);
    ebuf_append(k, l->value, strlen(l->value) + 1);
    ebuf_put_be64(k, id);
}

/* Insert v into a sorted set unless present. */
static void set_insert(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    size_t i = *n;
    while (i > 0 && (*v)[i - 1] > x)
        i--;
    if (i > 0 && (*v)[i - 1] == x)
        return;
    EM_GROW(*v, *cap, *n + 1);
    memmove(*v + i + 1, *v + i, (*n - i) * sizeof(int64_t));
    (*v)[i] = x;
    (*n)++;
}

void parts_note(tsdb *db, int64_t part)
{
    set_insert(&db->parts, &db->nparts, &db->capparts, part);
}

void dirty_note(tsdb *db, int64_t part)
{
    set_insert(&db->dirty, &db->ndirty, &db->capdirty, part);
}

void aged_note(tsdb *db, int64_t part)
{
    set_insert(&db->aged, &db->naged, &db->capaged, part);
}
