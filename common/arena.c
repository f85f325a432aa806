/*
 * arena.c — the bump allocator of arena.h.
 */
#include "common/arena.h"

#include "common/mem.h"

#include <stdalign.h>
#include <stdlib.h>

#define ARENA_BLOCK (64u << 10)
#define ARENA_ALIGN alignof(max_align_t)

struct arena_block {
    arena_block *next;
    alignas(max_align_t) char data[];
};

void arena_init(arena *a)
{
    a->blocks = NULL;
    a->used = a->cap = 0;
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (!a->blocks || a->used + n > a->cap) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        arena_block *b = em_malloc(sizeof *b + cap);
        b->next = a->blocks;
        a->blocks = b;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->blocks->data + a->used;
    a->used += n;
    return p;
}

void arena_reset(arena *a)
{
    while (a->blocks) {
        arena_block *next = a->blocks->next;
        free(a->blocks);
        a->blocks = next;
    }
    a->used = a->cap = 0;
}

void *arena_pb_alloc(void *arena_ptr, size_t n)
{
    return arena_alloc(arena_ptr, n);
}

void arena_pb_free(void *arena_ptr, void *p)
{
    (void)arena_ptr;
    (void)p; /* everything goes at arena_reset */
}
