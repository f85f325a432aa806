/*
 * functions.h — the numeric and label kernels of PromQL's functions
 * (Prometheus 2.42's promql/functions.go and quantile.go), free of any
 * evaluation machinery so that each can be tested by hand.
 *
 * The engine (engine.c) walks series and steps and calls these:
 *   PF_RANGE  once per series and step with the samples of the window
 *             (rate, irate, increase, delta, idelta, deriv, predict_linear,
 *             changes, resets, holt_winters, *_over_time but absent_over_time);
 *   PF_MATH   once per sample of an instant vector (abs ... year); false
 *             drops the sample (clamp with max < min);
 *   PF_ENGINE the engine implements the function itself with the helpers
 *             below (time, vector, scalar, absent, absent_over_time, sort,
 *             sort_desc, timestamp, label_replace, label_join,
 *             histogram_quantile, histogram_* on native histograms, pi).
 */
#ifndef EMBER_QUERY_FUNCTIONS_H
#define EMBER_QUERY_FUNCTIONS_H

#include "common/labels.h"
#include "query/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The samples a range function sees at one step of one series. */
typedef struct promql_window {
    const qsample *pts; /* ascending, in [range_start, range_end], no staleness markers; n >= 1 */
    size_t n;
    int64_t t;                      /* the evaluation time of the step (ms) */
    int64_t range_start, range_end; /* t - offset - range, t - offset (ms) */
    const double *args;             /* scalar arguments at this step, in call order */
} promql_window;

typedef enum promql_fn_kind { PF_RANGE, PF_MATH, PF_ENGINE } promql_fn_kind;

typedef struct promql_fn_impl {
    const char *name;
    promql_fn_kind kind;
    bool (*range)(const promql_window *w, double *out);      /* PF_RANGE */
    bool (*math)(double v, const double *args, double *out); /* PF_MATH */
} promql_fn_impl;

/* Every function of the parser's table (ast.c) has an entry. */
const promql_fn_impl *promql_fn_impl_lookup(const char *name);

/*
 * Argument checks that are execution errors in Prometheus, to be called
 * with the step's scalar arguments wherever the function's kernel would
 * run (2.42 raises them only when it evaluates the function for a series):
 * holt_winters' "invalid smoothing factor. Expected: 0 < sf < 1, got: %f"
 * and "invalid trend factor. Expected: 0 < tf < 1, got: %f".  Returns
 * false with the text in err; true for every other function.
 */
bool promql_fn_check_args(const char *name, const double *args, size_t nargs, char *err,
                          size_t errlen);

/*
 * quantile(): φ-quantile of values[0..n) with Prometheus's interpolation
 * (sorts values in place); NaN for n == 0, -Inf for q < 0, +Inf for q > 1,
 * NaN for NaN q.
 */
double promql_quantile(double q, double *values, size_t n);

typedef struct promql_bucket {
    double upper; /* the le bound */
    double count;
} promql_bucket;

/*
 * bucketQuantile(): the φ-quantile of classic histogram buckets (sorted in
 * place by upper bound), with Prometheus's coalescing of equal bounds,
 * monotonicity repair, +Inf bucket rules and linear interpolation.
 */
double promql_bucket_quantile(double q, promql_bucket *b, size_t n);

/*
 * label_replace(): compiled once per call.  new returns NULL with
 * Prometheus's error text in err ("invalid regular expression in
 * label_replace(): ...", "invalid destination label name in
 * label_replace(): ...").  apply rewrites ls (sorted) in place: when the
 * fully anchored regex matches the value of src (absent = ""), dst becomes
 * the expansion of repl ($1, ${1}, $name, ${name} as Go's Regexp.Expand);
 * an empty result deletes dst.
 */
typedef struct promql_label_replacer promql_label_replacer;
promql_label_replacer *promql_label_replacer_new(const char *dst, const char *repl, const char *src,
                                                 const char *regex, char *err, size_t errlen);
void promql_label_replacer_apply(const promql_label_replacer *r, labelset *ls);
void promql_label_replacer_free(promql_label_replacer *r);

/*
 * label_join(): check names first (Prometheus's texts: "invalid
 * destination label name in label_join(): x", "invalid source label name
 * in label_join(): x"), then set dst on ls to the values of srcs joined by
 * sep (absent = ""); an empty result deletes dst.
 */
bool promql_label_join_check(const char *dst, const char *const *srcs, size_t nsrcs, char *err,
                             size_t errlen);
void promql_label_join_apply(labelset *ls, const char *dst, const char *sep,
                             const char *const *srcs, size_t nsrcs);

#endif
