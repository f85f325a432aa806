/*
 * eval_aggr.c — aggregations: sum, min, max, avg, group, count,
 * count_values, stddev, stdvar, topk, bottomk, quantile, with by/without.
 *
 * Step by step as Prometheus's aggregation(): groups in order of first
 * appearance, the same running formulas (avg's incremental mean with its
 * infinity rules, stddev's Welford update), topk/bottomk through a binary
 * heap that behaves as Go's container/heap so that ties fall the same
 * way.  Each input series' group is worked out once (count_values, whose
 * groups depend on the value, per sample).
 */
#include "query/engine_int.h"
#include "query/functions.h"

#include "common/fmtfloat.h"
#include "common/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct heap_item {
    size_t series;
    double v;
} heap_item;

typedef struct group {
    size_t stamp; /* the step (+1) this state belongs to */
    double value, mean;
    size_t count;
    heap_item *heap; /* topk, bottomk; quantile collects every value */
    size_t nheap, capheap;
} group;

typedef struct aggr {
    evaluator *ev;
    promql_expr *e;
    pvalue *in;
    qseries_set groups_ls; /* each group's result labels */
    collector groups;
    group *g;
    size_t capg;
    size_t *order; /* groups in order of first appearance at this step */
    size_t norder, caporder;
    collector out;
    size_t *cursor;
} aggr;

static bool listed(const promql_labels *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return true;
    return false;
}

/* The labels of a series' group: by keeps the listed labels, without drops
 * them and the metric name. */
static void group_labels(const promql_expr *e, const labelset *src, const char *value_label,
                         labelset *ls)
{
    labels_init(ls);
    for (size_t i = 0; i < src->n; i++) {
        const char *name = src->v[i].name;
        bool keep = e->without ? !listed(&e->grouping, name) && strcmp(name, LABEL_METRIC_NAME) != 0
                               : listed(&e->grouping, name) ||
                                     (value_label && strcmp(name, value_label) == 0);
        if (keep)
            labels_add(ls, name, src->v[i].value);
    }
}

/* ---- Go's container/heap over heap_item, with a less function ---- */

typedef bool (*heap_less)(const heap_item *a, const heap_item *b);

static bool less_value(const heap_item *a, const heap_item *b)
{
    return isnan(a->v) || a->v < b->v;
}

static bool less_reverse(const heap_item *a, const heap_item *b)
{
    return isnan(a->v) || a->v > b->v;
}

static void heap_swap(heap_item *h, size_t i, size_t j)
{
    heap_item t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void heap_up(heap_item *h, size_t j, heap_less less)
{
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (!less(&h[j], &h[i]))
            break;
        heap_swap(h, i, j);
        j = i;
    }
}

static bool heap_down(heap_item *h, size_t i0, size_t n, heap_less less)
{
    size_t i = i0;
    for (;;) {
        size_t j1 = 2 * i + 1;
        if (j1 >= n)
            break;
        size_t j = j1;
        if (j1 + 1 < n && less(&h[j1 + 1], &h[j1]))
            j = j1 + 1;
        if (!less(&h[j], &h[i]))
            break;
        heap_swap(h, i, j);
        i = j;
    }
    return i > i0;
}

static void heap_push(group *g, heap_item it, heap_less less)
{
    EM_GROW(g->heap, g->capheap, g->nheap + 1);
    g->heap[g->nheap++] = it;
    heap_up(g->heap, g->nheap - 1, less);
}

/* The top of a full heap replaced, then heap.Fix(h, 0). */
static void heap_replace_top(group *g, heap_item it, heap_less less)
{
    g->heap[0] = it;
    if (!heap_down(g->heap, 0, g->nheap, less))
        heap_up(g->heap, 0, less);
}

/* sort.Sort(sort.Reverse(heap)): greatest first by less. */
static void heap_sort_reverse(group *g, heap_less less)
{
    for (size_t i = 1; i < g->nheap; i++) {
        heap_item x = g->heap[i];
        size_t j = i;
        while (j > 0 && less(&g->heap[j - 1], &x)) {
            g->heap[j] = g->heap[j - 1];
            j--;
        }
        g->heap[j] = x;
    }
}

/* ---- accumulation ---- */

static group *group_at(aggr *a, size_t gi, size_t stamp, bool *fresh)
{
    if (gi >= a->capg) {
        size_t old = a->capg;
        EM_GROW(a->g, a->capg, gi + 1);
        memset(a->g + old, 0, (a->capg - old) * sizeof *a->g);
    }
    group *g = &a->g[gi];
    *fresh = g->stamp != stamp;
    if (*fresh) {
        g->stamp = stamp;
        g->nheap = 0;
        EM_GROW(a->order, a->caporder, a->norder + 1);
        a->order[a->norder++] = gi;
    }
    return g;
}

static void avg_add(group *g, double v)
{
    g->count++;
    if (isinf(g->mean)) {
        if (isinf(v) && (g->mean > 0) == (v > 0))
            return;
        if (!isinf(v) && !isnan(v))
            return;
    }
    g->mean += v / (double)g->count - g->mean / (double)g->count;
}

static void accumulate(aggr *a, group *g, bool fresh, size_t series, double v, int64_t k)
{
    promql_token_type op = a->e->op;
    if (fresh) {
        *g = (group){.stamp = g->stamp,
                     .value = v,
                     .mean = v,
                     .count = 1,
                     .heap = g->heap,
                     .capheap = g->capheap};
        if (op == PQ_STDDEV || op == PQ_STDVAR)
            g->value = 0;
        else if (op == PQ_GROUP)
            g->value = 1;
        if (op == PQ_TOPK || op == PQ_BOTTOMK || op == PQ_QUANTILE)
            heap_push(g, (heap_item){series, v}, less_value);
        return;
    }
    switch (op) {
    case PQ_SUM: g->value += v; break;
    case PQ_AVG: avg_add(g, v); break;
    case PQ_MAX:
        if (g->value < v || isnan(g->value))
            g->value = v;
        break;
    case PQ_MIN:
        if (g->value > v || isnan(g->value))
            g->value = v;
        break;
    case PQ_COUNT:
    case PQ_COUNT_VALUES: g->count++; break;
    case PQ_STDDEV:
    case PQ_STDVAR: {
        g->count++;
        double delta = v - g->mean;
        g->mean += delta / (double)g->count;
        g->value += delta * (v - g->mean);
        break;
    }
    case PQ_TOPK:
    case PQ_BOTTOMK: {
        heap_less less = op == PQ_TOPK ? less_value : less_reverse;
        heap_item it = {series, v};
        if ((int64_t)g->nheap < k)
            heap_push(g, it, less);
        else if ((op == PQ_TOPK ? g->heap[0].v < v : g->heap[0].v > v) ||
                 (isnan(g->heap[0].v) && !isnan(v))) {
            if (k > 1)
                heap_replace_top(g, it, less);
            else
                g->heap[0] = it;
        }
        break;
    }
    case PQ_QUANTILE:
        EM_GROW(g->heap, g->capheap, g->nheap + 1);
        g->heap[g->nheap++] = (heap_item){series, v};
        break;
    default: break;
    }
}

static double group_result(aggr *a, group *g, double q)
{
    switch (a->e->op) {
    case PQ_AVG: return g->mean;
    case PQ_COUNT:
    case PQ_COUNT_VALUES: return (double)g->count;
    case PQ_STDVAR: return g->value / (double)g->count;
    case PQ_STDDEV: return sqrt(g->value / (double)g->count);
    case PQ_QUANTILE: {
        double *vals = em_malloc((g->nheap + 1) * sizeof(double));
        for (size_t i = 0; i < g->nheap; i++)
            vals[i] = g->heap[i].v;
        double r = promql_quantile(q, vals, g->nheap);
        free(vals);
        return r;
    }
    default: return g->value;
    }
}

/* Write the groups of step k to the output in their order. */
static void emit_step(aggr *a, size_t k, double q)
{
    int64_t ts = ev_step_time(a->ev, k);
    promql_token_type op = a->e->op;
    for (size_t o = 0; o < a->norder; o++) {
        group *g = &a->g[a->order[o]];
        if (op == PQ_TOPK || op == PQ_BOTTOMK) {
            if (g->nheap > 1)
                heap_sort_reverse(g, op == PQ_TOPK ? less_value : less_reverse);
            for (size_t i = 0; i < g->nheap; i++)
                collector_add(&a->out,
                              collector_series(&a->out, &a->in->m.v[g->heap[i].series].labels), ts,
                              g->heap[i].v);
            continue;
        }
        collector_add(&a->out, collector_series(&a->out, &a->groups_ls.v[a->order[o]].labels), ts,
                      group_result(a, g, q));
    }
    a->norder = 0;
}

/* ---- driver ---- */

static size_t group_of(aggr *a, const labelset *series_ls, const char *value_label,
                       const char *value)
{
    labelset ls;
    if (value_label) {
        labelset with;
        labels_copy(&with, series_ls);
        labels_set(&with, value_label, value);
        labels_sort(&with);
        group_labels(a->e, &with, value_label, &ls);
        labels_free(&with);
    } else {
        group_labels(a->e, series_ls, NULL, &ls);
    }
    size_t gi = collector_series(&a->groups, &ls);
    labels_free(&ls);
    return gi;
}

/* The k of topk/bottomk at a step: Prometheus's int64 conversion rules. */
static bool topk_k(aggr *a, double f, int64_t *k)
{
    if (!(f <= 9223372036854774784.0 && f >= -9223372036854775808.0)) {
        char num[FMT_FLOAT_MAX];
        fmt_float_json(num, f);
        ev_fail(a->ev, PROMQL_ERR_EXECUTION, "Scalar value %s overflows int64", num);
        return false;
    }
    *k = (int64_t)f;
    return true;
}

static int run_steps(aggr *a, const double *param, const char *value_label, const size_t *gid)
{
    evaluator *ev = a->ev;
    for (size_t k = 0; k < ev->nsteps; k++) {
        if (ev_interrupted(ev))
            return -1;
        int64_t ts = ev_step_time(ev, k), topk = 0;
        if ((a->e->op == PQ_TOPK || a->e->op == PQ_BOTTOMK)) {
            if (!topk_k(a, param[k], &topk))
                return -1;
            if (topk < 1)
                continue;
        }
        for (size_t i = 0; i < a->in->m.n; i++) {
            const qseries *s = &a->in->m.v[i];
            while (a->cursor[i] < s->n && s->samples[a->cursor[i]].t < ts)
                a->cursor[i]++;
            if (a->cursor[i] >= s->n || s->samples[a->cursor[i]].t != ts)
                continue;
            double v = s->samples[a->cursor[i]].v;
            size_t gi;
            if (value_label) {
                char num[FMT_FLOAT_PLAIN_MAX];
                fmt_float_plain(num, v);
                gi = group_of(a, &s->labels, value_label, num);
            } else {
                gi = gid[i];
            }
            bool fresh;
            group *g = group_at(a, gi, k + 1, &fresh);
            accumulate(a, g, fresh, i, v, topk);
        }
        emit_step(a, k, param ? param[k] : 0);
    }
    return 0;
}

int ev_aggregate(evaluator *ev, promql_expr *e, pvalue *out)
{
    pvalue param = {.type = PV_NONE}, in;
    const char *value_label = NULL;
    if (e->rhs && ev_eval(ev, e->rhs, &param) != 0)
        return -1;
    if (e->op == PQ_COUNT_VALUES) {
        value_label = param.str;
        if (!label_name_valid(value_label, strlen(value_label))) {
            ev_fail(ev, PROMQL_ERR_EXECUTION, "invalid label name \"%s\"", value_label);
            pvalue_free(ev, &param);
            return -1;
        }
    }
    if (ev_eval(ev, e->lhs, &in) != 0) {
        pvalue_free(ev, &param);
        return -1;
    }
    aggr a = {.ev = ev, .e = e, .in = &in};
    qseries_set_init(&a.groups_ls);
    collector_init(&a.groups, &a.groups_ls);
    a.cursor = em_calloc(in.m.n + 1, sizeof(size_t));
    size_t *gid = em_calloc(in.m.n + 1, sizeof(size_t));
    for (size_t i = 0; !value_label && i < in.m.n; i++)
        gid[i] = group_of(&a, &in.m.v[i].labels, NULL, NULL);
    out->type = PV_VECTOR;
    collector_init(&a.out, &out->m);
    int rc = run_steps(&a, param.scalar, value_label, gid);
    if (rc == 0)
        rc = collector_finish(ev, &a.out);
    else
        collector_free(&a.out);
    for (size_t i = 0; i < a.capg; i++)
        free(a.g[i].heap);
    free(a.g);
    free(a.order);
    free(a.cursor);
    free(gid);
    collector_free(&a.groups);
    qseries_set_free(&a.groups_ls);
    pvalue_free(ev, &in);
    pvalue_free(ev, &param);
    return rc;
}
