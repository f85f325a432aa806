/* strmap.c — open-addressing string → uint64 map (see strmap.h). */
#include "common/strmap.h"

#include "common/hash.h"
#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

void strmap_init(strmap *m)
{
    m->cap = 16;
    m->len = 0;
    m->slots = em_calloc(m->cap, sizeof(strmap_entry));
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}

static strmap_entry *find_slot(strmap_entry *slots, size_t cap, const void *key, size_t klen,
                               uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        strmap_entry *e = &slots[i];
        if (!e->key || (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static uint64_t key_hash(const void *key, size_t klen)
{
    return hash_finish(hash_bytes(HASH_SEED, key, klen));
}

bool strmap_get(const strmap *m, const void *key, size_t klen, uint64_t *value)
{
    strmap_entry *e = find_slot(m->slots, m->cap, key, klen, key_hash(key, klen));
    if (!e->key)
        return false;
    if (value)
        *value = e->value;
    return true;
}

/* Move every entry into a fresh table of ncap slots. */
static void rehash(strmap *m, size_t ncap)
{
    strmap_entry *ns = em_calloc(ncap, sizeof(strmap_entry));
    for (size_t i = 0; i < m->cap; i++) {
        strmap_entry *e = &m->slots[i];
        if (e->key)
            *find_slot(ns, ncap, e->key, e->klen, e->hash) = *e;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
}

void strmap_put(strmap *m, const void *key, size_t klen, uint64_t value)
{
    /* Keep the load factor under 3/4 so probes stay short. */
    if ((m->len + 1) * 4 > m->cap * 3)
        rehash(m, m->cap * 2);
    uint64_t h = key_hash(key, klen);
    strmap_entry *e = find_slot(m->slots, m->cap, key, klen, h);
    if (!e->key) {
        e->key = em_malloc(klen ? klen : 1);
        memcpy(e->key, key, klen);
        e->klen = klen;
        e->hash = h;
        m->len++;
    }
    e->value = value;
}

void strmap_reserve(strmap *m, size_t n)
{
    size_t ncap = m->cap;
    while (n * 4 > ncap * 3)
        ncap *= 2;
    if (ncap != m->cap)
        rehash(m, ncap);
}
