/*
 * cardinality.c — the figures behind /api/v1/status/tsdb, read straight
 * from the postings index: series per metric name, values per label name,
 * series per name=value pair, each as a top-n list, largest first.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

static int cmp_entry(const void *a, const void *b)
{
    const tsdb_card_entry *x = a, *y = b;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sort all n entries, keep the top ones, free the rest. */
static size_t keep_top(tsdb_card_entry *v, size_t n, size_t top)
{
    qsort(v, n, sizeof *v, cmp_entry);
    for (size_t i = top; i < n; i++)
        free(v[i].name);
    return n < top ? n : top;
}

void tsdb_get_cardinality(tsdb *db, size_t top, tsdb_cardinality *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&db->lock);
    const series_index *ix = &db->ix;
    c->head_series = ix->nseries;
    c->label_pairs = ix->npl;
    c->by_pair = em_calloc(ix->npl + 1, sizeof(tsdb_card_entry));
    c->by_metric = em_calloc(ix->npl + 1, sizeof(tsdb_card_entry));
    for (size_t i = 0; i < ix->npl; i++) {
        const postings *p = &ix->plist[i];
        ebuf b;
        ebuf_init(&b);
        ebuf_printf(&b, "%s=%s", p->name, p->value);
        c->by_pair[c->n_pair++] = (tsdb_card_entry){ebuf_steal(&b, NULL), p->ids.n};
        if (strcmp(p->name, LABEL_METRIC_NAME) == 0)
            c->by_metric[c->n_metric++] = (tsdb_card_entry){em_strdup(p->value), p->ids.n};
    }
    c->by_label_values = em_calloc(ix->nnames + 1, sizeof(tsdb_card_entry));
    for (size_t i = 0; i < ix->nnames; i++)
        c->by_label_values[c->n_label_values++] =
            (tsdb_card_entry){em_strdup(ix->names[i].name), ix->names[i].n};
    pthread_mutex_unlock(&db->lock);
    c->n_pair = keep_top(c->by_pair, c->n_pair, top);
    c->n_metric = keep_top(c->by_metric, c->n_metric, top);
    c->n_label_values = keep_top(c->by_label_values, c->n_label_values, top);
}

void tsdb_cardinality_free(tsdb_cardinality *c)
{
    tsdb_card_entry *lists[] = {c->by_metric, c->by_label_values, c->by_pair};
    size_t ns[] = {c->n_metric, c->n_label_values, c->n_pair};
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < ns[l]; i++)
            free(lists[l][i].name);
        free(lists[l]);
    }
    memset(c, 0, sizeof *c);
}
