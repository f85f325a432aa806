/*
 * eval_call.c — function calls: the range-vector path (a kernel per series
 * per step over the window of a range selector or subquery), elementwise
 * math, and the functions the engine implements itself (time, vector,
 * scalar, absent, absent_over_time, sort, sort_desc, timestamp,
 * label_replace, label_join, histogram_quantile).  The numbers come from
 * functions.h's kernels.
 */
#include "query/engine_int.h"
#include "query/fn_kernels.h"
#include "query/functions.h"

#include "common/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 6

/* The scalar arguments of a call, one array of nsteps values each. */
typedef struct scalar_args {
    double *v[MAX_ARGS];
    size_t n;
    double at[MAX_ARGS]; /* the values at the current step */
} scalar_args;

static void scalar_args_free(scalar_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
}

/* Evaluate every argument but skip (the vector or matrix one) as a scalar. */
static int eval_scalar_args(evaluator *ev, promql_expr *e, size_t skip, scalar_args *a)
{
    a->n = 0;
    for (size_t i = 0; i < e->nargs && i < MAX_ARGS; i++) {
        if (i == skip)
            continue;
        pvalue v;
        if (ev_eval(ev, e->args[i], &v) != 0) {
            scalar_args_free(a);
            return -1;
        }
        a->v[a->n++] = v.scalar;
    }
    return 0;
}

static const double *scalar_args_at(scalar_args *a, size_t step)
{
    for (size_t i = 0; i < a->n; i++)
        a->at[i] = a->v[i][step];
    return a->at;
}

/* createLabelsForAbsentFunction: the label set absent() reports — the
 * equality matchers of a selector, minus names matched more than once or
 * by anything but equality. */
static void absent_labels(promql_expr *arg, labelset *ls)
{
    labels_init(ls);
    promql_expr *vs = unwrap_parens(arg);
    if (vs->kind == PN_MATRIX)
        vs = vs->lhs;
    if (vs->kind != PN_VECTOR)
        return;
    labelset drop;
    labels_init(&drop);
    for (size_t i = 0; i < vs->nmatchers; i++) {
        const label_matcher *m = &vs->matchers[i];
        if (strcmp(m->name, LABEL_METRIC_NAME) == 0)
            continue;
        if (m->type == MATCH_EQ && !labels_get(ls, m->name))
            labels_add(ls, m->name, m->value);
        else
            labels_add(&drop, m->name, "");
    }
    for (size_t i = 0; i < drop.n; i++)
        labels_del(ls, drop.v[i].name);
    labels_free(&drop);
    labels_sort(ls);
}

/* absent()'s answer: 1, labelled from the selector arg, at every step
 * where nothing was present. */
static int emit_absent(evaluator *ev, promql_expr *arg, const bool *present, pvalue *out)
{
    out->type = PV_VECTOR;
    labelset ls;
    absent_labels(arg, &ls);
    qseries *r = NULL;
    for (size_t k = 0; k < ev->nsteps; k++) {
        if (present[k])
            continue;
        if (!r)
            r = qseries_set_add(&out->m, &ls);
        qseries_push(r, ev_step_time(ev, k), 1);
    }
    labels_free(&ls);
    return ev_take_samples(ev, r ? r->n : 0) ? 0 : -1;
}

/* ---- range-vector functions ---- */

/* A range function's call: where its windows sit, its kernel and
 * arguments, and where its series go. */
typedef struct range_call {
    int64_t offset, range;
    const promql_fn_impl *fn;
    scalar_args *args;
    bool keep_name, extreme, is_max;
    collector out;
    bool *present; /* absent_over_time: a step had a sample in some window */
} range_call;

/* The samples of raw without staleness markers, in place. */
static size_t drop_stale(qsample *v, size_t n)
{
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (!is_stale_nan(v[j].v))
            v[k++] = v[j];
    return k;
}

/* absent_over_time's half: which steps have a sample in the window. */
static void mark_present(evaluator *ev, const qseries *s, const range_call *rc)
{
    size_t lo = 0, hi = 0;
    for (size_t k = 0; k < ev->nsteps; k++) {
        int64_t maxt = ev_step_time(ev, k) - rc->offset, mint = maxt - rc->range;
        while (lo < s->n && s->samples[lo].t < mint)
            lo++;
        while (hi < s->n && s->samples[hi].t <= maxt)
            hi++;
        rc->present[k] = rc->present[k] || hi > lo;
    }
}

/* One series through a range kernel at every step into pts; -1 when an
 * argument is invalid where the kernel would run. */
static int range_series(evaluator *ev, const qseries *s, const range_call *in, qseries *pts)
{
    const promql_fn_impl *fn = in->fn;
    scalar_args *a = in->args;
    bool check = a->n > 0; /* only functions with scalar arguments have checks */
    size_t lo = 0, hi = 0;
    for (size_t k = 0; k < ev->nsteps; k++) {
        int64_t ts = ev_step_time(ev, k), maxt = ts - in->offset, mint = maxt - in->range;
        while (lo < s->n && s->samples[lo].t < mint)
            lo++;
        while (hi < s->n && s->samples[hi].t <= maxt)
            hi++;
        if (hi <= lo)
            continue;
        if (!ev_window_fits(ev, hi - lo) || ev_interrupted_after(ev, hi - lo))
            return -1;
        promql_window w = {.pts = s->samples + lo,
                           .n = hi - lo,
                           .t = ts,
                           .range_start = mint,
                           .range_end = maxt,
                           .args = scalar_args_at(a, k)};
        char err[300];
        if (check && !promql_fn_check_args(fn->name, w.args, a->n, err, sizeof err))
            return ev_fail(ev, PROMQL_ERR_EXECUTION, "%s", err);
        double v;
        if (fn->range(&w, &v))
            qseries_push(pts, ts, v);
    }
    return 0;
}

/*
 * max_over_time / min_over_time with a monotonic deque: each sample enters
 * and leaves once, instead of every window being scanned again (a 1h window
 * at a 1m step would read each sample 60 times).  The kernel's result is
 * the first occurrence of the extreme among the window's non-NaN values,
 * NaN when all are NaN; the deque keeps exactly that: indices of non-NaN
 * samples whose values strictly decrease (max) from the front, so the front
 * is the earliest extreme, and it counts the NaNs it skipped.
 */
static int extreme_series(evaluator *ev, const qseries *s, const range_call *in, qseries *pts)
{
    bool is_max = in->is_max;
    size_t *dq = em_malloc((s->n + 1) * sizeof(size_t));
    size_t head = 0, tail = 0, lo = 0, hi = 0;
    for (size_t k = 0; k < ev->nsteps; k++) {
        int64_t ts = ev_step_time(ev, k), maxt = ts - in->offset, mint = maxt - in->range;
        for (; hi < s->n && s->samples[hi].t <= maxt; hi++) {
            double v = s->samples[hi].v;
            if (isnan(v))
                continue;
            while (tail > head &&
                   (is_max ? s->samples[dq[tail - 1]].v < v : s->samples[dq[tail - 1]].v > v))
                tail--;
            dq[tail++] = hi;
        }
        while (lo < s->n && s->samples[lo].t < mint)
            lo++;
        while (head < tail && dq[head] < lo)
            head++;
        if (hi <= lo)
            continue;
        if (!ev_window_fits(ev, hi - lo) || ev_interrupted(ev)) {
            free(dq);
            return -1;
        }
        qseries_push(pts, ts, head < tail ? s->samples[dq[head]].v : s->samples[hi - 1].v);
    }
    free(dq);
    return 0;
}

/* One series of a range function's input: its points into the output,
 * which may hold each label set once (Prometheus checks the matrix). */
static int range_one(evaluator *ev, const labelset *ls, const qseries *raw, void *arg)
{
    range_call *rc = arg;
    qseries s = *raw;
    s.n = drop_stale(s.samples, s.n);
    if (rc->present) {
        mark_present(ev, &s, rc);
        return 0;
    }
    qseries pts = {.samples = NULL};
    int r = 0;
    if (rc->extreme)
        r = extreme_series(ev, &s, rc, &pts);
    else
        r = range_series(ev, &s, rc, &pts);
    if (r == 0 && pts.n) {
        labelset out;
        if (rc->keep_name)
            labels_copy(&out, ls);
        else
            labels_copy_without_name(&out, ls);
        size_t before = rc->out.set->n, idx = collector_series(&rc->out, &out);
        labels_free(&out);
        if (idx < before)
            r = ev_fail(ev, PROMQL_ERR_EXECUTION,
                        "vector cannot contain metrics with the same labelset");
        for (size_t j = 0; j < pts.n && r == 0; j++)
            collector_add(&rc->out, idx, pts.samples[j].t, pts.samples[j].v);
    }
    free(pts.samples);
    return r;
}

/* The input of a range function, series by series: a range selector's
 * samples from storage, or a subquery's points. */
static int range_input(evaluator *ev, promql_expr *arg, range_call *rc)
{
    if (arg->kind != PN_SUBQUERY) {
        promql_expr *vs = arg->lhs;
        rc->offset = vs->eval_offset_ms;
        rc->range = arg->range_ms;
        return ev_select_each(ev, vs, ev->start - rc->offset - rc->range, ev->end - rc->offset,
                              range_one, rc);
    }
    pvalue v;
    if (ev_subquery(ev, arg, &v) != 0)
        return -1;
    rc->offset = arg->eval_offset_ms;
    rc->range = arg->range_ms;
    int r = 0;
    for (size_t i = 0; i < v.m.n && r == 0; i++)
        r = ev_interrupted(ev) ? -1 : range_one(ev, &v.m.v[i].labels, &v.m.v[i], rc);
    pvalue_free(ev, &v);
    return r;
}

static int call_range(evaluator *ev, promql_expr *e, const promql_fn_impl *fn, size_t mi,
                      pvalue *out)
{
    scalar_args a;
    if (eval_scalar_args(ev, e, mi, &a) != 0)
        return -1;
    range_call rc = {.fn = fn, .args = &a};
    rc.keep_name = strcmp(fn->name, "last_over_time") == 0;
    rc.extreme = fn->range == promql_k_max_over_time || fn->range == promql_k_min_over_time;
    rc.is_max = fn->range == promql_k_max_over_time;
    if (strcmp(fn->name, "absent_over_time") == 0)
        rc.present = em_calloc(ev->nsteps, sizeof(bool));
    out->type = PV_VECTOR;
    collector_init(&rc.out, &out->m);
    int r = range_input(ev, unwrap_parens(e->args[mi]), &rc);
    if (r == 0 && rc.present) {
        collector_free(&rc.out);
        r = emit_absent(ev, e->args[0], rc.present, out);
    } else if (r == 0) {
        r = collector_finish(ev, &rc.out);
    } else {
        collector_free(&rc.out);
    }
    free(rc.present);
    scalar_args_free(&a);
    return r;
}

/* ---- instant-vector functions ---- */

/* The vector argument of a call: args[vi], or vector(time()) for the date
 * functions called without one. */
static int eval_vector_arg(evaluator *ev, promql_expr *e, size_t vi, pvalue *v)
{
    if (vi < e->nargs)
        return ev_eval(ev, e->args[vi], v);
    memset(v, 0, sizeof *v);
    v->type = PV_VECTOR;
    labelset none;
    labels_init(&none);
    qseries *s = qseries_set_add(&v->m, &none);
    for (size_t k = 0; k < ev->nsteps; k++)
        qseries_push(s, ev_step_time(ev, k), (double)ev_step_time(ev, k) / 1000.0);
    return ev_take_samples(ev, ev->nsteps) ? 0 : -1;
}

typedef enum relabel_kind {
    RELABEL_DROP_NAME,
    RELABEL_KEEP,
    RELABEL_REPLACE,
    RELABEL_JOIN
} relabel_kind;

typedef struct relabel {
    relabel_kind kind;
    promql_label_replacer *replacer;
    const char *dst, *sep;
    const char **srcs;
    size_t nsrcs;
} relabel;

static void relabel_apply(const relabel *r, const labelset *in, labelset *ls)
{
    if (r->kind == RELABEL_DROP_NAME) {
        labels_copy_without_name(ls, in);
        return;
    }
    labels_copy(ls, in);
    if (r->kind == RELABEL_REPLACE)
        promql_label_replacer_apply(r->replacer, ls);
    else if (r->kind == RELABEL_JOIN)
        promql_label_join_apply(ls, r->dst, r->sep, r->srcs, r->nsrcs);
}

/* Map each point of v through fn (NULL: keep the value), relabelled as r
 * says, into out; the collector checks labelset clashes per step. */
static int map_vector(evaluator *ev, pvalue *v, const promql_fn_impl *fn, scalar_args *a,
                      const relabel *r, pvalue *out)
{
    out->type = PV_VECTOR;
    collector c;
    collector_init(&c, &out->m);
    for (size_t i = 0; i < v->m.n; i++) {
        if (ev_interrupted(ev)) {
            collector_free(&c);
            return -1;
        }
        const qseries *s = &v->m.v[i];
        labelset ls;
        relabel_apply(r, &s->labels, &ls);
        size_t idx = (size_t)-1;
        for (size_t j = 0; j < s->n; j++) {
            double x = s->samples[j].v;
            if (fn && !fn->math(x, scalar_args_at(a, ev_step_index(ev, s->samples[j].t)), &x))
                continue;
            if (idx == (size_t)-1)
                idx = collector_series(&c, &ls);
            collector_add(&c, idx, s->samples[j].t, x);
        }
        labels_free(&ls);
    }
    return collector_finish(ev, &c);
}

static int call_math(evaluator *ev, promql_expr *e, const promql_fn_impl *fn, pvalue *out)
{
    pvalue v;
    scalar_args a = {.n = 0};
    if (eval_vector_arg(ev, e, 0, &v) != 0)
        return -1;
    if (eval_scalar_args(ev, e, 0, &a) != 0) {
        pvalue_free(ev, &v);
        return -1;
    }
    if (strcmp(fn->name, "round") == 0 && a.n == 0) {
        a.v[a.n++] = em_malloc(ev->nsteps * sizeof(double));
        for (size_t k = 0; k < ev->nsteps; k++)
            a.v[0][k] = 1;
    }
    relabel r = {.kind = RELABEL_DROP_NAME};
    int rc = map_vector(ev, &v, fn, &a, &r, out);
    pvalue_free(ev, &v);
    scalar_args_free(&a);
    return rc;
}

static const char *string_arg(promql_expr *e, size_t i)
{
    return unwrap_parens(e->args[i])->str;
}

static int call_label_function(evaluator *ev, promql_expr *e, bool join, pvalue *out)
{
    char err[400];
    relabel r = {.kind = join ? RELABEL_JOIN : RELABEL_REPLACE};
    if (join) {
        r.dst = string_arg(e, 1);
        r.sep = string_arg(e, 2);
        r.nsrcs = e->nargs - 3;
        r.srcs = em_calloc(r.nsrcs + 1, sizeof(char *));
        for (size_t i = 0; i < r.nsrcs; i++)
            r.srcs[i] = string_arg(e, 3 + i);
        if (!promql_label_join_check(r.dst, r.srcs, r.nsrcs, err, sizeof err)) {
            free(r.srcs);
            return ev_fail(ev, PROMQL_ERR_EXECUTION, "%s", err);
        }
    } else {
        r.replacer = promql_label_replacer_new(string_arg(e, 1), string_arg(e, 2), string_arg(e, 3),
                                               string_arg(e, 4), err, sizeof err);
        if (!r.replacer)
            return ev_fail(ev, PROMQL_ERR_EXECUTION, "%s", err);
    }
    pvalue v;
    int rc = ev_eval(ev, e->args[0], &v);
    if (rc == 0)
        rc = map_vector(ev, &v, NULL, NULL, &r, out);
    pvalue_free(ev, &v);
    free(r.srcs);
    promql_label_replacer_free(r.replacer);
    return rc;
}

/* For each step, the number of series of v with a point there and the
 * value of the last one seen. */
static void count_per_step(evaluator *ev, const pvalue *v, size_t *count, double *last)
{
    for (size_t i = 0; i < v->m.n; i++)
        for (size_t j = 0; j < v->m.v[i].n; j++) {
            size_t k = ev_step_index(ev, v->m.v[i].samples[j].t);
            count[k]++;
            last[k] = v->m.v[i].samples[j].v;
        }
}

/* scalar(v): the value of a one-element vector, else NaN. */
static int call_scalar(evaluator *ev, promql_expr *e, pvalue *out)
{
    pvalue v;
    if (ev_eval(ev, e->args[0], &v) != 0)
        return -1;
    size_t *count = em_calloc(ev->nsteps, sizeof(size_t));
    double *last = em_calloc(ev->nsteps, sizeof(double));
    count_per_step(ev, &v, count, last);
    pvalue_scalar(ev, out, NAN);
    for (size_t k = 0; k < ev->nsteps; k++)
        if (count[k] == 1)
            out->scalar[k] = last[k];
    free(count);
    free(last);
    pvalue_free(ev, &v);
    return 0;
}

/* absent(v): 1 at the steps where v is empty. */
static int call_absent(evaluator *ev, promql_expr *e, pvalue *out)
{
    pvalue v;
    if (ev_eval(ev, e->args[0], &v) != 0)
        return -1;
    size_t *count = em_calloc(ev->nsteps, sizeof(size_t));
    double *last = em_calloc(ev->nsteps, sizeof(double));
    bool *present = em_calloc(ev->nsteps, sizeof(bool));
    count_per_step(ev, &v, count, last);
    pvalue_free(ev, &v);
    for (size_t k = 0; k < ev->nsteps; k++)
        present[k] = count[k] > 0;
    int rc = emit_absent(ev, e->args[0], present, out);
    free(count);
    free(last);
    free(present);
    return rc;
}

static int call_vector(evaluator *ev, promql_expr *e, pvalue *out)
{
    pvalue s;
    if (ev_eval(ev, e->args[0], &s) != 0)
        return -1;
    out->type = PV_VECTOR;
    labelset none;
    labels_init(&none);
    qseries *r = qseries_set_add(&out->m, &none);
    for (size_t k = 0; k < ev->nsteps; k++)
        qseries_push(r, ev_step_time(ev, k), s.scalar[k]);
    free(s.scalar);
    return ev_take_samples(ev, ev->nsteps) ? 0 : -1;
}

static int call_time(evaluator *ev, pvalue *out)
{
    pvalue_scalar(ev, out, 0);
    for (size_t k = 0; k < ev->nsteps; k++)
        out->scalar[k] = (double)ev_step_time(ev, k) / 1000.0;
    return 0;
}

/* sort() and sort_desc() order an instant query's result; over several
 * steps there is no order to keep, so they pass the vector through.  The
 * input is sorted by label set, and the sort is stable, as Go's
 * sort.Stable over the selector's series. */
static void sort_instant(qseries_set *s, bool desc)
{
    for (size_t i = 1; i < s->n; i++) {
        qseries x = s->v[i];
        size_t j = i;
        while (j > 0) {
            double a = s->v[j - 1].samples[0].v, b = x.samples[0].v;
            if (!(desc ? a < b : b < a))
                break;
            s->v[j] = s->v[j - 1];
            j--;
        }
        s->v[j] = x;
    }
}

static int call_sort(evaluator *ev, promql_expr *e, bool desc, pvalue *out)
{
    if (ev_eval(ev, e->args[0], out) != 0)
        return -1;
    if (ev->nsteps == 1)
        sort_instant(&out->m, desc);
    return 0;
}

/* timestamp(v): the time of each sample — for a selector the sample's own
 * time, which the step evaluation would replace by the step's. */
static int call_timestamp(evaluator *ev, promql_expr *e, pvalue *out)
{
    promql_expr *vs = unwrap_parens(e->args[0]);
    pvalue v;
    relabel r = {.kind = RELABEL_DROP_NAME};
    if (vs->kind != PN_VECTOR) {
        if (ev_eval(ev, e->args[0], &v) != 0)
            return -1;
        for (size_t i = 0; i < v.m.n; i++)
            for (size_t j = 0; j < v.m.v[i].n; j++)
                v.m.v[i].samples[j].v = (double)v.m.v[i].samples[j].t / 1000.0;
    } else if (ev_select_vector(ev, vs, true, &v) != 0) {
        pvalue_free(ev, &v);
        return -1;
    }
    int rc = map_vector(ev, &v, NULL, NULL, &r, out);
    pvalue_free(ev, &v);
    return rc;
}

/* ---- histogram_quantile ---- */

typedef struct hq_group {
    labelset out; /* without __name__ and le */
    size_t *members;
    size_t n, cap;
} hq_group;

/* Group the bucket series of v by their labels without le (the name stays
 * in the key, as Prometheus's BytesWithoutLabels(le)); series without a
 * parsable le are left out. */
static hq_group *hq_groups(const pvalue *v, double *upper, size_t *ngroups)
{
    hq_group *g = NULL;
    size_t n = 0, cap = 0;
    qseries_set keys;
    qseries_set_init(&keys);
    collector kc;
    collector_init(&kc, &keys);
    for (size_t i = 0; i < v->m.n; i++) {
        const labelset *ls = &v->m.v[i].labels;
        const char *le = labels_get(ls, "le");
        char *end;
        if (!le || !*le || isspace((unsigned char)*le))
            continue;
        upper[i] = strtod(le, &end);
        if (*end)
            continue;
        labelset key;
        labels_copy(&key, ls);
        labels_del(&key, "le");
        size_t k = collector_series(&kc, &key);
        if (k == n) {
            EM_GROW(g, cap, n + 1);
            memset(&g[n], 0, sizeof g[n]);
            labels_copy_without_name(&g[n].out, &key);
            n++;
        }
        labels_free(&key);
        EM_GROW(g[k].members, g[k].cap, g[k].n + 1);
        g[k].members[g[k].n++] = i;
    }
    collector_free(&kc);
    qseries_set_free(&keys);
    *ngroups = n;
    return g;
}

static int call_histogram_quantile(evaluator *ev, promql_expr *e, pvalue *out)
{
    pvalue q, v;
    if (ev_eval(ev, e->args[0], &q) != 0)
        return -1;
    if (ev_eval(ev, e->args[1], &v) != 0) {
        free(q.scalar);
        return -1;
    }
    double *upper = em_calloc(v.m.n + 1, sizeof(double));
    size_t ng;
    hq_group *g = hq_groups(&v, upper, &ng);
    size_t *cursor = em_calloc(v.m.n + 1, sizeof(size_t));
    promql_bucket *b = em_calloc(v.m.n + 1, sizeof *b);
    out->type = PV_VECTOR;
    collector c;
    collector_init(&c, &out->m);
    for (size_t k = 0; k < ev->nsteps; k++) {
        int64_t ts = ev_step_time(ev, k);
        for (size_t gi = 0; gi < ng; gi++) {
            size_t nb = 0;
            for (size_t m = 0; m < g[gi].n; m++) {
                size_t si = g[gi].members[m];
                const qseries *s = &v.m.v[si];
                while (cursor[si] < s->n && s->samples[cursor[si]].t < ts)
                    cursor[si]++;
                if (cursor[si] < s->n && s->samples[cursor[si]].t == ts)
                    b[nb++] = (promql_bucket){upper[si], s->samples[cursor[si]].v};
            }
            if (nb)
                collector_add(&c, collector_series(&c, &g[gi].out), ts,
                              promql_bucket_quantile(q.scalar[k], b, nb));
        }
    }
    for (size_t gi = 0; gi < ng; gi++) {
        labels_free(&g[gi].out);
        free(g[gi].members);
    }
    free(g);
    free(b);
    free(cursor);
    free(upper);
    free(q.scalar);
    pvalue_free(ev, &v);
    return collector_finish(ev, &c);
}

/* ---- dispatch ---- */

/* The argument that is a range selector or subquery, or -1. */
static long matrix_arg(promql_expr *e)
{
    for (size_t i = 0; i < e->nargs; i++) {
        promql_expr *a = unwrap_parens(e->args[i]);
        if (a->kind == PN_MATRIX || a->kind == PN_SUBQUERY)
            return (long)i;
    }
    return -1;
}

static int call_engine(evaluator *ev, promql_expr *e, pvalue *out)
{
    const char *name = e->func->name;
    if (strcmp(name, "time") == 0)
        return call_time(ev, out);
    if (strcmp(name, "pi") == 0) {
        pvalue_scalar(ev, out, M_PI);
        return 0;
    }
    if (strcmp(name, "vector") == 0)
        return call_vector(ev, e, out);
    if (strcmp(name, "scalar") == 0)
        return call_scalar(ev, e, out);
    if (strcmp(name, "absent") == 0)
        return call_absent(ev, e, out);
    if (strcmp(name, "sort") == 0 || strcmp(name, "sort_desc") == 0)
        return call_sort(ev, e, name[4] == '_', out);
    if (strcmp(name, "timestamp") == 0)
        return call_timestamp(ev, e, out);
    if (strcmp(name, "label_replace") == 0 || strcmp(name, "label_join") == 0)
        return call_label_function(ev, e, name[6] == 'j', out);
    if (strcmp(name, "histogram_quantile") == 0)
        return call_histogram_quantile(ev, e, out);
    /* histogram_count/sum/fraction read native histograms; float samples
     * give nothing, as in Prometheus. */
    pvalue v;
    for (size_t i = 0; i < e->nargs; i++) {
        if (ev_eval(ev, e->args[i], &v) != 0)
            return -1;
        pvalue_free(ev, &v);
    }
    out->type = PV_VECTOR;
    return 0;
}

int ev_call(evaluator *ev, promql_expr *e, pvalue *out)
{
    const promql_fn_impl *fn = promql_fn_impl_lookup(e->func->name);
    if (!fn)
        return ev_fail(ev, PROMQL_ERR_INTERNAL, "function %s is not implemented", e->func->name);
    long mi = matrix_arg(e);
    if (fn->kind == PF_RANGE || (mi >= 0 && strcmp(fn->name, "absent_over_time") == 0))
        return call_range(ev, e, fn, (size_t)mi, out);
    if (fn->kind == PF_MATH)
        return call_math(ev, e, fn, out);
    return call_engine(ev, e, out);
}
