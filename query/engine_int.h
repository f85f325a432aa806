/*
 * engine_int.h — what the evaluator's files (engine.c, collector.c, eval_call.c,
 * eval_binary.c, eval_aggr.c) share: the evaluator state, the value of a
 * node over all steps, and the output collector.
 *
 * Every node is evaluated over all steps at once, as Prometheus's
 * rangeEval does: an instant-vector value is a set of series whose points
 * sit at step times; a scalar is one number per step; a range-vector value
 * (a range selector or subquery at the top of an instant query) holds raw
 * sample times.  An instant query is a range query of one step.
 */
#ifndef EMBER_QUERY_ENGINE_INT_H
#define EMBER_QUERY_ENGINE_INT_H

#include "query/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evaluator {
    const query_storage *st;
    int64_t start, end, interval; /* steps: start, start + interval, ... <= end */
    size_t nsteps;
    int64_t lookback;
    uint64_t max_samples, *cur_samples, *peak_samples; /* shared with sub-evaluators */
    int64_t deadline;
    const atomic_bool *cancel;
    size_t checks; /* work since the clock was last read (ev_interrupted_after) */
    promql_failure *fail;
} evaluator;

typedef struct pvalue {
    promql_value_type type;
    qseries_set m;  /* PV_VECTOR, PV_MATRIX */
    double *scalar; /* PV_SCALAR: nsteps values */
    char *str;      /* PV_STRING */
} pvalue;

/* Step i's time, and the step of a time that is one. */
static inline int64_t ev_step_time(const evaluator *ev, size_t i)
{
    return ev->start + (int64_t)i * ev->interval;
}
static inline size_t ev_step_index(const evaluator *ev, int64_t t)
{
    return ev->interval ? (size_t)((t - ev->start) / ev->interval) : 0;
}

/* Set the failure (first one wins); always returns -1. */
int ev_fail(evaluator *ev, promql_errtype type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True (with the failure set) when the deadline passed or the query was
 * canceled; cheap enough to call per series and step. */
bool ev_interrupted(evaluator *ev);
/* The same after work units (samples visited) of work: the clock is read
 * every few hundred units, so one series' huge windows are interrupted too. */
bool ev_interrupted_after(evaluator *ev, size_t work);
/* Account n more points held; false (failure set) over max_samples. */
bool ev_take_samples(evaluator *ev, size_t n);
/* A range function's window of n samples is held while its step is
 * computed (Prometheus counts it); false (failure set) over max_samples. */
bool ev_window_fits(evaluator *ev, size_t n);

int ev_eval(evaluator *ev, promql_expr *e, pvalue *out);
void pvalue_free(evaluator *ev, pvalue *v);
/* A scalar value of nsteps copies of x. */
void pvalue_scalar(evaluator *ev, pvalue *v, double x);

/*
 * The output of a node: series found by label set, points appended per
 * step in any series order.  finish sorts each series' points and fails
 * with "vector cannot contain metrics with the same labelset" when two
 * points of one series share a step (Prometheus checks this per step).
 */
typedef struct out_index out_index;
typedef struct collector {
    qseries_set *set;
    out_index *idx;
    size_t points;
} collector;

void collector_init(collector *c, qseries_set *set);
/* The series for ls (copied when new); its index in set. */
size_t collector_series(collector *c, const labelset *ls);
void collector_add(collector *c, size_t series, int64_t t, double v);
/* Release the index; 0, or -1 with the failure set. */
int collector_finish(evaluator *ev, collector *c);
void collector_free(collector *c);

/* Label helpers. */
void labels_drop_name(labelset *ls);
/* Copy of src without __name__. */
void labels_copy_without_name(labelset *dst, const labelset *src);

/* eval_call.c */
int ev_call(evaluator *ev, promql_expr *e, pvalue *out);
/* eval_binary.c */
int ev_binary(evaluator *ev, promql_expr *e, pvalue *out);
/* eval_aggr.c */
int ev_aggregate(evaluator *ev, promql_expr *e, pvalue *out);
/* engine.c: a subquery as series of step points (the matrix of the inner
 * evaluation), used by ev_call for functions of a subquery. */
int ev_subquery(evaluator *ev, promql_expr *e, pvalue *out);
/*
 * engine.c: select the series of the selector vs for [mint, maxt] and call
 * fn with each one's samples (staleness markers kept), in label-set order,
 * one series at a time; fn reads raw but does not keep it.  Stops at fn's
 * first non-zero return.
 */
typedef int (*series_fn)(evaluator *ev, const labelset *ls, const qseries *raw, void *arg);
int ev_select_each(evaluator *ev, promql_expr *vs, int64_t mint, int64_t maxt, series_fn fn,
                   void *arg);
/* The instant selector vs at every step into out (PV_VECTOR); with
 * timestamps, each point's value is its sample's time in seconds. */
int ev_select_vector(evaluator *ev, promql_expr *vs, bool timestamps, pvalue *out);

/* The expression under parens (and nothing else). */
promql_expr *unwrap_parens(promql_expr *e);

#endif
