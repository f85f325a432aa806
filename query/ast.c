/*
 * ast.c — PromQL syntax tree nodes: allocation and release, value types
 * (Expr.Type() of ast.go), operator names, and Prometheus 2.42's function
 * table (promql/parser/functions.go: argument types, variadic counts,
 * return types).
 */
#include "query/ast.h"

#include "common/mem.h"
#include "query/promql.h"

#include <stdlib.h>
#include <string.h>

#define V PV_VECTOR
#define S PV_SCALAR
#define M PV_MATRIX
#define STR PV_STRING

/* clang-format off */
static const promql_function functions[] = {
    {"abs", {V}, 1, 0, V},
    {"absent", {V}, 1, 0, V},
    {"absent_over_time", {M}, 1, 0, V},
    {"acos", {V}, 1, 0, V},
    {"acosh", {V}, 1, 0, V},
    {"asin", {V}, 1, 0, V},
    {"asinh", {V}, 1, 0, V},
    {"atan", {V}, 1, 0, V},
    {"atanh", {V}, 1, 0, V},
    {"avg_over_time", {M}, 1, 0, V},
    {"ceil", {V}, 1, 0, V},
    {"changes", {M}, 1, 0, V},
    {"clamp", {V, S, S}, 3, 0, V},
    {"clamp_max", {V, S}, 2, 0, V},
    {"clamp_min", {V, S}, 2, 0, V},
    {"cos", {V}, 1, 0, V},
    {"cosh", {V}, 1, 0, V},
    {"count_over_time", {M}, 1, 0, V},
    {"days_in_month", {V}, 1, 1, V},
    {"day_of_month", {V}, 1, 1, V},
    {"day_of_week", {V}, 1, 1, V},
    {"day_of_year", {V}, 1, 1, V},
    {"deg", {V}, 1, 0, V},
    {"delta", {M}, 1, 0, V},
    {"deriv", {M}, 1, 0, V},
    {"exp", {V}, 1, 0, V},
    {"floor", {V}, 1, 0, V},
    {"histogram_count", {V}, 1, 0, V},
    {"histogram_sum", {V}, 1, 0, V},
    {"histogram_fraction", {S, S, V}, 3, 0, V},
    {"histogram_quantile", {S, V}, 2, 0, V},
    {"holt_winters", {M, S, S}, 3, 0, V},
    {"hour", {V}, 1, 1, V},
    {"idelta", {M}, 1, 0, V},
    {"increase", {M}, 1, 0, V},
    {"irate", {M}, 1, 0, V},
    {"label_replace", {V, STR, STR, STR, STR}, 5, 0, V},
    {"label_join", {V, STR, STR, STR}, 4, -1, V},
    {"last_over_time", {M}, 1, 0, V},
    {"ln", {V}, 1, 0, V},
    {"log10", {V}, 1, 0, V},
    {"log2", {V}, 1, 0, V},
    {"max_over_time", {M}, 1, 0, V},
    {"min_over_time", {M}, 1, 0, V},
    {"minute", {V}, 1, 1, V},
    {"month", {V}, 1, 1, V},
    {"pi", {PV_NONE}, 0, 0, S},
    {"predict_linear", {M, S}, 2, 0, V},
    {"present_over_time", {M}, 1, 0, V},
    {"quantile_over_time", {S, M}, 2, 0, V},
    {"rad", {V}, 1, 0, V},
    {"rate", {M}, 1, 0, V},
    {"resets", {M}, 1, 0, V},
    {"round", {V, S}, 2, 1, V},
    {"scalar", {V}, 1, 0, S},
    {"sgn", {V}, 1, 0, V},
    {"sin", {V}, 1, 0, V},
    {"sinh", {V}, 1, 0, V},
    {"sort", {V}, 1, 0, V},
    {"sort_desc", {V}, 1, 0, V},
    {"sqrt", {V}, 1, 0, V},
    {"stddev_over_time", {M}, 1, 0, V},
    {"stdvar_over_time", {M}, 1, 0, V},
    {"sum_over_time", {M}, 1, 0, V},
    {"tan", {V}, 1, 0, V},
    {"tanh", {V}, 1, 0, V},
    {"time", {PV_NONE}, 0, 0, S},
    {"timestamp", {V}, 1, 0, V},
    {"vector", {S}, 1, 0, V},
    {"year", {V}, 1, 1, V},
};
/* clang-format on */

const promql_function *promql_function_lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (strlen(functions[i].name) == n && memcmp(functions[i].name, name, n) == 0)
            return &functions[i];
    return NULL;
}

promql_expr *promql_node_new(promql_node_kind kind, size_t pos)
{
    promql_expr *e = em_calloc(1, sizeof(*e));
    e->kind = kind;
    e->pos = e->end = pos;
    e->depth = 1;
    return e;
}

void promql_labels_push(promql_labels *l, const char *s, size_t n)
{
    l->names = em_realloc(l->names, (l->n + 1) * sizeof(char *));
    l->names[l->n++] = em_strndup(s, n);
}

void promql_labels_free(promql_labels *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = 0;
}

/* Recursion is bounded by the parser's depth limit (PROMQL_MAX_DEPTH). */
void promql_expr_free(promql_expr *e)
{
    if (!e)
        return;
    promql_expr_free(e->lhs);
    promql_expr_free(e->rhs);
    for (size_t i = 0; i < e->nargs; i++)
        promql_expr_free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->nmatchers; i++)
        matcher_free(&e->matchers[i]);
    free(e->matchers);
    free(e->str);
    promql_labels_free(&e->matching);
    promql_labels_free(&e->include);
    promql_labels_free(&e->grouping);
    free(e);
}

promql_value_type promql_expr_type(const promql_expr *e)
{
    switch (e->kind) {
    case PN_NUMBER: return PV_SCALAR;
    case PN_STRING: return PV_STRING;
    case PN_VECTOR:
    case PN_AGGREGATE: return PV_VECTOR;
    case PN_MATRIX:
    case PN_SUBQUERY: return PV_MATRIX;
    case PN_UNARY:
    case PN_PAREN: return promql_expr_type(e->lhs);
    case PN_CALL: return e->func->ret;
    case PN_BINARY:
        return promql_expr_type(e->lhs) == PV_SCALAR && promql_expr_type(e->rhs) == PV_SCALAR
                   ? PV_SCALAR
                   : PV_VECTOR;
    }
    return PV_NONE;
}

const char *promql_value_type_name(promql_value_type t)
{
    static const char *const names[] = {"none", "vector", "scalar", "matrix", "string"};
    return names[t];
}

const char *promql_value_type_doc(promql_value_type t)
{
    if (t == PV_VECTOR)
        return "instant vector";
    if (t == PV_MATRIX)
        return "range vector";
    return promql_value_type_name(t);
}

const char *promql_op_text(promql_token_type op)
{
    switch (op) {
    case PQ_ADD: return "+";
    case PQ_SUB: return "-";
    case PQ_MUL: return "*";
    case PQ_DIV: return "/";
    case PQ_MOD: return "%";
    case PQ_POW: return "^";
    case PQ_EQLC: return "==";
    case PQ_NEQ: return "!=";
    case PQ_LTE: return "<=";
    case PQ_LSS: return "<";
    case PQ_GTE: return ">=";
    case PQ_GTR: return ">";
    case PQ_LAND: return "and";
    case PQ_LOR: return "or";
    case PQ_LUNLESS: return "unless";
    case PQ_ATAN2: return "atan2";
    case PQ_AVG: return "avg";
    case PQ_BOTTOMK: return "bottomk";
    case PQ_COUNT: return "count";
    case PQ_COUNT_VALUES: return "count_values";
    case PQ_GROUP: return "group";
    case PQ_MAX: return "max";
    case PQ_MIN: return "min";
    case PQ_QUANTILE: return "quantile";
    case PQ_STDDEV: return "stddev";
    case PQ_STDVAR: return "stdvar";
    case PQ_SUM: return "sum";
    case PQ_TOPK: return "topk";
    default: return "?";
    }
}

bool promql_op_is_comparison(promql_token_type op)
{
    return op == PQ_EQLC || op == PQ_NEQ || op == PQ_LTE || op == PQ_LSS || op == PQ_GTE ||
           op == PQ_GTR;
}

bool promql_op_is_set(promql_token_type op)
{
    return op == PQ_LAND || op == PQ_LOR || op == PQ_LUNLESS;
}
