/*
 * hash.h — 64-bit non-cryptographic hashing (FNV-1a with a final mix).
 * Used for label-set hashes and hash tables; never for security.
 */
#ifndef EMBER_COMMON_HASH_H
#define EMBER_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SEED 0xcbf29ce484222325ULL

uint64_t hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t hash_finish(uint64_t h);

#endif
