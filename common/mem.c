/* mem.c — abort-on-failure allocation (see mem.h). */
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "level=fatal msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *em_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *em_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory(count * size);
    return p;
}

void *em_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *em_strdup(const char *s)
{
    return em_strndup(s, strlen(s));
}

char *em_strndup(const char *s, size_t n)
{
    char *d = em_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void em_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    *arr = em_realloc(*arr, ncap * elem);
    *cap = ncap;
}
