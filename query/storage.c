/*
 * storage.c — the small containers of the storage interface (storage.h):
 * series sets filled by a storage's select(), and the staleness marker.
 *
 * The staleness marker is one particular NaN bit pattern.  NaN never
 * compares equal to anything, and a NaN produced by arithmetic usually has a
 * different payload, so the only reliable test is on the bits.
 */
#include "query/storage.h"

#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

void qseries_set_init(qseries_set *s)
{
    s->v = NULL;
    s->n = s->cap = 0;
}

void qseries_set_free(qseries_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        labels_free(&s->v[i].labels);
        free(s->v[i].samples);
    }
    free(s->v);
    qseries_set_init(s);
}

qseries *qseries_set_add(qseries_set *s, const labelset *ls)
{
    EM_GROW(s->v, s->cap, s->n + 1);
    qseries *q = &s->v[s->n++];
    labels_copy(&q->labels, ls);
    q->samples = NULL;
    q->n = q->cap = 0;
    return q;
}

void qseries_push(qseries *q, int64_t t, double v)
{
    EM_GROW(q->samples, q->cap, q->n + 1);
    q->samples[q->n].t = t;
    q->samples[q->n].v = v;
    q->n++;
}

static int qseries_cmp(const void *a, const void *b)
{
    const qseries *x = a, *y = b;
    return labels_compare(&x->labels, &y->labels);
}

void qseries_set_sort(qseries_set *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(qseries), qseries_cmp);
}

double stale_nan(void)
{
    uint64_t bits = STALE_NAN_BITS;
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

bool is_stale_nan(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits == STALE_NAN_BITS;
}
