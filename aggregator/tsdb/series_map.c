/*
 * series_map.c — canonical label key → series id, the lookup every append
 * makes (see tsdb_int.h).
 *
 * The map keeps only (hash, id) per slot: the key itself lives once, in the
 * series (memseries.key), and a hit is confirmed against it.  The hash reads
 * the key eight bytes at a time: keys are ~100 bytes and this lookup is the
 * largest per-sample cost of the append path, where a byte-at-a-time hash
 * was the single biggest item of the profile.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/hash.h"
#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

#define MIX 0x9e3779b97f4a7c15ULL

uint64_t series_key_hash(const char *k, size_t n)
{
    uint64_t h = HASH_SEED ^ (n * MIX);
    for (; n >= 8; k += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        h = (h ^ w) * MIX;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, k, n);
    return hash_finish((h ^ w) * MIX);
}

void series_map_free(series_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static void insert(series_map *m, uint64_t h, uint64_t id)
{
    size_t i = h & (m->cap - 1);
    while (m->slots[i].id)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = (series_slot_t){h, id};
}

void series_map_put(series_map *m, uint64_t h, uint64_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        series_slot_t *old = m->slots;
        size_t oldcap = m->cap;
        m->cap = oldcap ? oldcap * 2 : 1024;
        m->slots = em_calloc(m->cap, sizeof *m->slots);
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].id)
                insert(m, old[i].hash, old[i].id);
        free(old);
    }
    insert(m, h, id);
    m->n++;
}

bool series_map_get(const series_map *m, memseries *const *series, const char *k, size_t n,
                    uint64_t *id)
{
    if (!m->cap)
        return false;
    uint64_t h = series_key_hash(k, n);
    for (size_t i = h & (m->cap - 1); m->slots[i].id; i = (i + 1) & (m->cap - 1)) {
        const memseries *s = series[m->slots[i].id];
        if (m->slots[i].hash == h && s && s->klen == n && memcmp(s->key, k, n) == 0) {
            *id = m->slots[i].id;
            return true;
        }
    }
    return false;
}
