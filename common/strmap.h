/*
 * strmap.h — hash map from byte strings to uint64 values.
 *
 * Open addressing with linear probing; keys are copied.  Used for symbol
 * tables (string → index) and series caches (label-set key → series id).
 * Not thread-safe: callers lock.
 */
#ifndef EMBER_COMMON_STRMAP_H
#define EMBER_COMMON_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strmap_entry {
    char *key; /* NULL = empty slot */
    size_t klen;
    uint64_t hash;
    uint64_t value;
} strmap_entry;

typedef struct strmap {
    strmap_entry *slots;
    size_t cap; /* power of two */
    size_t len;
} strmap;

void strmap_init(strmap *m);
/* Leaves m zeroed; freeing a zeroed map is a no-op. */
void strmap_free(strmap *m);
bool strmap_get(const strmap *m, const void *key, size_t klen, uint64_t *value);
/* Insert or overwrite. */
void strmap_put(strmap *m, const void *key, size_t klen, uint64_t value);
/*
 * Make room for n keys in all: a put never grows the table while the map
 * holds fewer than n keys.  Reserving more than will be put keeps the
 * table sparse, which shortens the probes of lookups that miss.
 */
void strmap_reserve(strmap *m, size_t n);

#endif
