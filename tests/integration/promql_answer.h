/*
 * promql_answer.h — reads an answer of Prometheus's /api/v1/query or
 * /api/v1/query_range (JSON) into series of points, and compares two of
 * them the way the PromQL agreement test wants: same status and errorType,
 * same resultType, the same label sets (as a set, or in order where the
 * query defines one), the same timestamps, values within 1e-9 relative
 * with NaN equal to NaN.  Used by tests/integration/test_promql_agreement.c.
 */
#ifndef EMBER_TESTS_PROMQL_ANSWER_H
#define EMBER_TESTS_PROMQL_ANSWER_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prom_point {
    int64_t t_ms;
    double v;
} prom_point;

typedef struct prom_series {
    char *labels; /* {a="b",c="d"}, names sorted */
    prom_point *pts;
    size_t n, cap;
} prom_series;

typedef struct prom_answer {
    long http_status;
    bool ok;             /* "status":"success" */
    char *error_type;    /* when !ok ("(no JSON)" when the body was not an answer) */
    char *error;         /* when !ok */
    char *result_type;   /* when ok: vector, matrix, scalar or string */
    char *string;        /* a string result's value */
    prom_series *series; /* a scalar is one series with labels "" */
    size_t n, cap;
} prom_answer;

/* Read body (never fails: a body that is not an answer becomes an error). */
void prom_answer_parse(prom_answer *a, long http_status, const char *body);
void prom_answer_free(prom_answer *a);
/* Whether a successful answer holds at least one point (or a string). */
bool prom_answer_has_data(const prom_answer *a);

/*
 * Differences between Prometheus's answer (want) and ours (got), one line
 * each into diff (at most max_lines lines, then a count of the rest).
 * PROM_DIFF_ORDERED: the instant vector's order must agree too.
 * PROM_DIFF_TIES: a point one side has on series A and the other on
 * series B, at the same time with the same value, is a tie that topk or
 * bottomk may break either way (Prometheus breaks it by its storage's
 * iteration order, which is not even stable in its own promtool) and not
 * a difference.  Returns the number of differences (0: they agree).
 */
#define PROM_DIFF_ORDERED 1u
#define PROM_DIFF_TIES 2u
size_t prom_answer_diff(const prom_answer *want, const prom_answer *got, unsigned how,
                        size_t max_lines, ebuf *diff);

#endif
