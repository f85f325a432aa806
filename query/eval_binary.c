/*
 * eval_binary.c — binary operators: scalar/scalar, vector/scalar and
 * vector/vector with Prometheus's vector matching (on, ignoring,
 * group_left, group_right), comparison filtering versus bool, and the set
 * operators and, or, unless.
 *
 * Vector/vector operations run step by step as Prometheus's VectorBinop,
 * VectorAnd, VectorOr and VectorUnless do, so that duplicate and
 * many-to-many errors fire exactly when Prometheus's would (only when the
 * clashing series have points at the same step).  Each series' match
 * signature is computed once, as an index into a table of signatures.
 */
#include "query/engine_int.h"

#include "common/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool op_drops_name(promql_token_type op)
{
    switch (op) {
    case PQ_ADD:
    case PQ_SUB:
    case PQ_MUL:
    case PQ_DIV:
    case PQ_POW:
    case PQ_MOD: return true;
    default: return false;
    }
}

/* vectorElemBinop: the value and whether a comparison keeps it. */
static double elem_binop(promql_token_type op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case PQ_ADD: return l + r;
    case PQ_SUB: return l - r;
    case PQ_MUL: return l * r;
    case PQ_DIV: return l / r;
    case PQ_POW: return pow(l, r);
    case PQ_MOD: return fmod(l, r);
    case PQ_ATAN2: return atan2(l, r);
    case PQ_EQLC: *keep = l == r; return l;
    case PQ_NEQ: *keep = l != r; return l;
    case PQ_GTR: *keep = l > r; return l;
    case PQ_LSS: *keep = l < r; return l;
    case PQ_GTE: *keep = l >= r; return l;
    case PQ_LTE: *keep = l <= r; return l;
    default: *keep = false; return NAN;
    }
}

static int scalar_scalar(evaluator *ev, promql_expr *e, pvalue *l, pvalue *r, pvalue *out)
{
    *out = *l;
    memset(l, 0, sizeof *l);
    for (size_t k = 0; k < ev->nsteps; k++) {
        bool keep;
        double v = elem_binop(e->op, out->scalar[k], r->scalar[k], &keep);
        out->scalar[k] = promql_op_is_comparison(e->op) ? (keep ? 1 : 0) : v;
    }
    return 0;
}

/* VectorscalarBinop; swap when the scalar was on the left. */
static int vector_scalar(evaluator *ev, promql_expr *e, pvalue *vec, const double *sc, bool swap,
                         pvalue *out)
{
    bool cmp = promql_op_is_comparison(e->op);
    bool drop = op_drops_name(e->op) || e->return_bool;
    out->type = PV_VECTOR;
    collector c;
    collector_init(&c, &out->m);
    for (size_t i = 0; i < vec->m.n; i++) {
        if (ev_interrupted(ev)) {
            collector_free(&c);
            return -1;
        }
        const qseries *s = &vec->m.v[i];
        labelset ls;
        if (drop)
            labels_copy_without_name(&ls, &s->labels);
        else
            labels_copy(&ls, &s->labels);
        size_t idx = (size_t)-1;
        for (size_t j = 0; j < s->n; j++) {
            double lv = s->samples[j].v, rv = sc[ev_step_index(ev, s->samples[j].t)];
            if (swap) {
                double t = lv;
                lv = rv;
                rv = t;
            }
            bool keep;
            double v = elem_binop(e->op, lv, rv, &keep);
            if (cmp && swap)
                v = rv; /* a comparison keeps the vector's value */
            if (e->return_bool)
                v = keep ? 1 : 0;
            else if (!keep)
                continue;
            if (idx == (size_t)-1)
                idx = collector_series(&c, &ls);
            collector_add(&c, idx, s->samples[j].t, v);
        }
        labels_free(&ls);
    }
    return collector_finish(ev, &c);
}

/* ---- vector/vector ---- */

/* One operand: its series, each one's signature id, and a cursor per
 * series for the step walk. */
typedef struct side {
    qseries_set *m;
    size_t *sig;
    size_t *cursor;
} side;

/* The labels a series is matched on: on(...) keeps the listed ones,
 * ignoring(...) drops them and the metric name. */
static void match_labels(const labelset *src, const promql_expr *e, labelset *dst)
{
    labels_init(dst);
    for (size_t i = 0; i < src->n; i++) {
        const char *name = src->v[i].name;
        bool listed = false;
        for (size_t k = 0; k < e->matching.n && !listed; k++)
            listed = strcmp(e->matching.names[k], name) == 0;
        bool keep = e->on ? listed : !listed && strcmp(name, LABEL_METRIC_NAME) != 0;
        if (keep)
            labels_add(dst, name, src->v[i].value);
    }
}

/* Signature ids for both sides, shared: equal ids match. */
static size_t sign_sides(const promql_expr *e, side *l, side *r)
{
    qseries_set sigs;
    qseries_set_init(&sigs);
    collector c;
    collector_init(&c, &sigs);
    side *sides[2] = {l, r};
    for (int k = 0; k < 2; k++) {
        side *s = sides[k];
        s->sig = em_calloc(s->m->n + 1, sizeof(size_t));
        s->cursor = em_calloc(s->m->n + 1, sizeof(size_t));
        for (size_t i = 0; i < s->m->n; i++) {
            labelset ls;
            match_labels(&s->m->v[i].labels, e, &ls);
            s->sig[i] = collector_series(&c, &ls);
            labels_free(&ls);
        }
    }
    size_t n = sigs.n;
    collector_free(&c);
    qseries_set_free(&sigs);
    return n;
}

static void side_free(side *s)
{
    free(s->sig);
    free(s->cursor);
}

/* The value of series i at time ts, if it has one. */
static bool side_at(side *s, size_t i, int64_t ts, double *v)
{
    const qseries *q = &s->m->v[i];
    size_t *c = &s->cursor[i];
    while (*c < q->n && q->samples[*c].t < ts)
        (*c)++;
    if (*c < q->n && q->samples[*c].t == ts) {
        *v = q->samples[*c].v;
        return true;
    }
    return false;
}

/* Per-signature state of one step; stamp tells which step wrote it. */
typedef struct sig_slot {
    size_t stamp;
    size_t series; /* the right-hand series with this signature */
    double v;
    size_t matched_stamp;
} sig_slot;

typedef struct binop {
    evaluator *ev;
    promql_expr *e;
    side *one, *many; /* group_right swaps them, as Prometheus's lhs/rhs swap */
    bool swapped;
    sig_slot *slots;
    collector c;
    size_t *out_of;    /* per many-side series: output series of its last match, or -1 */
    size_t *out_rhs;   /* ...and the one-side series it was matched with */
    size_t *last_step; /* per output series: last step + 1 written, for duplicates */
    size_t *last_sig;
    size_t nout_cap;
} binop;

/* resultMetric: the many side's labels, the name dropped for arithmetic,
 * on/ignoring applied for one-to-one, group_x labels from the one side. */
static void result_labels(const binop *b, const labelset *many, const labelset *one, labelset *ls)
{
    const promql_expr *e = b->e;
    labels_copy(ls, many);
    if (op_drops_name(e->op) || e->return_bool)
        labels_drop_name(ls);
    if (e->card == PC_ONE_TO_ONE) {
        labelset kept;
        if (e->on) {
            match_labels(ls, e, &kept);
            labels_free(ls);
            *ls = kept;
        } else {
            for (size_t k = 0; k < e->matching.n; k++)
                labels_del(ls, e->matching.names[k]);
        }
    }
    for (size_t k = 0; k < e->include.n; k++) {
        const char *v = labels_get(one, e->include.names[k]);
        if (v && *v)
            labels_set(ls, e->include.names[k], v);
        else
            labels_del(ls, e->include.names[k]);
    }
    labels_sort(ls);
}

/* Labels.String() of Prometheus: {a="1", __name__="x"}, every label in
 * the braces, sorted, values quoted. */
static void labels_format_go(ebuf *out, const labelset *ls)
{
    ebuf_putc(out, '{');
    for (size_t i = 0; i < ls->n; i++) {
        ebuf_printf(out, "%s%s=\"", i ? ", " : "", ls->v[i].name);
        labels_escape_value(out, ls->v[i].value);
        ebuf_putc(out, '"');
    }
    ebuf_putc(out, '}');
}

static int dup_on_one_side(binop *b, size_t sig, size_t a, size_t c)
{
    (void)sig;
    const qseries_set *m = b->one->m;
    ebuf la, lc, ml;
    ebuf_init(&la);
    ebuf_init(&lc);
    ebuf_init(&ml);
    labels_format_go(&la, &m->v[a].labels);
    labels_format_go(&lc, &m->v[c].labels);
    labelset matched;
    match_labels(&m->v[a].labels, b->e, &matched);
    labels_format_go(&ml, &matched);
    labels_free(&matched);
    ev_fail(b->ev, PROMQL_ERR_EXECUTION,
            "found duplicate series for the match group %s on the %s hand-side of the operation: "
            "[%s, %s];many-to-many matching not allowed: matching labels must be unique on one "
            "side",
            ml.data, b->swapped ? "left" : "right", la.data, lc.data);
    ebuf_free(&la);
    ebuf_free(&lc);
    ebuf_free(&ml);
    return -1;
}

/* The output series for many-side series i matched with one-side series
 * j; cached, since a pair usually matches at every step. */
static size_t output_series(binop *b, size_t i, size_t j)
{
    if (b->out_of[i] != (size_t)-1 && b->out_rhs[i] == j)
        return b->out_of[i];
    labelset ls;
    result_labels(b, &b->many->m->v[i].labels, &b->one->m->v[j].labels, &ls);
    size_t o = collector_series(&b->c, &ls);
    labels_free(&ls);
    if (o >= b->nout_cap) {
        size_t old = b->nout_cap;
        EM_GROW(b->last_step, b->nout_cap, o + 1);
        b->last_sig = em_realloc(b->last_sig, b->nout_cap * sizeof(size_t));
        memset(b->last_step + old, 0, (b->nout_cap - old) * sizeof(size_t));
    }
    b->out_of[i] = o;
    b->out_rhs[i] = j;
    return o;
}

/* One step of VectorBinop. */
static int binop_step(binop *b, size_t k)
{
    int64_t ts = ev_step_time(b->ev, k);
    size_t stamp = k + 1;
    /* Nothing can match when the many side is empty: Prometheus returns
     * before it looks for duplicates on the other side. */
    bool any = false;
    for (size_t i = 0; i < b->many->m->n && !any; i++) {
        double v;
        any = side_at(b->many, i, ts, &v);
    }
    if (!any)
        return 0;
    for (size_t j = 0; j < b->one->m->n; j++) {
        double v;
        if (!side_at(b->one, j, ts, &v))
            continue;
        sig_slot *sl = &b->slots[b->one->sig[j]];
        if (sl->stamp == stamp)
            return dup_on_one_side(b, b->one->sig[j], j, sl->series);
        *sl = (sig_slot){.stamp = stamp, .series = j, .v = v, .matched_stamp = sl->matched_stamp};
    }
    const promql_expr *e = b->e;
    for (size_t i = 0; i < b->many->m->n; i++) {
        double lv;
        if (!side_at(b->many, i, ts, &lv))
            continue;
        sig_slot *sl = &b->slots[b->many->sig[i]];
        if (sl->stamp != stamp)
            continue;
        double rv = sl->v;
        if (b->swapped) {
            double t = lv;
            lv = rv;
            rv = t;
        }
        bool keep;
        double v = elem_binop(e->op, lv, rv, &keep);
        if (e->return_bool)
            v = keep ? 1 : 0;
        else if (!keep)
            continue;
        if (e->card == PC_ONE_TO_ONE) {
            if (sl->matched_stamp == stamp)
                return ev_fail(b->ev, PROMQL_ERR_EXECUTION,
                               "multiple matches for labels: many-to-one matching must be "
                               "explicit (group_left/group_right)");
            sl->matched_stamp = stamp;
        }
        size_t o = output_series(b, i, sl->series);
        if (b->last_step[o] == stamp) {
            if (e->card != PC_ONE_TO_ONE && b->last_sig[o] == b->many->sig[i])
                return ev_fail(b->ev, PROMQL_ERR_EXECUTION,
                               "multiple matches for labels: grouping labels must ensure unique "
                               "matches");
            return ev_fail(b->ev, PROMQL_ERR_EXECUTION,
                           "vector cannot contain metrics with the same labelset");
        }
        b->last_step[o] = stamp;
        b->last_sig[o] = b->many->sig[i];
        collector_add(&b->c, o, ts, v);
    }
    return 0;
}

static int vector_binop(evaluator *ev, promql_expr *e, side *l, side *r, size_t nsigs, pvalue *out)
{
    binop b = {.ev = ev, .e = e, .one = r, .many = l};
    if (e->card == PC_ONE_TO_MANY) {
        b.one = l;
        b.many = r;
        b.swapped = true;
    }
    b.slots = em_calloc(nsigs + 1, sizeof *b.slots);
    b.out_of = em_malloc((b.many->m->n + 1) * sizeof(size_t));
    b.out_rhs = em_malloc((b.many->m->n + 1) * sizeof(size_t));
    memset(b.out_of, 0xff, (b.many->m->n + 1) * sizeof(size_t));
    out->type = PV_VECTOR;
    collector_init(&b.c, &out->m);
    int rc = 0;
    for (size_t k = 0; k < ev->nsteps && rc == 0; k++)
        rc = ev_interrupted(ev) ? -1 : binop_step(&b, k);
    if (rc == 0)
        rc = collector_finish(ev, &b.c);
    else
        collector_free(&b.c);
    free(b.slots);
    free(b.out_of);
    free(b.out_rhs);
    free(b.last_step);
    free(b.last_sig);
    return rc;
}

/* and, or, unless at every step. */
static int vector_set_op(evaluator *ev, promql_expr *e, side *l, side *r, size_t nsigs, pvalue *out)
{
    size_t *lstamp = em_calloc(nsigs + 1, sizeof(size_t));
    size_t *rstamp = em_calloc(nsigs + 1, sizeof(size_t));
    size_t *lout = em_malloc((l->m->n + 1) * sizeof(size_t));
    size_t *rout = em_malloc((r->m->n + 1) * sizeof(size_t));
    memset(lout, 0xff, (l->m->n + 1) * sizeof(size_t));
    memset(rout, 0xff, (r->m->n + 1) * sizeof(size_t));
    out->type = PV_VECTOR;
    collector c;
    collector_init(&c, &out->m);
    int rc = 0;
    for (size_t k = 0; k < ev->nsteps; k++) {
        if (ev_interrupted(ev)) {
            rc = -1;
            break;
        }
        int64_t ts = ev_step_time(ev, k);
        size_t stamp = k + 1;
        double v;
        for (size_t j = 0; j < r->m->n; j++)
            if (side_at(r, j, ts, &v))
                rstamp[r->sig[j]] = stamp;
        for (size_t i = 0; i < l->m->n; i++) {
            if (!side_at(l, i, ts, &v))
                continue;
            lstamp[l->sig[i]] = stamp;
            bool in_r = rstamp[l->sig[i]] == stamp;
            if (e->op == PQ_LAND ? !in_r : e->op == PQ_LUNLESS ? in_r : false)
                continue;
            if (lout[i] == (size_t)-1)
                lout[i] = collector_series(&c, &l->m->v[i].labels);
            collector_add(&c, lout[i], ts, v);
        }
        if (e->op != PQ_LOR)
            continue;
        for (size_t j = 0; j < r->m->n; j++) {
            if (!side_at(r, j, ts, &v) || lstamp[r->sig[j]] == stamp)
                continue;
            if (rout[j] == (size_t)-1)
                rout[j] = collector_series(&c, &r->m->v[j].labels);
            collector_add(&c, rout[j], ts, v);
        }
    }
    if (rc == 0)
        rc = collector_finish(ev, &c);
    else
        collector_free(&c);
    free(lstamp);
    free(rstamp);
    free(lout);
    free(rout);
    return rc;
}

static int vector_vector(evaluator *ev, promql_expr *e, pvalue *lv, pvalue *rv, pvalue *out)
{
    side l = {.m = &lv->m}, r = {.m = &rv->m};
    size_t nsigs = sign_sides(e, &l, &r);
    int rc = promql_op_is_set(e->op) ? vector_set_op(ev, e, &l, &r, nsigs, out)
                                     : vector_binop(ev, e, &l, &r, nsigs, out);
    side_free(&l);
    side_free(&r);
    return rc;
}

int ev_binary(evaluator *ev, promql_expr *e, pvalue *out)
{
    pvalue l, r;
    if (ev_eval(ev, e->lhs, &l) != 0)
        return -1;
    if (ev_eval(ev, e->rhs, &r) != 0) {
        pvalue_free(ev, &l);
        return -1;
    }
    int rc;
    if (l.type == PV_SCALAR && r.type == PV_SCALAR)
        rc = scalar_scalar(ev, e, &l, &r, out);
    else if (r.type == PV_SCALAR)
        rc = vector_scalar(ev, e, &l, r.scalar, false, out);
    else if (l.type == PV_SCALAR)
        rc = vector_scalar(ev, e, &r, l.scalar, true, out);
    else
        rc = vector_vector(ev, e, &l, &r, out);
    pvalue_free(ev, &l);
    pvalue_free(ev, &r);
    return rc;
}
