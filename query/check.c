/*
 * check.c — Prometheus 2.42's type check of a parsed tree (checkAST in
 * promql/parser/parse.go): operand types of operators, calls and
 * aggregations, bool and vector matching rules, selectors that would
 * match everything; and the "line:col: parse error: " text of errors.
 * As Go's ParseErrors.Error() only the first error is reported.
 */
#include "query/ast.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void promql_error_vset(promql_error *err, const char *input, size_t pos, const char *fmt,
                       va_list ap)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < pos && input[i]; i++)
        if (input[i] == '\n')
            line++, line_start = i + 1;
    int n =
        snprintf(err->msg, sizeof(err->msg), "%zu:%zu: parse error: ", line, pos - line_start + 1);
    vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
    err->pos = pos;
}

typedef struct checker {
    const char *input;
    size_t len;
    bool failed;
    promql_error *err;
} checker;

static void p_err(checker *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void p_err(checker *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    promql_error_vset(p->err, p->input, pos, fmt, ap);
    va_end(ap);
}

static promql_value_type check(checker *p, promql_expr *e);

static void expect_type(checker *p, promql_expr *e, promql_value_type want, const char *context)
{
    promql_value_type t = check(p, e);
    if (t != want)
        p_err(p, e->pos, "expected type %s in %s, got %s", promql_value_type_doc(want), context,
              promql_value_type_doc(t));
}

/* The operator of a binary expression: first non-space after the LHS. */
static size_t op_pos(checker *p, const promql_expr *b)
{
    size_t i = b->lhs->end;
    while (i < p->len && strchr(" \t\n\r", p->input[i]))
        i++;
    return i;
}

static void check_binary(checker *p, promql_expr *b)
{
    promql_value_type lt = check(p, b->lhs), rt = check(p, b->rhs);
    const char *op = promql_op_text(b->op);
    if (b->return_bool && !promql_op_is_comparison(b->op))
        p_err(p, op_pos(p, b), "bool modifier can only be used on comparison operators");
    if (promql_op_is_comparison(b->op) && !b->return_bool && lt == PV_SCALAR && rt == PV_SCALAR)
        p_err(p, op_pos(p, b), "comparisons between scalars must use BOOL modifier");
    if (promql_op_is_set(b->op) && b->card == PC_ONE_TO_ONE)
        b->card = PC_MANY_TO_MANY;
    for (size_t i = 0; b->on && i < b->matching.n; i++)
        for (size_t j = 0; j < b->include.n; j++)
            if (strcmp(b->matching.names[i], b->include.names[j]) == 0)
                p_err(p, op_pos(p, b), "label \"%s\" must not occur in ON and GROUP clause at once",
                      b->include.names[j]);
    if (lt != PV_SCALAR && lt != PV_VECTOR)
        p_err(p, b->lhs->pos,
              "binary expression must contain only scalar and instant vector types");
    if (rt != PV_SCALAR && rt != PV_VECTOR)
        p_err(p, b->rhs->pos,
              "binary expression must contain only scalar and instant vector types");
    if (lt != PV_VECTOR || rt != PV_VECTOR) {
        if (b->matching.n > 0)
            p_err(p, b->pos, "vector matching only allowed between instant vectors");
        /* Prometheus drops the matching (VectorMatching = nil). */
        b->on = false;
        b->card = PC_ONE_TO_ONE;
        promql_labels_free(&b->matching);
        promql_labels_free(&b->include);
    } else if (promql_op_is_set(b->op)) {
        if (b->card == PC_ONE_TO_MANY || b->card == PC_MANY_TO_ONE)
            p_err(p, b->pos, "no grouping allowed for \"%s\" operation", op);
        if (b->card != PC_MANY_TO_MANY)
            p_err(p, b->pos, "set operations must always be many-to-many");
    }
    if ((lt == PV_SCALAR || rt == PV_SCALAR) && promql_op_is_set(b->op))
        p_err(p, b->pos, "set operator \"%s\" not allowed in binary scalar expression", op);
}

static void check_call(checker *p, promql_expr *c)
{
    const promql_function *f = c->func;
    size_t nargs = (size_t)f->nargs;
    if (f->variadic == 0) {
        if (nargs != c->nargs)
            p_err(p, c->pos, "expected %zu argument(s) in call to \"%s\", got %zu", nargs, f->name,
                  c->nargs);
    } else if (nargs - 1 > c->nargs) {
        p_err(p, c->pos, "expected at least %zu argument(s) in call to \"%s\", got %zu", nargs - 1,
              f->name, c->nargs);
    } else if (f->variadic > 0 && nargs - 1 + (size_t)f->variadic < c->nargs) {
        p_err(p, c->pos, "expected at most %zu argument(s) in call to \"%s\", got %zu",
              nargs - 1 + (size_t)f->variadic, f->name, c->nargs);
    }
    char ctx[64];
    snprintf(ctx, sizeof(ctx), "call to function \"%s\"", f->name);
    for (size_t i = 0; i < c->nargs; i++) {
        size_t ai = i;
        if (i >= nargs) {
            if (f->variadic == 0)
                break;
            ai = nargs - 1;
        }
        expect_type(p, c->args[i], f->args[ai], ctx);
    }
}

static void check_selector(checker *p, const promql_expr *vs)
{
    if (vs->str) {
        for (size_t i = 0; i < vs->nmatchers; i++)
            if (strcmp(vs->matchers[i].name, LABEL_METRIC_NAME) == 0) {
                ebuf a, b;
                ebuf_init(&a), ebuf_init(&b);
                promql_quote(&a, vs->str, strlen(vs->str));
                promql_quote(&b, vs->matchers[i].value, strlen(vs->matchers[i].value));
                p_err(p, vs->pos, "metric name must not be set twice: %s or %s", a.data, b.data);
                ebuf_free(&a), ebuf_free(&b);
            }
        return;
    }
    for (size_t i = 0; i < vs->nmatchers; i++)
        if (!matcher_matches(&vs->matchers[i], ""))
            return;
    p_err(p, vs->pos, "vector selector must contain at least one non-empty matcher");
}

static promql_value_type check(checker *p, promql_expr *e)
{
    promql_value_type t;
    switch (e->kind) {
    case PN_AGGREGATE:
        expect_type(p, e->lhs, PV_VECTOR, "aggregation expression");
        if (e->op == PQ_TOPK || e->op == PQ_BOTTOMK || e->op == PQ_QUANTILE)
            expect_type(p, e->rhs, PV_SCALAR, "aggregation parameter");
        if (e->op == PQ_COUNT_VALUES)
            expect_type(p, e->rhs, PV_STRING, "aggregation parameter");
        break;
    case PN_BINARY: check_binary(p, e); break;
    case PN_CALL: check_call(p, e); break;
    case PN_PAREN:
    case PN_MATRIX: check(p, e->lhs); break;
    case PN_UNARY:
        t = check(p, e->lhs);
        if (t != PV_SCALAR && t != PV_VECTOR)
            p_err(p, e->pos,
                  "unary expression only allowed on expressions of type scalar or instant "
                  "vector, got \"%s\"",
                  promql_value_type_doc(t));
        break;
    case PN_SUBQUERY:
        t = check(p, e->lhs);
        if (t != PV_VECTOR)
            p_err(p, e->pos, "subquery is only allowed on instant vector, got %s instead",
                  promql_value_type_name(t));
        break;
    case PN_VECTOR: check_selector(p, e); break;
    case PN_NUMBER:
    case PN_STRING: break;
    }
    return promql_expr_type(e);
}

bool promql_check(const char *input, promql_expr *e, promql_error *err)
{
    checker c = {input, strlen(input), false, err};
    check(&c, e);
    return !c.failed;
}
