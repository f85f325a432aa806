/*
 * engine.c — the PromQL evaluator's driver: instant and range queries,
 * Prometheus's preprocessing (@ folded into offsets, step-invariant
 * subtrees), selectors, subqueries, literals and unary minus, and the
 * limits.  Calls, binary operators and aggregations live in eval_call.c,
 * eval_binary.c and eval_aggr.c; the output collector in collector.c.
 *
 * Semantics follow Prometheus 2.42's promql/engine.go; the comments name
 * the Go function a piece mirrors where that helps a reader compare.
 */
#include "query/engine_int.h"

#include "common/etime.h"
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERRUPT_CHECK_EVERY 256

/* ---- errors and limits ---- */

const char *promql_errtype_name(promql_errtype t)
{
    switch (t) {
    case PROMQL_ERR_BAD_DATA: return "bad_data";
    case PROMQL_ERR_EXECUTION: return "execution";
    case PROMQL_ERR_TIMEOUT: return "timeout";
    case PROMQL_ERR_CANCELED: return "canceled";
    case PROMQL_ERR_INTERNAL: return "internal";
    case PROMQL_ERR_NONE: break;
    }
    return "none";
}

int promql_errtype_http_status(promql_errtype t)
{
    switch (t) {
    case PROMQL_ERR_BAD_DATA: return 400;
    case PROMQL_ERR_EXECUTION: return 422;
    case PROMQL_ERR_TIMEOUT:
    case PROMQL_ERR_CANCELED: return 503;
    case PROMQL_ERR_INTERNAL:
    case PROMQL_ERR_NONE: break;
    }
    return 500;
}

int ev_fail(evaluator *ev, promql_errtype type, const char *fmt, ...)
{
    if (ev->fail->type != PROMQL_ERR_NONE)
        return -1;
    ev->fail->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->fail->msg, sizeof ev->fail->msg, fmt, ap);
    va_end(ap);
    return -1;
}

bool ev_interrupted(evaluator *ev)
{
    return ev_interrupted_after(ev, 1);
}

bool ev_interrupted_after(evaluator *ev, size_t work)
{
    if (ev->fail->type != PROMQL_ERR_NONE)
        return true;
    ev->checks += work;
    if (ev->checks < INTERRUPT_CHECK_EVERY)
        return false;
    ev->checks = 0;
    if (ev->cancel && atomic_load(ev->cancel)) {
        ev_fail(ev, PROMQL_ERR_CANCELED, "query was canceled in query execution");
        return true;
    }
    if (ev->deadline && now_ms() >= ev->deadline) {
        ev_fail(ev, PROMQL_ERR_TIMEOUT, "query timed out in query execution");
        return true;
    }
    return false;
}

bool ev_take_samples(evaluator *ev, size_t n)
{
    *ev->cur_samples += n;
    if (*ev->cur_samples > *ev->peak_samples)
        *ev->peak_samples = *ev->cur_samples;
    if (*ev->cur_samples > ev->max_samples) {
        ev_fail(ev, PROMQL_ERR_EXECUTION,
                "query processing would load too many samples into memory in query execution");
        return false;
    }
    return true;
}

bool ev_window_fits(evaluator *ev, size_t n)
{
    uint64_t with = *ev->cur_samples + n;
    if (with > *ev->peak_samples)
        *ev->peak_samples = with;
    if (with > ev->max_samples) {
        ev_fail(ev, PROMQL_ERR_EXECUTION,
                "query processing would load too many samples into memory in query execution");
        return false;
    }
    return true;
}

static void ev_release_samples(evaluator *ev, size_t n)
{
    *ev->cur_samples = *ev->cur_samples > n ? *ev->cur_samples - n : 0;
}

/* ---- values ---- */

static size_t set_points(const qseries_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].n;
    return n;
}

void pvalue_free(evaluator *ev, pvalue *v)
{
    if (v->type == PV_VECTOR || v->type == PV_MATRIX)
        ev_release_samples(ev, set_points(&v->m));
    qseries_set_free(&v->m);
    free(v->scalar);
    free(v->str);
    memset(v, 0, sizeof *v);
}

void pvalue_scalar(evaluator *ev, pvalue *v, double x)
{
    memset(v, 0, sizeof *v);
    v->type = PV_SCALAR;
    v->scalar = em_malloc(ev->nsteps * sizeof(double));
    for (size_t i = 0; i < ev->nsteps; i++)
        v->scalar[i] = x;
}

void labels_drop_name(labelset *ls)
{
    labels_del(ls, LABEL_METRIC_NAME);
}

void labels_copy_without_name(labelset *dst, const labelset *src)
{
    labels_init(dst);
    for (size_t i = 0; i < src->n; i++)
        if (strcmp(src->v[i].name, LABEL_METRIC_NAME) != 0)
            labels_add(dst, src->v[i].name, src->v[i].value);
}

promql_expr *unwrap_parens(promql_expr *e)
{
    while (e && e->kind == PN_PAREN)
        e = e->lhs;
    return e;
}

/* ---- preprocessing ---- */

static bool is_literal(const promql_expr *e)
{
    return e->kind == PN_NUMBER || e->kind == PN_STRING;
}

/* Functions whose value depends on the step even with invariant arguments
 * (Prometheus's AtModifierUnsafeFunctions). */
static bool at_unsafe_function(const char *name)
{
    static const char *const unsafe[] = {
        "days_in_month", "day_of_month", "day_of_week",    "day_of_year", "hour",     "minute",
        "month",         "year",         "predict_linear", "time",        "timestamp"};
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        if (strcmp(name, unsafe[i]) == 0)
            return true;
    return false;
}

static void resolve_at(promql_expr *e, int64_t start, int64_t end)
{
    if (e->at == PA_START)
        e->at_ms = start;
    else if (e->at == PA_END)
        e->at_ms = end;
    if (e->at != PA_NONE)
        e->at = PA_TIMESTAMP;
}

/* preprocessExprHelper: true when e is step invariant; marks invariant
 * children of a variant parent so that they run once. */
static bool mark_invariant(promql_expr *e, int64_t start, int64_t end)
{
    switch (e->kind) {
    case PN_VECTOR: resolve_at(e, start, end); return e->at != PA_NONE;
    case PN_MATRIX: return mark_invariant(e->lhs, start, end);
    case PN_AGGREGATE:
    case PN_PAREN:
    case PN_UNARY: return mark_invariant(e->lhs, start, end);
    case PN_NUMBER:
    case PN_STRING: return true;
    case PN_SUBQUERY: {
        if (mark_invariant(e->lhs, start, end))
            e->lhs->invariant = true;
        resolve_at(e, start, end);
        return e->at != PA_NONE;
    }
    case PN_BINARY: {
        bool l = mark_invariant(e->lhs, start, end), r = mark_invariant(e->rhs, start, end);
        if (l && r)
            return true;
        e->lhs->invariant = l;
        e->rhs->invariant = r;
        return false;
    }
    case PN_CALL: {
        bool all = !at_unsafe_function(e->func->name);
        bool *inv = em_calloc(e->nargs + 1, sizeof(bool));
        for (size_t i = 0; i < e->nargs; i++) {
            inv[i] = mark_invariant(e->args[i], start, end);
            all = all && inv[i];
        }
        if (!all)
            for (size_t i = 0; i < e->nargs; i++)
                e->args[i]->invariant = inv[i];
        free(inv);
        return all;
    }
    }
    return false;
}

#define MAX_EVAL_OFFSET_MS ((int64_t)1 << 60) /* ~36 million years */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_sub_overflow(a, b, &r) ? (b < 0 ? INT64_MAX : INT64_MIN) : r;
}

/* The subqueries on the path from the root to a node (its ancestors). */
typedef struct subq_path {
    const promql_expr **v;
    size_t n, cap;
} subq_path;

/* getOffset of setOffsetForAtModifier: the offset that makes the @ time
 * come out when the node is evaluated at eval_time. */
static int64_t at_offset(const promql_expr *e, int64_t eval_time, const subq_path *path)
{
    if (e->at == PA_NONE)
        return e->offset_ms;
    int64_t subq_offset = 0;
    bool subq_at = false;
    int64_t subq_ts = 0;
    for (size_t i = 0; i < path->n; i++) {
        const promql_expr *s = path->v[i];
        subq_offset = sat_add(subq_offset, s->offset_ms);
        if (s->at != PA_NONE) {
            subq_offset = s->offset_ms;
            subq_ts = s->at_ms;
            subq_at = true;
        }
    }
    if (subq_at)
        subq_offset = sat_add(subq_offset, sat_sub(eval_time, subq_ts));
    int64_t off = sat_sub(sat_add(e->offset_ms, sat_sub(eval_time, e->at_ms)), subq_offset);
    /* An @ time at the ends of int64 is as far from any data as one a few
     * million years away; bounding the offset keeps every window
     * computation (t - offset - range - lookback) inside int64. */
    return off < -MAX_EVAL_OFFSET_MS  ? -MAX_EVAL_OFFSET_MS
           : off > MAX_EVAL_OFFSET_MS ? MAX_EVAL_OFFSET_MS
                                      : off;
}

static void set_offsets(promql_expr *e, int64_t eval_time, subq_path *path)
{
    if (!e)
        return;
    switch (e->kind) {
    case PN_VECTOR: e->eval_offset_ms = at_offset(e, eval_time, path); return;
    case PN_SUBQUERY:
        e->eval_offset_ms = at_offset(e, eval_time, path);
        EM_GROW(path->v, path->cap, path->n + 1);
        path->v[path->n++] = e;
        set_offsets(e->lhs, eval_time, path);
        path->n--;
        return;
    case PN_CALL:
        for (size_t i = 0; i < e->nargs; i++)
            set_offsets(e->args[i], eval_time, path);
        return;
    default:
        set_offsets(e->lhs, eval_time, path);
        set_offsets(e->rhs, eval_time, path);
        return;
    }
}

static void set_at_offsets(promql_expr *e, int64_t eval_time)
{
    subq_path path = {0};
    set_offsets(e, eval_time, &path);
    free(path.v);
}

/* ---- selectors ---- */

/* The selector's matchers with the outside name as a __name__ = matcher;
 * shallow copies: the tree keeps ownership. */
static label_matcher *selector_matchers(const promql_expr *vs, size_t *n)
{
    label_matcher *ms = em_calloc(vs->nmatchers + 1, sizeof *ms);
    *n = 0;
    if (vs->str)
        ms[(*n)++] = (label_matcher){.type = MATCH_EQ, .name = LABEL_METRIC_NAME, .value = vs->str};
    for (size_t i = 0; i < vs->nmatchers; i++)
        ms[(*n)++] = vs->matchers[i];
    return ms;
}

static int cmp_selected(const void *a, const void *b)
{
    return labels_compare(&((const qselected *)a)->labels, &((const qselected *)b)->labels);
}

int ev_select_each(evaluator *ev, promql_expr *vs, int64_t mint, int64_t maxt, series_fn fn,
                   void *arg)
{
    size_t nms;
    label_matcher *ms = selector_matchers(vs, &nms);
    qselect_set found;
    qselect_set_init(&found);
    char err[400];
    int rc = ev->st->select(ev->st->ctx, ms, nms, mint, maxt, &found, err, sizeof err);
    /* A regex that gave up on PCRE2's limits selected an unknown set. */
    bool limit = rc == 0 && matchers_limit_hit(ms, nms);
    free(ms);
    if (rc != 0 || limit) {
        qselect_set_free(&found);
        if (limit)
            return ev_fail(ev, PROMQL_ERR_EXECUTION,
                           "regex match limit exceeded (catastrophic backtracking?) in a "
                           "selector's matcher");
        return ev_fail(ev, PROMQL_ERR_INTERNAL, "%s", err);
    }
    /* Prometheus's storage hands series over sorted by label set, and the
     * order shows: it decides ties in topk and the last bits of sums. */
    if (found.n > 1)
        qsort(found.v, found.n, sizeof *found.v, cmp_selected);
    /* One series' samples at a time, so that memory follows the answer,
     * not the range read.  As in Prometheus, which streams them through an
     * iterator, they do not count against max_samples: the points made
     * from them do. */
    qseries raw = {.samples = NULL};
    for (size_t i = 0; i < found.n && rc == 0; i++) {
        if (ev_interrupted(ev)) {
            rc = -1;
            break;
        }
        raw.n = 0;
        qiter *it = found.v[i].it;
        for (bool ok = qiter_seek(it, mint); ok && it->t <= maxt; ok = qiter_next(it))
            qseries_push(&raw, it->t, it->v);
        rc = fn(ev, &found.v[i].labels, &raw, arg);
    }
    free(raw.samples);
    qselect_set_free(&found);
    return rc;
}

/* vectorSelectorSingle at every step of ev over one series' samples. */
static void ev_instant_points(evaluator *ev, const qseries *raw, int64_t offset, bool timestamps,
                              qseries *out)
{
    size_t j = 0;
    for (size_t i = 0; i < ev->nsteps; i++) {
        int64_t ts = ev_step_time(ev, i), ref = ts - offset;
        while (j < raw->n && raw->samples[j].t <= ref)
            j++;
        if (j == 0)
            continue;
        const qsample *last = &raw->samples[j - 1];
        if (last->t < ref - ev->lookback || is_stale_nan(last->v))
            continue;
        qseries_push(out, ts, timestamps ? (double)last->t / 1000.0 : last->v);
    }
}

/* Where selected series' points go: out, and with or without the
 * samples' own times as values (timestamp()). */
typedef struct vector_sink {
    qseries_set *out;
    int64_t offset;
    bool timestamps;
} vector_sink;

static int vector_series(evaluator *ev, const labelset *ls, const qseries *raw, void *arg)
{
    vector_sink *sink = arg;
    qseries pts = {.samples = NULL};
    ev_instant_points(ev, raw, sink->offset, sink->timestamps, &pts);
    if (pts.n == 0) {
        free(pts.samples);
        return 0;
    }
    qseries *s = qseries_set_add(sink->out, ls);
    s->samples = pts.samples;
    s->n = pts.n;
    s->cap = pts.cap;
    return ev_take_samples(ev, pts.n) ? 0 : -1;
}

int ev_select_vector(evaluator *ev, promql_expr *vs, bool timestamps, pvalue *out)
{
    int64_t off = vs->eval_offset_ms;
    memset(out, 0, sizeof *out);
    out->type = PV_VECTOR;
    vector_sink sink = {&out->m, off, timestamps};
    return ev_select_each(ev, vs, ev->start - off - ev->lookback, ev->end - off, vector_series,
                          &sink);
}

/* A range selector's series as it is: the samples but staleness markers. */
static int matrix_series(evaluator *ev, const labelset *ls, const qseries *raw, void *arg)
{
    qseries_set *out = arg;
    qseries *s = NULL;
    for (size_t j = 0; j < raw->n; j++) {
        if (is_stale_nan(raw->samples[j].v))
            continue;
        if (!s)
            s = qseries_set_add(out, ls);
        qseries_push(s, raw->samples[j].t, raw->samples[j].v);
    }
    return ev_take_samples(ev, s ? s->n : 0) ? 0 : -1;
}

/* A range selector at the top of an instant query: the raw samples of
 * [t - offset - range, t - offset] without staleness markers. */
static int eval_matrix_selector(evaluator *ev, promql_expr *e, pvalue *out)
{
    promql_expr *vs = e->lhs;
    int64_t maxt = ev->start - vs->eval_offset_ms, mint = maxt - e->range_ms;
    out->type = PV_MATRIX;
    return ev_select_each(ev, vs, mint, maxt, matrix_series, &out->m);
}

int ev_subquery(evaluator *ev, promql_expr *e, pvalue *out)
{
    int64_t off = e->eval_offset_ms, interval = e->step_ms;
    if (interval <= 0)
        interval = PROMQL_DEFAULT_SUBQUERY_STEP_MS;
    evaluator sub = *ev;
    sub.interval = interval;
    sub.end = ev->end - off;
    int64_t first = ev->start - off - e->range_ms;
    sub.start = interval * (first / interval);
    if (sub.start < first)
        sub.start += interval;
    sub.nsteps = sub.start > sub.end ? 0 : (size_t)((sub.end - sub.start) / interval) + 1;
    if (sub.start != ev->start)
        set_at_offsets(e->lhs, sub.start);
    memset(out, 0, sizeof *out);
    if (sub.nsteps == 0) {
        out->type = PV_MATRIX;
        return 0;
    }
    int rc = ev_eval(&sub, e->lhs, out);
    ev->checks = sub.checks;
    if (rc == 0)
        out->type = PV_MATRIX;
    return rc;
}

/* ---- literals, unary minus, step invariance ---- */

static int eval_unary(evaluator *ev, promql_expr *e, pvalue *out)
{
    if (ev_eval(ev, e->lhs, out) != 0)
        return -1;
    if (e->op != PQ_SUB)
        return 0;
    if (out->type == PV_SCALAR) {
        for (size_t i = 0; i < ev->nsteps; i++)
            out->scalar[i] = -out->scalar[i];
        return 0;
    }
    qseries_set in = out->m;
    qseries_set_init(&out->m);
    collector c;
    collector_init(&c, &out->m);
    for (size_t i = 0; i < in.n; i++) {
        labels_drop_name(&in.v[i].labels);
        size_t s = collector_series(&c, &in.v[i].labels);
        for (size_t j = 0; j < in.v[i].n; j++)
            collector_add(&c, s, in.v[i].samples[j].t, -in.v[i].samples[j].v);
    }
    ev_release_samples(ev, set_points(&in));
    qseries_set_free(&in);
    return collector_finish(ev, &c);
}

/* Repeat a one-step vector or scalar over every step of ev. */
static int repeat_steps(evaluator *ev, pvalue *v)
{
    if (v->type == PV_SCALAR) {
        double x = v->scalar[0];
        free(v->scalar);
        pvalue_scalar(ev, v, x);
        return 0;
    }
    if (v->type != PV_VECTOR)
        return 0;
    size_t points = 0;
    for (size_t i = 0; i < v->m.n; i++) {
        qseries *s = &v->m.v[i];
        if (s->n == 0)
            continue;
        double x = s->samples[0].v;
        s->n = 0;
        for (size_t j = 0; j < ev->nsteps; j++)
            qseries_push(s, ev_step_time(ev, j), x);
        points += ev->nsteps - 1;
    }
    return ev_take_samples(ev, points) ? 0 : -1;
}

static int eval_invariant(evaluator *ev, promql_expr *e, pvalue *out)
{
    evaluator once = *ev;
    once.end = ev->start;
    once.nsteps = 1;
    e->invariant = false;
    int rc = ev_eval(&once, e, out);
    e->invariant = true;
    ev->checks = once.checks;
    if (rc != 0)
        return -1;
    promql_expr *inner = unwrap_parens(e);
    if (inner->kind == PN_MATRIX || inner->kind == PN_SUBQUERY)
        return 0;
    return repeat_steps(ev, out);
}

static int eval_node(evaluator *ev, promql_expr *e, pvalue *out)
{
    if (e->invariant && !is_literal(e) && ev->nsteps > 1)
        return eval_invariant(ev, e, out);
    switch (e->kind) {
    case PN_NUMBER: pvalue_scalar(ev, out, e->number); return 0;
    case PN_STRING:
        out->type = PV_STRING;
        out->str = em_strndup(e->str, e->str_len);
        return 0;
    case PN_PAREN: return ev_eval(ev, e->lhs, out);
    case PN_VECTOR: return ev_select_vector(ev, e, false, out);
    case PN_MATRIX: return eval_matrix_selector(ev, e, out);
    case PN_SUBQUERY: return ev_subquery(ev, e, out);
    case PN_UNARY: return eval_unary(ev, e, out);
    case PN_BINARY: return ev_binary(ev, e, out);
    case PN_AGGREGATE: return ev_aggregate(ev, e, out);
    case PN_CALL: return ev_call(ev, e, out);
    }
    return ev_fail(ev, PROMQL_ERR_INTERNAL, "unexpected expression node %d", (int)e->kind);
}

int ev_eval(evaluator *ev, promql_expr *e, pvalue *out)
{
    memset(out, 0, sizeof *out);
    if (ev_interrupted(ev))
        return -1;
    int rc = eval_node(ev, e, out);
    if (rc != 0)
        pvalue_free(ev, out); /* whatever the node had made when it failed */
    return rc;
}

/* ---- queries ---- */

void promql_result_init(promql_result *r)
{
    memset(r, 0, sizeof *r);
    qseries_set_init(&r->series);
}

void promql_result_free(promql_result *r)
{
    qseries_set_free(&r->series);
    free(r->string);
    memset(r, 0, sizeof *r);
}

static void evaluator_init(evaluator *ev, const query_storage *st, const promql_engine_options *o,
                           promql_failure *fail, uint64_t *cur, uint64_t *peak)
{
    memset(ev, 0, sizeof *ev);
    ev->st = st;
    ev->lookback = o && o->lookback_ms > 0 ? o->lookback_ms : PROMQL_DEFAULT_LOOKBACK_MS;
    ev->max_samples = o && o->max_samples ? o->max_samples : PROMQL_DEFAULT_MAX_SAMPLES;
    ev->deadline = o ? o->deadline_ms : 0;
    ev->cancel = o ? o->cancel : NULL;
    ev->cur_samples = cur;
    ev->peak_samples = peak;
    ev->fail = fail;
    fail->type = PROMQL_ERR_NONE;
    fail->msg[0] = '\0';
}

static int parse(const char *query, promql_expr **e, promql_failure *fail)
{
    promql_error perr;
    if (promql_parse(query, e, &perr) == 0)
        return 0;
    fail->type = PROMQL_ERR_BAD_DATA;
    snprintf(fail->msg, sizeof fail->msg, "%s", perr.msg);
    return -1;
}

/* Prepare e for evaluation from start to end (PreprocessExpr and the
 * first setOffsetForAtModifier). */
static void preprocess(promql_expr *e, int64_t start, int64_t end)
{
    if (mark_invariant(e, start, end))
        e->invariant = true;
    set_at_offsets(e, start);
}

static int run(const query_storage *st, const promql_engine_options *o, promql_expr *e,
               int64_t start, int64_t end, int64_t interval, pvalue *v, promql_failure *fail,
               uint64_t *peak)
{
    uint64_t cur = 0;
    *peak = 0;
    memset(v, 0, sizeof *v);
    evaluator ev;
    evaluator_init(&ev, st, o, fail, &cur, peak);
    ev.start = start;
    ev.end = end;
    ev.interval = interval;
    ev.nsteps = (size_t)((end - start) / interval) + 1;
    preprocess(e, start, end);
    ev.checks = INTERRUPT_CHECK_EVERY; /* look at the clock before starting */
    if (ev_interrupted(&ev))
        return -1;
    return ev_eval(&ev, e, v);
}

int promql_query_instant(const query_storage *st, const promql_engine_options *o, const char *query,
                         int64_t t, promql_result *out, promql_failure *fail)
{
    promql_result_init(out);
    promql_expr *e;
    if (parse(query, &e, fail) != 0)
        return -1;
    pvalue v;
    int rc = run(st, o, e, t, t, 1, &v, fail, &out->peak_samples);
    promql_expr_free(e);
    if (rc != 0) {
        qseries_set_free(&v.m);
        free(v.scalar);
        free(v.str);
        return -1;
    }
    out->type = v.type;
    if (v.type == PV_SCALAR) {
        labelset none;
        labels_init(&none);
        qseries_push(qseries_set_add(&out->series, &none), t, v.scalar[0]);
        free(v.scalar);
    } else if (v.type == PV_STRING) {
        labelset none;
        labels_init(&none);
        qseries_push(qseries_set_add(&out->series, &none), t, 0);
        out->string = v.str;
    } else {
        out->series = v.m;
        for (size_t i = 0; v.type == PV_VECTOR && i < out->series.n; i++)
            out->series.v[i].samples[0].t = t;
    }
    return 0;
}

int promql_query_range(const query_storage *st, const promql_engine_options *o, const char *query,
                       int64_t start, int64_t end, int64_t step, promql_result *out,
                       promql_failure *fail)
{
    promql_result_init(out);
    promql_expr *e;
    if (parse(query, &e, fail) != 0)
        return -1;
    promql_value_type t = promql_expr_type(e);
    if (t != PV_VECTOR && t != PV_SCALAR) {
        fail->type = PROMQL_ERR_BAD_DATA;
        snprintf(fail->msg, sizeof fail->msg,
                 "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                 promql_value_type_doc(t));
        promql_expr_free(e);
        return -1;
    }
    if (step <= 0 || end < start) {
        fail->type = PROMQL_ERR_BAD_DATA;
        snprintf(fail->msg, sizeof fail->msg, "invalid range: start %lld, end %lld, step %lld",
                 (long long)start, (long long)end, (long long)step);
        promql_expr_free(e);
        return -1;
    }
    if ((uint64_t)(end - start) / (uint64_t)step > PROMQL_MAX_STEPS) {
        fail->type = PROMQL_ERR_BAD_DATA;
        snprintf(fail->msg, sizeof fail->msg,
                 "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
                 "query resolution (?step=XX)");
        promql_expr_free(e);
        return -1;
    }
    pvalue v;
    int rc = run(st, o, e, start, end, step, &v, fail, &out->peak_samples);
    promql_expr_free(e);
    if (rc != 0) {
        qseries_set_free(&v.m);
        free(v.scalar);
        return -1;
    }
    out->type = PV_MATRIX;
    if (v.type == PV_SCALAR) {
        labelset none;
        labels_init(&none);
        qseries *s = qseries_set_add(&out->series, &none);
        for (size_t i = 0; i * (uint64_t)step <= (uint64_t)(end - start); i++)
            qseries_push(s, start + (int64_t)i * step, v.scalar[i]);
        free(v.scalar);
    } else {
        out->series = v.m;
        qseries_set_sort(&out->series);
    }
    return 0;
}
