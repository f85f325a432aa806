/*
 * engine.h — PromQL evaluation: instant and range queries, as Prometheus
 * 2.42's promql engine evaluates them, over query/storage.h.
 *
 * Semantics are 2.42's to the detail: an instant selector takes the newest
 * sample in [t - lookback, t] unless it is a staleness marker; a range
 * selector takes the samples in [t - range, t] minus staleness markers;
 * offset and @ shift the reference time (@ relative to the query start, as
 * Prometheus's setOffsetForAtModifier); subqueries are evaluated at steps
 * aligned to their step (default 1 m); step-invariant parts run once.
 *
 * Results: an instant query gives a vector (one sample per series, stamped
 * with the evaluation time), a scalar, a string or a matrix (a range
 * selector at the top).  A range query always gives a matrix, sorted by
 * label set.  An instant vector is in the order the query defines (sort,
 * sort_desc, topk, bottomk), otherwise in the order Prometheus produces
 * (selectors by label set, operators in their left operand's order,
 * aggregations by each group's first series).
 *
 * Every limit ends the query with an error, never the process: the deadline
 * (timeout), a cancel flag, max_samples (points held at once, as
 * Prometheus's --query.max-samples) and PROMQL_MAX_STEPS for range queries.
 */
#ifndef EMBER_QUERY_ENGINE_H
#define EMBER_QUERY_ENGINE_H

#include "query/ast.h"
#include "query/promql.h"
#include "query/storage.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PROMQL_DEFAULT_MAX_SAMPLES 50000000u
#define PROMQL_MAX_STEPS 11000                /* points per series of a range query */
#define PROMQL_DEFAULT_SUBQUERY_STEP_MS 60000 /* Prometheus's default evaluation interval */

/* Prometheus's API error types; the HTTP code follows from the type. */
typedef enum promql_errtype {
    PROMQL_ERR_NONE,
    PROMQL_ERR_BAD_DATA,  /* 400: parse errors, bad parameters */
    PROMQL_ERR_EXECUTION, /* 422: runtime errors (duplicate series, many-to-many, too many samples)
                           */
    PROMQL_ERR_TIMEOUT,   /* 503 */
    PROMQL_ERR_CANCELED,  /* 503 */
    PROMQL_ERR_INTERNAL,  /* 500: storage failures */
} promql_errtype;

const char *promql_errtype_name(promql_errtype t); /* "bad_data", "execution", ... */
int promql_errtype_http_status(promql_errtype t);  /* 400, 422, 503, 503, 500 */

typedef struct promql_engine_options {
    int64_t lookback_ms;       /* <= 0: 5 m */
    uint64_t max_samples;      /* 0: PROMQL_DEFAULT_MAX_SAMPLES */
    int64_t deadline_ms;       /* absolute, now_ms() clock; 0: none */
    const atomic_bool *cancel; /* optional: set to stop the query */
} promql_engine_options;

typedef struct promql_result {
    promql_value_type type; /* PV_VECTOR, PV_MATRIX, PV_SCALAR or PV_STRING */
    /* PV_VECTOR: one sample per series; PV_MATRIX: the points of each
     * series; PV_SCALAR: one series without labels and one sample. */
    qseries_set series;
    char *string;          /* PV_STRING: the value (series holds one sample for its time) */
    uint64_t peak_samples; /* the most points held at once during evaluation */
} promql_result;

typedef struct promql_failure {
    promql_errtype type;
    char msg[512];
} promql_failure;

void promql_result_init(promql_result *r);
void promql_result_free(promql_result *r);

/*
 * Parse and evaluate query at time t (ms).  Returns 0 with *out filled, or
 * -1 with *fail set (parse errors are PROMQL_ERR_BAD_DATA with Prometheus's
 * "1:5: parse error: ..." text).
 */
int promql_query_instant(const query_storage *st, const promql_engine_options *o, const char *query,
                         int64_t t, promql_result *out, promql_failure *fail);

/*
 * Evaluate query at start, start + step, ... <= end (ms; step > 0).  The
 * query must be of scalar or instant-vector type ("invalid expression type
 * \"range vector\" for range query, must be Scalar or instant Vector").
 */
int promql_query_range(const query_storage *st, const promql_engine_options *o, const char *query,
                       int64_t start, int64_t end, int64_t step, promql_result *out,
                       promql_failure *fail);

#endif
