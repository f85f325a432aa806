/*
 * ast.h — the PromQL syntax tree, as Prometheus 2.42's promql/parser/ast.go
 * shapes it, and its function table (functions.go).
 *
 * One tagged node type covers every expression; the fields used per kind
 * are listed at each member.  Nodes own their children, strings and
 * matchers; promql_expr_free releases a whole tree.  Positions are byte
 * offsets into the query that was parsed, [pos, end), as Prometheus's
 * PositionRange; parse errors (parse_expr.c) are reported from them.
 */
#ifndef EMBER_QUERY_AST_H
#define EMBER_QUERY_AST_H

#include "query/lexer.h"
#include "query/matcher.h"
#include "query/promql.h"

#include <stdarg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum promql_node_kind {
    PN_NUMBER,
    PN_STRING,
    PN_VECTOR,   /* instant vector selector */
    PN_MATRIX,   /* range selector: a PN_VECTOR child plus a range */
    PN_SUBQUERY, /* expr[range:step] */
    PN_UNARY,
    PN_BINARY,
    PN_AGGREGATE,
    PN_CALL,
    PN_PAREN,
} promql_node_kind;

/* Prometheus's ValueType, with its names ("vector", "matrix", ...). */
typedef enum promql_value_type {
    PV_NONE,
    PV_VECTOR,
    PV_SCALAR,
    PV_MATRIX,
    PV_STRING,
} promql_value_type;

/* Vector matching cardinality (CardOneToOne, ...). */
typedef enum promql_card {
    PC_ONE_TO_ONE,
    PC_MANY_TO_ONE, /* group_left */
    PC_ONE_TO_MANY, /* group_right */
    PC_MANY_TO_MANY,
} promql_card;

/* The @ modifier: none, a timestamp in ms, start() or end(). */
typedef enum promql_at_kind { PA_NONE, PA_TIMESTAMP, PA_START, PA_END } promql_at_kind;

typedef struct promql_labels {
    char **names;
    size_t n;
} promql_labels;

/* A function of Prometheus 2.42: argument types, variadic count (0: fixed,
 * n > 0: the last argument type may repeat up to n times in all, -1:
 * unbounded) and return type. */
typedef struct promql_function {
    const char *name;
    promql_value_type args[5];
    int nargs;
    int variadic;
    promql_value_type ret;
} promql_function;

const promql_function *promql_function_lookup(const char *name, size_t n);

typedef struct promql_expr promql_expr;

struct promql_expr {
    promql_node_kind kind;
    size_t pos, end;
    int depth; /* 1 + the deepest child's, bounded by the parser */

    double number; /* PN_NUMBER */
    char *str;     /* PN_STRING (str_len bytes, may hold NUL), PN_VECTOR name or NULL */
    size_t str_len;

    /* PN_VECTOR: matchers as written (the outside name is not among them);
     * PN_VECTOR / PN_SUBQUERY: offset and @. */
    label_matcher *matchers;
    size_t nmatchers;
    int64_t offset_ms;
    promql_at_kind at;
    int64_t at_ms;
    /* Set by the evaluator (engine.c): the offset with @ folded in, relative
     * to the evaluation start, as Prometheus's setOffsetForAtModifier. */
    int64_t eval_offset_ms;
    /* Set by the evaluator: the node's value is the same at every step, so
     * it is evaluated once and repeated (Prometheus's StepInvariantExpr). */
    bool invariant;

    int64_t range_ms, step_ms; /* PN_MATRIX, PN_SUBQUERY (step 0: default) */

    /* PN_UNARY, PN_BINARY, PN_AGGREGATE, PN_CALL: op is the operator or
     * aggregator token. */
    promql_token_type op;
    promql_expr *lhs; /* PN_BINARY; the operand of every one-child node */
    promql_expr *rhs; /* PN_BINARY; PN_AGGREGATE's parameter or NULL */

    /* PN_BINARY */
    bool return_bool;
    bool on; /* on (...) rather than ignoring (...) */
    promql_card card;
    promql_labels matching, include;

    /* PN_AGGREGATE */
    bool without;
    bool has_grouping; /* by/without was written */
    promql_labels grouping;

    /* PN_CALL */
    const promql_function *func;
    promql_expr **args;
    size_t nargs;
};

promql_expr *promql_node_new(promql_node_kind kind, size_t pos);
promql_value_type promql_expr_type(const promql_expr *e);
/* "vector", "scalar", "matrix", "string", "none" (ValueType.String). */
const char *promql_value_type_name(promql_value_type t);
/* "instant vector", "range vector", ... (documentedType). */
const char *promql_value_type_doc(promql_value_type t);
void promql_labels_push(promql_labels *l, const char *s, size_t n);
void promql_labels_free(promql_labels *l);
/* Operator and aggregator text as Prometheus prints it: "+", "and", "sum". */
const char *promql_op_text(promql_token_type op);
bool promql_op_is_comparison(promql_token_type op);
bool promql_op_is_set(promql_token_type op);

/* check.c: Prometheus's checkAST on a parsed tree; false with the first
 * error in err.  promql_error_vset writes "line:col: parse error: ..." for
 * byte offset pos of input. */
bool promql_check(const char *input, promql_expr *e, promql_error *err);
void promql_error_vset(promql_error *err, const char *input, size_t pos, const char *fmt,
                       va_list ap);

#endif
