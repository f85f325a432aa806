/*
 * storage.c — the small containers of the storage interface (storage.h):
 * series sets and selections with their iterators.  The staleness
 * marker lives in common/stale.h.
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

void qselect_set_init(qselect_set *s)
{
    s->v = NULL;
    s->n = s->cap = 0;
}

void qselect_set_free(qselect_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        labels_free(&s->v[i].labels);
        qiter_free(s->v[i].it);
    }
    free(s->v);
    qselect_set_init(s);
}

void qselect_set_add(qselect_set *s, const labelset *ls, qiter *it)
{
    EM_GROW(s->v, s->cap, s->n + 1);
    labels_copy(&s->v[s->n].labels, ls);
    s->v[s->n].it = it;
    s->n++;
}

int query_storage_read(const query_storage *st, const label_matcher *ms, size_t nms, int64_t mint,
                       int64_t maxt, qseries_set *out, char *err, size_t errlen)
{
    qselect_set sel;
    qselect_set_init(&sel);
    if (st->select(st->ctx, ms, nms, mint, maxt, &sel, err, errlen) != 0) {
        qselect_set_free(&sel);
        return -1;
    }
    for (size_t i = 0; i < sel.n; i++) {
        qiter *it = sel.v[i].it;
        qseries *q = NULL;
        for (bool ok = qiter_seek(it, mint); ok && it->t <= maxt; ok = qiter_next(it)) {
            if (!q)
                q = qseries_set_add(out, &sel.v[i].labels);
            qseries_push(q, it->t, it->v);
        }
    }
    qselect_set_free(&sel);
    qseries_set_sort(out);
    return 0;
}
