/*
 * mem.h — allocation wrappers that never return NULL.
 *
 * Like Redis's zmalloc: a monitoring daemon cannot do anything useful once
 * malloc fails, and checking every small allocation buries the logic, so
 * these abort with a message instead.  Use them everywhere in Ember.
 */
#ifndef EMBER_COMMON_MEM_H
#define EMBER_COMMON_MEM_H

#include <stddef.h>

void *em_malloc(size_t n);
void *em_calloc(size_t count, size_t size);
void *em_realloc(void *p, size_t n);
char *em_strdup(const char *s);
char *em_strndup(const char *s, size_t n);
/* Grow *arr (element size elem) so that it holds at least need elements. */
void em_grow(void **arr, size_t *cap, size_t need, size_t elem);

#define EM_GROW(arr, cap, need) em_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif
