/*
 * arena.h — a bump allocator for data that dies all at once (one decoded
 * request): allocation is a pointer bump in 64 KiB blocks, freeing a
 * single piece does nothing, arena_reset frees everything.
 *
 * Decoding a remote-write request with protobuf-c's default allocator is
 * a malloc per label, series and sample and as many frees; through an
 * arena (arena_pb_alloc / arena_pb_free as a ProtobufCAllocator's
 * functions) it is a handful of blocks.
 */
#ifndef EMBER_COMMON_ARENA_H
#define EMBER_COMMON_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;

typedef struct arena {
    arena_block *blocks; /* newest first */
    size_t used, cap;    /* of the newest block */
} arena;

void arena_init(arena *a);
/* Aligned for any type; never NULL (aborts like em_malloc). */
void *arena_alloc(arena *a, size_t n);
/* Free every block. */
void arena_reset(arena *a);

/* ProtobufCAllocator's shapes; allocator_data is the arena. */
void *arena_pb_alloc(void *arena_ptr, size_t n);
void arena_pb_free(void *arena_ptr, void *p);

#endif
